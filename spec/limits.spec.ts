/**
 * Resource limits against a real server on loopback: each test pushes one resource (time, bytes,
 * frames, fragments, chunks, unread replies, connections) the way a hostile or broken peer would,
 * then measures time or memory and asserts a bound. The peers are raw TCP sockets speaking RFC 6455
 * by hand, so they can do what no well-behaved client does.
 *
 * Memory is read from process.memoryUsage() after a full garbage collection (exposed at runtime
 * through V8 flags, so no command-line switch is needed). The server runs in this process, so
 * client-side buffers are built before the baseline is taken, and reused.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { startDemoServer, type DemoServer } from '../examples/demo-server';
import { FrameParser } from '../lib/frame/parser';
import { MessageParser } from '../lib/message/parser';
import { ReadyState, WebSocketServer } from '../lib/index';
import type { WebSocket } from '../lib/connection/websocket';
import { wsServerReceiver, wsStatusCode, WS_SERVER_MAX_FRAGMENTS } from './fuzz/parsers';
import { encodeFrameSpec, walkFrames } from './fuzz/wire';

const MiB = 1024 * 1024;
const KiB = 1024;

// --- measuring ---------------------------------------------------------------------------------

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

interface Memory {
  heapUsed: number;
  /** Memory outside the V8 heap: Buffers' backing stores and the like. */
  external: number;
  arrayBuffers: number;
}

/** Memory after two full collections (the second catches what the first's finalizers freed). */
function settledMemory(): Memory {
  collectGarbage();
  collectGarbage();
  const { heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { heapUsed, external, arrayBuffers };
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(2)} MiB`;
}

/** Samples heapUsed + external every 20 ms and remembers the peak, without collecting. */
class PeakMemory {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly base: Memory) {
    this.timer = setInterval(() => { this.sample(); }, 20);
  }

  sample(): void {
    const { heapUsed, external } = process.memoryUsage();
    this.peak = Math.max(this.peak, heapUsed + external);
  }

  /** Peak growth over the baseline. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak - (this.base.heapUsed + this.base.external);
  }
}

// --- waiting -----------------------------------------------------------------------------------

/** Resolves like `promise`, or rejects after `ms` saying what was awaited. */
function within<T>(promise: Promise<T>, what: string, ms = 30_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms waiting for ${what}`)); }, ms);
    timer.unref();
    promise.then((value) => { clearTimeout(timer); resolve(value); }, (err: unknown) => { clearTimeout(timer); reject(err); });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => { setImmediate(resolve); });
}

async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(20);
  }
}

// --- a raw client ------------------------------------------------------------------------------

function handshakeRequest(port: number, path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/** A client frame (masked, RFC 6455 §5.3) with a random key. */
function clientFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  return encodeFrameSpec({ fin, rsv: 0, opcode, mask: randomBytes(4), payload, length: 'minimal' });
}

/** Server frames arriving on a raw socket, gathered until a frame matching `done` is complete. */
class ServerFrames {
  private readonly chunks: Buffer[] = [];
  private length = 0;
  private scanned = 0;

  constructor(first: Buffer) {
    if (first.length > 0) this.add(first);
  }

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Bytes received so far. */
  get bytes(): number {
    return this.length;
  }

  /** The complete frames so far. Re-walks only when `minimum` bytes arrived since the last look. */
  frames(minimum = 0): ReturnType<typeof walkFrames> {
    if (this.length - this.scanned < minimum) return [];
    this.scanned = this.length;
    return walkFrames(Buffer.concat(this.chunks)).filter((f) => !f.truncated);
  }
}

interface RawClient {
  socket: net.Socket;
  received: ServerFrames;
}

