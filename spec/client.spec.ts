import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer as WsServer } from 'ws';
import { acceptKey } from '../lib/handshake/keys';
import { connect, parseWebSocketUrl } from '../lib/client';
import { WebSocketProtocolError, WebSocketUsageError } from '../lib/errors';
import { WebSocketServer } from '../lib/server';
import type { WebSocket } from '../lib/connection/websocket';
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

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
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

  it('connects to wss:// through TLS (our server attached to an https server)', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsframe-tls-'));
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile,
        '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    } catch {
      throw new Error('openssl is needed to make a test certificate (apt-get install openssl)');
    }
    const cert = fs.readFileSync(certFile);
    const server = https.createServer({ key: fs.readFileSync(keyFile), cert });
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
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
