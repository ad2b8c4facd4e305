/**
 * `wsframe connect <url>`: stdin lines (or bytes) out as messages, received messages to stdout,
 * everything else to stderr. The glue between process streams and the library's connect().
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import {
  type ClientOptions, connect, ReadyState, type WebSocket, WebSocketProtocolError, WebSocketUsageError,
} from '../index';
import type { ConnectArgs } from './args';
import { ExitCode, exitCodeForClose } from './exit';
import { errorDetail, formatAgreed, formatClose, formatMessage } from './format';
import { type CommandIo, StatusLine } from './io';
import { LineSplitter } from './lines';
import { PROGRESS_INTERVAL, TransferCounter } from './progress';

/**
 * Milliseconds to wait, once stdin has ended, for the pong that shows the server has read
 * everything we sent (and written its replies) before we close anyway.
 */
export const EOF_PONG_TIMEOUT = 5000;

/**
 * The library options for these arguments.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` when the --ca file cannot be read.
 */
export function clientOptionsFor(args: ConnectArgs, readFile: (path: string) => Buffer = fs.readFileSync): ClientOptions {
  const options: ClientOptions = {
    protocols: args.protocols,
    headers: args.headers,
    origin: args.origin,
    perMessageDeflate: args.compress,
  };
  if (args.insecure || args.ca !== undefined) {
    let ca: Buffer | undefined;
    if (args.ca !== undefined) {
      try {
        ca = readFile(args.ca);
      } catch (err) {
        throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `cannot read --ca ${args.ca}: ${(err as Error).message}`);
      }
    }
    options.tls = { rejectUnauthorized: !args.insecure, ca };
  }
  return options;
}

/**
 * The HTTP status of a refused handshake: the error's numeric `status` when it has one, else the
 * number in its message (`WS_ERR_HANDSHAKE_STATUS` carries it there: "...: status 404").
 */
export function handshakeStatus(err: WebSocketProtocolError): number | undefined {
  if (typeof err.status === 'number') return err.status;
  const match = /\bstatus (\d{3})\b/.exec(err.message);
  return match === null ? undefined : Number(match[1]);
}

/** Node's TLS verification failures (tls.TLSSocket#authorizationError codes). */
const TLS_CODES = /^(?:ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_|HOSTNAME_MISMATCH)/;

/** A failed connection attempt as one line for stderr, and the exit code it gets. */
export function describeConnectError(err: unknown, url: string): { message: string; exitCode: ExitCode } {
  if (err instanceof WebSocketUsageError) return { message: errorDetail(err), exitCode: ExitCode.Usage };
  if (err instanceof WebSocketProtocolError) {
    if (err.code === 'WS_ERR_HANDSHAKE_STATUS') {
      const status = handshakeStatus(err);
      const answered = status === undefined ? 'did not answer 101' : `answered HTTP ${status} instead of 101`;
      return { message: `handshake refused: ${url} ${answered} Switching Protocols`, exitCode: ExitCode.ConnectFailed };
    }
    return { message: `handshake failed: ${err.code}: ${err.message}`, exitCode: ExitCode.ConnectFailed };
  }
  const error = err as Error & { code?: unknown };
  const code = typeof error.code === 'string' ? error.code : undefined;
  let message = `cannot connect to ${url}: ${error.message ?? String(err)}`;
  if (code !== undefined && !message.includes(code)) message += ` (${code})`;
  if (code !== undefined && TLS_CODES.test(code)) message += '; --ca <file> trusts a private CA, --insecure skips the check';
  return { message, exitCode: ExitCode.ConnectFailed };
}

/**
 * Runs `wsframe connect`. Resolves with the exit code once the connection is closed (or failed
 * to open).
 */
export async function runConnect(args: ConnectArgs, io: CommandIo): Promise<ExitCode> {
  const status = new StatusLine(io.stderr, args.quiet);
  let options: ClientOptions;
  try {
    options = clientOptionsFor(args);
  } catch (err) {
    status.error(`wsframe connect: ${errorDetail(err as WebSocketUsageError)}`);
    return ExitCode.Usage;
  }

  // Ctrl-C while connecting gives up at once.
  const abort = new AbortController();
  const onEarlySignal = (): void => { abort.abort(); };
  process.once('SIGINT', onEarlySignal);
  let ws: WebSocket;
  try {
    ws = await connect(args.url, { ...options, signal: abort.signal });
  } catch (err) {
    if (abort.signal.aborted) return ExitCode.Interrupted;
    const { message, exitCode } = describeConnectError(err, args.url);
    status.error(`wsframe connect: ${message}`);
    return exitCode;
  } finally {
    process.removeListener('SIGINT', onEarlySignal);
  }
  status.info(`connected to ${args.url} (${formatAgreed(ws)})`);
  return new Session(ws, args, io, status).done;
}

/** One open connection: pumps stdin to the server and the server to stdout until it closes. */
class Session {
  readonly done: Promise<ExitCode>;
  private resolve: (code: ExitCode) => void = () => {};
  private readonly counter = new TransferCounter(Date.now());
  private readonly showProgress: boolean;
  private progressTimer: NodeJS.Timeout | undefined;
  private eofTimer: NodeJS.Timeout | undefined;
  private readonly lines = new LineSplitter();
  private interrupted = false;
  /** Set when we end the session for a reason of our own (a bad stdin line): it wins over the close code. */
  private exitOverride: ExitCode | undefined;
  private readonly onSignal = (): void => { this.interrupt(); };

