/**
 * Interop with the `ws` package over loopback, both ways: the ws client against our
 * WebSocketServer, and our connect() against a ws WebSocketServer. Every peer is real; nothing is
 * mocked.
 */
import { expect } from 'chai';
import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import WsSocket, { WebSocketServer as WsServer } from 'ws';
import { connect, type ClientOptions, type WebSocket, WebSocketServer, type WebSocketServerOptions } from '../../lib/index';
import { BOUNDARY_LENGTHS, binaryOfBytes, next, textOfBytes, within } from './helpers';

// --- peers -----------------------------------------------------------------------------------

interface OurServer {
  wss: WebSocketServer;
  url: string;
}

/** Our standalone server on a free loopback port; every connection echoes with its type. */
async function startOurServer(options: Omit<WebSocketServerOptions, 'port' | 'host' | 'server'> = {}): Promise<OurServer> {
  const wss = new WebSocketServer({ ...options, port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws: WebSocket) => {
    ws.on('message', (data: string | Buffer, isBinary: boolean) => { ws.send(data, isBinary); });
  });
  await next(wss, 'listening');
  const { port } = wss.address() as AddressInfo;
  return { wss, url: `ws://127.0.0.1:${port}/` };
}

interface TheirServer {
  wss: WsServer;
  url: string;
}

/** A ws server on a free loopback port; every connection echoes with its type. */
async function startWsServer(options: ConstructorParameters<typeof WsServer>[0] = {}): Promise<TheirServer> {
  const wss = new WsServer({ ...options, port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => { ws.send(data as Buffer, { binary: isBinary }); });
  });
  await next(wss, 'listening');
  const { port } = wss.address() as AddressInfo;
  return { wss, url: `ws://127.0.0.1:${port}/` };
}

function stopWsServer(server: TheirServer | undefined): Promise<void> {
  if (server === undefined) return Promise.resolve();
  for (const client of server.wss.clients) client.terminate();
  return within(new Promise<void>((resolve) => { server.wss.close(() => { resolve(); }); }), 'the ws server to close');
}

/** Clients opened by the running test, dropped after it whatever happened. */
const opened: Array<WsSocket | WebSocket> = [];

function dropOpened(): void {
  for (const client of opened.splice(0)) client.terminate();
}

/** A ws client, resolved once open. */
function openWs(url: string, protocols?: string | string[]): Promise<WsSocket> {
  const client = new WsSocket(url, protocols);
  opened.push(client);
  return within(new Promise<WsSocket>((resolve, reject) => {
    client.once('open', () => { resolve(client); });
    client.once('error', reject);
    client.once('unexpected-response', (_req, res) => { reject(new Error(`ws client got HTTP ${String(res.statusCode)}`)); });
  }), 'the ws client to open');
}

/**
 * A ws client's opening handshake: the 101 response headers it got and the error it raised, if
 * any ('' when it opened).
 */
function wsHandshake(url: string, protocols: string[]): Promise<{ headers: IncomingHttpHeaders; error: string }> {
  const client = new WsSocket(url, protocols);
  opened.push(client);
  let headers: IncomingHttpHeaders | undefined;
  client.once('upgrade', (res: IncomingMessage) => { headers = res.headers; });
  return within(new Promise((resolve, reject) => {
    const settle = (error: string): void => {
      if (headers === undefined) reject(new Error(`no 101 response (${error})`));
      else resolve({ headers, error });
    };
    client.once('open', () => { settle(''); });
    client.once('error', (err: Error) => { settle(err.message); });
  }), 'the ws client handshake');
}

/** Our client, resolved once open. */
async function openOurs(url: string, options?: ClientOptions): Promise<WebSocket> {
  const ws = await within(connect(url, options), 'connect()');
  opened.push(ws);
  return ws;
}

/** The next connection our server accepts. Call before the client connects. */
function accepted(server: OurServer): Promise<WebSocket> {
  return next(server.wss, 'connection').then(([ws]) => ws as WebSocket);
}

/** The next connection a ws server accepts. Call before the client connects. */
function acceptedByWs(server: TheirServer): Promise<WsSocket> {
  return next(server.wss, 'connection').then(([ws]) => ws as WsSocket);
}

/** The next message of our WebSocket. */
function message(ws: EventEmitter): Promise<{ data: string | Buffer; isBinary: boolean }> {
  return next(ws, 'message').then(([data, isBinary]) => ({ data: data as string | Buffer, isBinary: isBinary as boolean }));
}

