/**
 * Publish/subscribe, against ws in the same run. Every server runs in a child process of its own
 * and reports its own CPU time (process.cpuUsage); clients run in other processes.
 *
 * - Fan-out: `publish` of a 64 B binary message to 2,000 and to 10,000 local subscribers, against
 *   ws's documented broadcast loop (`for (const c of wss.clients) c.send(data)`). The subscribers
 *   are raw TCP clients in a separate process (one per server) that read everything and only count
 *   the messages (frame headers), so they cost little and the same for both. The figure is the
 *   server's CPU time (user + system) per delivered message; the ratio is ws/ours, so higher means
 *   our server works less. Three shapes:
 *   - one publish at a time (each delivered to all before the next): every delivery is one write
 *     syscall on both sides, and a floor row measures that syscall alone (a plain net server
 *     writing the prebuilt frame to each socket);
 *   - bursts of 10 publishes in one event-loop turn (messages that arrive together, a feed's
 *     tick): ours writes each subscriber's share of a turn at once, ws writes each message;
 *   - 4 KiB of JSON text with permessage-deflate, no context takeover on the server's side: ours
 *     compresses once per shared encoding (when the codec declares `sharedEncoding`), ws once per
 *     subscriber.
 * - Latency across processes: a publisher on demo process A, subscribers on demo process B, both on
 *   one Redis (a redis-server started for the run): ours is the demo's /chat with a RedisBroker;
 *   ws is the same relay written by hand (ws + node-redis, publish on message, broadcast loop on
 *   the Redis subscription). One message in flight at a time; p50 and p99 of every delivery.
 * - Slow consumer: one subscriber stops reading while 10,000 messages of 1 KiB are published
 *   (100 per event-loop turn); the server's memory growth after a full GC (heap + ArrayBuffers)
 *   and what it reports as queued for that connection. Ours uses `slowSubscriber: 'drop'`, so the
 *   connection stays open with its queue at the bound; ws queues everything. The kernel's socket
 *   buffers absorb part of it on both sides (not counted: they are not the server's memory).
 *
 * 10,000 connections need 10,000 descriptors in the server process and in the client process:
 * `ulimit -n` must allow a few hundred more than that (each process checks at start).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import { KiB, median, quantile, type Row, selected, type Settings, sizeName, sleep, standalone } from './harness';
import { acceptKey } from '../lib/handshake/keys';

type Kind = 'ours' | 'ws';

const LIB_INDEX = join(__dirname, '..', 'lib', 'index.js');
const DEMO_MODULE = join(__dirname, '..', 'examples', 'demo-server.js');
const REDIS_SUPPORT = join(__dirname, '..', 'spec', 'support', 'redis.js');
/** A child that outlives this long has lost its parent: it exits by itself. */
const CHILD_LIFETIME_MS = 15 * 60_000;
const REPLY_TIMEOUT_MS = 120_000;
const TOPIC = 'bench';
type ServerMode = 'fanout' | 'deflate' | 'slow';

interface FanoutCase {
  title: string;
  mode: 'fanout' | 'deflate';
  subscribers: number;
  /** Publishes per event-loop turn. */
  burst: number;
  /** Turns per measured round. */
  turns: number;
  target: number;
  /** Also measure the plain socket.write floor. */
  floor?: boolean;
  /**
   * Instead of the server publishing `burst` messages itself, this many client connections send
   * one message each at the same moment, and the server publishes what it receives (a chat): the
   * messages arrive in one turn of the server's event loop, or a few.
   */
  publishers?: number;
}

const FANOUT_SIZE = 64;
const DEFLATE_SIZE = 4 * KiB;
const FANOUT_CASES: readonly FanoutCase[] = [
  { title: 'fan-out 64 B to 2,000 subscribers, one publish at a time', mode: 'fanout', subscribers: 2_000, burst: 1, turns: 40, target: 3, floor: true },
  { title: 'fan-out 64 B to 10,000 subscribers, one publish at a time', mode: 'fanout', subscribers: 10_000, burst: 1, turns: 10, target: 3, floor: true },
  { title: 'fan-out 64 B to 2,000 subscribers, 10 publishes per turn', mode: 'fanout', subscribers: 2_000, burst: 10, turns: 8, target: 3 },
  { title: 'fan-out 64 B to 2,000 subscribers, 10 clients sending at once', mode: 'fanout', subscribers: 2_000, burst: 10, turns: 8, target: 3, publishers: 10 },
  { title: 'fan-out 4 KiB JSON to 2,000 subscribers, permessage-deflate', mode: 'deflate', subscribers: 2_000, burst: 1, turns: 10, target: 3 },
];
const SLOW_MESSAGES = 10_000;
const SLOW_SIZE = 1 * KiB;
const SLOW_PER_TURN = 100;
/** Descriptors a process needs beyond its connections (stdio, IPC, listening socket, libuv...). */
const FD_SLACK = 200;

