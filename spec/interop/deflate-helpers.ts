/**
 * Shared pieces of the permessage-deflate interop specs (deflate-*.spec.ts): the payloads (the
 * same bytes as deflate_common.py builds), the exchange every client runs against an echo server,
 * our echo server and our client running it, the Python peers as child processes of
 * /usr/bin/python3, and the checks every test makes.
 *
 * The exchange:
 *  1. echo: text and binary messages of 200 B, 16 KiB and 1 MiB of repetitive JSON (so compression
 *     matters), each sent and its echo awaited and compared byte for byte;
 *  2. burst: a 1 MiB text message, a ping, a 1 MiB binary message and a close (1000), back to back;
 *     both echoes, the pong and the server's close must come back, complete and in that order.
 */
import { expect } from 'chai';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { connect, type DeflateOptions, type WebSocket, WebSocketServer } from '../../lib/index';
import { repoRoot, within } from './helpers';

// --- payloads (deflate_common.py builds the same bytes) ---------------------------------------

export const SIZES = [200, 16 * 1024, 1024 * 1024] as const;
export const BURST_SIZE = 1024 * 1024;
export const BURST_TEXT_SEED = 101;
export const BURST_BINARY_SEED = 202;
export const PING_PAYLOAD = 'mid-burst';
/** Every 997th byte of a binary payload is 0xff, so it is never valid UTF-8. */
const BINARY_MARK_STRIDE = 997;

function record(i: number): string {
  return `{"seq":${i},"user":"user-${i % 7}","text":"message ${i} of the stream","tags":["a","b"],"ok":${i % 2 === 0 ? 'true' : 'false'}}`;
}

/** Exactly `size` bytes of ASCII: a JSON array of records, cut at `size`. */
export function jsonText(size: number, seed: number): string {
  const parts = ['['];
  let length = 1;
  for (let i = 0; length < size; i++) {
    const piece = (i === 0 ? '' : ',') + record(seed + i);
    parts.push(piece);
    length += piece.length;
  }
  return parts.join('').slice(0, size);
}

/** The same bytes with 0xff every 997 bytes. */
export function jsonBinary(size: number, seed: number): Buffer {
  const data = Buffer.from(jsonText(size, seed), 'latin1');
  for (let j = 0; j < size; j += BINARY_MARK_STRIDE) data[j] = 0xff;
  return data;
}

export type Kind = 'text' | 'binary';

export function payload(kind: Kind, size: number, seed: number): string | Buffer {
  return kind === 'text' ? jsonText(size, seed) : jsonBinary(size, seed);
}

/** The echo phase: [kind, size, seed] in order. */
export const ECHO_CASES: ReadonlyArray<readonly [Kind, number, number]> = SIZES.flatMap((size) => [
  ['text', size, size] as const,
  ['binary', size, size + 1] as const,
]);

export interface Described {
  kind: string;
  size: number;
  sha256?: string;
  payload?: string;
}

