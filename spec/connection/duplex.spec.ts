import { expect } from 'chai';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { connect } from '../../lib/client';
import { createWebSocketStream } from '../../lib/connection/duplex';
import type { WebSocket } from '../../lib/connection/websocket';
import { ConnectionClosedError, WebSocketProtocolError, WebSocketUsageError } from '../../lib/errors';
import type { WebSocketServer } from '../../lib/server';
import { flood, memory, stalled } from '../support/flood';
import { closed, listen, nextConnection, withTimeout } from '../support/peers';

const MiB = 1024 * 1024;

/** The next `count` chunks a stream reads. */
function chunks(stream: NodeJS.ReadableStream, count: number): Promise<unknown[]> {
  const got: unknown[] = [];
  return withTimeout(new Promise((resolve) => {
    const onData = (chunk: unknown): void => {
      got.push(chunk);
      if (got.length === count) {
        stream.off('data', onData);
        stream.pause();
        resolve(got);
      }
    };
    stream.on('data', onData);
  }), 5000, `${count} chunks`);
}

/** The error a stream emits, or a timeout. */
function errorOf(stream: NodeJS.EventEmitter): Promise<Error> {
  return withTimeout(once(stream, 'error').then(([error]) => error as Error), 5000, "the stream's error");
}

describe('createWebSocketStream', () => {
  let wss: WebSocketServer;
  let url: string;
  let client: WebSocket;
  let server: WebSocket;

  beforeEach(async () => {
    ({ wss, url } = await listen({ closeTimeout: 1000 }));
    const accepted = nextConnection(wss);
    // A short closeTimeout: after failing, a client waits for the server's TCP close.
    client = await connect(url, { closeTimeout: 1000 });
    server = await accepted;
  });

  afterEach(async () => {
    // Streams destroyed by these terminations have nobody listening: they must close quietly.
    client.terminate();
    for (const ws of wss.clients) ws.terminate();
    await wss.close();
  });

  it('writes each chunk as a binary message and reads each message as bytes', async () => {
    const duplex = createWebSocketStream(client);
    const got = once(server, 'message');
    duplex.write('written text');
    expect(await got).to.deep.equal([Buffer.from('written text'), true]);
    server.send('text \u00e9');
    server.send(Buffer.from([1, 2]));
    expect(await chunks(duplex, 2)).to.deep.equal([Buffer.from('text \u00e9'), Buffer.from([1, 2])]);
  });

  it('with decodeStrings: false, writes strings as text messages', async () => {
    const duplex = createWebSocketStream(client, { decodeStrings: false });
    const got = once(server, 'message');
    duplex.write('as text');
    expect(await got).to.deep.equal(['as text', false]);
    const hex = once(server, 'message');
    duplex.write('0102', 'hex');
    expect(await hex).to.deep.equal([Buffer.from([1, 2]), true]);
  });

  it('with readableObjectMode, reads text messages as strings and binary ones as Buffers', async () => {
    const duplex = createWebSocketStream(client, { readableObjectMode: true });
    server.send('text');
    server.send(Buffer.from([7]));
    expect(await chunks(duplex, 2)).to.deep.equal(['text', Buffer.from([7])]);
  });

  it('wraps a server-side connection too: a pipeline echoes through it', async () => {
    const echo = createWebSocketStream(server);
    void pipeline(echo, echo).catch(() => undefined);
    const replies: unknown[] = [];
    client.on('message', (data) => { replies.push(data); });
    client.send('ping me');
    client.send(Buffer.from([3, 4]));
    await withTimeout(new Promise<void>((resolve) => {
      const check = setInterval(() => { if (replies.length === 2) { clearInterval(check); resolve(); } }, 10);
    }), 5000, 'two echoes');
    expect(replies).to.deep.equal([Buffer.from('ping me'), Buffer.from([3, 4])]);
  });

  it('ends the readable side on a normal close, and (allowHalfOpen false) finishes the writable side', async () => {
    const duplex = createWebSocketStream(client);
    duplex.resume();
    const ended = once(duplex, 'end');
    const finished = once(duplex, 'finish');
    const closedEvent = once(duplex, 'close');
    server.close(1000);
    await withTimeout(Promise.all([ended, finished, closedEvent]), 5000, 'end, finish and close');
    expect(client.readyState).to.equal(3);
  });

  it('with allowHalfOpen: true, stays writable after the end, and a write then fails (WS_ERR_INVALID_STATE)', async () => {
    const duplex = createWebSocketStream(client, { allowHalfOpen: true });
    duplex.resume();
    server.close(1000);
    await withTimeout(once(duplex, 'end'), 5000, 'end');
    expect(duplex.writable).to.equal(true);
    const error = errorOf(duplex);
    duplex.write('too late');
    expect(await error).to.be.instanceOf(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_STATE');
  });

  it('errors with ConnectionClosedError when the peer closes with another code, so it never looks complete', async () => {
    const duplex = createWebSocketStream(client);
    duplex.resume();
    const error = errorOf(duplex);
    server.close(4000, 'go away');
    expect(await error).to.be.instanceOf(ConnectionClosedError).and.deep.include({ closeCode: 4000, reason: 'go away' });
  });

  it('errors when the connection is lost (1006)', async () => {
    const duplex = createWebSocketStream(client);
    duplex.resume();
    const error = errorOf(duplex);
    server.terminate();
    expect(await error).to.be.instanceOf(ConnectionClosedError).with.property('closeCode', 1006);
  });

  it('closes quietly, without end, when the connection is lost and nobody listens for errors', async () => {
    const duplex = createWebSocketStream(client);
    let ended = false;
    duplex.on('end', () => { ended = true; });
    duplex.resume();
    // Not events.once(): it would listen for 'error' itself.
    const duplexClosed = withTimeout(new Promise((resolve) => { duplex.on('close', resolve); }), 5000, "the stream's close");
    server.terminate();
    await duplexClosed;
    expect([duplex.destroyed, ended, duplex.readableEnded]).to.deep.equal([true, false, false]);
  });

  it('errors with the protocol error that failed the connection', async () => {
    const duplex = createWebSocketStream(client);
    duplex.resume();
    const error = errorOf(duplex);
    server.send(Buffer.from([0xff]), false);
    expect(await error).to.be.instanceOf(WebSocketProtocolError).with.property('closeCode', 1007);
  });

  it('closes the connection when the writable side ends, still reading what the peer sent meanwhile', async () => {
    const duplex = createWebSocketStream(client);
    const data: Buffer[] = [];
    duplex.on('data', (chunk: Buffer) => { data.push(chunk); });
    const serverClosed = closed(server);
    const duplexClosed = withTimeout(once(duplex, 'close'), 5000, "the stream's close");
    // The server sends before it reads our close frame: those still arrive.
    server.send('late news');
    duplex.end();
    await withTimeout(once(duplex, 'finish'), 5000, 'finish');
    expect((await serverClosed).code).to.equal(1005);
    await duplexClosed;
    expect(Buffer.concat(data).toString()).to.equal('late news');
  });

  it('closes with 1000 when destroyed, and with 1011 when destroyed with an error', async () => {
    const duplex = createWebSocketStream(client);
    const serverClosed = closed(server);
    const duplexClosed = withTimeout(once(duplex, 'close'), 5000, "the stream's close");
    duplex.destroy();
    expect((await serverClosed).code).to.equal(1000);
    await duplexClosed;
    // The stream's 'close' comes once the connection closed.
    expect(client.readyState).to.equal(3);

    const accepted = nextConnection(wss);
    const second = await connect(url);
    const secondServer = await accepted;
    const failing = createWebSocketStream(second);
    const secondClosed = closed(secondServer);
    const error = errorOf(failing);
    failing.destroy(new Error('downstream failed'));
    expect((await secondClosed).code).to.equal(1011);
    expect((await error).message).to.equal('downstream failed');
  });

  it('stops reading the socket while nobody reads the stream: a 200 MiB flood holds bounded memory', async function () {
    this.timeout(120_000);
    const total = 200 * MiB;
    const payload = Buffer.alloc(MiB, 0x33);
    const duplex = createWebSocketStream(client);
    const baseline = memory();
    let peak = 0;
    const sender = flood(server, payload, total);
    await stalled(() => sender.sent, () => sender.waiting, () => sender.done, () => { peak = Math.max(peak, memory() - baseline); });
    expect(sender.done, 'the sender was never held back').to.equal(false);
    expect(peak, `grew ${(peak / MiB).toFixed(1)} MiB`).to.be.below(48 * MiB);
    let received = 0;
    await withTimeout(pipeline(duplex, new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        if (received === total) server.close(1000);
        callback();
      },
    })), 60_000, 'everything to be read');
    expect(received).to.equal(total);
  });

  it('holds writes back while the peer reads nothing: a 200 MiB pipeline stalls with bounded memory, then completes', async function () {
    this.timeout(120_000);
    const total = 200 * MiB;
    let received = 0;
    server.on('message', (data) => { received += (data as Buffer).length; });
    server.pause();
    const duplex = createWebSocketStream(client);
    let produced = 0;
    const source = new Readable({
      read() {
        if (produced >= total) {
          this.push(null);
          return;
        }
        produced += MiB;
        this.push(Buffer.alloc(MiB, 1));
      },
    });
    const baseline = memory();
    let peak = 0;
    const piped = pipeline(source, duplex);
    await stalled(() => produced, () => true, () => produced >= total, () => { peak = Math.max(peak, memory() - baseline); });
    expect(produced).to.be.below(total / 4);
    expect(peak, `grew ${(peak / MiB).toFixed(1)} MiB`).to.be.below(48 * MiB);
    server.resume();
    await withTimeout(piped, 60_000, 'the pipeline');
    expect(received).to.equal(total);
  });
});