// --- IPC: requests with an id, one reply each ----------------------------------------------------

interface Request { id: number; op: string; [key: string]: unknown }
type Reply = { id: number; ok: unknown } | { id: number; error: string };

/** A child process driven by request/reply messages. */
class Child {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private exitError: Error | undefined;

  constructor(readonly proc: ChildProcess) {
    proc.on('message', (message: Reply) => {
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if ('error' in message) waiter?.reject(new Error(message.error));
      else waiter?.resolve(message.ok);
    });
    proc.once('exit', (code, signal) => {
      this.exitError = new Error(`child exited (${signal ?? code})`);
      for (const waiter of this.waiting.values()) waiter.reject(this.exitError);
      this.waiting.clear();
    });
  }

  static start(args: string[], execArgv: string[] = []): Child {
    return new Child(fork(__filename, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv }));
  }

  call<T>(op: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.exitError !== undefined) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no answer to ${op} within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this.waiting.set(id, {
        resolve: (value) => { clearTimeout(timer); resolve(value as T); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      });
      this.proc.send({ ...params, id, op });
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = once(this.proc, 'exit');
    if (this.proc.connected) this.proc.disconnect();
    const timer = setTimeout(() => { this.proc.kill('SIGKILL'); }, 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Serves requests in a child: `handlers[op](request)`; exits when the parent goes away. */
function serve(handlers: Record<string, (request: Request) => unknown>): void {
  setTimeout(() => { process.exit(0); }, CHILD_LIFETIME_MS).unref();
  process.once('disconnect', () => { process.exit(0); });
  process.on('message', (request: Request) => {
    Promise.resolve().then(() => {
      const handler = handlers[request.op];
      if (handler === undefined) throw new Error(`unknown op ${request.op}`);
      return handler(request);
    }).then(
      (ok) => { process.send?.({ id: request.id, ok: ok ?? true }); },
      (err: unknown) => { process.send?.({ id: request.id, error: (err as Error).stack ?? String(err) }); },
    );
  });
}

function cpuNow(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** The open-files limit of this process (from /proc), or Infinity where unknown. */
function openFilesLimit(): number {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const limits = (require('node:fs') as typeof import('node:fs')).readFileSync('/proc/self/limits', 'utf8');
    const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft);
  } catch {
    return Infinity;
  }
}

// --- Server children ---------------------------------------------------------------------------

interface OursModule {
  WebSocketServer: new (options: Record<string, unknown>) => {
    publish(topic: string, data: Buffer, isBinary?: boolean): number;
    subscriberCount(topic: string): number;
    clients: Set<{ bufferedAmount: number }>;
    address(): net.AddressInfo | null;
    on(event: 'connection', listener: (ws: {
      subscribe(topic: string): boolean;
      bufferedAmount: number;
      messageExtension?: { sharedEncoding?: string };
    }) => void): unknown;
    once(event: 'listening', listener: () => void): unknown;
  };
}

/** A JSON document of exactly `bytes` bytes (padded with trailing spaces), as compressible as a real feed. */
function jsonOf(bytes: number): Buffer {
  let text = '[]';
  for (let i = 0; ; i++) {
    const row = JSON.stringify({ id: i, symbol: `SYM${i % 97}`, bid: 100 + ((i * 7919) % 1000) / 100, ask: 100 + ((i * 104729) % 1000) / 100, ts: 1_700_000_000_000 + i });
    const next = i === 0 ? `[${row}]` : `${text.slice(0, -1)},${row}]`;
    if (next.length > bytes) break;
    text = next;
  }
  return Buffer.from(text.padEnd(bytes, ' '));
}

/**
 * `--server fanout|deflate|slow ours|ws|raw`: a standalone server on 127.0.0.1:0 whose every
 * connection subscribes to one topic. Ops: `count`, `cpu`, `publish` (`burst` messages in one
 * turn), `shared` (whether a subscriber's codec declares a shared encoding), `baseline` and
 * `slow` (the slow consumer run).
 */
async function serverChild(mode: ServerMode, kind: Kind | 'raw'): Promise<void> {
  const payload = mode === 'deflate' ? jsonOf(DEFLATE_SIZE) : randomBytes(FANOUT_SIZE);
  const isBinary = mode !== 'deflate';
  let count: () => number;
  let publish: (data: Buffer) => void;
  /** Bytes the server says it holds for its connections (bufferedAmount summed). */
  let queued: () => number = () => 0;
  let shared: () => boolean = () => false;
  let port: number;
  if (kind === 'ours') {
    // A runtime require: the bench is built next to the library, whatever state it is in.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ours = require(LIB_INDEX) as OursModule;
    // No heartbeat: the raw clients never answer pings (and ws sends none).
    const wss = new ours.WebSocketServer({
      port: 0, host: '127.0.0.1', heartbeatInterval: 0,
      ...(mode === 'slow' ? { slowSubscriber: 'drop' } : {}),
      ...(mode === 'deflate' ? { perMessageDeflate: { serverNoContextTakeover: true } } : {}),
    });
    let first: { messageExtension?: { sharedEncoding?: string } } | undefined;
    wss.on('connection', (ws) => {
      first ??= ws;
      ws.subscribe(TOPIC);
      // A chat: whatever a client sends goes to every subscriber.
      (ws as unknown as { on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void })
        .on('message', (data, binary) => { wss.publish(TOPIC, data, binary); });
    });
    await new Promise<void>((resolve) => { wss.once('listening', resolve); });
    port = (wss.address() as net.AddressInfo).port;
    count = () => wss.subscriberCount(TOPIC);
    publish = (data) => { wss.publish(TOPIC, data, isBinary); };
    queued = () => [...wss.clients].reduce((sum, ws) => sum + ws.bufferedAmount, 0);
    shared = () => first?.messageExtension?.sharedEncoding !== undefined;
  } else if (kind === 'ws') {
    const wss = new WsServer({
      port: 0, host: '127.0.0.1', perMessageDeflate: mode === 'deflate' ? { serverNoContextTakeover: true } : false,
    });
    await once(wss, 'listening');
    port = (wss.address() as net.AddressInfo).port;
    count = () => wss.clients.size;
    // ws's documented broadcast.
    publish = (data) => {
      for (const client of wss.clients) if (client.readyState === WsClient.OPEN) client.send(data, { binary: isBinary });
    };
    wss.on('connection', (ws) => { ws.on('message', (data: Buffer) => { publish(data); }); });
    queued = () => [...wss.clients].reduce((sum, ws) => sum + ws.bufferedAmount, 0);
  } else {
    // The floor: the prebuilt frame written to each socket, nothing else.
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      socket.once('data', () => {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
        sockets.add(socket);
      });
      socket.on('error', () => { socket.destroy(); });
      socket.once('close', () => { sockets.delete(socket); });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
    count = () => sockets.size;
    publish = (data) => {
      const frame = Buffer.concat([Buffer.from([0x82, data.length]), data]);
      for (const socket of sockets) socket.write(frame);
    };
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  const heldMemory = (): number => {
    gc?.();
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };
  serve({
    limits: () => openFilesLimit(),
    count: () => count(),
    cpu: () => cpuNow(),
    shared: () => shared(),
    publish: (request) => {
      for (let i = 0; i < (request.burst as number); i++) publish(payload);
    },
    baseline: () => heldMemory(),
    slow: async () => {
      const template = randomBytes(SLOW_SIZE);
      for (let sent = 0; sent < SLOW_MESSAGES;) {
        // A fresh Buffer per message, as real messages are: a queue of references to one shared
        // Buffer would cost almost nothing and hide what queuing costs.
        for (let i = 0; i < SLOW_PER_TURN && sent < SLOW_MESSAGES; i++, sent++) publish(Buffer.from(template));
        await new Promise((resolve) => { setImmediate(resolve); });
      }
      // What the sockets can still hand to the kernel goes now.
      await sleep(300);
      return { memory: heldMemory(), queued: queued() };
    },
  });
  process.send?.({ id: -1, ok: { port } });
}

// --- Chat relays for the latency row -------------------------------------------------------------

/** `--chat ours|ws <redisUrl>`: a /chat relay on one Redis; replies with its port once ready. */
async function chatChild(kind: Kind, redisUrl: string): Promise<void> {
  let port: number;
  if (kind === 'ours') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const demo = require(DEMO_MODULE) as typeof import('../examples/demo-server');
    const server = await demo.startDemoServer({ port: 0, host: '127.0.0.1', redisUrl });
    port = server.port;
    const broker = server.chatBroker as { ready?: () => Promise<void> };
    await broker.ready?.();
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createClient } = require('redis') as typeof import('redis');
    const publisher = createClient({ url: redisUrl });
    const subscriber = publisher.duplicate();
    publisher.on('error', () => { /* the run fails on a missing message instead */ });
    subscriber.on('error', () => { /* idem */ });
    await Promise.all([publisher.connect(), subscriber.connect()]);
    const wss = new WsServer({ port: 0, host: '127.0.0.1', path: '/chat', perMessageDeflate: false });
    await once(wss, 'listening');
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer) => { void publisher.publish('chat', data); });
    });
    await subscriber.subscribe('chat', (message: string) => {
      for (const client of wss.clients) if (client.readyState === WsClient.OPEN) client.send(message);
    });
    port = (wss.address() as net.AddressInfo).port;
  }
  serve({ cpu: () => cpuNow() });
  process.send?.({ id: -1, ok: { port } });
}