/** The next message of a ws WebSocket (data as one Buffer: the default binaryType). */
function wsMessage(ws: WsSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return next(ws, 'message').then(([data, isBinary]) => ({ data: data as Buffer, isBinary: isBinary as boolean }));
}

/** Our 'close' event: code and reason. */
function closed(ws: EventEmitter): Promise<{ code: number; reason: string }> {
  return next(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: reason as string }));
}

/** ws's 'close' event: code and reason (ws gives the reason as a Buffer). */
function wsClosed(ws: WsSocket): Promise<{ code: number; reason: string }> {
  return next(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: (reason as Buffer).toString() }));
}

/** The next 'error' of our WebSocket. */
function failure(ws: EventEmitter): Promise<{ code?: string; closeCode?: number }> {
  return next(ws, 'error').then(([err]) => err as { code?: string; closeCode?: number });
}

/** Same bytes, without chai printing megabytes on failure. */
function expectSameBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length, 'length').to.equal(expected.length);
  expect(Buffer.compare(actual, expected), 'bytes differ').to.equal(0);
}

function expectSameText(actual: string, expected: string): void {
  expect(Buffer.byteLength(actual), 'UTF-8 length').to.equal(Buffer.byteLength(expected));
  expect(actual === expected, 'text differs').to.equal(true);
}

function lengthName(length: number): string {
  return length < 126 ? '7-bit length' : length <= 0xffff ? '16-bit length' : '64-bit length';
}

// --- ws client -> our server -------------------------------------------------------------------

