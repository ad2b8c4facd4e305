/**
 * WebSocketStream (the WICG explainer, whatwg/websockets#48; shipped by Chromium and undici): a
 * connection as a ReadableStream of received messages and a WritableStream of messages to send,
 * with `opened` and `closed` promises. Unlike the WebSocket interface it has backpressure both
 * ways, and here it is real down to TCP:
 *
 * - Receiving: messages queue in the readable up to `readableHighWaterMark` bytes; then the
 *   connection stops reading its socket (`pause()`), so the peer's writes back up, until the
 *   reader's `read()` brings the queue below the mark (`pull()` resumes it). A reader that stops
 *   reading holds at most the mark, one message and one socket read in memory.
 * - Sending: each `write()` resolves once the outgoing queue is below the connection's
 *   `writeHighWaterMark`, at once or on `'drain'`, so a writer that awaits its writes never
 *   queues more than that.
 *
 * Observable behaviour follows Chromium where the draft and Chromium differ (binary messages are
 * read as ArrayBuffers; close codes are clamped, not range-checked).
 */
import { ReadableStream, type ReadableStreamDefaultController, WritableStream, type WritableStreamDefaultController } from 'node:stream/web';
import type { ClientOptions } from '../client';
import { CloseCode } from '../constants';
import { ReadyState, type WebSocket as Connection } from '../connection/websocket';
import { resolveConnectionOptions } from '../session/config';
import { adoptConnection, openConnection } from './establish';
import { bytesOfBufferSource, checkProtocols, getUrlRecord, isBufferSource, toArrayBuffer, toUSVString } from './checks';
import { closedError, closeInfoOf, type WebSocketCloseInfo, WebSocketError } from './websocket-error';

/**
 * Bytes of received messages (UTF-16 code units for text) queued in the readable before the
 * socket stops being read. 64 KiB: a few socket reads' worth, so a reader that keeps up never
 * makes the connection stop, and one that does not holds little.
 */
export const DEFAULT_READABLE_HIGH_WATER_MARK = 64 * 1024;

export interface WebSocketStreamOptions extends Omit<ClientOptions, 'protocols' | 'signal'> {
  /** Subprotocols to offer; the connection fails unless the server picks one. */
  protocols?: readonly string[];
  /** Aborts the opening handshake (after it, the signal does nothing: call `close()`). */
  signal?: AbortSignal;
  /**
   * Node only: bytes of received messages (UTF-16 code units for text) the readable holds before
   * the socket stops being read. Default {@link DEFAULT_READABLE_HIGH_WATER_MARK} (64 KiB).
   */
  readableHighWaterMark?: number;
}

/** A received message: text as a string, binary as an ArrayBuffer (as Chromium gives it). */
export type WebSocketStreamChunk = string | ArrayBuffer;

/** What `opened` resolves to. */
export interface WebSocketOpenInfo {
  extensions: string;
  protocol: string;
  readable: ReadableStream<WebSocketStreamChunk>;
  writable: WritableStream<string | ArrayBuffer | ArrayBufferView>;
}

/** What `closed` resolves to after a clean close. */
export interface WebSocketClosedInfo {
  closeCode: number;
  reason: string;
}

function noop(): void { /* the rejection is the caller's to see when it awaits */ }

/**
 * What an aborted handshake rejects with. The draft says the signal's reason; Chromium rejects
 * with an AbortError whatever the reason, and so do we, keeping the reason as its `cause`.
 */
function abortError(reason: unknown): DOMException {
  const error = new DOMException('the opening handshake was aborted', 'AbortError');
  Object.defineProperty(error, 'cause', { value: reason, configurable: true, writable: true });
  return error;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  // Node ends the process on a rejection nobody handles; a page would only log it. `closed` is
  // often never awaited by a program that awaits `opened`, so neither counts as unhandled.
  promise.catch(noop);
  return { promise, resolve, reject };
}

export class WebSocketStream {
  readonly #url: URL;
  readonly #opened = deferred<WebSocketOpenInfo>();
  readonly #closed = deferred<WebSocketClosedInfo>();
  readonly #abort = new AbortController();
  readonly #highWaterMark: number;
  #state: ReadyState = ReadyState.CONNECTING;
  #connection: Connection | undefined;
  #readable: ReadableStreamDefaultController<WebSocketStreamChunk> | undefined;
  #writable: WritableStreamDefaultController | undefined;
  /** The socket is not being read because the readable is full. */
  #paused = false;
  /** The signal aborted the handshake: its reason already settled both promises. */
  #handshakeAborted = false;
  #failure: unknown;
  /** Writes waiting for the outgoing queue to drain. */
  #drainWaiters: Array<() => void> = [];