// --- Client children -----------------------------------------------------------------------------


/**
 * Counts the data messages in a server's byte stream (unmasked frames, RFC 6455 §5.2): headers
 * are parsed, payloads skipped, whatever the split. Compressed sizes differ between servers, so
 * completion is counted in messages, not bytes.
 */
class MessageCounter {
  private header: number[] = [];
  private skip = 0;
  private finalData = false;

  /** Feeds bytes; returns how many messages they completed. */
  push(chunk: Buffer): number {
    let completed = 0;
    let pos = 0;
    while (pos < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        pos += n;
        this.skip -= n;
        if (this.skip === 0 && this.finalData) completed++;
        continue;
      }
      this.header.push(chunk[pos++]);
      const h = this.header;
      if (h.length < 2) continue;
      const short = h[1] & 0x7f;
      const size = short === 126 ? 4 : short === 127 ? 10 : 2;
      if (h.length < size) continue;
      let length = short;
      if (short === 126) length = (h[2] << 8) | h[3];
      else if (short === 127) length = h.slice(2).reduce((n, b) => n * 256 + b, 0);
      // A final frame of a data message (continuations included), not a control frame.
      this.finalData = (h[0] & 0x80) !== 0 && (h[0] & 0x08) === 0;
      this.header = [];
      if (length === 0) {
        if (this.finalData) completed++;
      } else {
        this.skip = length;
      }
    }
    return completed;
  }
}

