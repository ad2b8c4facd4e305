/**
 * The server children of the idle, floor and compression rows: ours, ws, and a raw floor, each in
 * a process of its own, so the load generator (the parent) is never what is measured. Every
 * figure (CPU time, heap and RSS after a full GC, event-loop delay) is read inside the server's
 * own process when the parent asks over the IPC channel.
 *
 * - `ours`: this library's WebSocketServer (standalone, `port: 0`), echoing every message as it came;
 *   with `demo`, the demo server of examples/demo-server.ts instead (its `/echo` route).
 * - `ws`: ws's WebSocketServer, echoing `ws.send(data, { binary: isBinary })`.
 * - `floor`: no WebSocket at all. An http server whose 'upgrade' listener writes a canned 101 and
 *   then writes back whatever it reads: the same accept, reads, writes and copies, none of the
 *   framing. Idle, it is a bare upgraded socket kept open.
 *
 * This file is also the child's entry point: `node servers.js --kind ours [--deflate] [--demo]`. Set
 * BENCH_SERVER_FLAGS to give every child extra node flags (e.g. `--cpu-prof`).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { type WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import { acceptKey } from '../lib/handshake/keys';
import { WebSocketServer as OurServer } from '../lib/server';

export type ServerKind = 'ours' | 'ws' | 'floor';

export interface ServerOptions {
  /** Accept permessage-deflate (`perMessageDeflate: true`); the floor ignores it. */
  deflate?: boolean;
  /** Extra node flags for the child, e.g. `--expose-gc`. */
  execArgv?: readonly string[];
  /** `ours` runs the demo server (examples/demo-server.ts; connect to `/echo`); ws accepts any path anyway. */
  demo?: boolean;
}

/** The demo server's compiled module, loaded at run time by the `demo` child only. */
export const DEMO_MODULE = join(__dirname, '..', 'examples', 'demo-server.js');

/** A child that outlives this long has lost its parent: it exits by itself. */
const SERVER_LIFETIME_MS = 10 * 60_000;
const START_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

// --- Requests the parent may make ---------------------------------------------------------------

/** What the child answers to each request. */
export interface Replies {
  /** This process's user + system CPU time so far, in µs (threadpool included: it is per process). */
  cpu: number;
  /** After two full GCs. */
  memory: { heapUsed: number; rss: number; external: number; connections: number };
  connections: number;
  /** Starts the event-loop delay monitor. */
  'loop-start': null;
  /** Stops it: the longest delay seen since loop-start, in ms. */
  'loop-stop': number;
}
type Op = keyof Replies;

interface Request { id: number; op: Op }
interface Reply { id: number; value?: unknown; error?: string }

// --- The parent's side ----------------------------------------------------------------------------

/** A running server child. */
export interface ServerHandle {
  kind: ServerKind;
  port: number;
  /** The child's process id (to attach a profiler or strace). */
  pid: number | undefined;
  request<K extends Op>(op: K): Promise<Replies[K]>;
  stop(): Promise<void>;
}

export async function spawnServer(kind: ServerKind, options: ServerOptions = {}): Promise<ServerHandle> {
  const args = ['--kind', kind, ...(options.deflate === true ? ['--deflate'] : []), ...(options.demo === true ? ['--demo'] : [])];
  // BENCH_SERVER_FLAGS adds node flags to every server child, e.g.
  // `BENCH_SERVER_FLAGS='--cpu-prof --cpu-prof-dir=build/profiles'` to profile the servers.
  const extra = (process.env.BENCH_SERVER_FLAGS ?? '').split(/\s+/).filter((flag) => flag !== '');
  const execArgv = [...(options.execArgv ?? []), ...extra];
  const proc = fork(__filename, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const timer = setTimeout(() => { proc.kill(); }, START_TIMEOUT_MS);
  let port: number;
  try {
    const [message] = await once(proc, 'message') as [{ port?: number; error?: string }];
    if (message.port === undefined) throw new Error(message.error ?? `${kind} server child sent no port`);
    port = message.port;
  } catch (err) {
    proc.kill();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { kind, port, pid: proc.pid, request: requester(proc), stop: () => stopChild(proc) };
}

function requester(proc: ChildProcess): ServerHandle['request'] {
  let nextId = 0;
  const waiting = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  proc.on('message', (message: Reply) => {
    const entry = waiting.get(message.id);
    if (entry === undefined) return;
    waiting.delete(message.id);
    if (message.error !== undefined) entry.reject(new Error(message.error));
    else entry.resolve(message.value);
  });
  proc.once('exit', (code) => {
    for (const entry of waiting.values()) entry.reject(new Error(`server child exited (${String(code)})`));
    waiting.clear();
  });
  return <K extends Op>(op: K) => new Promise<Replies[K]>((resolve, reject) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error(`server child did not answer ${op}`));
    }, REQUEST_TIMEOUT_MS);
    waiting.set(id, {
      resolve: (value) => { clearTimeout(timer); resolve(value as Replies[K]); },
      reject: (err) => { clearTimeout(timer); reject(err); },
    });
    proc.send({ id, op } satisfies Request);
  });
}

