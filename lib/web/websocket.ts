/**
 * The WHATWG WebSocket (websockets.spec.whatwg.org) over this library's client: an EventTarget
 * with `onopen`/`onmessage`/`onerror`/`onclose`, `binaryType`, `bufferedAmount` and the standard's
 * exceptions, so code written for browsers runs unchanged in Node. The connection underneath is
 * `connect()`'s; this module only translates between the standard's algorithms and its events.
 *
 * Where the standard and the Node API differ, the standard wins: a message that arrives after
 * `close()` was called is not dispatched ("if readyState is not OPEN, return"), an unclean close
 * reports 1006 whatever code we failed the connection with, and `error` fires only when the
 * connection was failed (a protocol error, a refused handshake), right before `close`.
 */
import type { ClientOptions } from '../client';
import { CloseCode } from '../constants';
import { ReadyState, type WebSocket as Connection } from '../connection/websocket';
import { resolveConnectionOptions } from '../session/config';
import { adoptConnection, openConnection } from './establish';
import {
  bytesOfBufferSource, checkCloseArguments, checkProtocols, clampUnsignedShort, getUrlRecord, isBufferSource, toArrayBuffer,
  toUSVString,
} from './checks';
import { CloseEvent, ErrorEvent, MessageEvent } from './events';

/** How binary messages are given to `message` listeners: `'nodebuffer'` (a Buffer) is Node's addition. */
export type BinaryType = 'blob' | 'arraybuffer' | 'nodebuffer';

/** What `send()` takes. */
export type WebSocketData = string | ArrayBuffer | ArrayBufferView | Blob;

/**
 * The Node-only third constructor argument: everything `connect()` takes (headers, TLS, proxy
 * agent, perMessageDeflate, the size and time limits) except `protocols`, the second argument.
 */
export type WebSocketOptions = Omit<ClientOptions, 'protocols'>;

/** The events a WebSocket dispatches, by type. */
export interface WebSocketEventMap {
  open: Event;
  /** `data`: a string for text; a Blob, an ArrayBuffer or a Buffer for binary, per `binaryType`. */
  message: MessageEvent<string | Blob | ArrayBuffer | Buffer>;
  /** Fired before `close` when the connection failed; `error` is the cause (Node only). */
  error: ErrorEvent;
  close: CloseEvent;
}

/** An event handler attribute's value (`onmessage` and the others). */
export type EventHandler<E extends Event = Event> = ((this: WebSocket, event: E) => unknown) | null;

type Listener<E extends Event> = ((this: WebSocket, event: E) => unknown) | { handleEvent(event: E): unknown } | null;

// Typed listeners, as browsers' typings give them: `event.data`, `event.code` without casts.
export interface WebSocket {
  addEventListener<K extends keyof WebSocketEventMap>(type: K, listener: Listener<WebSocketEventMap[K]>, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: Listener<Event>, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof WebSocketEventMap>(type: K, listener: Listener<WebSocketEventMap[K]>, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: Listener<Event>, options?: boolean | EventListenerOptions): void;
}

const BINARY_TYPES: ReadonlySet<string> = new Set(['blob', 'arraybuffer', 'nodebuffer']);

/** A send waiting behind a Blob that is still being read: messages leave in the order sent. */
interface QueuedSend {
  /** The bytes, the text, or the Blob's bytes still being read. */
  data: Buffer | string | Promise<ArrayBuffer>;
  isBinary: boolean;
  size: number;
}

/** An attribute handler and the listener that calls it (HTML's "event handler" processing). */
interface HandlerSlot {
  handler: EventHandler;
  listener: (event: Event) => void;
}

function noop(): void { /* a rejection handled where it is awaited */ }

export class WebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  readonly #url: URL;
  #state: ReadyState = ReadyState.CONNECTING;
  #binaryType: BinaryType = 'blob';
  #connection: Connection | undefined;
  #protocol = '';
  #extensions = '';
  /** Aborts the opening handshake when close() is called while CONNECTING. */
  readonly #abort = new AbortController();
  /** Why the connection failed: `error` fires with it before `close`. */
  #failure: unknown;
  /** Bytes of application data sent and not yet written to the socket (the standard's bufferedAmount). */
  #buffered = 0;
  #queue: QueuedSend[] | undefined;
  readonly #handlers = new Map<string, HandlerSlot>();