interface Tally { messages: number; changed(): void }

/** A masked binary frame of FANOUT_SIZE bytes, as the publishing clients send it. */
const CLIENT_FRAME = ((): Buffer => {
  const key = [0x37, 0xfa, 0x21, 0x3d];
  const frame = Buffer.alloc(6 + FANOUT_SIZE);
  frame[0] = 0x82;
  frame[1] = 0x80 | FANOUT_SIZE;
  frame.set(key, 2);
  for (let i = 0; i < FANOUT_SIZE; i++) frame[6 + i] = (i * 7) ^ key[i & 3];
  return frame;
})();

/** One raw WebSocket client that reads everything (or nothing) and counts the messages. */
function rawClient(port: number, path: string, tally: Tally, reading: boolean, deflate: boolean): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const accept = acceptKey(key);
    const socket = net.connect({ port, host: '127.0.0.1' });
    const counter = new MessageCounter();
    let head = Buffer.alloc(0);
    let open = false;
    const take = (bytes: Buffer): void => {
      const n = counter.push(bytes);
      if (n > 0) {
        tally.messages += n;
        tally.changed();
      }
    };
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`
        + (deflate ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' : '') + '\r\n');
    });
    socket.on('data', (chunk: Buffer) => {
      if (open) {
        take(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const text = head.subarray(0, end).toString('latin1');
      if (!text.startsWith('HTTP/1.1 101') || (!text.includes(accept) && text.includes('Sec-WebSocket-Accept'))) {
        socket.destroy();
        reject(new Error(`handshake refused: ${text.split('\r\n')[0]}`));
        return;
      }
      open = true;
      socket.removeListener('error', reject);
      socket.on('error', () => { /* shows as missing messages */ });
      if (head.length > end + 4) take(head.subarray(end + 4));
      if (!reading) socket.pause();
      resolve(socket);
    });
  });
}

/**
 * `--clients`: ops `open` (n raw clients to a port, `reading` or not, offering `deflate` or not),
 * `messages`, `wait` (until the messages received reach `messages`), `close`.
 */
function clientsChild(): void {
  const sockets: net.Socket[] = [];
  let wanted = Infinity;
  let wake: (() => void) | undefined;
  const tally: Tally = {
    messages: 0,
    changed: () => {
      if (tally.messages >= wanted && wake !== undefined) {
        const done = wake;
        wake = undefined;
        done();
      }
    },
  };
  serve({
    limits: () => openFilesLimit(),
    open: async (request) => {
      const total = request.count as number;
      // In batches: a burst of 10,000 SYNs would overflow the listen backlog.
      for (let at = 0; at < total; at += 250) {
        const batch = Array.from({ length: Math.min(250, total - at) },
          () => rawClient(request.port as number, request.path as string, tally, request.reading !== false, request.deflate === true));
        sockets.push(...await Promise.all(batch));
      }
      return sockets.length;
    },
    messages: () => tally.messages,
    // One masked 64 B binary frame (RFC 6455 §5.3: clients mask) on each of the first `count`
    // connections, all in one go.
    send: (request) => {
      for (const socket of sockets.slice(0, request.count as number)) socket.write(CLIENT_FRAME);
      return true;
    },
    wait: (request) => new Promise<number>((resolve, reject) => {
      wanted = request.messages as number;
      const timer = setTimeout(() => {
        wake = undefined;
        reject(new Error(`received ${tally.messages} of ${wanted} messages`));
      }, REPLY_TIMEOUT_MS / 2);
      wake = () => { clearTimeout(timer); resolve(tally.messages); };
      tally.changed();
    }),
    close: () => {
      for (const socket of sockets.splice(0)) socket.destroy();
      return true;
    },
  });
}

// --- The rows ------------------------------------------------------------------------------------

interface Server { kind: Kind | 'raw'; child: Child; port: number }

async function startServer(args: string[], kind: Kind | 'raw', execArgv: string[] = []): Promise<Server> {
  const child = Child.start(args, execArgv);
  // The first message, id -1, carries the port.
  const [message] = await once(child.proc, 'message') as [Reply];
  if ('error' in message) throw new Error(message.error);
  return { kind, child, port: (message.ok as { port: number }).port };
}

async function checkLimits(children: Child[], needed: number): Promise<void> {
  for (const child of children) {
    const limit = await child.call<number>('limits');
    if (limit < needed + FD_SLACK) {
      throw new Error(`ulimit -n is ${limit}: ${needed} connections need about ${needed + FD_SLACK} descriptors per process`);
    }
  }
}

/** One measured round: `turns` turns of `burst` publishes, each turn delivered to all before the next. */
async function fanoutRound(server: Server, clients: Child, c: FanoutCase, turns: number): Promise<number> {
  let expected = await clients.call<number>('messages');
  const cpuBefore = await server.child.call<number>('cpu');
  for (let i = 0; i < turns; i++) {
    expected += c.subscribers * c.burst;
    const delivered = clients.call('wait', { messages: expected });
    if (c.publishers === undefined) await server.child.call('publish', { burst: c.burst });
    else await clients.call('send', { count: c.publishers });
    await delivered;
  }
  const cpuAfter = await server.child.call<number>('cpu');
  return (cpuAfter - cpuBefore) / (turns * c.burst * c.subscribers);
}

interface Running { server: Server; clients: Child }

async function startFanout(kind: Kind | 'raw', c: FanoutCase): Promise<Running> {
  const server = await startServer(['--server', c.mode, kind], kind);
  const clients = Child.start(['--clients']);
  const running = { server, clients };
  try {
    await checkLimits([server.child, clients], c.subscribers);
    await clients.call('open', { port: server.port, path: '/', count: c.subscribers, deflate: c.mode === 'deflate' });
    const deadline = Date.now() + 60_000;
    while (await server.child.call<number>('count') < c.subscribers) {
      if (Date.now() > deadline) throw new Error(`${kind}: not every subscriber arrived`);
      await sleep(50);
    }
    // Warm-up: the JIT and the sockets' first writes.
    await fanoutRound(server, clients, c, Math.max(2, Math.ceil(c.turns / 4)));
  } catch (err) {
    await stopFanout(running);
    throw err;
  }
  return running;
}

async function stopFanout({ server, clients }: Running): Promise<void> {
  await clients.call('close').catch(() => undefined);
  await Promise.all([clients.stop(), server.child.stop()]);
}

const cpuFigure = (values: number[]): Row['ours'] => values.length === 0 ? undefined : { value: median(values), unit: 'µs CPU/delivery' };

async function benchFanout(settings: Settings, kinds: Kind[]): Promise<Row[]> {
  const rows: Row[] = [];
  const rounds = settings.quick ? 3 : 7;
  for (const c of FANOUT_CASES) {
    if (!selected(settings, c.title)) continue;
    process.stderr.write(`  ${c.title} ...`);
    const started: Running[] = [];
    let note: string | undefined;
    try {
      for (const kind of kinds) started.push(await startFanout(kind, c));
      const oursServer = started.find((r) => r.server.kind === 'ours');
      if (c.mode === 'deflate' && oursServer !== undefined) {
        note = await oursServer.server.child.call<boolean>('shared')
          ? 'compressed once per shared encoding (the codec declares sharedEncoding)'
          : 'the codec does not declare sharedEncoding yet: ours compresses per subscriber, like ws';
      }
      const cpu: Record<Kind, number[]> = { ours: [], ws: [] };
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? started : [...started].reverse();
        for (const { server, clients } of order) cpu[server.kind as Kind].push(await fanoutRound(server, clients, c, c.turns));
      }
      const ratios = cpu.ws.length === 0 || cpu.ours.length === 0 ? [] : cpu.ours.map((v, i) => cpu.ws[i] / v);
      const ratio = ratios.length > 0 ? median(ratios) : undefined;
      rows.push({
        group: 'pubsub',
        title: c.title,
        ours: cpuFigure(cpu.ours),
        ws: cpuFigure(cpu.ws),
        ratio,
        target: c.target,
        status: ratio === undefined ? 'info' : ratio >= c.target ? 'pass' : 'miss',
        samples: { ours: cpu.ours, ws: cpu.ws, ratios },
        note: note ?? (c === FANOUT_CASES[0]
          ? 'server CPU (user + system) per delivered message; ws: its broadcast loop; ratio ws/ours (higher: our server works less)'
          : undefined),
      });
      process.stderr.write(` ${ratio === undefined ? 'done' : `${ratio.toFixed(2)}x`}\n`);
    } catch (err) {
      rows.push({ group: 'pubsub', title: c.title, status: 'error', target: c.target, note: (err as Error).message });
      process.stderr.write(' error\n');
    } finally {
      for (const running of started.splice(0)) await stopFanout(running);
    }
    if (c.floor === true && rows[rows.length - 1].status !== 'error') rows.push(await floorRow(c, rounds));
  }
  return rows;
}

/** The kernel's share: a plain net server writing the prebuilt frame to every socket. */
async function floorRow(c: FanoutCase, rounds: number): Promise<Row> {
  const title = `  floor: one socket.write per subscriber, ${c.subscribers.toLocaleString('en-US')}`;
  let running: Running | undefined;
  try {
    running = await startFanout('raw', c);
    const cpu: number[] = [];
    for (let round = 0; round < Math.ceil(rounds / 2); round++) cpu.push(await fanoutRound(running.server, running.clients, c, c.turns));
    return {
      group: 'pubsub', title, ours: cpuFigure(cpu), status: 'info',
      note: c === FANOUT_CASES[0] ? 'a net server writing the frame\'s bytes to each socket: the cost of the write syscall alone, which neither library can go below' : undefined,
    };
  } catch (err) {
    return { group: 'pubsub', title, status: 'error', note: (err as Error).message };
  } finally {
    if (running !== undefined) await stopFanout(running);
  }
}

/** A publisher connected to process A and readers connected to process B, for the latency rows. */
interface LatencyRig {
  publisher: WsClient;
  readers: WsClient[];
  close(): void;
}

async function latencyRig(portA: number, portB: number, subscribers: number): Promise<LatencyRig> {
  const open = (port: number): Promise<WsClient> => new Promise((resolve, reject) => {
    const ws = new WsClient(`ws://127.0.0.1:${port}/chat`, { perMessageDeflate: false });
    ws.once('open', () => { resolve(ws); });
    ws.once('error', reject);
  });
  const publisher = await open(portA);
  const readers = await Promise.all(Array.from({ length: subscribers }, () => open(portB)));
  return { publisher, readers, close: () => { for (const ws of [publisher, ...readers]) ws.terminate(); } };
}

