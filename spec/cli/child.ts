/**
 * Runs the built `wsframe` command as a user would (node build/lib/cli/main.js) and watches its
 * output. Every child is tracked, so `stopChildren()` in an afterEach kills whatever a failing
 * test left running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import * as path from 'node:path';

/** The compiled entry point, next to this file's compiled form (build/spec/cli -> build/lib/cli). */
export const MAIN = path.join(__dirname, '..', '..', 'lib', 'cli', 'main.js');

/** Longest any single wait may take before the test fails instead of hanging. */
export const WAIT_MS = 10_000;

const running = new Set<ChildProcess>();

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Cli {
  readonly child: ChildProcess;
  private readonly out: Buffer[] = [];
  private errText = '';
  private readonly exited: Promise<Exit>;
  private watchers: Array<() => void> = [];

  constructor(args: readonly string[], options: { stdin?: string | Buffer; env?: NodeJS.ProcessEnv } = {}) {
    this.child = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    running.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        running.delete(this.child);
        resolve({ code, signal });
      });
    });
    this.child.stdout?.on('data', (chunk: Buffer) => { this.out.push(chunk); this.wake(); });
    this.child.stderr?.on('data', (chunk: Buffer) => { this.errText += chunk.toString('utf8'); this.wake(); });
    // A child that exits before reading all its stdin makes our write fail with EPIPE: not the test's concern.
    this.child.stdin?.on('error', () => {});
    if (options.stdin !== undefined) this.child.stdin?.end(options.stdin);
  }

  get stdout(): string {
    return Buffer.concat(this.out).toString('utf8');
  }

  get stdoutBytes(): Buffer {
    return Buffer.concat(this.out);
  }

  get stderr(): string {
    return this.errText;
  }

  /** Writes to the child's stdin (kept open). */
  write(text: string | Buffer): void {
    this.child.stdin?.write(text);
  }

  endInput(): void {
    this.child.stdin?.end();
  }

  /** Resolves with the first match of `pattern` in stderr (or stdout), waiting for it to appear. */
  async waitFor(pattern: RegExp, stream: 'stderr' | 'stdout' = 'stderr'): Promise<RegExpMatchArray> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const match = (stream === 'stderr' ? this.stderr : this.stdout).match(pattern);
      if (match !== null) return match;
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null) {
        throw new Error(`no ${String(pattern)} on ${stream}; stdout: ${JSON.stringify(this.stdout)} stderr: ${JSON.stringify(this.stderr)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.watchers.push(() => { clearTimeout(timer); resolve(); });
        void this.exited.then(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** Resolves when the child exits; fails the test if it takes longer than WAIT_MS. */
  async exit(): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`wsframe did not exit; stdout: ${JSON.stringify(this.stdout)} stderr: ${JSON.stringify(this.stderr)}`));
      }, WAIT_MS);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  private wake(): void {
    const watchers = this.watchers;
    this.watchers = [];
    for (const wake of watchers) wake();
  }
}

/** Starts `wsframe args...`; `stdin` (if given) is written and closed. */
export function wsframe(args: readonly string[], options: { stdin?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Cli {
  return new Cli(args, options);
}

/** Runs `wsframe args...` to completion. */
export async function run(args: readonly string[], stdin: string | Buffer = ''): Promise<{ code: number | null; stdout: string; stderr: string; stdoutBytes: Buffer }> {
  const cli = wsframe(args, { stdin });
  const { code } = await cli.exit();
  return { code, stdout: cli.stdout, stderr: cli.stderr, stdoutBytes: cli.stdoutBytes };
}

/** Kills every child still running (afterEach). */
export async function stopChildren(): Promise<void> {
  const children = [...running];
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined)));
}

/** A loopback port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
  return port;
}