async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  if (proc.connected) proc.disconnect();
  const timer = setTimeout(() => { proc.kill(); }, 2_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The next message a ws client receives, or an error if it closes first or none comes within
 * `timeoutMs` (events.once would wait forever on a connection that closes without an 'error').
 */
export function nextMessage(ws: WsClient, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      ws.off('close', onClose);
    };
    const onMessage = (data: Buffer): void => { done(); resolve(data); };
    const onClose = (): void => { done(); reject(new Error('the connection closed before the echo came')); };
    const timer = setTimeout(() => { done(); reject(new Error(`no echo within ${timeoutMs} ms`)); }, timeoutMs);
    ws.on('message', onMessage);
    ws.on('close', onClose);
  });
}

// --- The child's side ------------------------------------------------------------------------------

interface Running { port: number; connections(): number }

function listenPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}

interface DemoServerModule {
  startDemoServer(options: { port: number; host: string }): Promise<{ port: number }>;
}

async function startDemo(): Promise<Running> {
  // A runtime require: the bench compiles whether or not the demo exists yet.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const demo = require(DEMO_MODULE) as DemoServerModule;
  const server = await demo.startDemoServer({ port: 0, host: '127.0.0.1' });
  return { port: server.port, connections: () => 0 };
}

async function startOurs(deflate: boolean): Promise<Running> {
  const wss = new OurServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate });
  wss.on('connection', (ws) => {
    ws.on('message', (data: string | Buffer, isBinary: boolean) => { ws.send(data, isBinary); });
  });
  await once(wss, 'listening');
  return { port: (wss.address() as AddressInfo).port, connections: () => wss.clients.size };
}

async function startWs(deflate: boolean): Promise<Running> {
  const wss = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => { ws.send(data, { binary: isBinary }); });
  });
  await once(wss, 'listening');
  return { port: (wss.address() as AddressInfo).port, connections: () => wss.clients.size };
}

async function startFloor(): Promise<Running> {
  const server = http.createServer((_req, res) => { res.writeHead(426).end(); });
  const sockets = new Set<Socket>();
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const key = req.headers['sec-websocket-key'] ?? '';
    const accept = acceptKey(key);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    // The WebSocket servers disable Nagle on their sockets too.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => { sockets.delete(socket); });
    // http servers allow half-open sockets: end ours when the client ends its side, as an echo would.
    socket.on('end', () => { socket.end(); });
    socket.on('error', () => { socket.destroy(); });
    // Echo with backpressure and nothing more. What one turn of the event loop read goes back
    // in one gathered write, as the WebSocket servers send what one turn produced: echoing each
    // read on its own would make the floor pay a write per partial frame when the client is
    // slow, more syscalls than the servers it is the floor of.
    let pending: Buffer[] = [];
    const flush = (): void => {
      const chunks = pending;
      pending = [];
      socket.cork();
      let full = false;
      for (const chunk of chunks) full = !socket.write(chunk);
      socket.uncork();
      if (full) {
        socket.pause();
        socket.once('drain', () => { socket.resume(); });
      }
    };
    const echo = (chunk: Buffer): void => {
      if (pending.length === 0) setImmediate(flush);
      pending.push(chunk);
    };
    if (head.length > 0) echo(head);
    socket.on('data', echo);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: listenPort(server), connections: () => sockets.size };
}

function childMain(kind: ServerKind, deflate: boolean, demo: boolean): void {
  const lifetime = setTimeout(() => { process.exit(0); }, SERVER_LIFETIME_MS);
  lifetime.unref();
  process.once('disconnect', () => { process.exit(0); });
  const started = kind === 'ours' ? (demo ? startDemo() : startOurs(deflate)) : kind === 'ws' ? startWs(deflate) : startFloor();
  started.then((running) => {
    let loop: IntervalHistogram | undefined;
    const handlers: { [K in Op]: () => Replies[K] } = {
      cpu: () => {
        const { user, system } = process.cpuUsage();
        return user + system;
      },
      memory: () => {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (gc === undefined) throw new Error('run the server child with --expose-gc');
        // Twice: the first full GC may leave objects that only the second finds unreachable
        // (weak references, finalizers).
        gc();
        gc();
        const usage = process.memoryUsage();
        return { heapUsed: usage.heapUsed, rss: usage.rss, external: usage.external, connections: running.connections() };
      },
      connections: () => running.connections(),
      'loop-start': () => {
        loop?.disable();
        // 1 ms resolution: the monitor's timer fires every millisecond, and a stall delays it.
        loop = monitorEventLoopDelay({ resolution: 1 });
        loop.enable();
        return null;
      },
      'loop-stop': () => {
        if (loop === undefined) throw new Error('loop-stop without loop-start');
        loop.disable();
        const max = loop.max / 1e6;
        loop = undefined;
        return max;
      },
    };
    process.on('message', (request: Request) => {
      let reply: Reply;
      try {
        reply = { id: request.id, value: handlers[request.op]() };
      } catch (err) {
        reply = { id: request.id, error: (err as Error).message };
      }
      process.send?.(reply);
    });
    process.send?.({ port: running.port });
  }, (err: unknown) => {
    process.send?.({ error: (err as Error).message }, () => { process.exit(1); });
  });
}

if (require.main === module) {
  const at = process.argv.indexOf('--kind');
  const kind = process.argv[at + 1];
  if (at < 0 || (kind !== 'ours' && kind !== 'ws' && kind !== 'floor')) {
    process.stderr.write('usage: node servers.js --kind ours|ws|floor [--deflate] [--demo]\n');
    process.exitCode = 2;
  } else {
    childMain(kind, process.argv.includes('--deflate'), process.argv.includes('--demo'));
  }
}