  /**
   * Opens a connection to `url` (ws:, wss:, or http:/https: meaning the same).
   *
   * @param protocols subprotocols to offer; the connection fails unless the server picks one.
   * @param options Node only: headers, TLS, perMessageDeflate, limits... as `connect()` takes them.
   * @throws {DOMException} `SyntaxError` for an invalid URL, another scheme, a fragment, or an
   *   invalid or repeated subprotocol.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for an invalid connection option
   *   (client-only options such as `headers` are checked by `connect()`: a bad one arrives as the
   *   `error` event).
   */
  constructor(url: string | URL, protocols?: string | readonly string[], options: WebSocketOptions = {}) {
    super();
    if (arguments.length === 0) throw new TypeError("WebSocket: 1 argument required, but only 0 present");
    this.#url = getUrlRecord(url);
    const offered = checkProtocols(protocols);
    if (options === null || typeof options !== 'object') throw new TypeError('WebSocket: options must be an object');
    // The connection options are checked here, where the program wrote them.
    resolveConnectionOptions(options, 'client');
    // The program's signal aborts the handshake only; its listener goes once the handshake ended,
    // so a long-lived signal does not collect one per connection.
    const signal = options.signal;
    const onAbort = (): void => { this.#abort.abort(signal?.reason); };
    if (signal?.aborted === true) onAbort();
    openConnection(this.#url, { ...options, protocols: offered, signal: this.#abort.signal }, signal, onAbort,
      (connection) => { this.#opened(connection, offered); }, (error) => { this.#refused(error); });
  }

  // --- attributes ------------------------------------------------------------------------------

  /** The URL, serialized (http: and https: show as ws: and wss:). */
  get url(): string {
    return this.#url.href;
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) once either side started the closing handshake, CLOSED (3). */
  get readyState(): number {
    const state = this.#state;
    if (state === ReadyState.OPEN && this.#connection !== undefined && this.#connection.readyState !== ReadyState.OPEN) {
      return ReadyState.CLOSING;
    }
    return state;
  }

  /**
   * Bytes of application data (UTF-8 text, binary) given to send() and not yet written to the
   * socket. As the standard says, it keeps growing with every send() after the connection closed.
   */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /** The subprotocol the server chose ('' if none). */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions the server agreed to ('' if none). */
  get extensions(): string {
    return this.#extensions;
  }

  /** How binary messages arrive: `'blob'` (default, as in browsers), `'arraybuffer'` or `'nodebuffer'`. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    // A Web IDL enum attribute ignores values outside the enum.
    if (BINARY_TYPES.has(value)) this.#binaryType = value;
  }

  get onopen(): EventHandler { return this.#handler('open'); }
  set onopen(handler: EventHandler) { this.#setHandler('open', handler); }
  get onmessage(): EventHandler<WebSocketEventMap['message']> { return this.#handler('message'); }
  set onmessage(handler: EventHandler<WebSocketEventMap['message']>) { this.#setHandler('message', handler as EventHandler); }
  get onerror(): EventHandler<ErrorEvent> { return this.#handler('error'); }
  set onerror(handler: EventHandler<ErrorEvent>) { this.#setHandler('error', handler as EventHandler); }
  get onclose(): EventHandler<CloseEvent> { return this.#handler('close'); }
  set onclose(handler: EventHandler<CloseEvent>) { this.#setHandler('close', handler as EventHandler); }

  get [Symbol.toStringTag](): string {
    return 'WebSocket';
  }

  // --- methods ---------------------------------------------------------------------------------

  /**
   * Sends a message: a string as text; an ArrayBuffer, a view of one, or a Blob as binary. A
   * Blob's bytes are read first; messages sent after it wait, so all leave in the order sent.
   * While CLOSING or CLOSED nothing is sent, but `bufferedAmount` grows (the standard's rule).
   * @throws {DOMException} `InvalidStateError` while CONNECTING.
   */
  send(data: WebSocketData): void {
    if (arguments.length === 0) throw new TypeError("WebSocket.send: 1 argument required, but only 0 present");
    if (this.#state === ReadyState.CONNECTING) throw new DOMException('the connection is not open yet', 'InvalidStateError');
    let payload: QueuedSend['data'];
    let isBinary = true;
    let size: number;
    if (isBufferSource(data)) {
      payload = bytesOfBufferSource(data);
      size = payload.length;
    } else if (data instanceof Blob) {
      // Read only if it is to be sent; awaited in order below, so a read that fails meanwhile
      // must not count as unhandled.
      payload = this.#sending() ? data.arrayBuffer() : Promise.resolve(new ArrayBuffer(0));
      payload.catch(noop);
      size = data.size;
    } else {
      payload = toUSVString(data);
      isBinary = false;
      size = Buffer.byteLength(payload, 'utf8');
    }
    this.#buffered += size;
    if (!this.#sending()) return;
    if (this.#queue === undefined && !(payload instanceof Promise)) {
      this.#transmit(payload, isBinary, size, false);
      return;
    }
    // The caller may change its buffer once send() returns: a queued message keeps its own copy.
    const item: QueuedSend = { data: Buffer.isBuffer(payload) ? Buffer.from(payload) : payload, isBinary, size };
    if (this.#queue === undefined) {
      this.#queue = [item];
      void this.#sendQueued();
    } else {
      this.#queue.push(item);
    }
  }

  /**
   * Closes the connection: the closing handshake with `code` and `reason` when OPEN, abandoning
   * the handshake when CONNECTING, nothing when already CLOSING or CLOSED. Without arguments the
   * close frame is empty (the peer sees 1005).
   * @throws {DOMException} `InvalidAccessError` for a code other than 1000 or 3000-4999 (a reason
   *   given with an undefined code counts as code 0, as in Chromium); `SyntaxError` for a reason
   *   over 123 bytes of UTF-8.
   */
  close(code?: number, reason?: string): void {
    // Chromium drops trailing undefined arguments, then converts what is left: close(undefined,
    // 'why') has a code of 0.
    const hasReason = reason !== undefined;
    const closeCode = code === undefined && !hasReason ? undefined : clampUnsignedShort(code);
    const closeReason = hasReason ? toUSVString(reason) : undefined;
    checkCloseArguments(closeCode, closeReason);
    switch (this.readyState) {
      case ReadyState.CLOSING:
      case ReadyState.CLOSED:
        return;
      case ReadyState.CONNECTING:
        // Fail the WebSocket connection: error and close (1006) follow once the attempt ends.
        this.#state = ReadyState.CLOSING;
        this.#abort.abort(new DOMException('the WebSocket was closed before the connection was established', 'AbortError'));
        return;
      default:
        this.#state = ReadyState.CLOSING;
        (this.#connection as Connection).close(closeCode, closeReason);
    }
  }

  // --- connection events -----------------------------------------------------------------------

  #opened(connection: Connection, offered: readonly string[]): void {
    this.#connection = connection;
    connection.on('message', (data, isBinary) => { this.#message(data, isBinary); });
    const failed = (error: Error): void => { this.#failure ??= error; };
    const closed = (code: number, reason: string): void => { this.#closed(code, reason); };
    if (!adoptConnection(connection, this.#state === ReadyState.CONNECTING, offered, 'WebSocket', failed, closed)) return;
    this.#state = ReadyState.OPEN;
    this.#protocol = connection.protocol;
    this.#extensions = connection.extensions;
    this.dispatchEvent(new Event('open'));
  }

  #refused(error: unknown): void {
    this.#state = ReadyState.CLOSED;
    this.#failure = error;
    this.#fireClose(CloseCode.Abnormal, '');
  }

  #message(data: string | Buffer, isBinary: boolean): void {
    // WHATWG "a WebSocket message has been received" step 1: after close() nothing is dispatched.
    if (this.#state !== ReadyState.OPEN) return;
    let payload: string | Buffer | ArrayBuffer | Blob = data;
    if (isBinary) {
      const bytes = data as Buffer;
      const type = this.#binaryType;
      if (type === 'blob') payload = new Blob([bytes as Uint8Array<ArrayBuffer>]);
      else if (type === 'arraybuffer') payload = toArrayBuffer(bytes);
    }
    this.dispatchEvent(new MessageEvent('message', { data: payload, origin: this.#url.origin }));
  }

  #closed(code: number, reason: string): void {
    this.#state = ReadyState.CLOSED;
    this.#queue = undefined;
    // A connection we failed (or that was lost) reports 1006: "the WebSocket connection close
    // code" is the peer's, and no close frame of the peer's was read.
    if (this.#failure !== undefined || code === CloseCode.Abnormal) this.#fireClose(CloseCode.Abnormal, '');
    else this.#fireClose(code, reason, true);
  }

  /** WHATWG "the WebSocket connection is closed": `error` if it was failed, then `close`. */
  #fireClose(code: number, reason: string, wasClean = false): void {
    const failure = this.#failure;
    if (failure !== undefined) {
      const message = failure instanceof Error ? failure.message : String(failure);
      this.dispatchEvent(new ErrorEvent('error', { message, error: failure }));
    }
    this.dispatchEvent(new CloseEvent('close', { wasClean, code, reason }));
  }

  // --- sending ---------------------------------------------------------------------------------

  /** WHATWG send(): data goes out only while the connection is established and not closing. */
  #sending(): boolean {
    return this.#state === ReadyState.OPEN && this.#connection?.readyState === ReadyState.OPEN;
  }

  #transmit(data: Buffer | string, isBinary: boolean, size: number, owned: boolean): void {
    const connection = this.#connection as Connection;
    // Without an extension the client masks the bytes into its own buffer at once; an extension
    // may read them later, after the caller changed its buffer.
    const bytes = typeof data === 'string' || owned || connection.extensions === '' ? data : Buffer.from(data);
    connection.send(bytes, isBinary, (error) => {
      // Bytes that never reached the socket stay counted, as the standard wants.
      if (error === undefined || error === null) this.#buffered -= size;
    });
  }

  /** Sends the queued messages in order, waiting for each Blob's bytes. */
  async #sendQueued(): Promise<void> {
    const queue = this.#queue;
    while (queue !== undefined && queue.length > 0 && queue === this.#queue) {
      const item = queue[0];
      let data: Buffer | string;
      try {
        data = item.data instanceof Promise ? Buffer.from(await item.data) : item.data;
      } catch (error) {
        // A Blob that cannot be read cannot be sent: fail the connection rather than skip a message.
        this.#failure ??= error;
        this.#connection?.terminate();
        return;
      }
      if (queue !== this.#queue || !this.#sending()) return;
      queue.shift();
      this.#transmit(data, item.isBinary, item.size, true);
    }
    if (queue === this.#queue) this.#queue = undefined;
  }

  // --- event handler attributes ----------------------------------------------------------------

  #handler<E extends Event>(type: string): EventHandler<E> {
    return (this.#handlers.get(type)?.handler ?? null) as EventHandler<E>;
  }

  /** HTML event handler attributes: one listener per type, added when first set, removed on null. */
  #setHandler(type: string, handler: EventHandler): void {
    const value = typeof handler === 'function' ? handler : null;
    const slot = this.#handlers.get(type);
    if (slot !== undefined) {
      if (value !== null) {
        slot.handler = value;
        return;
      }
      this.removeEventListener(type, slot.listener);
      this.#handlers.delete(type);
      return;
    }
    if (value === null) return;
    const created: HandlerSlot = {
      handler: value,
      listener: (event) => { created.handler?.call(this, event); },
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }
}

// The standard's constants are on the interface object and its prototype.
for (const [name, value] of [['CONNECTING', 0], ['OPEN', 1], ['CLOSING', 2], ['CLOSED', 3]] as const) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}
