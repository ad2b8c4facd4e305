/**
 * WebSocketStream's Node side: backpressure measured (memory while a reader reads nothing, the
 * outgoing queue while the peer reads nothing), the options Chromium does not have, and the
 * errors' causes. Its observable behaviour against Chromium's is in spec/web/interop.spec.ts.
 */
import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import type { WebSocket as Connection } from '../../lib/connection/websocket';
import { WebSocketProtocolError } from '../../lib/errors';
import { WebSocketServer } from '../../lib/server';
import { WebSocketError } from '../../lib/web/websocket-error';
import { DEFAULT_READABLE_HIGH_WATER_MARK, WebSocketStream } from '../../lib/web/websocket-stream';
import { within } from '../interop/helpers';
import { type Flood, flood, memory, stalled } from '../support/flood';
import { type ScenarioPeer, startScenarioPeer } from './peer';

const MiB = 1024 * 1024;

describe('WebSocketStream (Node side)', () => {
  let peer: ScenarioPeer;
  let server: WebSocketServer | undefined;

  before(async () => { peer = await startScenarioPeer(); });
  after(async () => { await peer.close(); });
  afterEach(async () => {
    if (server !== undefined) await server.close();
    server = undefined;
  });

  async function listen(onConnection: (ws: Connection) => void): Promise<string> {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => { (server as WebSocketServer).once('listening', resolve); });
    server.on('connection', onConnection);
    return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  it('a reader that reads nothing stops the socket being read: 200 MiB sent as fast as the peer can, memory stays bounded', async function () {
    this.timeout(120_000);
    const total = 200 * MiB;
    const payload = Buffer.alloc(MiB, 0x5a);
    const sender: Flood = { sent: 0, waiting: false, done: false };
    const url = await listen((ws) => { flood(ws, payload, total, sender); });
    const baseline = memory();
    let peak = 0;
    const wss = new WebSocketStream(url);
    const { readable } = await within(wss.opened, 'the connection to open');
    // Nobody reads: the sender runs until TCP backpressure reaches it.
    await stalled(() => sender.sent, () => sender.waiting, () => sender.done, () => { peak = Math.max(peak, memory() - baseline); });
    expect(sender.done, 'the sender was never held back').to.equal(false);
    expect(sender.sent).to.be.below(total / 4);
    expect(peak, `grew ${(peak / MiB).toFixed(1)} MiB`).to.be.below(48 * MiB);

    // Then everything arrives, in order and whole, once read.
    const reader = readable.getReader();
    let received = 0;
    while (received < total) {
      const { value } = await reader.read();
      const chunk = value as ArrayBuffer;
      expect(chunk.byteLength).to.equal(MiB);
      received += chunk.byteLength;
    }
    expect(sender.done).to.equal(true);
    wss.close();
    expect(await wss.closed).to.deep.equal({ closeCode: 1005, reason: '' });
  });

  it('write() waits for the socket: a peer that reads nothing holds the writer back, and gets everything later', async function () {
    this.timeout(120_000);
    let serverSide: Connection | undefined;
    let received = 0;
    const url = await listen((ws) => {
      serverSide = ws;
      ws.pause();
      ws.on('message', (data) => { received += (data as Buffer).length; });
    });
    const total = 200 * MiB;
    const chunk = new Uint8Array(MiB);
    const wss = new WebSocketStream(url);
    const { writable } = await within(wss.opened, 'the connection to open');
    const writer = writable.getWriter();
    const writing = { written: 0, waiting: false };
    const done = (async () => {
      while (writing.written < total) {
        writing.waiting = true;
        await writer.write(chunk);
        writing.waiting = false;
        writing.written += chunk.length;
      }
    })();
    const baseline = memory();
    let peak = 0;
    await stalled(() => writing.written, () => writing.waiting, () => writing.written >= total, () => { peak = Math.max(peak, memory() - baseline); });
    expect(writing.written).to.be.below(total / 4);
    expect(peak, `grew ${(peak / MiB).toFixed(1)} MiB`).to.be.below(48 * MiB);

    (serverSide as Connection).resume();
    await within(done, 'every write', 60_000);
    await writer.close();
    await within(wss.closed, 'the close');
    expect(received).to.equal(total);
  });

  it('closes cleanly while a full readable holds the socket paused: close() reads on to the peer\'s close frame', async function () {
    this.timeout(60_000);
    const payload = Buffer.alloc(MiB, 1);
    const sender: Flood = { sent: 0, waiting: false, done: false };
    // Until the connection closes.
    const url = await listen((ws) => { flood(ws, payload, Infinity, sender); });
    // A close timeout far beyond the wait below: only reading on can finish the handshake in time.
    const wss = new WebSocketStream(url, { closeTimeout: 120_000 });
    await within(wss.opened, 'the connection to open');
    await stalled(() => sender.sent, () => sender.waiting, () => false, () => undefined);
    wss.close({ closeCode: 4000 });
    expect(await within(wss.closed, 'the close')).to.deep.equal({ closeCode: 4000, reason: '' });
  });

  it('keeps the messages that came before the close frame readable after closed resolved', async () => {
    const wss = new WebSocketStream(`${peer.base}/burst-close`);
    const { readable } = await within(wss.opened, 'the connection to open');
    expect(await within(wss.closed, 'the close')).to.deep.equal({ closeCode: 4001, reason: 'later' });
    const reader = readable.getReader();
    expect((await reader.read()).value).to.equal('one');
    expect((await reader.read()).value).to.equal('two');
    expect((await reader.read()).done).to.equal(true);
  });

  it('takes a readable high-water mark in bytes (Node only), defaulting to 64 KiB', () => {
    expect(DEFAULT_READABLE_HIGH_WATER_MARK).to.equal(64 * 1024);
    expect(() => new WebSocketStream(`${peer.base}/echo`, { readableHighWaterMark: -1 })).to.throw(TypeError);
    const wss = new WebSocketStream(`${peer.base}/echo`, { readableHighWaterMark: 0 });
    wss.close();
  });

  it('passes the Node-only options to connect(): headers reach the server', async () => {
    const request = within(new Promise<string>((resolve) => {
      peer.server.once('connection', (_ws, req) => { resolve(String(req.headers['x-token'])); });
    }), 'the upgrade request');
    const wss = new WebSocketStream(`${peer.base}/echo`, { headers: { 'X-Token': 'secret' } });
    await within(wss.opened, 'the connection to open');
    expect(await request).to.equal('secret');
    wss.close();
    await wss.closed;
  });

  it('rejects with a WebSocketError whose cause says why (Node only)', async () => {
    const refused = new WebSocketStream(peer.refused);
    const error = await refused.opened.then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(WebSocketError).with.property('closeCode', null);
    expect((error as { cause?: unknown }).cause).to.have.property('code', 'ECONNREFUSED');

    const failed = new WebSocketStream(`${peer.base}/bad-utf8`, { closeTimeout: 500 });
    await within(failed.opened, 'the connection to open');
    const closeError = await failed.closed.then(() => undefined, (e: unknown) => e);
    expect(closeError).to.be.instanceOf(WebSocketError).with.property('closeCode', 1006);
    expect((closeError as { cause?: unknown }).cause).to.be.instanceOf(WebSocketProtocolError).with.property('closeCode', 1007);
  });

  it('never reports the promises nobody awaits as unhandled rejections', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown): void => { unhandled.push(reason); };
    process.on('unhandledRejection', listener);
    try {
      const wss = new WebSocketStream(peer.refused);
      // Only `closed` is awaited; `opened` rejects too.
      await wss.closed.catch(() => undefined);
      await new Promise((resolve) => { setImmediate(resolve); });
    } finally {
      process.off('unhandledRejection', listener);
    }
    expect(unhandled).to.deep.equal([]);
  });

  it('sends the bytes a chunk held when it was written, and text for anything that is not bytes', async () => {
    let serverSide: Connection | undefined;
    const got: Array<[string | Buffer, boolean]> = [];
    const url = await listen((ws) => {
      serverSide = ws;
      ws.on('message', (data, isBinary) => { got.push([data, isBinary]); });
    });
    const wss = new WebSocketStream(url);
    const { writable } = await within(wss.opened, 'the connection to open');
    const writer = writable.getWriter();
    const bytes = new Uint8Array([1, 2, 3]);
    const written = writer.write(bytes);
    bytes.fill(0);
    await written;
    await writer.write({ toString: () => 'an object' } as unknown as string);
    await writer.close();
    await within(wss.closed, 'the close');
    expect(serverSide).not.to.equal(undefined);
    expect(got.map(([data, isBinary]) => [Buffer.isBuffer(data) ? [...data] : data, isBinary])).to.deep.equal([[[1, 2, 3], true], ['an object', false]]);
  });
});
