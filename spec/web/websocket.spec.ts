/**
 * The WHATWG WebSocket's Node side: what the isomorphic scenarios (spec/web/interop.spec.ts)
 * cannot see from a page: Buffers, the options bag, the error behind an error event, copies of
 * sent buffers, bufferedAmount draining, resets.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { getEventListeners, once } from 'node:events';
import * as net from 'node:net';
import { connect } from '../../lib/client';
import { WebSocketProtocolError, WebSocketUsageError } from '../../lib/errors';
import { GUID } from '../../lib/constants';
import { WebSocketServer } from '../../lib/server';
import { CloseEvent, ErrorEvent, type MessageEvent } from '../../lib/web/events';
import { WebSocket } from '../../lib/web/websocket';
import { until, within } from '../interop/helpers';
import { type ScenarioPeer, startScenarioPeer } from './peer';

/** Everything a WebSocket dispatched, in order, until its close event. */
function record(ws: WebSocket): Promise<Event[]> {
  const events: Event[] = [];
  for (const type of ['open', 'message', 'error']) ws.addEventListener(type, (event) => { events.push(event); });
  return within(new Promise((resolve) => {
    ws.addEventListener('close', (event) => { events.push(event); resolve(events); });
  }), 'the close event');
}

function opened(ws: WebSocket): Promise<void> {
  return within(new Promise((resolve, reject) => {
    ws.addEventListener('open', () => { resolve(); });
    ws.addEventListener('close', () => { reject(new Error('closed before it opened')); });
  }), 'the open event');
}

/** The next `count` messages' data. */
function messages(ws: WebSocket, count: number): Promise<unknown[]> {
  const data: unknown[] = [];
  return within(new Promise((resolve) => {
    const listener = (event: Event): void => {
      data.push((event as MessageEvent).data);
      if (data.length === count) {
        ws.removeEventListener('message', listener);
        resolve(data);
      }
    };
    ws.addEventListener('message', listener);
  }), `${count} messages`);
}

