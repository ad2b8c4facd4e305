import { expect } from 'chai';
import { once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer as WsServer } from 'ws';
import {
  acceptKey, type ClientOptions, connect, parseWebSocketUrl, type WebSocket, WebSocketProtocolError, WebSocketServer,
  WebSocketUsageError,
} from '../lib/index';
import { echoOnce, rejection, startEchoServer, testCertificate } from './client/servers';
import { closed } from './support/peers';

/** A raw TCP server answering every upgrade with `respond(key)`. */
async function rawServer(respond: (key: string) => string | undefined): Promise<{ url: string; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => { /* client resets are expected */ });
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? '';
      const answer = respond(key);
      if (answer !== undefined) socket.write(answer, 'latin1');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => { for (const s of sockets) s.destroy(); server.close(); },
  };
}

function upgradeResponse(accept: string, extra = ''): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`;
}

describe('connect (client)', () => {
  it('talks to a ws server: text and binary echo, then a clean close', async () => {
    const wss = new WsServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    wss.on('connection', (peer) => { peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary })); });
    const ws = await connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
    const got: Array<[string | Buffer, boolean]> = [];
    const both = new Promise<void>((resolve) => {
      ws.on('message', (data: string | Buffer, isBinary: boolean) => { got.push([data, isBinary]); if (got.length === 2) resolve(); });
    });
    ws.send('héllo');
    ws.send(Buffer.from([1, 2, 3]));
    await both;
    expect(got).to.deep.equal([['héllo', false], [Buffer.from([1, 2, 3]), true]]);
    ws.close(1000, 'bye');
    expect((await closed(ws)).code).to.equal(1000);
    wss.close();
  });

  it('rejects a non-101 answer with WS_ERR_HANDSHAKE_STATUS', async () => {
    const server = await rawServer(() => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    const err = await rejection(connect(server.url));
    expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_STATUS');
    server.close();
  });

  it('rejects an accept key with a trailing newline (a wrapping base64 encoder) as a bad response', async () => {
    const server = await rawServer((key) => upgradeResponse(`${acceptKey(key)}\n`));
    const err = await rejection(connect(server.url));
    expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_RESPONSE');
    server.close();
  });

  it('rejects a wrong accept key', async () => {
    const server = await rawServer(() => upgradeResponse(acceptKey('AAAAAAAAAAAAAAAAAAAAAA==')));
    const err = await rejection(connect(server.url));
    expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_ACCEPT');
    server.close();
  });

  it('rejects a subprotocol it did not offer', async () => {
    const server = await rawServer((key) => upgradeResponse(acceptKey(key), 'Sec-WebSocket-Protocol: evil\r\n'));
    const err = await rejection(connect(server.url, { protocols: ['good'] }));
    expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_PROTOCOL');
    server.close();
  });

  it('gives up after handshakeTimeout when the server never answers', async () => {
    const server = await rawServer(() => undefined);
    const err = await rejection(connect(server.url, { handshakeTimeout: 200 }));
    expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_TIMEOUT');
    server.close();
  });

  it('delivers a frame that arrived in the same packet as the 101 response', async () => {
    const server = await rawServer((key) => upgradeResponse(acceptKey(key)) + Buffer.from('8105', 'hex').toString('latin1') + 'hello');
    const ws = await connect(server.url);
    const [data] = await once(ws, 'message');
    expect(data).to.equal('hello');
    ws.terminate();
    server.close();
  });

  it('refuses URLs that are not ws/wss or carry a fragment (RFC 6455 §3)', () => {
    expect(() => parseWebSocketUrl('ftp://x/')).to.throw(WebSocketUsageError);
    expect(() => parseWebSocketUrl('ws://x/#frag')).to.throw(WebSocketUsageError);
    expect(() => parseWebSocketUrl('not a url')).to.throw(WebSocketUsageError);
    expect(parseWebSocketUrl('http://x/a?b').protocol).to.equal('ws:');
  });

  it('connects to wss:// through TLS (our server attached to an https server)', async () => {
    const { key, cert } = testCertificate();
    const server = https.createServer({ key, cert });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws: WebSocket) => { ws.on('message', (data) => ws.send(data)); });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const ws = await connect(`wss://127.0.0.1:${(server.address() as AddressInfo).port}/`, { tls: { ca: cert } });
    const echoed = once(ws, 'message');
    ws.send('over tls');
    expect((await echoed)[0]).to.equal('over tls');
    ws.close();
    await closed(ws);
    await wss.close();
    server.close();
  });

  it("accepts ws's flat TLS option names (ca, servername) and checks the certificate with them", async () => {
    const pair = testCertificate();
    const server = await startEchoServer({ tls: pair });
    try {
      const refused = await rejection(connect(`${server.origin}/ws`));
      expect(refused).to.be.instanceOf(Error).with.property('code', 'DEPTH_ZERO_SELF_SIGNED_CERT');
      const ws = await connect(`${server.origin}/ws`, { ca: pair.cert, servername: 'localhost' });
      expect(await echoOnce(ws, 'flat')).to.equal('flat');
      // `tls` wins over the flat names.
      const wrongName = await rejection(connect(`${server.origin}/ws`, { ca: pair.cert, servername: 'localhost', tls: { servername: 'elsewhere.test' } }));
      expect(wrongName).to.be.instanceOf(Error).with.property('code', 'ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      await server.close();
    }
  });

  describe('option checks', () => {
    const bad: Array<[string, Record<string, unknown>]> = [
      ['protocols as a number', { protocols: 5 }],
      ['a protocol that is not a token', { protocols: ['a b'] }],
      ['a protocol listed twice', { protocols: ['chat', 'chat'] }],
      ['headers as a string', { headers: 'Authorization: x' }],
      ['a header name that is not a token', { headers: { 'bad name': 'v' } }],
      ['a header value with CRLF', { headers: { 'X-Evil': 'a\r\nInjected: yes' } }],
      ['a header value that is not a string', { headers: { 'X-Number': 5 } }],
      ['origin as a number', { origin: 5 }],
      ['handshakeTimeout 0', { handshakeTimeout: 0 }],
      ['handshakeTimeout negative', { handshakeTimeout: -1 }],
      ['handshakeTimeout not whole', { handshakeTimeout: 1.5 }],
      ['handshakeTimeout NaN', { handshakeTimeout: Number.NaN }],
      ['handshakeTimeout above 2^31 - 1', { handshakeTimeout: 2 ** 31 }],
      ['maxHeaderSize 0', { maxHeaderSize: 0 }],
      ['tls as a string', { tls: 'yes' }],
      ['signal that is no AbortSignal', { signal: {} }],
      ['agent without addRequest', { agent: {} }],
      ['agent true', { agent: true }],
      ['createConnection that is no function', { createConnection: 'net.connect' }],
      ['followRedirects as a string', { followRedirects: 'yes' }],
      ['maxRedirects negative', { maxRedirects: -1 }],
      ['maxRedirects not whole', { maxRedirects: 1.5 }],
      ['maxRedirects infinite', { maxRedirects: Infinity }],
      ['auth as a number', { auth: 5 }],
      ['onUnexpectedResponse that is no function', { onUnexpectedResponse: true }],
      ['ca as a number', { ca: 5 }],
      ['rejectUnauthorized as a string', { rejectUnauthorized: 'false' }],
      ['servername as a number', { servername: 1 }],
      ['minVersion SSLv3', { minVersion: 'SSLv3' }],
      ['a connection option out of range (maxPayload)', { maxPayload: -1 }],
      ['a bad perMessageDeflate option', { perMessageDeflate: { serverMaxWindowBits: 99 } }],
    ];
    for (const [what, options] of bad) {
      it(`rejects ${what} with WS_ERR_INVALID_ARGUMENT before any network activity`, async () => {
        let connections = 0;
        const err = await rejection(connect('ws://127.0.0.1:9/', {
          ...options,
          ...('agent' in options || 'createConnection' in options ? {} : { createConnection: () => { connections += 1; return new net.Socket(); } }),
        } as ClientOptions));
        expect(err).to.be.instanceOf(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_ARGUMENT');
        expect(connections).to.equal(0);
      });
    }

    it('rejects agent and createConnection together (node would ignore createConnection)', async () => {
      let connections = 0;
      const err = await rejection(connect('ws://127.0.0.1:9/', {
        agent: new http.Agent(),
        createConnection: () => { connections += 1; return new net.Socket(); },
      }));
      expect(err).to.be.instanceOf(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_ARGUMENT');
      expect(connections).to.equal(0);
    });

    it('rejects options that are not an object, and bad URLs', async () => {
      const errors = await Promise.all([
        rejection(connect('ws://127.0.0.1:9/', null as unknown as ClientOptions)),
        rejection(connect('ftp://127.0.0.1/')),
        rejection(connect('ws://127.0.0.1/#fragment')),
        rejection(connect('ws+unix:')),
        rejection(connect('not a url')),
      ]);
      expect(errors.map((err) => err instanceof WebSocketUsageError)).to.deep.equal([true, true, true, true, true]);
    });

    it('accepts every option at its documented type (agent false is the default behaviour)', async () => {
      const server = await startEchoServer();
      try {
        const ws = await connect(`${server.origin}/ws`, {
          protocols: [], headers: {}, origin: 'http://app.test', handshakeTimeout: 5000, maxHeaderSize: 8192,
          tls: {}, signal: new AbortController().signal, agent: false, followRedirects: false, maxRedirects: 0,
          auth: 'a:b', onUnexpectedResponse: () => undefined, rejectUnauthorized: true, minVersion: 'TLSv1.2',
        });
        expect(await echoOnce(ws, 'all options')).to.equal('all options');
        expect(server.seen[0]?.headers.origin).to.equal('http://app.test');
      } finally {
        await server.close();
      }
    });
  });
});