describe('interop: the ws client against our WebSocketServer', () => {

  afterEach(dropOpened);
  let server: OurServer;

  before(async () => { server = await startOurServer(); });
  after(async () => { await within(server.wss.close(), 'our server to close'); });

  for (const length of BOUNDARY_LENGTHS) {
    it(`echoes a ${length}-byte text message (${lengthName(length)}) as text`, async () => {
      const serverSide = accepted(server);
      const client = await openWs(server.url);
      const ours = await serverSide;
      const text = textOfBytes(length);
      const seen = message(ours);
      const echoed = wsMessage(client);
      client.send(text);
      const got = await seen;
      expect(got.isBinary).to.equal(false);
      expect(typeof got.data).to.equal('string');
      expectSameText(got.data as string, text);
      const back = await echoed;
      expect(back.isBinary).to.equal(false);
      expectSameText(back.data.toString('utf8'), text);
    });

    it(`echoes a ${length}-byte binary message (${lengthName(length)}) as binary`, async () => {
      const serverSide = accepted(server);
      const client = await openWs(server.url);
      const ours = await serverSide;
      const bytes = binaryOfBytes(length);
      const seen = message(ours);
      const echoed = wsMessage(client);
      client.send(bytes);
      const got = await seen;
      expect(got.isBinary).to.equal(true);
      expect(Buffer.isBuffer(got.data)).to.equal(true);
      expectSameBytes(got.data as Buffer, bytes);
      const back = await echoed;
      expect(back.isBinary).to.equal(true);
      expectSameBytes(back.data, bytes);
    });
  }

  it('reassembles a text message ws sends in fragments, with a ping between them', async () => {
    const serverSide = accepted(server);
    const client = await openWs(server.url);
    const ours = await serverSide;
    const seen = message(ours);
    const pinged = next(ours, 'ping');
    // '€' is split across the first two fragments: UTF-8 is checked across fragment borders.
    const bytes = Buffer.from('€uro and wörld');
    client.send(bytes.subarray(0, 1), { binary: false, fin: false });
    client.send(bytes.subarray(1, 2), { binary: false, fin: false });
    client.ping(Buffer.from('between fragments'));
    client.send(bytes.subarray(2), { binary: false, fin: true });
    const [ping] = await pinged;
    expect((ping as Buffer).toString()).to.equal('between fragments');
    const got = await seen;
    expect(got).to.deep.equal({ data: '€uro and wörld', isBinary: false });
  });

  it('reassembles a binary message ws sends as three 70000-byte fragments', async () => {
    const serverSide = accepted(server);
    const client = await openWs(server.url);
    const ours = await serverSide;
    const bytes = binaryOfBytes(3 * 70000);
    const seen = message(ours);
    const echoed = wsMessage(client);
    client.send(bytes.subarray(0, 70000), { binary: true, fin: false });
    client.send(bytes.subarray(70000, 140000), { binary: true, fin: false });
    client.send(bytes.subarray(140000), { binary: true, fin: true });
    const got = await seen;
    expect(got.isBinary).to.equal(true);
    expectSameBytes(got.data as Buffer, bytes);
    expectSameBytes((await echoed).data, bytes);
  });

  it('answers a ws ping with a pong carrying the same payload', async () => {
    const serverSide = accepted(server);
    const client = await openWs(server.url);
    const ours = await serverSide;
    const payload = Buffer.from('ping from ws');
    const pinged = next(ours, 'ping');
    const ponged = next(client, 'pong');
    client.ping(payload);
    expect(((await pinged)[0] as Buffer).equals(payload)).to.equal(true);
    expect(((await ponged)[0] as Buffer).equals(payload)).to.equal(true);
  });

  it('answers a ws ping with the largest control payload (125 bytes)', async () => {
    const client = await openWs(server.url);
    const payload = binaryOfBytes(125);
    const ponged = next(client, 'pong');
    client.ping(payload);
    expectSameBytes((await ponged)[0] as Buffer, payload);
  });

  it('pings the ws client, which answers with the same payload', async () => {
    const serverSide = accepted(server);
    const client = await openWs(server.url);
    const ours = await serverSide;
    const pinged = next(client, 'ping');
    const ponged = next(ours, 'pong');
    ours.ping('ping from wsframe');
    expect(((await pinged)[0] as Buffer).toString()).to.equal('ping from wsframe');
    expect(((await ponged)[0] as Buffer).toString()).to.equal('ping from wsframe');
  });

  it('completes a close the ws client starts with a code and reason', async () => {
    const serverSide = accepted(server);
    const client = await openWs(server.url);
    const ours = await serverSide;
    const ourClose = closed(ours);
    const theirClose = wsClosed(client);
    client.close(4000, 'client bye');
    expect(await ourClose).to.deep.equal({ code: 4000, reason: 'client bye' });
    // RFC 6455 §5.5.1: the answer echoes the status code.
    expect((await theirClose).code).to.equal(4000);
    expect(ours.readyState).to.equal(3);
  });

  it('reports 1005 on both sides when the ws client sends an empty close frame', async () => {
    const serverSide = accepted(server);
    const client = await openWs(server.url);
    const ours = await serverSide;
    const ourClose = closed(ours);
    const theirClose = wsClosed(client);
    client.close();
    expect(await ourClose).to.deep.equal({ code: 1005, reason: '' });
    expect((await theirClose).code).to.equal(1005);
  });

  it('closes with a code and reason the ws client sees, and gets them echoed', async () => {
    const serverSide = accepted(server);
    const client = await openWs(server.url);
    const ours = await serverSide;
    const ourClose = closed(ours);
    const theirClose = wsClosed(client);
    ours.close(4001, 'server bye');
    expect(await theirClose).to.deep.equal({ code: 4001, reason: 'server bye' });
    expect(await ourClose).to.deep.equal({ code: 4001, reason: 'server bye' });
  });

  it('sends an empty close frame for close() without a code (1005 on both sides)', async () => {
    const serverSide = accepted(server);
    const client = await openWs(server.url);
    const ours = await serverSide;
    const ourClose = closed(ours);
    const theirClose = wsClosed(client);
    ours.close();
    expect((await theirClose).code).to.equal(1005);
    expect((await ourClose).code).to.equal(1005);
  });

  it('reports 1006 when the ws client drops the connection without a close frame', async () => {
    const serverSide = accepted(server);
    const client = await openWs(server.url);
    const ours = await serverSide;
    const ourClose = closed(ours);
    client.terminate();
    expect((await ourClose).code).to.equal(1006);
  });

  it('fails a text message with invalid UTF-8 from ws with 1007 and never delivers it', async () => {
    const serverSide = accepted(server);
    const client = await openWs(server.url);
    const ours = await serverSide;
    let delivered = false;
    ours.on('message', () => { delivered = true; });
    const error = failure(ours);
    const theirClose = wsClosed(client);
    client.send(Buffer.from([0x48, 0x69, 0xff, 0x21]), { binary: false });
    expect((await theirClose).code).to.equal(1007);
    const err = await error;
    expect(err.closeCode).to.equal(1007);
    expect(err.code).to.equal('WS_ERR_INVALID_UTF8');
    expect(delivered).to.equal(false);
  });

  it('echoes 1000 back-to-back messages from ws in order', async () => {
    const client = await openWs(server.url);
    const received: string[] = [];
    const all = within(new Promise<void>((resolve) => {
      client.on('message', (data: Buffer) => {
        received.push(data.toString());
        if (received.length === 1000) resolve();
      });
    }), '1000 echoes');
    const sent = Array.from({ length: 1000 }, (_, i) => `message ${i} ${'.'.repeat(i % 200)}`);
    for (const text of sent) client.send(text);
    await all;
    expect(received).to.deep.equal(sent);
  });

  it('delivers a message sent by our server as soon as the connection opens', async () => {
    const greeting = (ws: WebSocket): void => { ws.send('welcome'); };
    server.wss.once('connection', greeting);
    try {
      const client = new WsSocket(server.url);
      opened.push(client);
      expect(await wsMessage(client)).to.deep.equal({ data: Buffer.from('welcome'), isBinary: false });
    } finally {
      server.wss.removeListener('connection', greeting);
    }
  });

  it('receives a message the ws client sends from its open handler', async () => {
    const serverSide = accepted(server);
    const client = new WsSocket(server.url);
    opened.push(client);
    client.once('open', () => { client.send('first words'); });
    const ours = await serverSide;
    expect(await message(ours)).to.deep.equal({ data: 'first words', isBinary: false });
  });

  it('fails at the fragment with invalid UTF-8 (1007) before the message is finished', async () => {
    const client = await openWs(server.url);
    const theirClose = wsClosed(client);
    client.send(Buffer.from('valid start '), { binary: false, fin: false });
    // An encoded UTF-16 surrogate (U+D800) is never valid UTF-8. The final fragment never comes.
    client.send(Buffer.from([0xed, 0xa0, 0x80]), { binary: false, fin: false });
    expect((await theirClose).code).to.equal(1007);
  });
});