/**
 * Latencies of `count` messages, one in flight at a time, from the rig's publisher to each of its
 * readers (milliseconds). With `probe`, first sends messages until one crosses: Redis keeps no
 * backlog, so a message published before B's subscription is live is lost.
 */
async function latencyRun(rig: LatencyRig, count: number, probe: boolean): Promise<number[]> {
  const latencies: number[] = [];
  let current = '';
  let sentAt = 0;
  let pending = 0;
  let done: (() => void) | undefined;
  const onMessage = (data: Buffer): void => {
    if (data.toString() !== current) return;
    latencies.push(performance.now() - sentAt);
    if (--pending === 0) done?.();
  };
  for (const reader of rig.readers) reader.on('message', onMessage);
  const one = (text: string, timeoutMs: number): Promise<boolean> => {
    current = text;
    pending = rig.readers.length;
    const arrived = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { resolve(false); }, timeoutMs);
      done = () => { clearTimeout(timer); resolve(true); };
    });
    sentAt = performance.now();
    rig.publisher.send(text);
    return arrived;
  };
  try {
    let probes = 0;
    while (probe && !await one(`probe ${probes++} ${'x'.repeat(40)}`, 200)) if (probes > 100) throw new Error('no message crossed over Redis');
    for (let i = 0; i < 20; i++) await one(`warm ${i} ${'x'.repeat(50)}`, 5_000);
    latencies.length = 0;
    for (let i = 0; i < count; i++) {
      if (!await one(`m${String(i).padStart(6, '0')} ${'x'.repeat(56)}`, 5_000)) throw new Error(`message ${i} did not reach every subscriber`);
    }
    return [...latencies];
  } finally {
    for (const reader of rig.readers) reader.off('message', onMessage);
  }
}