export function describePayload(data: string | Buffer): Described {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { kind: typeof data === 'string' ? 'text' : 'binary', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** What an echo server must have received from a client running the whole exchange. */
export function expectedServerEvents(pingSeen: boolean): Described[] {
  return [
    ...ECHO_CASES.map(([kind, size, seed]) => describePayload(payload(kind, size, seed))),
    describePayload(jsonText(BURST_SIZE, BURST_TEXT_SEED)),
    ...(pingSeen ? [{ kind: 'ping', size: PING_PAYLOAD.length }] : []),
    describePayload(jsonBinary(BURST_SIZE, BURST_BINARY_SEED)),
  ];
}

// --- results and checks ----------------------------------------------------------------------

/** What a client reports of the exchange (the Python peers print it as JSON). */
export interface ExchangeResult {
  library?: string;
  /** Sec-WebSocket-Extensions as sent and as answered, where the client can read them. */
  offered?: string | null;
  agreed?: string | null;
  error?: string;
  echo?: Array<{ sent: Described; received: Described; equal: boolean }>;
  burst?: {
    received: Described[];
    equal: boolean[];
    /** Arrival order: 'text 1048576', 'pong', 'binary 1048576', 'close 1000' (when observable). */
    order?: string[];
    pong: boolean;
    close_code: number | null;
    close_reason?: string;
  };
}

/** What an echo server reports of one connection. */
export interface ServerReport {
  library?: string;
  offered?: string | null;
  agreed?: string | null;
  events: Described[];
  close_code?: number;
  close_reason?: string;
  error?: string;
}

/** One Sec-WebSocket-Extensions element: its name and parameters. */
export interface Extension {
  name: string;
  params: Record<string, string | true>;
}

/**
 * The elements of a Sec-WebSocket-Extensions value (RFC 6455 §9.1), simply: the values these
 * peers send never hold quoted commas or semicolons.
 */
export function parseExtensions(header: string | null | undefined): Extension[] {
  if (header === null || header === undefined || header.trim() === '') return [];
  return header.split(',').map((element) => {
    const [name, ...params] = element.split(';').map((part) => part.trim());
    const parsed: Record<string, string | true> = {};
    for (const param of params) {
      const [key, value] = param.split('=').map((part) => part.trim());
      parsed[key] = value === undefined ? true : value.replace(/^"(.*)"$/, '$1');
    }
    return { name, params: parsed };
  });
}

/** Expected parameters: a value, or the values either of which is right. */
export type ExpectedParams = Record<string, string | true | readonly string[]>;

function matches(actual: Record<string, string | true>, expected: ExpectedParams): boolean {
  const keys = Object.keys(expected).sort();
  if (JSON.stringify(Object.keys(actual).sort()) !== JSON.stringify(keys)) return false;
  return keys.every((key) => {
    const want = expected[key];
    const got = actual[key];
    return Array.isArray(want) ? typeof got === 'string' && want.includes(got) : got === want;
  });
}

/**
 * Both sides agree on permessage-deflate with exactly these parameters (RFC 7692 §7.1): `ours` is
 * what our side reports as agreed, `theirs` the header the peer sent or received.
 */
export function expectAgreed(ours: string | null | undefined, theirs: string | null | undefined, params: ExpectedParams): void {
  for (const [side, header] of [['our side', ours], ["the peer's side", theirs]] as const) {
    const elements = parseExtensions(header);
    const ok = elements.length === 1 && elements[0].name === 'permessage-deflate' && matches(elements[0].params, params);
    expect(ok, `agreed on ${side}: ${JSON.stringify(header)}, expected permessage-deflate with ${JSON.stringify(params)}`).to.equal(true);
  }
}

/** Both sides run without any extension. */
export function expectNoExtension(ours: string | null | undefined, theirs: string | null | undefined): void {
  expect(parseExtensions(ours), `our side: ${String(ours)}`).to.deep.equal([]);
  expect(parseExtensions(theirs), `the peer's side: ${String(theirs)}`).to.deep.equal([]);
}

/**
 * The client ran the whole exchange: every echo byte-exact, and the burst complete and in order.
 * `echoes: 'prefix'` is for a server that may answer the close before echoing what arrived just
 * ahead of it, or a ping before an echo (RFC 6455 §5.5.1 lets it: an echo is the application's
 * business); then the burst's echoes must be a byte-exact prefix of what was sent, the pong come
 * before the close, and the close still be 1000.
 */
export function expectCompleteExchange(result: ExchangeResult, echoes: 'all' | 'prefix' = 'all'): void {
  expect(result.error, `the client failed: ${String(result.error)}`).to.equal(undefined);
  expect(result.echo?.map((e) => `${e.received.kind} ${e.received.size} ${String(e.equal)}`)).to.deep.equal(
    ECHO_CASES.map(([kind, size]) => `${kind} ${size} true`),
  );
  const burst = result.burst;
  expect(burst, 'the burst').to.not.equal(undefined);
  if (burst === undefined) return;
  const sent = [`text ${BURST_SIZE}`, `binary ${BURST_SIZE}`];
  const count = echoes === 'all' ? sent.length : burst.received.length;
  expect(burst.received.map((m) => `${m.kind} ${m.size}`), 'the echoes of the burst').to.deep.equal(sent.slice(0, count));
  expect(burst.equal, 'the echoes of the burst, byte for byte').to.deep.equal(Array(count).fill(true));
  expect(burst.pong, 'the pong of the ping between the two').to.equal(true);
  expect(burst.close_code, 'the close code the server answered with').to.equal(1000);
  if (burst.order === undefined) return;
  if (echoes === 'all') {
    // Our server answers in the order things arrived.
    expect(burst.order, 'arrival order').to.deep.equal([`text ${BURST_SIZE}`, 'pong', `binary ${BURST_SIZE}`, 'close 1000']);
  } else {
    // A peer may answer a ping before echoing the message ahead of it.
    expect(burst.order.filter((item) => item !== 'pong'), 'arrival order').to.deep.equal([...sent.slice(0, count), 'close 1000']);
    expect(burst.order.indexOf('pong'), 'the pong before the close').to.be.within(0, burst.order.length - 2);
  }
}

/** The server received the whole exchange byte for byte, then a close with 1000. */
export function expectServerReceivedExchange(report: ServerReport, pingSeen: boolean): void {
  expect(report.error, `the server failed: ${String(report.error)}`).to.equal(undefined);
  expect(report.events).to.deep.equal(expectedServerEvents(pingSeen));
  expect(report.close_code).to.equal(1000);
}

// --- our side --------------------------------------------------------------------------------

/** What our echo server saw of one connection. */
export interface OurConnection extends ServerReport {
  ws: WebSocket;
  closed: Promise<void>;
  /** Pongs received, by payload. */
  pongs: string[];
}

/** The text message that makes our echo server send the burst itself instead of echoing. */
export const BURST_REQUEST = 'burst please';

export interface OurEchoServer {
  url: string;
  /** The next connection it accepts (or the one it already accepted and nobody took). */
  nextConnection(): Promise<OurConnection>;
  close(): Promise<void>;
}

/**
 * Our WebSocketServer on a free loopback port, echoing every message with its type. On the text
 * {@link BURST_REQUEST} it sends the burst itself: 1 MiB text, a ping, 1 MiB binary, a close (1000).
 */
export async function startOurEchoServer(perMessageDeflate: boolean | DeflateOptions): Promise<OurEchoServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate, maxMessageSize: 16 * 1024 * 1024 });
  const accepted: OurConnection[] = [];
  const waiting: Array<(connection: OurConnection) => void> = [];
  wss.on('connection', (ws: WebSocket, request: IncomingMessage) => {
    let done!: () => void;
    const connection: OurConnection = {
      ws,
      offered: request.headers['sec-websocket-extensions'],
      agreed: ws.extensions,
      events: [],
      pongs: [],
      closed: new Promise<void>((resolve) => { done = resolve; }),
    };
    ws.on('message', (data: string | Buffer, isBinary: boolean) => {
      connection.events.push(describePayload(data));
      if (data !== BURST_REQUEST) {
        ws.send(data, isBinary);
        return;
      }
      ws.send(jsonText(BURST_SIZE, BURST_TEXT_SEED));
      ws.ping(PING_PAYLOAD);
      ws.send(jsonBinary(BURST_SIZE, BURST_BINARY_SEED));
      ws.close(1000, 'burst done');
    });
    ws.on('pong', (data: Buffer) => { connection.pongs.push(data.toString()); });
    ws.on('ping', (data: Buffer) => { connection.events.push({ kind: 'ping', size: data.length }); });
    ws.on('error', (error: Error) => { connection.error = `${(error as { code?: string }).code ?? error.name}: ${error.message}`; });
    ws.on('close', (code: number, reason: string) => {
      connection.close_code = code;
      connection.close_reason = reason;
      done();
    });
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(connection);
    else accepted.push(connection);
  });
  await within(new Promise<void>((resolve) => { wss.once('listening', () => { resolve(); }); }), 'our server to listen');
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    nextConnection: () => within(new Promise<OurConnection>((resolve) => {
      const ready = accepted.shift();
      if (ready !== undefined) resolve(ready);
      else waiting.push(resolve);
    }), 'a connection to our server'),
    close: () => within(wss.close(), 'our server to close'),
  };
}