describe('interop: shutting our WebSocketServer down under ws clients', () => {
  afterEach(dropOpened);

  it('closes every ws client with 1001 and stops listening', async () => {
    const server = await startOurServer();
    const clients = [await openWs(server.url), await openWs(server.url)];
    const closes = clients.map(wsClosed);
    await within(server.wss.close(), 'our server to close');
    for (const close of await Promise.all(closes)) expect(close.code).to.equal(1001);
    let refused: unknown;
    try {
      await openWs(server.url);
    } catch (err) {
      refused = err;
    }
    expect((refused as { code?: string } | undefined)?.code).to.equal('ECONNREFUSED');
  });
});

describe('interop: ws client against our limits and subprotocols', () => {

  afterEach(dropOpened);
  const servers: OurServer[] = [];

  after(async () => {
    await within(Promise.all(servers.map((server) => server.wss.close())), 'our servers to close');
  });

  describe('maxMessageSize 1000', () => {
    let server: OurServer;

    before(async () => {
      server = await startOurServer({ maxMessageSize: 1000 });
      servers.push(server);
    });

    it('accepts a message of exactly maxMessageSize', async () => {
      const client = await openWs(server.url);
      const echoed = wsMessage(client);
      client.send(binaryOfBytes(1000));
      expectSameBytes((await echoed).data, binaryOfBytes(1000));
    });

    it('fails a 1001-byte message with 1009', async () => {
      const serverSide = accepted(server);
      const client = await openWs(server.url);
      const ours = await serverSide;
      const error = failure(ours);
      const theirClose = wsClosed(client);
      client.send(binaryOfBytes(1001));
      expect((await theirClose).code).to.equal(1009);
      expect((await error).closeCode).to.equal(1009);
    });

    it('fails a fragmented message once its fragments add up to more than maxMessageSize (1009)', async () => {
      const client = await openWs(server.url);
      const theirClose = wsClosed(client);
      client.send(textOfBytes(400), { fin: false });
      client.send(textOfBytes(400), { fin: false });
      client.send(textOfBytes(400), { fin: false });
      expect((await theirClose).code).to.equal(1009);
    });
  });

  describe('subprotocols [chat.v2, chat.v1]', () => {
    let server: OurServer;

    before(async () => {
      server = await startOurServer({ protocols: ['chat.v2', 'chat.v1'] });
      servers.push(server);
    });

    it('agrees on the protocol both sides speak', async () => {
      const serverSide = accepted(server);
      const client = await openWs(server.url, ['superchat', 'chat.v1']);
      expect(client.protocol).to.equal('chat.v1');
      expect((await serverSide).protocol).to.equal('chat.v1');
    });

    it('prefers its own order among several protocols both speak', async () => {
      const serverSide = accepted(server);
      const client = await openWs(server.url, ['chat.v1', 'chat.v2']);
      expect(client.protocol).to.equal('chat.v2');
      expect((await serverSide).protocol).to.equal('chat.v2');
    });

    it('agrees on none when the client offers only protocols it does not speak', async () => {
      const serverSide = accepted(server);
      const { headers, error } = await wsHandshake(server.url, ['superchat', 'mqtt']);
      expect(headers['sec-websocket-protocol']).to.equal(undefined);
      expect((await serverSide).protocol).to.equal('');
      // RFC 6455 §4.1 lets a client give up when no protocol was agreed; ws does.
      expect(error).to.equal('Server sent no subprotocol');
    });

    it('agrees on none when the client offers none', async () => {
      const serverSide = accepted(server);
      const client = await openWs(server.url);
      expect(client.protocol).to.equal('');
      expect((await serverSide).protocol).to.equal('');
    });
  });

  describe('a protocols function that answers something not offered', () => {
    let server: OurServer;

    before(async () => {
      server = await startOurServer({ protocols: () => 'never-offered' });
      servers.push(server);
    });

    it('agrees on none rather than a protocol the client did not offer', async () => {
      const serverSide = accepted(server);
      const { headers } = await wsHandshake(server.url, ['chat.v1']);
      expect(headers['sec-websocket-protocol']).to.equal(undefined);
      expect((await serverSide).protocol).to.equal('');
    });
  });
});