async function benchLatency(settings: Settings, kinds: Kind[]): Promise<Row[]> {
  const title = 'latency A -> Redis -> B, 64 B to 10 subscribers';
  if (!selected(settings, title)) return [];
  process.stderr.write(`  ${title} ...`);
  if (!existsSync(REDIS_SUPPORT)) return [{ group: 'pubsub', title, status: 'pending', note: 'spec/support/redis.ts not built' }];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { RedisServer } = require(REDIS_SUPPORT) as typeof import('../spec/support/redis');
  let redis: import('../spec/support/redis').RedisServer | undefined;
  const servers: Server[] = [];
  const rigs: Partial<Record<Kind, LatencyRig>> = {};
  try {
    redis = await RedisServer.start();
    for (const kind of kinds) {
      const a = await startServer(['--chat', kind, redis.url], kind);
      servers.push(a);
      const b = await startServer(['--chat', kind, redis.url], kind);
      servers.push(b);
      rigs[kind] = await latencyRig(a.port, b.port, 10);
    }
    // Alternating rounds, so both sides see the same machine load.
    const rounds = settings.quick ? 2 : 6;
    const perRound = settings.quick ? 200 : 400;
    const results: Record<Kind, number[]> = { ours: [], ws: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? kinds : [...kinds].reverse();
      for (const kind of order) results[kind].push(...await latencyRun(rigs[kind] as LatencyRig, perRound, round === 0));
    }
    const figure = (values: number[]): Row['ours'] => values.length === 0 ? undefined : {
      value: quantile(values, 0.5) * 1000, unit: 'µs p50', secondary: { value: quantile(values, 0.99) * 1000, unit: 'µs p99' },
    };
    process.stderr.write(' done\n');
    return [{
      group: 'pubsub',
      title,
      ours: figure(results.ours),
      ws: figure(results.ws),
      status: 'info',
      note: 'client send on A to receipt by each subscriber on B, one message in flight; ws column: ws + node-redis relay written by hand',
    }];
  } catch (err) {
    process.stderr.write(' error\n');
    return [{ group: 'pubsub', title, status: 'error', note: (err as Error).message }];
  } finally {
    for (const rig of Object.values(rigs)) rig?.close();
    await Promise.all(servers.map((s) => s.child.stop()));
    await redis?.dispose();
  }
}

