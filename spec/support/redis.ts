/**
 * A real Redis for the broker specs: Debian's redis-server on a free loopback port, without
 * persistence, started and stopped by the test itself. stop() and start() again reuse the same
 * port, so clients see an outage and a recovery of "the same" server.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const REDIS_SERVER = '/usr/bin/redis-server';
const INSTALL_HINT = 'install Debian\'s redis-server (apt-get install redis-server; .ci/run does this)';
/** How long starting or stopping the server may take before the test fails. */
const STARTUP_MS = 15_000;

/** Fails (never skips) when redis-server is not installed. */
export function requireRedisServer(): void {
  if (!fs.existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} not found: ${INSTALL_HINT}`);
  const probe = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status !== 0) throw new Error(`${REDIS_SERVER} --version failed: ${probe.stderr}${probe.error?.message ?? ''}`);
}

/** A port the kernel just handed out on 127.0.0.1 (closed again, so redis-server can take it). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** True when something on `port` answers PING with +PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const finish = (ok: boolean): void => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1000, () => { finish(false); });
    socket.on('error', () => { finish(false); });
    socket.on('connect', () => { socket.write('PING\r\n'); });
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

export class RedisServer {
  readonly port: number;
  private child: ChildProcess | undefined;
  private readonly dir: string;
  private output = '';

  private constructor(port: number) {
    this.port = port;
    // Its working directory: nothing is written with persistence off, but it must exist.
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsframe-redis-'));
  }

  /** Starts a server on a free port and resolves once it answers PING. */
  static async start(): Promise<RedisServer> {
    requireRedisServer();
    const server = new RedisServer(await freePort());
    try {
      await server.start();
    } catch (err) {
      await server.dispose();
      throw err;
    }
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** (Re)starts the server on its port; resolves once it answers PING. */
  async start(): Promise<void> {
    if (this.child !== undefined) return;
    this.output = '';
    const child = spawn(REDIS_SERVER, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', this.dir, '--daemonize', 'no', '--loglevel', 'warning',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { this.output += chunk; });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { this.output += chunk; });
    child.once('exit', () => { if (this.child === child) this.child = undefined; });
    const deadline = Date.now() + STARTUP_MS;
    while (!(await answersPing(this.port))) {
      if (this.child !== child) throw new Error(`redis-server exited on port ${this.port}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${this.port}:\n${this.output}`);
      await new Promise((resolve) => { setTimeout(resolve, 25); });
    }
  }

  /**
   * Stops the server (SIGTERM, then SIGKILL if it lingers) and resolves once it has exited, so the
   * port is closed: clients see their connections drop and reconnection attempts refused.
   */
  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => { child.kill('SIGKILL'); }, STARTUP_MS);
      await exited;
      clearTimeout(timer);
    }
    this.child = undefined;
  }

  /** Stops the server for good and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The mocha hooks of a spec on one real Redis: the server started before its tests and disposed
 * of after them, and a fresh channel prefix per test (`wsframe-<label>-<pid>-<n>:`), so no test
 * hears another's messages. Read `redis` and `prefix` inside hooks and tests.
 */
export function useRedis(label: string): { readonly redis: RedisServer; readonly prefix: string } {
  let server: RedisServer | undefined;
  let count = 0;
  const shared = {
    prefix: '',
    get redis(): RedisServer {
      if (server === undefined) throw new Error('useRedis: the server starts in a before() hook');
      return server;
    },
  };
  before(async () => { server = await RedisServer.start(); });
  after(async () => { await server?.dispose(); });
  beforeEach(() => { shared.prefix = `wsframe-${label}-${process.pid}-${count++}:`; });
  return shared;
}