// --- our client -> ws server -------------------------------------------------------------------

describe('interop: our connect() against a ws WebSocketServer', () => {

  afterEach(dropOpened);
  let server: TheirServer;

  before(async () => { server = await startWsServer(); });
  after(async () => { await stopWsServer(server); });

  for (const length of BOUNDARY_LENGTHS) {
    it(`gets a ${length}-byte text message (${lengthName(length)}) echoed as text`, async () => {
      const serverSide = acceptedByWs(server);
      const ws = await openOurs(server.url);
      const theirs = await serverSide;
      const text = textOfBytes(length);
      const seen = wsMessage(theirs);
      const echoed = message(ws);
      ws.send(text);
      const got = await seen;
      expect(got.isBinary).to.equal(false);
      expectSameText(got.data.toString('utf8'), text);
      const back = await echoed;
      expect(back.isBinary).to.equal(false);
      expect(typeof back.data).to.equal('string');
      expectSameText(back.data as string, text);
    });

    it(`gets a ${length}-byte binary message (${lengthName(length)}) echoed as binary`, async () => {
      const serverSide = acceptedByWs(server);
      const ws = await openOurs(server.url);
      const theirs = await serverSide;
      const bytes = binaryOfBytes(length);
      const seen = wsMessage(theirs);
      const echoed = message(ws);
      ws.send(bytes);
      const got = await seen;
      expect(got.isBinary).to.equal(true);
      expectSameBytes(got.data, bytes);
      const back = await echoed;
      expect(back.isBinary).to.equal(true);
      expect(Buffer.isBuffer(back.data)).to.equal(true);
      expectSameBytes(back.data as Buffer, bytes);
    });
  }

  it('reassembles a text message the ws server sends in fragments, with a ping between them', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url);
    const theirs = await serverSide;
    const seen = message(ws);
    const pinged = next(ws, 'ping');
    const bytes = Buffer.from('𝄞 clef and more');
    // The 4-byte '𝄞' is split over three fragments.
    theirs.send(bytes.subarray(0, 1), { binary: false, fin: false });
    theirs.send(bytes.subarray(1, 3), { binary: false, fin: false });
    theirs.ping('between');
    theirs.send(bytes.subarray(3), { binary: false, fin: true });
    expect(((await pinged)[0] as Buffer).toString()).to.equal('between');
    expect(await seen).to.deep.equal({ data: '𝄞 clef and more', isBinary: false });
  });

  it('reassembles a binary message the ws server sends as two 65536-byte fragments', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url);
    const theirs = await serverSide;
    const bytes = binaryOfBytes(2 * 65536);
    const seen = message(ws);
    theirs.send(bytes.subarray(0, 65536), { binary: true, fin: false });
    theirs.send(bytes.subarray(65536), { binary: true, fin: true });
    const got = await seen;
    expect(got.isBinary).to.equal(true);
    expectSameBytes(got.data as Buffer, bytes);
  });

  it('sends fragments the ws server reassembles (fragmentSize 1000)', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url, { fragmentSize: 1000 });
    const theirs = await serverSide;
    const text = textOfBytes(5555);
    const seen = wsMessage(theirs);
    ws.send(text);
    const got = await seen;
    expect(got.isBinary).to.equal(false);
    expectSameText(got.data.toString('utf8'), text);
  });

  it('pings the ws server and gets a pong with the same payload', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url);
    const theirs = await serverSide;
    const pinged = next(theirs, 'ping');
    const ponged = next(ws, 'pong');
    ws.ping('ping from our client');
    expect(((await pinged)[0] as Buffer).toString()).to.equal('ping from our client');
    expect(((await ponged)[0] as Buffer).toString()).to.equal('ping from our client');
  });

  it('answers a ping from the ws server with the same payload', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url);
    const theirs = await serverSide;
    const payload = binaryOfBytes(125);
    const pinged = next(ws, 'ping');
    const ponged = next(theirs, 'pong');
    theirs.ping(payload);
    expectSameBytes((await pinged)[0] as Buffer, payload);
    expectSameBytes((await ponged)[0] as Buffer, payload);
  });

  it('closes with a code and reason the ws server sees, and sees them echoed', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url);
    const theirs = await serverSide;
    const theirClose = wsClosed(theirs);
    const ourClose = closed(ws);
    ws.close(1000, 'done here');
    expect(await theirClose).to.deep.equal({ code: 1000, reason: 'done here' });
    expect(await ourClose).to.deep.equal({ code: 1000, reason: 'done here' });
    expect(ws.readyState).to.equal(3);
  });

  it('sees the code and reason of a close the ws server starts', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url);
    const theirs = await serverSide;
    const theirClose = wsClosed(theirs);
    const ourClose = closed(ws);
    theirs.close(4002, 'ws server bye');
    expect(await ourClose).to.deep.equal({ code: 4002, reason: 'ws server bye' });
    expect((await theirClose).code).to.equal(4002);
  });

  it('reports 1005 for an empty close frame from the ws server', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url);
    const theirs = await serverSide;
    const ourClose = closed(ws);
    theirs.close();
    expect(await ourClose).to.deep.equal({ code: 1005, reason: '' });
  });

  it('gets 1000 back-to-back messages echoed by the ws server in order', async () => {
    const ws = await openOurs(server.url);
    const received: string[] = [];
    const all = within(new Promise<void>((resolve) => {
      ws.on('message', (data) => {
        received.push(data as string);
        if (received.length === 1000) resolve();
      });
    }), '1000 echoes');
    const sent = Array.from({ length: 1000 }, (_, i) => `message ${i} ${'.'.repeat(i % 200)}`);
    for (const text of sent) ws.send(text);
    await all;
    expect(received).to.deep.equal(sent);
  });

  it('delivers a message the ws server sends as soon as the connection opens', async () => {
    const greeting = (theirs: WsSocket): void => { theirs.send('welcome'); };
    server.wss.once('connection', greeting);
    try {
      // The greeting may arrive in the same TCP segment as the 101 response: it must still reach
      // a listener attached right after connect() resolves.
      const ws = await openOurs(server.url);
      expect(await message(ws)).to.deep.equal({ data: 'welcome', isBinary: false });
    } finally {
      server.wss.removeListener('connection', greeting);
    }
  });

  it('reports 1006 when the ws server terminates the connection abruptly', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url);
    const theirs = await serverSide;
    const ourClose = closed(ws);
    theirs.on('message', () => { theirs.terminate(); });
    ws.send('please drop me');
    expect((await ourClose).code).to.equal(1006);
    expect(ws.readyState).to.equal(3);
  });

  it('fails invalid UTF-8 from the ws server with 1007', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url);
    const theirs = await serverSide;
    const error = failure(ws);
    const theirClose = wsClosed(theirs);
    theirs.send(Buffer.from([0xc0, 0xaf]), { binary: false });
    expect((await theirClose).code).to.equal(1007);
    expect((await error).closeCode).to.equal(1007);
  });
});