/** What a client's exchange sees arrive. */
export type ClientEvent =
  | { type: 'message'; data: string | Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number };

/** A connected client as the exchange drives it: ours or another library's. */
export interface ExchangeDriver {
  send(data: string | Buffer): void;
  ping(data: string): void;
  close(code: number, reason: string): void;
  /** Calls `handler` with everything that arrives from now on, in order. */
  listen(handler: (event: ClientEvent) => void): void;
  terminate(): void;
}

/** Runs the exchange over a connected client; `agreed` is filled in by the caller. */
export async function runExchange(driver: ExchangeDriver): Promise<ExchangeResult> {
  const result: ExchangeResult = {};
  const events: ClientEvent[] = [];
  const waiting: Array<() => void> = [];
  driver.listen((event) => {
    events.push(event);
    for (const wake of waiting.splice(0)) wake();
  });
  const nextEvent = (what: string): Promise<ClientEvent> => within(new Promise((resolve) => {
    const look = (): void => {
      const event = events.shift();
      if (event === undefined) waiting.push(look);
      else resolve(event);
    };
    look();
  }), what);

  try {
    result.echo = [];
    for (const [kind, size, seed] of ECHO_CASES) {
      const data = payload(kind, size, seed);
      driver.send(data);
      const event = await nextEvent(`the echo of ${kind} ${size}`);
      if (event.type !== 'message') throw new Error(`got ${event.type} ${event.type === 'close' ? event.code : ''} instead of the echo of ${kind} ${size}`);
      const equal = typeof data === 'string' ? event.data === data : Buffer.isBuffer(event.data) && event.data.equals(data);
      result.echo.push({ sent: describePayload(data), received: describePayload(event.data), equal });
    }
    const text = jsonText(BURST_SIZE, BURST_TEXT_SEED);
    const binary = jsonBinary(BURST_SIZE, BURST_BINARY_SEED);
    driver.send(text);
    driver.ping(PING_PAYLOAD);
    driver.send(binary);
    driver.close(1000, 'burst done');
    const order: string[] = [];
    const received: Array<string | Buffer> = [];
    let pong = false;
    let closeCode: number | null = null;
    while (closeCode === null) {
      const event = await nextEvent('the rest of the burst');
      if (event.type === 'message') {
        received.push(event.data);
        order.push(`${describePayload(event.data).kind} ${describePayload(event.data).size}`);
      } else if (event.type === 'pong') {
        pong = event.data.toString() === PING_PAYLOAD;
        order.push('pong');
      } else {
        closeCode = event.code;
        order.push(`close ${event.code}`);
      }
    }
    result.burst = {
      received: received.map((m) => describePayload(m)),
      equal: received.map((data, i) => (i === 0 ? data === text : Buffer.isBuffer(data) && data.equals(binary))),
      order,
      pong,
      close_code: closeCode,
    };
  } catch (error) {
    result.error = (error as Error).message;
  } finally {
    driver.terminate();
  }
  return result;
}

