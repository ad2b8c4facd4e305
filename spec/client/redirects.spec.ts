import { expect } from 'chai';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { connect, DEFAULT_MAX_REDIRECTS, WebSocketProtocolError } from '../../lib/index';
import { echoOnce, type EchoServer, redirect, rejection, startEchoServer, tempDir, testCertificate } from './servers';

describe('connect with followRedirects', () => {
  let server: EchoServer;

  beforeEach(async () => { server = await startEchoServer(); });
  afterEach(async () => { await server.close(); });

  for (const status of [301, 302, 303, 307, 308]) {
    it(`follows a ${String(status)} to its Location and opens there`, async () => {
      server.answer('/old', redirect(status, `${server.origin}/ws`));
      const ws = await connect(`${server.origin}/old`, { followRedirects: true });
      expect(await echoOnce(ws, 'moved')).to.equal('moved');
      expect(server.seen.map((r) => r.url)).to.deep.equal(['/old', '/ws']);
    });
  }

  it('resolves a relative Location against the URL that answered it', async () => {
    server.answer('/app/v1/socket?room=1', redirect(302, '../../ws?room=2'));
    const ws = await connect(`${server.origin}/app/v1/socket?room=1`, { followRedirects: true });
    await echoOnce(ws, 'relative');
    expect(server.seen.map((r) => r.url)).to.deep.equal(['/app/v1/socket?room=1', '/ws?room=2']);
  });

  it('maps an http:// Location to ws://', async () => {
    server.answer('/old', redirect(301, `http://127.0.0.1:${String(server.port)}/ws`));
    const ws = await connect(`${server.origin}/old`, { followRedirects: true });
    expect(await echoOnce(ws, 'mapped')).to.equal('mapped');
  });

  it('follows a chain of redirects, with a fresh Sec-WebSocket-Key each time', async () => {
    server.answer('/a', redirect(302, '/b'));
    server.answer('/b', redirect(307, '/c'));
    server.answer('/c', redirect(308, '/ws'));
    const ws = await connect(`${server.origin}/a`, { followRedirects: true });
    await echoOnce(ws, 'chain');
    expect(server.seen.map((r) => r.url)).to.deep.equal(['/a', '/b', '/c', '/ws']);
    expect(new Set(server.seen.map((r) => r.headers['sec-websocket-key'])).size).to.equal(4);
  });

  it('stops past maxRedirects with WS_ERR_HANDSHAKE_REDIRECTS carrying the last 3xx', async () => {
    server.answer('/a', redirect(302, '/b'));
    server.answer('/b', redirect(302, '/c'));
    server.answer('/c', redirect(301, '/ws'));
    const err = await rejection(connect(`${server.origin}/a`, { followRedirects: true, maxRedirects: 2 }));
    expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_REDIRECTS');
    expect(err).to.have.property('status', 301);
    expect((err as WebSocketProtocolError).headers?.location).to.equal('/ws');
    expect(server.seen.map((r) => r.url)).to.deep.equal(['/a', '/b', '/c']);
  });

  it(`stops a redirect loop after ${String(DEFAULT_MAX_REDIRECTS)} redirects by default`, async () => {
    server.answer('/loop', redirect(302, '/loop'));
    const err = await rejection(connect(`${server.origin}/loop`, { followRedirects: true }));
    expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_REDIRECTS');
    expect(server.seen).to.have.length(DEFAULT_MAX_REDIRECTS + 1);
  });

  it('refuses any redirect with maxRedirects 0', async () => {
    server.answer('/old', redirect(302, '/ws'));
    const err = await rejection(connect(`${server.origin}/old`, { followRedirects: true, maxRedirects: 0 }));
    expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_REDIRECTS');
    expect(server.seen).to.have.length(1);
  });

  it('does not follow by default: a 3xx is WS_ERR_HANDSHAKE_STATUS with its status and Location', async () => {
    server.answer('/old', redirect(302, '/ws'));
    const err = await rejection(connect(`${server.origin}/old`));
    expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_STATUS');
    expect(err).to.have.property('status', 302);
    expect((err as WebSocketProtocolError).headers?.location).to.equal('/ws');
    expect(server.seen).to.have.length(1);
  });

  it('treats a 300 or a 3xx without Location as a refused handshake, not a redirect', async () => {
    server.answer('/choices', redirect(300, '/ws'));
    server.answer('/nowhere', 'HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n');
    const choices = await rejection(connect(`${server.origin}/choices`, { followRedirects: true }));
    const nowhere = await rejection(connect(`${server.origin}/nowhere`, { followRedirects: true }));
    expect([choices, nowhere].map((err) => (err as WebSocketProtocolError).code)).to.deep.equal(['WS_ERR_HANDSHAKE_STATUS', 'WS_ERR_HANDSHAKE_STATUS']);
    expect([choices, nowhere].map((err) => (err as WebSocketProtocolError).status)).to.deep.equal([300, 302]);
    expect(server.seen.map((r) => r.url)).to.deep.equal(['/choices', '/nowhere']);
  });

  it('refuses a Location that is no WebSocket URL with WS_ERR_HANDSHAKE_RESPONSE', async () => {
    server.answer('/ftp', redirect(302, 'ftp://127.0.0.1/file'));
    server.answer('/garbage', redirect(302, 'http://[not an address/'));
    for (const path of ['/ftp', '/garbage']) {
      const err = await rejection(connect(`${server.origin}${path}`, { followRedirects: true }));
      expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_RESPONSE');
    }
    expect(server.seen).to.have.length(2);
  });

  it('refuses a redirect from TCP to a unix socket on this machine', async () => {
    const temp = tempDir('wsframe-redirect-');
    const socketPath = `${temp.dir}/local.sock`;
    const local = await startEchoServer({ socketPath });
    try {
      server.answer('/old', redirect(302, `ws+unix:${socketPath}:/ws`));
      const err = await rejection(connect(`${server.origin}/old`, { followRedirects: true }));
      expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_RESPONSE');
      expect(local.seen).to.deep.equal([]);
    } finally {
      await local.close();
      temp.remove();
    }
  });

  it('counts handshakeTimeout over the whole chain: a silent server after a redirect times out', async () => {
    server.answer('/old', redirect(302, '/silent'));
    server.answer('/silent', () => { /* never answers */ });
    const err = await rejection(connect(`${server.origin}/old`, { followRedirects: true, handshakeTimeout: 300 }));
    expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_TIMEOUT');
    expect(server.seen.map((r) => r.url)).to.deep.equal(['/old', '/silent']);
  });

  it('calls onUnexpectedResponse for the answer that ends the chain, not for the redirects', async () => {
    server.answer('/old', redirect(302, '/gone'));
    server.answer('/gone', 'HTTP/1.1 410 Gone\r\nContent-Length: 4\r\nConnection: close\r\n\r\ngone');
    const statuses: Array<number | undefined> = [];
    const err = await rejection(connect(`${server.origin}/old`, {
      followRedirects: true,
      onUnexpectedResponse: (response) => { statuses.push(response.statusCode); response.resume(); },
    }));
    expect(err).to.have.property('status', 410);
    expect(statuses).to.deep.equal([410]);
  });

  describe('credentials', () => {
    let other: EchoServer;

    beforeEach(async () => { other = await startEchoServer(); });
    afterEach(async () => { await other.close(); });

    const headers = { Authorization: 'Bearer secret', Cookie: 'session=1', 'X-Trace': 'kept' };

    it('keeps Authorization and Cookie on a redirect to the same host', async () => {
      server.answer('/old', redirect(302, '/ws'));
      const ws = await connect(`${server.origin}/old`, { followRedirects: true, headers });
      await echoOnce(ws, 'same host');
      const last = server.seen[1]?.headers;
      expect([last?.authorization, last?.cookie, last?.['x-trace']]).to.deep.equal(['Bearer secret', 'session=1', 'kept']);
    });

    it('drops Authorization and Cookie (headers and URL credentials) on a redirect to another host', async () => {
      server.answer('/old', redirect(302, `${other.origin}/ws`));
      const ws = await connect(`ws://user:pw@127.0.0.1:${String(server.port)}/old`, { followRedirects: true, headers });
      await echoOnce(ws, 'other host');
      expect(server.seen[0]?.headers.authorization).to.equal('Bearer secret');
      const moved = other.seen[0]?.headers;
      expect([moved?.authorization, moved?.cookie, moved?.['x-trace']]).to.deep.equal([undefined, undefined, 'kept']);
    });

    it('drops Basic credentials from the URL or auth on a redirect to another host', async () => {
      server.answer('/old', redirect(302, `${other.origin}/ws`));
      const fromUrl = await connect(`ws://user:pw@127.0.0.1:${String(server.port)}/old`, { followRedirects: true });
      await echoOnce(fromUrl, 'url');
      const fromOption = await connect(`${server.origin}/old`, { followRedirects: true, auth: 'user:pw' });
      await echoOnce(fromOption, 'option');
      const basic = `Basic ${Buffer.from('user:pw').toString('base64')}`;
      expect(server.seen.map((r) => r.headers.authorization)).to.deep.equal([basic, basic]);
      expect(other.seen.map((r) => r.headers.authorization)).to.deep.equal([undefined, undefined]);
    });

    it('gives the credentials back when a later redirect returns to the first host', async () => {
      server.answer('/old', redirect(302, `${other.origin}/away`));
      other.answer('/away', redirect(302, `${server.origin}/ws`));
      const ws = await connect(`${server.origin}/old`, { followRedirects: true, headers });
      await echoOnce(ws, 'back');
      expect(other.seen[0]?.headers.authorization).to.equal(undefined);
      expect(server.seen.map((r) => r.headers.authorization)).to.deep.equal(['Bearer secret', 'Bearer secret']);
    });
  });

  describe('from wss to ws on the same host', () => {
    let tlsServer: EchoServer;
    let ca: Buffer;

    beforeEach(async () => {
      const pair = testCertificate();
      ca = pair.cert;
      tlsServer = await startEchoServer({ tls: pair });
    });
    afterEach(async () => { await tlsServer.close(); });

    /** Port 443 reaches the TLS server, port 80 the plain one: one host name, two schemes. */
    function byPort(options: { port?: number | string | null }): net.Socket {
      return Number(options.port) === 443
        ? tls.connect({ port: tlsServer.port, host: '127.0.0.1', ca, servername: 'localhost' })
        : net.connect(server.port, '127.0.0.1');
    }

    it('drops Authorization on the downgrade and keeps it on a wss hop of the same host', async () => {
      tlsServer.answer('/secure', redirect(302, 'wss://app.test/ws'));
      tlsServer.answer('/downgrade', redirect(302, 'ws://app.test/ws'));
      const headers = { Authorization: 'Bearer secret' };
      const kept = await connect('wss://app.test/secure', { followRedirects: true, headers, createConnection: byPort });
      await echoOnce(kept, 'kept');
      const dropped = await connect('wss://app.test/downgrade', { followRedirects: true, headers, createConnection: byPort });
      await echoOnce(dropped, 'dropped');
      expect(tlsServer.seen.map((r) => [r.url, r.headers.authorization])).to.deep.equal([
        ['/secure', 'Bearer secret'], ['/ws', 'Bearer secret'], ['/downgrade', 'Bearer secret'],
      ]);
      expect(server.seen.map((r) => [r.url, r.headers.authorization])).to.deep.equal([['/ws', undefined]]);
    });
  });
});