describe('interop: our connect() against a ws server with permessage-deflate enabled', () => {
  afterEach(dropOpened);
  let server: TheirServer;

  before(async () => { server = await startWsServer({ perMessageDeflate: { threshold: 0 } }); });
  after(async () => { await stopWsServer(server); });

  it('agrees on no extension it did not offer and exchanges uncompressed messages', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url);
    const theirs = await serverSide;
    expect(theirs.extensions).to.equal('');
    const echoed = message(ws);
    ws.send(textOfBytes(70000));
    const got = await echoed;
    expect(got.isBinary).to.equal(false);
    expectSameText(got.data as string, textOfBytes(70000));
  });
});

describe('interop: permessage-deflate with ws, both ways (RFC 7692)', () => {
  afterEach(dropOpened);
  let theirServer: TheirServer;
  let ourServer: OurServer;

  before(async () => {
    theirServer = await startWsServer({ perMessageDeflate: { threshold: 0 } });
    ourServer = await startOurServer({ perMessageDeflate: { threshold: 0 }, fragmentSize: 16 * 1024 });
  });
  after(async () => {
    await stopWsServer(theirServer);
    await ourServer.wss.close();
  });

  it('agrees on permessage-deflate with a ws server and echoes compressed messages of every size', async () => {
    const serverSide = acceptedByWs(theirServer);
    const ws = await openOurs(theirServer.url, { perMessageDeflate: { threshold: 0 } });
    expect(ws.extensions).to.equal('permessage-deflate');
    expect((await serverSide).extensions).to.equal('permessage-deflate');
    for (const length of BOUNDARY_LENGTHS) {
      const echoed = message(ws);
      ws.send(textOfBytes(length));
      expectSameText((await echoed).data as string, textOfBytes(length));
      const binary = message(ws);
      ws.send(binaryOfBytes(length));
      expect(((await binary).data as Buffer).equals(binaryOfBytes(length))).to.equal(true);
    }
  });

  it('serves a ws client with permessage-deflate, fragmenting compressed replies', async () => {
    const client = new WsSocket(ourServer.url, { perMessageDeflate: { threshold: 0 } });
    opened.push(client);
    await next(client, 'open');
    expect(client.extensions).to.equal('permessage-deflate');
    for (const length of BOUNDARY_LENGTHS) {
      const echoed = next(client, 'message');
      client.send(binaryOfBytes(length));
      expect(((await echoed)[0] as Buffer).equals(binaryOfBytes(length))).to.equal(true);
    }
  });

  it('fails a ws client whose compressed message inflates beyond maxMessageSize with 1009', async () => {
    const small = await startOurServer({ perMessageDeflate: true, maxMessageSize: 1024 * 1024 });
    try {
      const client = new WsSocket(small.url, { perMessageDeflate: { threshold: 0 } });
      opened.push(client);
      await next(client, 'open');
      const closed = wsClosed(client);
      client.send(Buffer.alloc(8 * 1024 * 1024));
      expect((await closed).code).to.equal(1009);
    } finally {
      await small.wss.close();
    }
  });
});