/** Runs the exchange with our connect(); what the peer answered is `agreed`. */
export async function ourClientExchange(url: string, perMessageDeflate: boolean | DeflateOptions): Promise<ExchangeResult> {
  let ws: WebSocket;
  try {
    ws = await within(connect(url, { perMessageDeflate, maxMessageSize: 16 * 1024 * 1024 }), 'connect()');
  } catch (error) {
    return { error: `handshake: ${(error as { code?: string }).code ?? ''} ${(error as Error).message}` };
  }
  const result = await runExchange({
    send: (data) => { ws.send(data); },
    ping: (data) => { ws.ping(data); },
    close: (code, reason) => { ws.close(code, reason); },
    listen: (handler) => {
      ws.on('message', (data: string | Buffer) => { handler({ type: 'message', data }); });
      ws.on('pong', (data: Buffer) => { handler({ type: 'pong', data }); });
      ws.on('close', (code: number) => { handler({ type: 'close', code }); });
      ws.on('error', () => { /* the close event reports it */ });
    },
    terminate: () => { ws.terminate(); },
  });
  return { agreed: ws.extensions, ...result };
}

// --- Python peers ----------------------------------------------------------------------------

export const PYTHON = '/usr/bin/python3';

/**
 * The environment for /usr/bin/python3, without a version manager's settings for another Python,
 * and writing no __pycache__ beside the peers' shared module.
 */
