import { expect } from 'chai';
import * as net from 'node:net';
import type * as stream from 'node:stream';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { connect, WebSocketProtocolError } from '../../lib/index';
import { echoOnce, type EchoServer, type Proxy, rejection, startEchoServer, startProxy, testCertificate } from './servers';

/**
 * Opens a tunnel through the proxy by hand (HTTP CONNECT, RFC 9110 §9.3.6) and hands the socket
 * over once the proxy answered 200: what a createConnection for a proxy does.
 */
function tunnel(proxyPort: number, authority: string, callback: (err: Error | null, socket: stream.Duplex) => void): void {
  const socket = net.connect(proxyPort, '127.0.0.1');
  let head = Buffer.alloc(0);
  const onError = (err: Error): void => { callback(err, socket); };
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    socket.off('data', onData);
    socket.off('error', onError);
    if (!head.toString('latin1').startsWith('HTTP/1.1 200 ')) {
      socket.destroy();
      callback(new Error(`proxy refused: ${head.toString('latin1', 0, end)}`), socket);
      return;
    }
    // Bytes the server sent right behind the proxy's answer belong to the HTTP client.
    if (end + 4 < head.length) socket.unshift(head.subarray(end + 4));
    callback(null, socket);
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
}

describe('connect through a proxy or a socket of the caller (agent, createConnection)', () => {
  let server: EchoServer;
  let proxy: Proxy;

  beforeEach(async () => {
    server = await startEchoServer();
    proxy = await startProxy();
  });
  afterEach(async () => {
    await server.close();
    await proxy.close();
  });

  it('reaches a ws:// server through an HTTP CONNECT proxy given as agent (https-proxy-agent)', async () => {
    const agent = new HttpsProxyAgent(proxy.url);
    const ws = await connect(`${server.origin}/ws`, { agent });
    expect(await echoOnce(ws, 'through the proxy')).to.equal('through the proxy');
    expect(proxy.tunnels).to.deep.equal([`127.0.0.1:${String(server.port)}`]);
    expect(server.seen.map((r) => r.url)).to.deep.equal(['/ws']);
  });

  it('surfaces a proxy that refuses the tunnel as WS_ERR_HANDSHAKE_STATUS with its status', async () => {
    const agent = new HttpsProxyAgent(proxy.url);
    const err = await rejection(connect('ws://blocked.invalid/ws', { agent }));
    expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_STATUS');
    expect((err as WebSocketProtocolError).status).to.equal(403);
    expect(proxy.tunnels).to.deep.equal(['blocked.invalid:80']);
  });

  it('tunnels through a socket that createConnection opened through the proxy by hand', async () => {
    const asked: string[] = [];
    const ws = await connect(`${server.origin}/ws`, {
      createConnection: (options, callback) => {
        const authority = `${String(options.host)}:${String(options.port)}`;
        asked.push(authority);
        tunnel(proxy.port, authority, callback);
        return undefined;
      },
    });
    expect(await echoOnce(ws, 'hand-made tunnel')).to.equal('hand-made tunnel');
    expect(asked).to.deep.equal([`127.0.0.1:${String(server.port)}`]);
    expect(proxy.tunnels).to.deep.equal(asked);
  });

  it('uses the socket createConnection returns, whatever host the URL names (that host is still sent as Host)', async () => {
    const ws = await connect('ws://echo.invalid/ws', { createConnection: () => net.connect(server.port, '127.0.0.1') });
    expect(await echoOnce(ws, 'direct')).to.equal('direct');
    expect(server.seen.map((r) => r.headers.host)).to.deep.equal(['echo.invalid']);
  });

  it('rejects with the error createConnection throws', async () => {
    const err = await rejection(connect(`${server.origin}/ws`, { createConnection: () => { throw new Error('no route'); } }));
    expect(err).to.be.instanceOf(Error).with.property('message', 'no route');
    expect(server.seen).to.deep.equal([]);
  });

  describe('to a wss:// server', () => {
    let tlsServer: EchoServer;
    let cert: Buffer;

    beforeEach(async () => {
      const pair = testCertificate();
      cert = pair.cert;
      tlsServer = await startEchoServer({ tls: pair });
    });
    afterEach(async () => { await tlsServer.close(); });

    it('runs TLS inside the CONNECT tunnel, checked with the ca given in the connect options', async () => {
      const agent = new HttpsProxyAgent(proxy.url);
      const ws = await connect(`${tlsServer.origin}/ws`, { agent, ca: cert });
      expect(await echoOnce(ws, 'tls in a tunnel')).to.equal('tls in a tunnel');
      expect(proxy.tunnels).to.deep.equal([`127.0.0.1:${String(tlsServer.port)}`]);
    });

    it('fails the TLS handshake inside the tunnel without the ca (the certificate is still checked)', async () => {
      const agent = new HttpsProxyAgent(proxy.url);
      const err = await rejection(connect(`${tlsServer.origin}/ws`, { agent }));
      expect(err).to.be.instanceOf(Error).with.property('code', 'DEPTH_ZERO_SELF_SIGNED_CERT');
      expect(tlsServer.seen).to.deep.equal([]);
    });
  });
});