  constructor(
    private readonly ws: WebSocket,
    private readonly args: ConnectArgs,
    private readonly io: CommandIo,
    private readonly status: StatusLine,
  ) {
    this.done = new Promise((resolve) => { this.resolve = resolve; });
    this.showProgress = args.progress ?? (io.stderr.isTTY === true && io.stdin.isTTY !== true);
    if (this.showProgress) {
      this.progressTimer = setInterval(() => { this.status.progress(this.counter.line(Date.now())); }, PROGRESS_INTERVAL);
      this.progressTimer.unref();
    }
    ws.on('message', (data: string | Buffer, isBinary: boolean) => { this.onMessage(data, isBinary); });
    ws.on('error', (err: Error & { code?: string; closeCode?: number }) => {
      const code = err.code === undefined ? '' : `${err.code}${err.closeCode === undefined ? '' : ` (${err.closeCode})`}: `;
      this.status.error(`error: ${code}${err.message}`);
    });
    ws.on('close', (code: number, reason: string) => { this.onClose(code, reason); });
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    const stdin = io.stdin;
    stdin.on('data', (chunk: Buffer) => { this.onInput(chunk); });
    stdin.on('end', () => { this.onInputEnd(); });
    stdin.on('error', (err: Error) => {
      this.status.error(`wsframe connect: cannot read stdin: ${err.message}`);
      this.onInputEnd();
    });
  }

  private onMessage(data: string | Buffer, isBinary: boolean): void {
    this.counter.received(typeof data === 'string' ? Buffer.byteLength(data) : data.length);
    // On a shared terminal the message would land in the middle of the progress line.
    if (this.io.stdout.isTTY === true) this.status.clear();
    if (!this.io.stdout.write(formatMessage(data, isBinary, this.args.output))) {
      // stdout is slower than the network: stop reading so the server feels TCP backpressure.
      this.ws.pause();
      this.io.stdout.once('drain', () => { this.ws.resume(); });
    }
  }

  private onInput(chunk: Buffer): void {
    if (this.args.binary) {
      this.send(chunk, true);
      return;
    }
    let lines: string[];
    try {
      lines = this.lines.push(chunk);
    } catch (err) {
      this.giveUp(err as WebSocketUsageError);
      return;
    }
    for (const line of lines) this.send(line, false);
  }

  private send(data: string | Buffer, isBinary: boolean): void {
    if (this.ws.readyState !== ReadyState.OPEN) return;
    this.counter.sent(typeof data === 'string' ? Buffer.byteLength(data) : data.length);
    if (!this.ws.send(data, isBinary)) {
      // The socket buffer is full: read no more stdin until it drains.
      this.io.stdin.pause();
      this.ws.once('drain', () => { this.io.stdin.resume(); });
    }
  }

  private onInputEnd(): void {
    if (!this.args.binary) {
      let last: string[];
      try {
        last = this.lines.end();
      } catch (err) {
        this.giveUp(err as WebSocketUsageError);
        return;
      }
      for (const line of last) this.send(line, false);
    }
    if (this.args.keepOpen) return;
    this.closeAfterReplies();
  }

  /**
   * Closes once the server has answered a ping sent after our last message. A wsframe connection
   * drops data that arrives after it sent its close frame (as browsers do), so closing at once
   * would lose the replies still on their way; a peer reads frames in order and answers a ping
   * after acting on everything before it, so the pong comes after those replies.
   */
  private closeAfterReplies(): void {
    if (this.ws.readyState !== ReadyState.OPEN) return;
    const token = randomBytes(8).toString('hex');
    const onPong = (data: Buffer): void => {
      if (data.toString('latin1') !== token) return;
      this.ws.removeListener('pong', onPong);
      this.close();
    };
    this.ws.on('pong', onPong);
    this.ws.ping(token);
    this.eofTimer = setTimeout(() => { this.close(); }, EOF_PONG_TIMEOUT);
    this.eofTimer.unref();
  }

  private close(): void {
    if (this.eofTimer !== undefined) clearTimeout(this.eofTimer);
    this.ws.close(1000);
  }

  /** stdin cannot be sent (a line over the limit): close, and exit 1 whatever the close code. */
  private giveUp(err: WebSocketUsageError): void {
    this.status.error(`wsframe connect: ${errorDetail(err)}`);
    this.exitOverride = ExitCode.Usage;
    this.io.stdin.pause();
    this.close();
  }

  private interrupt(): void {
    if (this.interrupted) {
      // Second Ctrl-C: stop without waiting for the server.
      this.exitOverride = ExitCode.Interrupted;
      this.ws.terminate();
      return;
    }
    this.interrupted = true;
    this.status.info('closing (Ctrl-C again to stop at once)');
    this.close();
  }

  private onClose(code: number, reason: string): void {
    if (this.progressTimer !== undefined) clearInterval(this.progressTimer);
    if (this.eofTimer !== undefined) clearTimeout(this.eofTimer);
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    this.io.stdin.pause();
    this.io.stdin.removeAllListeners('data');
    if (this.showProgress) {
      this.status.clear();
      this.status.error(this.counter.line(Date.now()));
    }
    const exitCode = this.exitOverride ?? exitCodeForClose(code);
    const line = `closed: ${formatClose(code, reason)}`;
    if (exitCode === ExitCode.Ok) this.status.info(line);
    else this.status.error(line);
    this.resolve(exitCode);
  }
}