function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  return env;
}

/** Fails (never skips) when Debian's package for `module` is not installed. */
export function requirePythonModule(module: string, debianPackage: string): void {
  const hint = `install Debian's ${debianPackage} (apt-get install ${debianPackage}; .ci/run does this)`;
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} not found: ${hint}`);
  const probe = spawnSync(PYTHON, ['-c', `import ${module}`], { encoding: 'utf8', timeout: 30_000, env: pythonEnv() });
  if (probe.status !== 0) throw new Error(`the ${module} module is missing for ${PYTHON}: ${hint}\n${probe.stderr ?? ''}${probe.error?.message ?? ''}`);
}

function script(name: string): string {
  return path.join(repoRoot(), 'spec', 'interop', name);
}

export interface PythonServer {
  url: string;
  /** The report of the next connection that closes. */
  nextReport(): Promise<ServerReport & { event?: string }>;
  /** Lines other than connection reports (e.g. negotiation-failed), so far. */
  notes(): Array<Record<string, unknown>>;
}

/** Python peers started by a spec file, stopped by {@link stopAll} even when a test failed. */
export class PythonPeers {
  private readonly children = new Set<ChildProcess>();

  /** Runs `scriptName client URL CONFIG` to completion and returns the JSON it printed. */
  runClient(scriptName: string, url: string, config: Record<string, unknown> = {}): Promise<ExchangeResult> {
    const child = spawn(PYTHON, [script(scriptName), 'client', url, JSON.stringify(config)], {
      env: pythonEnv(), stdio: ['ignore', 'pipe', 'pipe'], cwd: script(''),
    });
    this.children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    const done = new Promise<ExchangeResult>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        this.children.delete(child);
        try {
          if (code !== 0) throw new Error(`exited with ${String(code ?? signal)}`);
          resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as ExchangeResult);
        } catch (error) {
          reject(new Error(`${scriptName} client: ${(error as Error).message}\nstdout: ${stdout}\nstderr: ${stderr}`));
        }
      });
    });
    return within(done, `${scriptName} client`, 60_000).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
  }

  /** Starts `scriptName server CONFIG` and waits until it listens. */
  async startServer(scriptName: string, config: Record<string, unknown> = {}): Promise<PythonServer> {
    const child = spawn(PYTHON, [script(scriptName), 'server', JSON.stringify(config)], {
      env: pythonEnv(), stdio: ['pipe', 'pipe', 'pipe'], cwd: script(''),
    });
    this.children.add(child);
    const lines: Array<Record<string, unknown>> = [];
    const waiting: Array<() => void> = [];
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    let partial = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      let newline;
      while ((newline = partial.indexOf('\n')) !== -1) {
        lines.push(JSON.parse(partial.slice(0, newline)) as Record<string, unknown>);
        partial = partial.slice(newline + 1);
        for (const wake of waiting.splice(0)) wake();
      }
    });
    child.once('exit', () => { for (const wake of waiting.splice(0)) wake(); });
    const take = (match: (line: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> =>
      within(new Promise((resolve, reject) => {
        const look = (): void => {
          const index = lines.findIndex(match);
          if (index !== -1) resolve(lines.splice(index, 1)[0]);
          else if (child.exitCode !== null) reject(new Error(`${scriptName} server exited: ${stderr}`));
          else waiting.push(look);
        };
        look();
      }), `${what} (${scriptName} server stderr: ${stderr})`);
    const listening = await take((line) => line.event === 'listening', `${scriptName} server to listen`);
    return {
      url: `ws://127.0.0.1:${String(listening.port)}/`,
      nextReport: () => take((line) => line.event === 'closed', `${scriptName} server to report a connection`) as unknown as Promise<ServerReport>,
      notes: () => lines.filter((line) => line.event !== 'closed'),
    };
  }

  /** Stops every peer still running: stdin closed first, SIGKILL if it lingers. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map(async (child) => {
      this.children.delete(child);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve(); }); });
      child.stdin?.end();
      await within(exited, 'a Python peer to exit', 5_000).catch(() => {
        child.kill('SIGKILL');
        return within(exited, 'a Python peer to die');
      });
    }));
  }
}

// --- the tests every Python peer gets --------------------------------------------------------

/** What both sides must agree on: parameters, 'none' for no extension, or a list of acceptable outcomes. */
export type Agreement = ExpectedParams | 'none' | ReadonlyArray<ExpectedParams | 'none'>;