describe('WHATWG WebSocket (Node side)', () => {
  let peer: ScenarioPeer;
  const sockets: WebSocket[] = [];
  const servers: net.Server[] = [];

  function open(path: string, protocols?: string | string[], options?: ConstructorParameters<typeof WebSocket>[2]): WebSocket {
    const ws = new WebSocket(`${peer.base}${path}`, protocols, options);
    sockets.push(ws);
    return ws;
  }

  before(async () => { peer = await startScenarioPeer(); });
  after(async () => { await peer.close(); });
  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.close();
    for (const server of servers.splice(0)) await new Promise((resolve) => { server.close(resolve); });
  });

  it('gives binary messages as Buffers with binaryType "nodebuffer"', async () => {
    const ws = open('/echo');
    await opened(ws);
    ws.binaryType = 'nodebuffer';
    const received = messages(ws, 2);
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send('text');
    const [binary, text] = await received;
    expect(Buffer.isBuffer(binary)).to.equal(true);
    expect([...(binary as Buffer)]).to.deep.equal([1, 2, 3]);
    expect(text).to.equal('text');
  });

  it('passes the Node-only options to connect(): headers reach the server', async () => {
    const request = within(new Promise<string | undefined>((resolve) => {
      peer.server.once('connection', (_ws, req) => { resolve(String(req.headers['x-token'])); });
    }), 'the upgrade request');
    const ws = open('/echo', [], { headers: { 'X-Token': 'secret' } });
    await opened(ws);
    expect(await request).to.equal('secret');
  });

  it('negotiates permessage-deflate when asked, and reports it in extensions', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
    await new Promise<void>((resolve) => { server.once('listening', resolve); });
    server.on('connection', (ws) => { ws.on('message', (data, isBinary) => { ws.send(data, isBinary); }); });
    try {
      const { port } = server.address() as net.AddressInfo;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, undefined, { perMessageDeflate: true });
      sockets.push(ws);
      await opened(ws);
      expect(ws.extensions).to.match(/^permessage-deflate/);
      const received = messages(ws, 1);
      const bytes = new Uint8Array(100000).fill(7);
      ws.binaryType = 'arraybuffer';
      ws.send(bytes);
      // The extension compresses later: the bytes sent are the ones at the time of send().
      bytes.fill(0);
      const [echo] = await received;
      expect(new Uint8Array(echo as ArrayBuffer).every((b) => b === 7)).to.equal(true);
      ws.close();
    } finally {
      await server.close();
    }
  });

  it('sends the bytes a buffer held when send() was called, even behind a Blob', async () => {
    const ws = open('/echo');
    await opened(ws);
    ws.binaryType = 'nodebuffer';
    const received = messages(ws, 3);
    const direct = new Uint8Array([1, 1, 1]);
    ws.send(direct);
    direct.fill(9);
    ws.send(new Blob(['blob']));
    const queued = new Uint8Array([2, 2, 2]);
    ws.send(queued);
    queued.fill(9);
    const [first, blob, third] = await received as Buffer[];
    expect([...first]).to.deep.equal([1, 1, 1]);
    expect(blob.toString()).to.equal('blob');
    expect([...third]).to.deep.equal([2, 2, 2]);
  });

  it('keeps message order when a large Blob is followed by small messages', async () => {
    const ws = open('/echo');
    await opened(ws);
    ws.binaryType = 'nodebuffer';
    const received = messages(ws, 4);
    ws.send(new Blob([Buffer.alloc(2 * 1024 * 1024, 1)]));
    ws.send('a');
    ws.send(new Blob(['b']));
    ws.send('c');
    const [large, a, b, c] = await received;
    expect((large as Buffer).length).to.equal(2 * 1024 * 1024);
    expect([a, (b as Buffer).toString(), c]).to.deep.equal(['a', 'b', 'c']);
  });

  it('counts the application bytes in bufferedAmount until the socket took them', async () => {
    const ws = open('/echo');
    await opened(ws);
    ws.send('\u00e9'.repeat(10));
    ws.send(new Uint8Array(5));
    ws.send(new Blob(['123']));
    // UTF-8 bytes of the text, the binary bytes, the Blob's size: no framing overhead.
    expect(ws.bufferedAmount).to.equal(20 + 5 + 3);
    await until(() => ws.bufferedAmount === 0, 'bufferedAmount to drain');
  });

  it('reports a protocol error: the error event carries it, close says 1006, the server saw 1007', async () => {
    // A short closeTimeout: after failing, the client waits for the server's TCP close.
    const ws = open('/bad-utf8', [], { closeTimeout: 500 });
    const events = await record(ws);
    expect(events.map((event) => event.type)).to.deep.equal(['open', 'error', 'close']);
    const error = events[1] as ErrorEvent;
    expect(error).to.be.instanceOf(ErrorEvent);
    expect(error.error).to.be.instanceOf(WebSocketProtocolError).with.property('closeCode', 1007);
    expect(error.message).to.be.a('string').and.not.equal('');
    const close = events[2] as CloseEvent;
    expect(close).to.be.instanceOf(CloseEvent);
    expect([close.code, close.wasClean]).to.deep.equal([1006, false]);
    await until(() => peer.closes.some((c) => c.path === '/bad-utf8'), 'the server to see the close');
    expect(peer.closes.find((c) => c.path === '/bad-utf8')?.code).to.equal(1007);
  });

  it('reports a refused connection: the error event carries ECONNREFUSED', async () => {
    const ws = new WebSocket(peer.refused);
    const events = await record(ws);
    expect(events.map((event) => event.type)).to.deep.equal(['error', 'close']);
    expect((events[0] as ErrorEvent).error).to.have.property('code', 'ECONNREFUSED');
    expect((events[1] as CloseEvent).code).to.equal(1006);
    expect(ws.readyState).to.equal(WebSocket.CLOSED);
  });

  it('reports a reset after the handshake as close 1006 without an error event, as Chromium does', async () => {
    const server = net.createServer((socket) => {
      socket.on('error', () => { /* the reset is ours */ });
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        const key = /sec-websocket-key: *([^\r\n]+)/i.exec(head)?.[1]?.trim() ?? '';
        const accept = createHash('sha1').update(key + GUID).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        setImmediate(() => { socket.resetAndDestroy(); });
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
    const events = await record(ws);
    expect(events.map((event) => event.type)).to.deep.equal(['open', 'close']);
    expect([(events[1] as CloseEvent).code, (events[1] as CloseEvent).wasClean]).to.deep.equal([1006, false]);
  });

  it('fails when subprotocols were offered and none chosen: the error says WS_ERR_HANDSHAKE_PROTOCOL', async () => {
    const ws = open('/echo', ['chat']);
    const events = await record(ws);
    expect(events.map((event) => event.type)).to.deep.equal(['error', 'close']);
    expect((events[0] as ErrorEvent).error).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_PROTOCOL');
    expect(ws.protocol).to.equal('');
  });

  it('aborts the handshake when the options signal aborts', async () => {
    const controller = new AbortController();
    const ws = open('/echo', [], { signal: controller.signal });
    const events = record(ws);
    controller.abort();
    expect((await events).map((event) => event.type)).to.deep.equal(['error', 'close']);
  });

  it('lets go of the options signal once the handshake ended: a long-lived signal collects no listeners', async () => {
    const controller = new AbortController();
    const ws = open('/echo', [], { signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).to.have.length(1);
    await opened(ws);
    expect(getEventListeners(controller.signal, 'abort')).to.have.length(0);
    // Aborting after the handshake does nothing: close() ends a connection.
    controller.abort();
    expect(ws.readyState).to.equal(WebSocket.OPEN);
  });

  it('does not dispatch messages that arrive after close(), where the Node API delivers them', async () => {
    // The Node API first: closing on the first message, the two sent before the peer saw our
    // close frame still arrive (CLOSING).
    const node = await connect(`${peer.base}/burst`);
    const delivered: unknown[] = [];
    node.on('message', (data) => { delivered.push(data); node.close(); });
    await within(once(node, 'close'), 'the Node API connection to close');
    expect(delivered).to.deep.equal(['one', 'two', 'three']);

    const ws = open('/burst');
    const got: unknown[] = [];
    ws.addEventListener('message', (event) => {
      got.push((event as MessageEvent).data);
      ws.close();
    });
    const close = (await record(ws)).at(-1) as CloseEvent;
    expect([got, close.code, close.wasClean]).to.deep.equal([['one'], 1005, true]);
  });

  it('checks connection options where they are written, and client options through the error event', async () => {
    expect(() => new WebSocket(`${peer.base}/echo`, [], { maxPayload: -1 })).to.throw(WebSocketUsageError);
    expect(() => new WebSocket(`${peer.base}/echo`, [], null as unknown as object)).to.throw(TypeError);
    const ws = new WebSocket(`${peer.base}/echo`, [], { handshakeTimeout: -1 });
    const events = await record(ws);
    expect((events[0] as ErrorEvent).error).to.be.instanceOf(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_ARGUMENT');
  });

  it('requires its arguments as Web IDL does', () => {
    expect(() => new (WebSocket as unknown as new () => WebSocket)()).to.throw(TypeError);
    const ws = open('/echo');
    expect(() => { (ws.send as () => void)(); }).to.throw(TypeError);
  });

  it('types its events as browsers\' typings do: data, code and error without casts', async () => {
    const ws = open('/echo');
    const seen: unknown[] = [];
    ws.onopen = () => { ws.send('typed'); };
    ws.addEventListener('message', (event) => {
      const data: string | Blob | ArrayBuffer | Buffer = event.data;
      seen.push(data);
      ws.close(1000);
    });
    const closeCode = await within(new Promise<number>((resolve) => { ws.onclose = (event) => { resolve(event.code); }; }), 'the close');
    expect([seen, closeCode]).to.deep.equal([['typed'], 1000]);
  });

  it('keeps only functions as event handler attributes', () => {
    const ws = open('/echo');
    ws.onmessage = 'not a function' as unknown as null;
    expect(ws.onmessage).to.equal(null);
    const handler = (): void => { /* nothing */ };
    ws.onclose = handler;
    expect(ws.onclose).to.equal(handler);
    ws.onclose = null;
    expect(ws.onclose).to.equal(null);
  });

  it('has the constants on the class and on every instance', () => {
    const ws = open('/echo');
    expect([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]).to.deep.equal([0, 1, 2, 3]);
    expect([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED]).to.deep.equal([0, 1, 2, 3]);
    expect(Object.prototype.toString.call(ws)).to.equal('[object WebSocket]');
  });
});