/** Connects to 127.0.0.1:port and completes the opening handshake by hand. */
function rawConnect(port: number, path: string, read = true): Promise<RawClient> {
  return within(new Promise<RawClient>((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => { socket.write(handshakeRequest(port, path)); });
    let head = Buffer.alloc(0);
    socket.once('error', reject);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.removeListener('data', onData);
      socket.removeListener('error', reject);
      socket.on('error', () => { /* the server may drop us: that is what some tests want */ });
      if (!head.subarray(0, end).toString('latin1').startsWith('HTTP/1.1 101 ')) {
        reject(new Error(`handshake refused: ${head.toString('latin1')}`));
        return;
      }
      const received = new ServerFrames(head.subarray(end + 4));
      if (read) socket.on('data', (data: Buffer) => { received.add(data); });
      else socket.pause();
      resolve({ socket, received });
    };
    socket.on('data', onData);
  }), `a handshake to ${path}`);
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => { resolve(); });
  });
}

function listening(wss: WebSocketServer): Promise<number> {
  return new Promise((resolve, reject) => {
    wss.once('listening', () => { resolve((wss.address() as AddressInfo).port); });
    wss.once('error', reject);
  });
}

// --- the limits --------------------------------------------------------------------------------

describe('resource limits (real servers on loopback)', function () {
  this.timeout(60_000);

  describe('opening handshake', () => {
    it('closes a handshake dribbled one byte every 200 ms within handshakeTimeout (1000 ms) + 2 s', async () => {
      const handshakeTimeout = 1000;
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handshakeTimeout });
      const port = await listening(wss);
      try {
        const request = Buffer.from(handshakeRequest(port, '/'));
        const socket = net.connect({ port, host: '127.0.0.1' });
        socket.on('error', () => { /* a reset also counts as closed */ });
        let answer = '';
        socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1'); });
        await within(new Promise((resolve) => { socket.once('connect', resolve); }), 'the TCP connection');
        const started = Date.now();
        let sent = 0;
        const dribble = setInterval(() => {
          if (sent < request.length && !socket.destroyed) socket.write(request.subarray(sent, ++sent));
        }, 200);
        socket.write(request.subarray(0, ++sent));
        try {
          await within(closed(socket), 'the server to close the dribbling connection', handshakeTimeout + 10_000);
        } finally {
          clearInterval(dribble);
        }
        const elapsed = Date.now() - started;
        console.log(`      closed after ${elapsed} ms and ${sent} of ${request.length} bytes; answer: ${JSON.stringify(answer.split('\r\n')[0] ?? '')}`);
        expect(sent, 'bytes sent before the close').to.be.below(request.length);
        expect(elapsed, 'ms until closed').to.be.below(handshakeTimeout + 2000);
        // The timeout closed it, not an early refusal of the first bytes.
        expect(elapsed, 'ms until closed').to.be.at.least(handshakeTimeout - 100);
        if (answer !== '') expect(answer).to.match(/^HTTP\/1\.1 408 /);
      } finally {
        await wss.close();
      }
    });
  });

  describe('announced lengths', () => {
    it('answers a header announcing 2^53 - 1 bytes (and nothing after it) with 1009, allocating nothing', async () => {
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      const port = await listening(wss);
      try {
        const client = await rawConnect(port, '/');
        // Binary, FIN, masked, 127 + 64-bit length 2^53 - 1, masking key; no payload.
        const header = Buffer.from('82ff001fffffffffffff' + '0badf00d', 'hex');
        const before = settledMemory();
        client.socket.write(header);
        await within(closed(client.socket), 'the server to close the connection');
        const { arrayBuffers, external } = process.memoryUsage();
        const growth = Math.max(arrayBuffers - before.arrayBuffers, external - before.external);
        const [close] = client.received.frames();
        console.log(`      external growth ${mib(growth)}`);
        expect(close?.opcode, 'a close frame').to.equal(0x8);
        expect(close.payload.readUInt16BE(0), 'close code').to.equal(1009);
        expect(growth, 'arrayBuffers/external growth').to.be.below(4 * MiB);
      } finally {
        await wss.close();
      }
    });

    it('holds 2,000 connections stalled after a header announcing 64 MiB in little memory (nothing reserved ahead)', async () => {
      const count = 2000;
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      const port = await listening(wss);
      let child: ReturnType<typeof spawn> | undefined;
      try {
        const before = settledMemory();
        // Binary, masked, 64-bit length 64 MiB, a key, then one payload byte: the frame stalls.
        child = spawnClients(port, count, '82ff0000000004000000' + '0badf00d' + '11');
        await within(clientsOpen(child, count), `${count} stalled clients`);
        await within(until(() => wss.clients.size === count, `${count} server connections`), 'the server connections');
        await delay(300);
        const after = settledMemory();
        const external = after.arrayBuffers - before.arrayBuffers;
        const total = (after.heapUsed + after.external) - (before.heapUsed + before.external);
        console.log(`      ${count} stalled frames: ${mib(total)} in all (${(total / count / KiB).toFixed(1)} KiB each), Buffers ${mib(external)} (reserving the announced length would be ${mib(count * 64 * MiB)})`);
        expect([...wss.clients].every((ws) => ws.readyState === ReadyState.OPEN), 'all still open').to.equal(true);
        expect(external, 'Buffer memory for the stalled frames').to.be.below(8 * MiB);
        expect(total / count, 'bytes per stalled connection').to.be.below(16 * KiB);
        child.stdin?.end();
        await within(until(() => wss.clients.size === 0, 'every connection to close'), 'the connections to close');
      } finally {
        if (child !== undefined && child.exitCode === null) child.kill();
        await wss.close();
      }
    });

    it('buffers only what arrived of a frame announcing 2^40 bytes (FrameParser, maxPayload Infinity)', () => {
      let frames = 0;
      const parser = new FrameParser({ role: 'server', maxPayload: Infinity }, { frame: () => { frames++; } });
      const header = Buffer.from('82ff0000010000000000' + '0badf00d', 'hex');
      const before = settledMemory();
      expect(parser.write(header)).to.equal(undefined);
      expect(parser.write(randomBytes(10))).to.equal(undefined);
      const afterTen = process.memoryUsage().arrayBuffers - before.arrayBuffers;
      // 8 MiB more, in fresh 64 KiB chunks as a socket delivers them (the parser keeps large runs
      // as views of them: the chunks belong to it once written).
      for (let i = 0; i < 128; i++) expect(parser.write(randomBytes(64 * KiB))).to.equal(undefined);
      const arrived = 10 + 128 * 64 * KiB;
      const afterMore = settledMemory().arrayBuffers - before.arrayBuffers;
      console.log(`      after 10 bytes: ${mib(afterTen)}; after ${mib(arrived)}: ${mib(afterMore)} retained`);
      expect(frames).to.equal(0);
      // Nothing is reserved because a header said so (lib/frame/parser.ts stagingCapacity): the
      // parser holds what arrived, in its chunks or in staging blocks no larger than that.
      expect(afterTen, 'after 10 bytes').to.be.below(64 * KiB);
      expect(afterMore, `after ${arrived} bytes`).to.be.below(2 * arrived + MiB);
    });
  });

  describe('floods', () => {
    let demo: DemoServer;
    beforeEach(async () => { demo = await startDemoServer({ port: 0, host: '127.0.0.1' }); });
    afterEach(async () => { await demo.close(); });

    it('survives a burst of 1,000,000 empty pongs with bounded memory, then still echoes', async () => {
      const count = 1_000_000;
      const pong = clientFrame(0xa, Buffer.alloc(0));
      const burst = Buffer.alloc(pong.length * count);
      for (let offset = 0; offset < burst.length; offset += pong.length) pong.copy(burst, offset);
      const done = clientFrame(0x1, Buffer.from('done'));
      const client = await rawConnect(demo.port, '/echo');
      const before = settledMemory();
      const peak = new PeakMemory(before);
      const started = Date.now();
      client.socket.write(burst);
      client.socket.write(done);
      try {
        await within(until(() => client.received.frames(1).some((f) => f.opcode === 0x1), 'the echo of "done"', 50_000), 'the echo', 55_000);
      } finally {
        const growth = peak.stop();
        console.log(`      ${count} pongs (${mib(burst.length)}) in ${Date.now() - started} ms, peak growth ${mib(growth)}`);
        expect(growth, 'peak heap + external growth').to.be.below(64 * MiB);
      }
      const echoed = client.received.frames().find((f) => f.opcode === 0x1);
      expect(echoed?.payload.toString()).to.equal('done');
      client.socket.destroy();
    });

    /** Sends 1,000,000 empty text frames to `path` and never reads; returns the server's memory growth. */
    async function tinyEchoesUnread(port: number, path: string): Promise<{ retained: number; peak: number }> {
      const count = 1_000_000;
      const frame = clientFrame(0x1, Buffer.alloc(0));
      const burst = Buffer.alloc(frame.length * count);
      for (let offset = 0; offset < burst.length; offset += frame.length) frame.copy(burst, offset);
      const client = await rawConnect(port, path, false);
      const before = settledMemory();
      const peak = new PeakMemory(before);
      client.socket.write(burst);
      // Until the server has read everything it is going to read (it may stop: backpressure).
      const server = [...(path === '/echo' ? demo.echoServer.clients : readmeEcho.clients)][0];
      let last = -1;
      let still = Date.now();
      await until(() => {
        const read = (server as unknown as { socket: net.Socket }).socket.bytesRead;
        if (read !== last) { last = read; still = Date.now(); }
        return Date.now() - still > 500;
      }, 'the server to stop reading', 50_000);
      const peakGrowth = peak.stop();
      const after = settledMemory();
      client.socket.destroy();
      return { retained: (after.heapUsed + after.external) - (before.heapUsed + before.external), peak: peakGrowth };
    }

    let readmeEcho: WebSocketServer;

    it('holds 1,000,000 tiny echoes for a client that never reads in bounded memory (demo /echo)', async () => {
      const { retained, peak } = await tinyEchoesUnread(demo.port, '/echo');
      console.log(`      retained ${mib(retained)}, peak ${mib(peak)}`);
      expect(retained, 'retained after GC').to.be.below(16 * MiB);
      expect(peak, 'peak growth').to.be.below(128 * MiB);
    });

    it('holds 1,000,000 tiny echoes for a client that never reads in bounded memory (README echo, default options)', async () => {
      readmeEcho = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      readmeEcho.on('connection', (ws: WebSocket) => { ws.on('message', (data, isBinary) => { ws.send(data, isBinary); }); });
      const port = await listening(readmeEcho);
      try {
        const { retained, peak } = await tinyEchoesUnread(port, '/');
        console.log(`      retained ${mib(retained)}, peak ${mib(peak)}`);
        // The echoes are 2 bytes each, packed into blocks: about 2 MB for a million.
        expect(retained, 'retained after GC').to.be.below(16 * MiB);
        expect(peak, 'peak growth').to.be.below(128 * MiB);
      } finally {
        await readmeEcho.close();
      }
    });

    it('accepts and echoes a 4 MiB message sent as 65,536 fragments of 64 bytes, under 64 MiB of growth', async () => {
      const data = randomBytes(4 * MiB);
      const fragment = 64;
      const count = data.length / fragment;
      const parts: Buffer[] = [];
      for (let i = 0; i < count; i++) {
        parts.push(clientFrame(i === 0 ? 0x2 : 0x0, data.subarray(i * fragment, (i + 1) * fragment), i === count - 1));
      }
      const wire = Buffer.concat(parts);
      parts.length = 0;

      // ws 8 refuses this message: its server default maxFragments (16,384) ends the connection
      // with 1008 at fragment 16,385 (WS_ERR_TOO_MANY_BUFFERED_PARTS). Checked on the same bytes.
      let wsError: Error | undefined;
      wsServerReceiver(100 * MiB)._write(Buffer.from(wire), 'buffer', (error) => { wsError = error ?? undefined; });
      expect(wsError, 'ws rejects it').to.not.equal(undefined);
      expect(wsStatusCode(wsError as Error)).to.equal(1008);
      expect(WS_SERVER_MAX_FRAGMENTS).to.be.below(count);

      const client = await rawConnect(demo.port, '/echo');
      const before = settledMemory();
      const peak = new PeakMemory(before);
      const started = Date.now();
      client.socket.write(wire);
      try {
        // Waits for the bytes, then parses once: the test's own copies stay out of the peak.
        await within(until(() => client.received.bytes >= data.length + 10, 'the echo'), 'the echo');
      } finally {
        const growth = peak.stop();
        console.log(`      ${count} fragments echoed in ${Date.now() - started} ms, peak growth ${mib(growth)}`);
        expect(growth, 'peak heap + external growth').to.be.below(64 * MiB);
      }
      const echo = client.received.frames().find((f) => f.opcode === 0x2);
      expect(echo?.payload.length).to.equal(data.length);
      expect(echo?.payload.equals(data), 'the echo is the message').to.equal(true);
      client.socket.destroy();
    });
  });

  describe('tiny chunks', () => {
    it('decodes a 64 KiB message written one byte per TCP write, without pinning the chunks', async () => {
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      const port = await listening(wss);
      try {
        let serverChunks = 0;
        let received: Buffer | undefined;
        wss.on('connection', (ws: WebSocket, req: { socket: net.Socket }) => {
          req.socket.on('data', () => { serverChunks++; });
          ws.on('message', (data) => { received = data as Buffer; });
        });
        const data = randomBytes(64 * KiB);
        const frame = clientFrame(0x2, data);
        const client = await rawConnect(port, '/');
        client.socket.setNoDelay(true);
        const before = settledMemory();
        let halfway: Memory | undefined;
        const started = Date.now();
        for (let i = 0; i < frame.length; i++) {
          // Views of one Buffer: the client allocates nothing per write.
          client.socket.write(frame.subarray(i, i + 1));
          // Let the server read now and then, so most reads find a byte or two (batched: a turn per
          // byte would make the test slow without adding anything).
          if (i % 4 === 3) await nextTurn();
          if (i === frame.length >>> 1) {
            await delay(50);
            halfway = settledMemory();
          }
        }
        await within(until(() => received !== undefined, 'the message'), 'the message');
        const mid = halfway as Memory;
        const retained = (mid.heapUsed + mid.external) - (before.heapUsed + before.external);
        console.log(`      ${serverChunks} server reads in ${Date.now() - started} ms; retained halfway: ${mib(retained)}`);
        expect(received?.equals(data), 'the message arrives intact').to.equal(true);
        expect(serverChunks, 'server-side reads').to.be.above(4096);
        // One 64 KiB payload buffer plus bookkeeping; thousands of pinned chunks would show.
        expect(retained, 'heap + external retained halfway').to.be.below(2 * MiB);
        client.socket.destroy();
      } finally {
        await wss.close();
      }
    });

    it('keeps no reference to 65,536 one-byte chunks, each cut from its own 4 KiB buffer (FrameParser + MessageParser)', () => {
      const data = randomBytes(64 * KiB);
      const frame = clientFrame(0x2, data);
      let message: Buffer | undefined;
      const messages = new MessageParser({}, {
        message: (m) => { if (m.type === 'binary') message = Buffer.from(m.data); },
        streamStart: () => undefined, streamData: () => undefined, streamEnd: () => undefined,
      });
      const parser = new FrameParser({ role: 'server' }, { frame: (f) => { messages.write(f); } });
      const before = settledMemory();
      let halfway = 0;
      for (let i = 0; i < frame.length; i++) {
        // Like a socket read: a small view of a larger backing store.
        const backing = Buffer.allocUnsafeSlow(4 * KiB);
        backing[0] = frame[i];
        expect(parser.write(backing.subarray(0, 1))).to.equal(undefined);
        if (i === frame.length >>> 1) halfway = settledMemory().arrayBuffers - before.arrayBuffers;
      }
      console.log(`      retained halfway: ${mib(halfway)} (pinning every chunk would be ${mib(frame.length * 2 * KiB)})`);
      expect(message?.equals(data)).to.equal(true);
      expect(halfway, 'arrayBuffers retained halfway').to.be.below(2 * MiB);
    });
  });

  describe('backpressure', () => {
    let demo: DemoServer;
    let serverSockets: net.Socket[];
    beforeEach(async () => {
      demo = await startDemoServer({ port: 0, host: '127.0.0.1' });
      serverSockets = [];
      demo.server.on('connection', (socket: net.Socket) => { serverSockets.push(socket); });
    });
    afterEach(async () => { await demo.close(); });

    /** Writes `frame` `times` times without waiting, then watches the server side settle. */
    async function floodWithoutReading(frame: Buffer, times: number): Promise<{ client: RawClient; server: net.Socket; maxBuffered: number }> {
      const client = await rawConnect(demo.port, '/echo', false);
      await until(() => serverSockets.length === 1, 'the server-side socket');
      const server = serverSockets[0];
      let maxBuffered = 0;
      const watch = setInterval(() => { maxBuffered = Math.max(maxBuffered, server.writableLength); }, 10);
      try {
        // The same Buffer each time: the client's queue holds references, not copies.
        for (let i = 0; i < times; i++) client.socket.write(frame);
        // Wait until the server stops reading: its byte count stands still for 300 ms...
        let lastRead = -1;
        let lastChange = Date.now();
        await until(() => {
          if (server.bytesRead !== lastRead) {
            lastRead = server.bytesRead;
            lastChange = Date.now();
          }
          return Date.now() - lastChange >= 300;
        }, 'the server to stop reading', 20_000);
        // ...and stays still: it is paused, not slow.
        await delay(500);
        expect(server.bytesRead, 'the server read nothing more').to.equal(lastRead);
      } finally {
        clearInterval(watch);
      }
      return { client, server, maxBuffered: Math.max(maxBuffered, server.writableLength) };
    }

    it('pauses a client that never reads its echoes, keeping the server\'s buffered bytes under 2 MiB', async () => {
      const message = clientFrame(0x2, randomBytes(64 * KiB));
      const total = 512;
      const { client, server, maxBuffered } = await floodWithoutReading(message, total);
      console.log(`      server buffered at most ${mib(maxBuffered)}; read ${mib(server.bytesRead)} of ${mib(total * message.length)}; client still holds ${mib(client.socket.writableLength)}`);
      expect(server.isPaused(), 'the server-side socket is paused').to.equal(true);
      expect(maxBuffered, 'server writableLength').to.be.below(2 * MiB);
      // The rest waits in the client's own queue: TCP backpressure reached the sender.
      expect(client.socket.writableLength, 'bytes the client could not send').to.be.above(0);
      client.socket.destroy();
    });

    it('pauses a client that floods pings and never reads the pongs, keeping the server\'s buffered bytes under 2 MiB', async () => {
      const ping = clientFrame(0x9, randomBytes(125));
      const burst = Buffer.concat(Array.from({ length: 1000 }, () => ping));
      const { client, server, maxBuffered } = await floodWithoutReading(burst, 256);
      console.log(`      server buffered at most ${mib(maxBuffered)} of pongs; read ${mib(server.bytesRead)} of ${mib(256 * burst.length)}`);
      expect(maxBuffered, 'server writableLength').to.be.below(2 * MiB);
      expect(client.socket.writableLength, 'bytes the client could not send').to.be.above(0);
      client.socket.destroy();
    });
  });

  describe('silent peers', () => {
    it('drops 500 peers that go silent (heartbeat), and their memory with them', async () => {
      const count = 500;
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', heartbeatInterval: 300, heartbeatTimeout: 300 });
      const port = await listening(wss);
      let child: ReturnType<typeof spawn> | undefined;
      try {
        const codes: number[] = [];
        wss.on('connection', (ws: WebSocket) => { ws.on('close', (code) => { codes.push(code); }); });
        const before = settledMemory();
        // Clients that never answer a ping (they read nothing: their socket is paused) and stay open.
        child = spawnClients(port, count, '', true);
        await within(clientsOpen(child, count), `${count} silent clients`);
        await within(until(() => codes.length === count, 'every silent peer to be dropped', 20_000), 'the drops');
        const after = settledMemory();
        const retained = (after.heapUsed + after.external) - (before.heapUsed + before.external);
        console.log(`      ${count} silent peers dropped; retained afterwards ${mib(retained)}`);
        expect(new Set(codes)).to.deep.equal(new Set([1006]));
        expect(wss.clients.size).to.equal(0);
        expect(retained, 'memory left after the drops').to.be.below(4 * MiB);
      } finally {
        if (child !== undefined && child.exitCode === null) child.kill();
        await wss.close();
      }
    });
  });

  describe('idle connections', () => {
    it('holds 1,000 idle connections at under 64 KiB each', async () => {
      const count = 1000;
      const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      const port = await listening(wss);
      let child: ReturnType<typeof spawn> | undefined;
      try {
        const before = settledMemory();
        // The clients live in a child process, so this process's memory is the server's alone.
        child = spawnClients(port, count);
        await within(clientsOpen(child, count), `${count} client handshakes`);
        await within(until(() => wss.clients.size === count, `${count} server connections`), 'the server connections');
        await delay(200);
        const after = settledMemory();
        const perConnection = ((after.heapUsed + after.external) - (before.heapUsed + before.external)) / count;
        console.log(`      ${count} idle connections: ${(perConnection / KiB).toFixed(1)} KiB each (heap ${((after.heapUsed - before.heapUsed) / count / KiB).toFixed(1)} KiB + external ${((after.external - before.external) / count / KiB).toFixed(1)} KiB)`);
        expect([...wss.clients].every((ws) => ws.readyState === ReadyState.OPEN), 'all open').to.equal(true);
        expect(perConnection, 'bytes per connection').to.be.below(64 * KiB);
        // The clients drop their sockets; the server sees each TCP connection end.
        child.stdin?.end();
        await within(until(() => wss.clients.size === 0, 'every connection to close'), 'the connections to close');
      } finally {
        if (child !== undefined && child.exitCode === null) child.kill();
        await wss.close();
      }
    });
  });
});