describe('interop: our connect() and ws server subprotocols', () => {

  afterEach(dropOpened);
  let server: TheirServer;

  before(async () => {
    server = await startWsServer({
      handleProtocols: (offered) => (offered.has('evil') ? 'not-offered' : offered.has('chat.v1') ? 'chat.v1' : false),
    });
  });
  after(async () => { await stopWsServer(server); });

  it('takes the protocol the ws server chose from our offer', async () => {
    const serverSide = acceptedByWs(server);
    const ws = await openOurs(server.url, { protocols: ['chat.v2', 'chat.v1'] });
    expect(ws.protocol).to.equal('chat.v1');
    expect((await serverSide).protocol).to.equal('chat.v1');
  });

  it('has no protocol when we offer none', async () => {
    const ws = await openOurs(server.url);
    expect(ws.protocol).to.equal('');
  });

  it('refuses a protocol we did not offer (WS_ERR_HANDSHAKE_PROTOCOL)', async () => {
    let error: unknown;
    try {
      opened.push(await within(connect(server.url, { protocols: ['evil'] }), 'connect()'));
    } catch (err) {
      error = err;
    }
    expect(error, 'connect() should reject').to.be.instanceOf(Error);
    expect((error as { code?: string }).code).to.equal('WS_ERR_HANDSHAKE_PROTOCOL');
  });
});