async function benchSlow(settings: Settings, kinds: Kind[]): Promise<Row[]> {
  const title = `memory for a stopped reader, ${SLOW_MESSAGES.toLocaleString('en-US')} x ${sizeName(SLOW_SIZE)} published`;
  if (!selected(settings, title)) return [];
  process.stderr.write(`  ${title} ...`);
  const results: Partial<Record<Kind, { memory: number; queued: number }>> = {};
  try {
    for (const kind of kinds) {
      const server = await startServer(['--server', 'slow', kind], kind, ['--expose-gc']);
      const clients = Child.start(['--clients']);
      try {
        await clients.call('open', { port: server.port, path: '/', count: 1, reading: false, deflate: false });
        while (await server.child.call<number>('count') < 1) await sleep(20);
        const baseline = await server.child.call<number>('baseline');
        const after = await server.child.call<{ memory: number; queued: number }>('slow');
        results[kind] = { memory: after.memory - baseline, queued: after.queued };
      } finally {
        await clients.call('close').catch(() => undefined);
        await Promise.all([clients.stop(), server.child.stop()]);
      }
    }
  } catch (err) {
    process.stderr.write(' error\n');
    return [{ group: 'pubsub', title, status: 'error', note: (err as Error).message }];
  }
  const figure = (r: { memory: number; queued: number } | undefined): Row['ours'] => r === undefined ? undefined : {
    value: Math.max(0, r.memory) / (1024 * 1024), unit: 'MiB held', secondary: { value: r.queued / (1024 * 1024), unit: 'MiB queued' },
  };
  process.stderr.write(' done\n');
  const ours = results.ours;
  return [{
    group: 'pubsub',
    title,
    ours: figure(ours),
    ws: figure(results.ws),
    status: ours === undefined ? 'info' : ours.memory <= 2 * 1024 * 1024 ? 'pass' : 'miss',
    targetText: '<= 2 MiB (1 MiB bound)',
    note: "server heap + ArrayBuffers after GC over the baseline, and bufferedAmount; ours: slowSubscriber 'drop', default 1 MiB maxSubscriberBuffer",
  }];
}