/** Starts the client process (see CLIENTS): `count` connections, each sending `hex` once open. */
function spawnClients(port: number, count: number, hex = '', paused = false): ReturnType<typeof spawn> {
  return spawn(process.execPath, ['-e', CLIENTS, String(port), String(count), hex, paused ? 'paused' : 'reading'], { stdio: ['pipe', 'pipe', 'inherit'] });
}

/** Resolves once the client process reports all its connections open. */
function clientsOpen(child: ReturnType<typeof spawn>, count: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(`open ${count}`)) resolve();
    });
    child.once('exit', (code) => { reject(new Error(`the client process exited early (${String(code)}): ${out}`)); });
  });
}

/**
 * The clients: `node -e CLIENTS <port> <count> <hex> <paused|reading>` opens `count` raw
 * WebSocket connections (in batches, so the listen backlog never overflows), sends the bytes
 * `hex` on each once it is open, prints `open <count>`, and closes them all when its stdin ends.
 * `paused`: they read nothing after the handshake (a peer that went silent).
 */
const CLIENTS = `
const net = require('node:net');
const { randomBytes } = require('node:crypto');
const port = Number(process.argv[1]);
const count = Number(process.argv[2]);
const first = Buffer.from(process.argv[3] || '', 'hex');
const paused = process.argv[4] === 'paused';
const sockets = [];
function open() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => {
      socket.write('GET / HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n' +
        'Sec-WebSocket-Key: ' + randomBytes(16).toString('base64') + '\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n');
    });
    let head = '';
    socket.on('error', reject);
    socket.on('data', function onData(chunk) {
      head += chunk.toString('latin1');
      if (!head.includes('\\r\\n\\r\\n')) return;
      socket.removeListener('data', onData);
      if (!head.startsWith('HTTP/1.1 101 ')) return reject(new Error(head));
      if (paused) socket.pause();
      else socket.on('data', () => {});
      socket.on('error', () => {});
      if (first.length > 0) socket.write(first);
      resolve(socket);
    });
  });
}
(async () => {
  for (let i = 0; i < count; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 50); j++) batch.push(open());
    sockets.push(...await Promise.all(batch));
  }
  process.stdout.write('open ' + sockets.length + '\\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  });
})().catch((err) => { console.error(err); process.exit(1); });
`;
