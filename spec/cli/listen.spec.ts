import { expect } from 'chai';
import { once } from 'node:events';
import * as net from 'node:net';
import WsSocket from 'ws';
import { hostPort, listenUrl } from '../../lib/cli/listen';
import { type Cli, stopChildren, wsframe } from './child';

/** Starts `wsframe listen 0 ...` and resolves with the URL it prints. */
async function listen(args: string[] = []): Promise<{ cli: Cli; url: string }> {
  const cli = wsframe(['listen', '0', ...args]);
  const [, url] = await cli.waitFor(/^listening on (ws:\/\/\S+)$/m);
  return { cli, url };
}

const clients: WsSocket[] = [];

/** A ws client, open. */
async function client(url: string, protocols?: string[], options?: WsSocket.ClientOptions): Promise<WsSocket> {
  const ws = new WsSocket(url, protocols, options);
  clients.push(ws);
  await once(ws, 'open');
  return ws;
}

function nextMessage(ws: WsSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => { ws.once('message', (data: Buffer, isBinary: boolean) => { resolve({ data, isBinary }); }); });
}

/** Resolves once the server has answered a ping sent after everything before it. */
async function barrier(ws: WsSocket): Promise<void> {
  const pong = once(ws, 'pong');
  ws.ping('barrier');
  await pong;
}

describe('cli/listen', () => {
  afterEach(async () => {
    for (const ws of clients.splice(0)) ws.terminate();
    await stopChildren();
  });

  it('writes URLs with IPv6 hosts in brackets (RFC 3986 §3.2.2)', () => {
    expect(hostPort('::1', 8080)).to.equal('[::1]:8080');
    expect(listenUrl({ address: '127.0.0.1', family: 'IPv4', port: 9 }, '/echo')).to.equal('ws://127.0.0.1:9/echo');
    expect(listenUrl({ address: '::', family: 'IPv6', port: 9 }, undefined)).to.equal('ws://[::]:9/');
  });

  it('listens on loopback, prints the port it got for 0, and echoes text and binary', async () => {
    const { cli, url } = await listen();
    expect(url).to.match(/^ws:\/\/127\.0\.0\.1:[1-9]\d*\/$/);
    const ws = await client(url);
    const text = nextMessage(ws);
    ws.send('héllo');
    expect(await text).to.deep.include({ isBinary: false });
    expect((await text).data.toString()).to.equal('héllo');
    const binary = nextMessage(ws);
    ws.send(Buffer.from([0, 1, 2]));
    expect(await binary).to.deep.equal({ data: Buffer.from([0, 1, 2]), isBinary: true });
    await cli.waitFor(/^\[127\.0\.0\.1:\d+\] connected \/ \(subprotocol: none, extensions: none\)$/m);
    expect(cli.stdout).to.equal('');
  });

  it('prints what arrives with the sender\'s address instead of echoing with --print', async () => {
    const { cli, url } = await listen(['--print']);
    const ws = await client(url);
    let echoed = false;
    ws.on('message', () => { echoed = true; });
    ws.send('first line');
    ws.send(Buffer.from([0xca, 0xfe]));
    await barrier(ws);
    expect(echoed).to.equal(false);
    const port = (ws as unknown as { _socket: net.Socket })._socket.localPort;
    await cli.waitFor(/\[binary/, 'stdout');
    expect(cli.stdout).to.equal(`[127.0.0.1:${port}] first line\n[127.0.0.1:${port}] [binary 2 bytes] ca fe\n`);
  });

  it('writes binary messages as raw bytes with --print --raw', async () => {
    const { cli, url } = await listen(['--print', '--raw', '-q']);
    const ws = await client(url);
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    ws.send(bytes);
    await barrier(ws);
    await cli.waitFor(/[\s\S]{256}/, 'stdout');
    expect(cli.stdoutBytes.equals(bytes)).to.equal(true);
  });

  it('accepts upgrades to --path only (404 elsewhere)', async () => {
    const { url } = await listen(['--path', '/echo']);
    expect(url).to.match(/\/echo$/);
    const wrong = new WsSocket(url.replace(/\/echo$/, '/other'));
    wrong.on('error', () => {});
    const [request, response] = await once(wrong, 'unexpected-response') as [{ destroy(): void }, { statusCode: number }];
    request.destroy();
    expect(response.statusCode).to.equal(404);
    const ws = await client(url);
    const echo = nextMessage(ws);
    ws.send('ok');
    expect((await echo).data.toString()).to.equal('ok');
  });

  it('agrees to a subprotocol it speaks and to permessage-deflate with --compress', async () => {
    const { cli, url } = await listen(['-p', 'chat.v2', '-p', 'chat.v1', '--compress']);
    const ws = await client(url, ['chat.v1', 'other'], { perMessageDeflate: true });
    expect(ws.protocol).to.equal('chat.v1');
    expect(ws.extensions).to.match(/^permessage-deflate/);
    const long = 'compress me '.repeat(500);
    const echo = nextMessage(ws);
    ws.send(long);
    expect((await echo).data.toString()).to.equal(long);
    await cli.waitFor(/connected \/ \(subprotocol: chat\.v1, extensions: permessage-deflate/);
  });

  it('closes every connection with 1001 on SIGTERM and exits 0', async () => {
    const { cli, url } = await listen();
    const ws = await client(url);
    const closed = once(ws, 'close') as Promise<[number, Buffer]>;
    await cli.waitFor(/connected/);
    cli.signal('SIGTERM');
    const [code] = await closed;
    expect(code).to.equal(1001);
    expect((await cli.exit()).code).to.equal(0);
    expect(cli.stderr).to.match(/closing 1 connection \(signal again to stop at once\)/);
    expect(cli.stderr).to.match(/closed: 1001 GoingAway/);
  });

  it('stops on SIGINT with no connection open', async () => {
    const { cli } = await listen();
    cli.signal('SIGINT');
    expect((await cli.exit()).code).to.equal(0);
  });

  it('logs a peer\'s protocol error and the close code it got', async () => {
    const { cli, url } = await listen();
    const raw = net.connect(Number(new URL(url).port), '127.0.0.1');
    await once(raw, 'connect');
    raw.on('error', () => {});
    raw.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await cli.waitFor(/connected/);
    // An unmasked frame from a client (RFC 6455 §5.1).
    raw.write(Buffer.from('810548656c6c6f', 'hex'));
    // The server's close frame arrives; end our side as a closing client would.
    await once(raw, 'data');
    raw.end();
    await cli.waitFor(/closed: 1002/);
    expect(cli.stderr).to.match(/error: WS_ERR_EXPECTED_MASK \(1002\): frames from a client must be masked/);
    raw.destroy();
  });

  it('exits 2 when the port is taken', async () => {
    const blocker = net.createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const cli = wsframe(['listen', String(port)]);
      expect((await cli.exit()).code).to.equal(2);
      expect(cli.stderr).to.match(new RegExp(`^wsframe listen: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    } finally {
      blocker.close();
    }
  });
});