export async function benchPubsub(settings: Settings): Promise<Row[]> {
  const kinds: Kind[] = settings.side === 'both' ? ['ours', 'ws'] : [settings.side];
  if (!existsSync(LIB_INDEX) || !existsSync(DEMO_MODULE)) {
    return [{ group: 'pubsub', title: 'pub/sub', status: 'pending', note: 'build the library and examples first' }];
  }
  return [
    ...await benchFanout(settings, kinds),
    ...await benchLatency(settings, kinds),
    ...await benchSlow(settings, kinds),
  ];
}

if (require.main === module) {
  const argv = process.argv;
  const at = (flag: string): number => argv.indexOf(flag);
  const childFailed = (err: unknown): void => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.send?.({ id: -1, error: String(err) }, () => { process.exit(1); });
  };
  if (at('--server') >= 0) {
    serverChild(argv[at('--server') + 1] as ServerMode, argv[at('--server') + 2] as Kind | 'raw').catch(childFailed);
  } else if (at('--chat') >= 0) {
    chatChild(argv[at('--chat') + 1] === 'ws' ? 'ws' : 'ours', argv[at('--chat') + 2]).catch(childFailed);
  } else if (at('--clients') >= 0) {
    clientsChild();
  } else {
    standalone(benchPubsub);
  }
}