/** A Python client against our WebSocketServer. */
export interface ClientCase {
  name: string;
  /** Our server's perMessageDeflate. */
  ours: boolean | DeflateOptions;
  /** The peer's configuration (its script's CONFIG). */
  theirs: Record<string, unknown>;
  /** The Sec-WebSocket-Extensions the peer must offer, as it reports it. */
  offered: string;
  /** What both sides must agree on. */
  agreed: Agreement;
}

/** Our connect() against a Python server. */
export interface ServerCase {
  name: string;
  /** Our client's perMessageDeflate. */
  ours: boolean | DeflateOptions;
  theirs: Record<string, unknown>;
  agreed: Agreement;
}

/** Both sides reached `agreed` (one of its outcomes, when it lists several). */
export function expectOutcome(ours: string | null | undefined, theirs: string | null | undefined, agreed: Agreement): void {
  const check = (outcome: ExpectedParams | 'none'): void => {
    if (outcome === 'none') expectNoExtension(ours, theirs);
    else expectAgreed(ours, theirs, outcome);
  };
  if (!Array.isArray(agreed)) {
    check(agreed as ExpectedParams | 'none');
    return;
  }
  const failures: string[] = [];
  for (const outcome of agreed as ReadonlyArray<ExpectedParams | 'none'>) {
    try {
      check(outcome);
      return;
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  expect.fail(`none of the acceptable outcomes: ${failures.join('; ')}`);
}

/**
 * Runs a Python client's exchange against our echo server: the handshake reaches the agreement
 * expected, both directions carry every message byte for byte, the burst comes back in order.
 */
export async function checkPythonClient(peers: PythonPeers, scriptName: string, c: ClientCase): Promise<void> {
  const server = await startOurEchoServer(c.ours);
  try {
    const connection = server.nextConnection();
    const result = await peers.runClient(scriptName, server.url, c.theirs);
    expect(result.error, `the ${scriptName} client failed: ${String(result.error)}`).to.equal(undefined);
    expect(result.offered, 'what the client offered').to.equal(c.offered);
    const side = await connection;
    await within(side.closed, 'our side of the connection to close');
    expectOutcome(side.agreed, result.agreed, c.agreed);
    expectCompleteExchange(result);
    expectServerReceivedExchange(side, true);
  } finally {
    await server.close();
  }
}

/** Runs our client's exchange against a Python echo server started with `c.theirs`. */
export async function checkPythonServer(peers: PythonPeers, scriptName: string, c: ServerCase, pingSeen: boolean): Promise<void> {
  const server = await peers.startServer(scriptName, c.theirs);
  const result = await ourClientExchange(server.url, c.ours);
  expect(result.error, `our client failed: ${String(result.error)}; the server said ${JSON.stringify(server.notes())}`).to.equal(undefined);
  const report = await server.nextReport();
  expectOutcome(result.agreed, report.agreed, c.agreed);
  expectCompleteExchange(result, 'prefix');
  expectServerReceivedExchange(report, pingSeen);
}