  /**
   * Opens a connection to `url` (ws:, wss:, or http:/https: meaning the same).
   *
   * @param options `protocols` and `signal` as the standard has them, then Node's: everything
   *   `connect()` takes (headers, TLS, limits...) and `readableHighWaterMark`.
   * @throws {DOMException} `SyntaxError` for an invalid URL, another scheme, a fragment, or an
   *   invalid or repeated subprotocol.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for an invalid connection option.
   */
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    if (arguments.length === 0) throw new TypeError("WebSocketStream: 1 argument required, but only 0 present");
    this.#url = getUrlRecord(url);
    if (options === null || typeof options !== 'object') throw new TypeError('WebSocketStream: options must be an object');
    const protocols = checkProtocols(options.protocols ?? []);
    const { signal, readableHighWaterMark, ...connectOptions } = options;
    const mark = readableHighWaterMark ?? DEFAULT_READABLE_HIGH_WATER_MARK;
    if (typeof mark !== 'number' || !(mark >= 0)) {
      throw new TypeError('WebSocketStream: readableHighWaterMark must be a number of bytes, 0 or more');
    }
    this.#highWaterMark = mark;
    resolveConnectionOptions(connectOptions, 'client');
    if (signal?.aborted === true) {
      this.#state = ReadyState.CLOSED;
      const error = abortError(signal.reason);
      this.#opened.reject(error);
      this.#closed.reject(error);
      return;
    }
    // The signal aborts the handshake only: its listener goes once the handshake ended.
    const onAbort = (): void => { this.#aborted(signal?.reason); };
    openConnection(this.#url, { ...connectOptions, protocols, signal: this.#abort.signal }, signal, onAbort,
      (connection) => { this.#established(connection, protocols); }, (error) => { this.#refused(error); });
  }

  /** The URL, serialized (http: and https: show as ws: and wss:). */
  get url(): string {
    return this.#url.href;
  }

  /** Resolves to the streams, protocol and extensions once open; rejects if it never opens. */
  get opened(): Promise<WebSocketOpenInfo> {
    return this.#opened.promise;
  }

  /**
   * Resolves to the close code and reason after a clean close; rejects with a WebSocketError
   * (closeCode 1006) when the connection failed or was lost, as Chromium does.
   */
  get closed(): Promise<WebSocketClosedInfo> {
    return this.#closed.promise;
  }

  get [Symbol.toStringTag](): string {
    return 'WebSocketStream';
  }

  /**
   * Closes the connection with `closeCode` and `reason` (a reason alone means 1000; neither, an
   * empty close frame). While CONNECTING it abandons the handshake.
   * @throws {DOMException} `InvalidAccessError` for a code other than 1000 or 3000-4999,
   *   `SyntaxError` for a reason over 123 bytes of UTF-8.
   */
  close(closeInfo?: WebSocketCloseInfo): void {
    const { code, reason } = closeInfoOf(closeInfo);
    this.#close(code, reason);
  }

  // --- the connection --------------------------------------------------------------------------

  /** "Close the WebSocket" with checked arguments. */
  #close(code: number | undefined, reason: string): void {
    switch (this.#state) {
      case ReadyState.CONNECTING:
        this.#state = ReadyState.CLOSING;
        this.#abort.abort(new DOMException('the WebSocketStream was closed before the connection was established', 'AbortError'));
        return;
      case ReadyState.OPEN:
        this.#state = ReadyState.CLOSING;
        (this.#connection as Connection).close(code, code === undefined ? undefined : reason);
        // Messages are no longer handed over: read on, so the peer's close frame is seen even if
        // the readable was full.
        this.#resume();
        return;
      default:
    }
  }

  /** An abort, a cancel with a reason: a WebSocketError chooses the close frame, anything else sends an empty one. */
  #closeUsingReason(reason: unknown): void {
    if (reason instanceof WebSocketError && reason.closeCode !== null) {
      try {
        this.#close(reason.closeCode, reason.reason);
        return;
      } catch {
        // Not a code a script may send: close without one.
      }
    }
    this.#close(undefined, '');
  }

  #aborted(reason: unknown): void {
    if (this.#state !== ReadyState.CONNECTING) return;
    this.#state = ReadyState.CLOSING;
    this.#handshakeAborted = true;
    const error = abortError(reason);
    this.#opened.reject(error);
    this.#closed.reject(error);
    this.#abort.abort(error);
  }

  #refused(error: unknown): void {
    this.#state = ReadyState.CLOSED;
    if (this.#handshakeAborted) return;
    this.#opened.reject(closedError('the WebSocket closed before the handshake completed', null, '', error));
    this.#closed.reject(closedError('the WebSocket was not cleanly closed', CloseCode.Abnormal, '', error));
  }

  #established(connection: Connection, offered: readonly string[]): void {
    this.#connection = connection;
    const failed = (error: Error): void => { this.#failure ??= error; };
    const closed = (code: number, reason: string): void => { this.#connectionClosed(code, reason); };
    if (!adoptConnection(connection, this.#state === ReadyState.CONNECTING, offered, 'WebSocketStream', failed, closed)) return;
    this.#state = ReadyState.OPEN;
    const readable = new ReadableStream<WebSocketStreamChunk>({
      start: (controller) => { this.#readable = controller; },
      pull: () => { this.#resume(); },
      cancel: (reason: unknown) => { this.#closeUsingReason(reason); },
    }, {
      highWaterMark: this.#highWaterMark,
      size: (chunk) => (typeof chunk === 'string' ? chunk.length : chunk.byteLength),
    });
    const writable = new WritableStream<string | ArrayBuffer | ArrayBufferView>({
      start: (controller) => { this.#writable = controller; },
      write: (chunk) => this.#write(chunk),
      close: () => { this.#close(undefined, ''); },
      abort: (reason: unknown) => { this.#closeUsingReason(reason); },
    });
    connection.on('message', (data, isBinary) => { this.#message(data, isBinary); });
    connection.on('drain', () => { this.#drained(); });
    this.#opened.resolve({ extensions: connection.extensions, protocol: connection.protocol, readable, writable });
  }

  #message(data: string | Buffer, isBinary: boolean): void {
    // As for WebSocket: once close() was called, messages are not handed over.
    if (this.#state !== ReadyState.OPEN) return;
    const controller = this.#readable as ReadableStreamDefaultController<WebSocketStreamChunk>;
    try {
      controller.enqueue(isBinary ? toArrayBuffer(data as Buffer) : data as string);
    } catch {
      // The reader cancelled: the close is under way, the message has nobody to go to.
      return;
    }
    // Full: stop reading the socket until the reader pulls (TCP backpressure on the peer).
    if ((controller.desiredSize ?? 0) <= 0 && !this.#paused) {
      this.#paused = true;
      this.#connection?.pause();
    }
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#connection?.resume();
  }

  /** Sends one chunk; resolves once the outgoing queue is below the write high-water mark. */
  #write(chunk: unknown): Promise<void> | undefined {
    const connection = this.#connection as Connection;
    // WHATWG: after the closing handshake started, chunks are dropped (the streams error soon).
    if (this.#state !== ReadyState.OPEN || connection.readyState !== ReadyState.OPEN) return undefined;
    let below: boolean;
    if (isBufferSource(chunk)) {
      // A copy: the writer may reuse its buffer once the write resolved, before an extension read it.
      const bytes = bytesOfBufferSource(chunk);
      below = connection.send(connection.extensions === '' ? bytes : Buffer.from(bytes), true);
    } else {
      below = connection.send(toUSVString(chunk), false);
    }
    if (below) return undefined;
    return new Promise<void>((resolve) => { this.#drainWaiters.push(resolve); });
  }

  #drained(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #connectionClosed(code: number, reason: string): void {
    this.#state = ReadyState.CLOSED;
    // Writes waiting for a drain that will never come: the writable is errored below.
    this.#drained();
    if (this.#handshakeAborted) return;
    const readable = this.#readable;
    const writable = this.#writable;
    if (readable === undefined) {
      // It never opened (close() during the handshake, no subprotocol agreed).
      this.#opened.reject(closedError('the WebSocket closed before the handshake completed', null, '', this.#failure));
      this.#closed.reject(closedError('the WebSocket was not cleanly closed', CloseCode.Abnormal, '', this.#failure));
      return;
    }
    if (this.#failure === undefined && code !== CloseCode.Abnormal) {
      try {
        readable.close();
      } catch {
        // Already cancelled by its reader.
      }
      writable?.error(new DOMException('a closed WebSocketStream cannot be written to', 'InvalidStateError'));
      this.#closed.resolve({ closeCode: code, reason });
      return;
    }
    const error = closedError('the WebSocket was not cleanly closed', CloseCode.Abnormal, '', this.#failure);
    readable.error(error);
    writable?.error(error);
    this.#closed.reject(error);
  }
}
