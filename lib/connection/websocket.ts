/**
 * WebSocket: a connection over any Duplex byte stream (a TCP or TLS socket after the opening
 * handshake, an IPC pipe, an in-memory pair). It is the I/O glue around a sans-I/O
 * {@link Session}: it feeds the session what the socket reads, writes what the session queues,
 * pauses and resumes the socket as the session says, runs its deadlines on the shared
 * {@link Scheduler}, and turns its events into EventEmitter events, streams and an async
 * iterator. Every protocol rule lives in the session.
 */
import { EventEmitter } from 'node:events';
import { Readable } from '../streams';
import { ConnectionClosedError, isNormalClose, WebSocketUsageError } from '../errors';
import type { EventEmitMethod, EventListenerMethod, OtherEvent } from '../events';
import type { Role } from '../frame/frame';
import { encodeClosePayload } from '../message/close';
import type { MessageExtension } from '../message/extension';
import { type ConnectionOptions, resolveConnectionOptions, type SessionConfig } from '../session/config';
import { type ChunkTarget, type WriteCallback } from '../session/outbox';
import { ReadyState, Session, type SessionHandler, TransportAction } from '../session/session';
import { sharedScheduler, type Timed } from './scheduler';

export { ReadyState };

/** What a duplex byte stream must offer to carry a WebSocket (net.Socket, tls.TLSSocket, ...). */
export interface ByteStream extends NodeJS.EventEmitter {
  write(chunk: Buffer, callback?: (error?: Error | null) => void): boolean;
  end(): unknown;
  destroy(error?: Error): unknown;
  pause(): unknown;
  resume(): unknown;
  cork?(): void;
  uncork?(): void;
  setNoDelay?(noDelay?: boolean): unknown;
  readonly writableLength?: number;
  readonly destroyed?: boolean;
}

/** What the handshake agreed to, for {@link WebSocket.attach}. */
export interface ConnectionInfo {
  protocol?: string;
  extensions?: string;
  /** The codec of the agreed extension (permessage-deflate), if any. */
  extension?: MessageExtension;
}

/** A message as the async iterator yields it. */
export interface ReceivedMessage {
  /** A string for text, a Buffer for binary; with `streamMessages`, empty: read {@link stream}. */
  data: string | Buffer;
  isBinary: boolean;
  /** With `streamMessages`: the message's bytes (strings for text) as they arrive. */
  stream?: Readable;
}

/** Events of a {@link WebSocket}, with their arguments. */
export interface WebSocketEvents {
  open: [];
  /** A data message: text as a string, binary as a Buffer. */
  message: [data: string | Buffer, isBinary: boolean];
  /** With `streamMessages`: a data message as a Readable while it arrives. */
  stream: [stream: Readable, isBinary: boolean];
  ping: [data: Buffer];
  pong: [data: Buffer];
  /** The outgoing queue went below the write high-water mark after `send()` returned false. */
  drain: [];
  /**
   * The connection is closed: the peer's close code (1005 if its close frame had none), the code
   * we failed it with (1002, 1007, 1009, 1011...), or 1006 when it ended without a handshake.
   */
  close: [code: number, reason: string];
  /** Why the connection failed; emitted only when listened to, and always followed by 'close'. */
  error: [error: Error];
}

type Listener<K extends keyof WebSocketEvents> = (...args: WebSocketEvents[K]) => void;

type SendCallback = (error?: Error | null) => void;

/**
 * ws's `send` options: `binary` picks the opcode; `compress: false` sends the message without the
 * extension (permessage-deflate); `fin: false` is refused (use `sendStream`); `mask` is ignored
 * (RFC 6455 §5.1 decides it by role).
 */
export interface SendOptions {
  binary?: boolean;
  compress?: boolean;
  fin?: boolean;
  mask?: boolean;
}

/** A streamed message's source for {@link WebSocket.sendStream}. */
export type StreamSource = AsyncIterable<Buffer | Uint8Array | string> | NodeJS.ReadableStream;

/**
 * @internal Where a connection accepted by a server keeps its topics: the server's registry
 * (pubsub/topics.ts). Connections opened with `connect()` have none.
 */
export interface TopicHost {
  subscribe(ws: WebSocket, topic: string): boolean;
  unsubscribe(ws: WebSocket, topic: string): boolean;
  unsubscribeAll(ws: WebSocket): void;
  topicsOf(ws: WebSocket): ReadonlySet<string>;
  droppedFor(ws: WebSocket): number;
}

const kWebSocket = Symbol('wsframe.websocket');

/** A WebSocket's booleans, as bits. */
const enum Flag {
  /** Closed before it was ever opened. */
  ClosedEarly = 1,
  CloseEmitted = 2,
  /** The socket refused more: flush again on its 'drain'. */
  TransportFull = 4,
  FlushQueued = 8,
  /** Inside onData: everything sent meanwhile is flushed once, at its end. */
  Batching = 16,
  /** The socket is paused (mirrors the session's `reading`). */
  NotReading = 32,
  Ended = 64,
  YieldQueued = 128,
  /** send() returned false: emit 'drain' once the queue is below the high-water mark. */
  DrainWanted = 256,
  /** An async iterator is running. */
  Iterating = 512,
  DeliverQueued = 1024,
}

/** State only some connections need. */
interface Rare {
  /** Promises waiting for the queue to drain (sendStream). */
  drainWaiters?: Array<(error?: Error) => void>;
  /** An iterator's pending next(). */
  waiter?: { resolve: (result: IteratorResult<ReceivedMessage>) => void; reject: (error: unknown) => void };
  /** The incoming streamed message being received. */
  stream?: Readable;
  /** The outgoing streamed messages, one after another. */
  streamChain?: Promise<void>;
}
const EMPTY = Buffer.alloc(0);
const NO_TOPICS: ReadonlySet<string> = new Set();

type Owned = ByteStream & { [kWebSocket]?: WebSocket };

// Socket listeners are shared functions that find their connection through the socket, rather
// than closures: five fewer objects per connection.
function socketOnData(this: Owned, chunk: Buffer): void { this[kWebSocket]?.onData(chunk); }
function socketOnEnd(this: Owned): void { this[kWebSocket]?.onEnd(); }
function socketOnClose(this: Owned): void { this[kWebSocket]?.onClose(); }
function socketOnError(this: Owned, error: Error): void { this[kWebSocket]?.onSocketError(error); }
function socketOnDrain(this: Owned): void { this[kWebSocket]?.onDrain(); }

/**
 * Hands an outbox's chunks to a socket. One instance serves every connection: a flush is
 * synchronous, and an object per flush is garbage for each of thousands of connections per tick.
 */
class SocketTarget implements ChunkTarget {
  socket: Owned | undefined = undefined;
  full = false;

  chunk(chunk: Buffer): void {
    if (!(this.socket as Owned).write(chunk)) this.full = true;
  }

  written(callback: WriteCallback): void {
    if (!(this.socket as Owned).write(EMPTY, callback)) this.full = true;
  }
}
const socketTarget = new SocketTarget();
function flushTick(ws: WebSocket): void { ws.flushNow(); }
function resumeInput(ws: WebSocket): void { ws.resumeInputNow(); }

// Typed events over the inherited methods that need nothing more (declarations only: `emit` in
// particular stays EventEmitter's own, without a wrapper on every message). `on`, `addListener`
// and `prependListener` are methods of the class: a new message listener takes held messages.
export interface WebSocket {
  once: EventListenerMethod<WebSocketEvents, this>;
  removeListener: EventListenerMethod<WebSocketEvents, this>;
  off: EventListenerMethod<WebSocketEvents, this>;
  prependOnceListener: EventListenerMethod<WebSocketEvents, this>;
  emit: EventEmitMethod<WebSocketEvents>;
}

/** A message held for an iterator or for listeners to come. */
function received(data: string | Buffer, isBinary: boolean, stream: Readable | undefined): ReceivedMessage {
  return stream === undefined ? { data, isBinary } : { data, isBinary, stream };
}

/**
 * EventEmitter's table of listeners for a connection. Node creates it as `{ __proto__: null }`, an
 * object V8 keeps in dictionary mode (a hash table of about 160 bytes); an instance of a
 * constructor whose prototype has no prototype is an ordinary fast object that inherits nothing
 * either, so an event named `toString` still finds no listener. Node's own EventEmitter used this
 * pattern before; `removeAllListeners()` puts back Node's form, which is just as correct.
 */
function Listeners(this: object): void { /* fields are the event names */ }
Listeners.prototype = Object.create(null) as object;
const ListenersCtor = Listeners as unknown as new () => object;

/**
 * One WebSocket connection, server or client side. Events: see {@link WebSocketEvents}.
 *
 * Received messages wait for a consumer: while nobody listens to `'message'` (or `'stream'`)
 * and no async iterator runs, they are held (up to `maxQueuedMessages`, then the socket stops
 * being read), and handed over as soon as a listener or an iterator appears.
 */
export class WebSocket extends EventEmitter implements SessionHandler, Timed {
  static readonly CONNECTING = ReadyState.CONNECTING;
  static readonly OPEN = ReadyState.OPEN;
  static readonly CLOSING = ReadyState.CLOSING;
  static readonly CLOSED = ReadyState.CLOSED;

  /** The subprotocol the handshake agreed on ('' if none). */
  protocol = '';
  /** The extensions the handshake agreed on ('' if none). */
  extensions = '';

  /** @internal */ heapIndex = -1;
  /** @internal */ heapDeadline = 0;
  /** @internal Set by the server that accepted this connection (publish/subscribe). */
  topicHost: TopicHost | undefined;
  /** @internal The agreed extension's codec, for the topic registry's shared encodings. */
  messageExtension: MessageExtension | undefined;

  // Fields are few on purpose: a server holds one of these per connection. Booleans are bits of
  // `flags`; state only some connections need lives in `rare`, made on first use.
  private readonly config: SessionConfig;
  private socket: Owned | undefined;
  private session: Session | undefined;
  private flags = 0;
  /** The set of open connections a server tracks this one in. */
  private tracker: Set<WebSocket> | undefined;
  private rare: Rare | undefined;
  /**
   * Creates a connection in CONNECTING state; {@link attach} opens it over a byte stream whose
   * opening handshake is done. Servers and `connect()` do both for you.
   *
   * @throws {WebSocketUsageError} on invalid options.
   */
  constructor(role: Role, options?: ConnectionOptions, config?: SessionConfig) {
    super();
    // A listener table in V8's fast mode (see Listeners) instead of EventEmitter's null-prototype
    // literal, which V8 keeps as a hash table: 130 bytes less per connection.
    (this as unknown as { _events: object })._events = new ListenersCtor();
    this.config = config ?? resolveConnectionOptions(options, role);
  }

  /** `'server'` for connections accepted by a server, `'client'` for ones we opened. */
  get role(): Role {
    return this.config.role;
  }

  private has(flag: Flag): boolean {
    return (this.flags & flag) !== 0;
  }

  private set(flag: Flag, on: boolean): void {
    this.flags = on ? this.flags | flag : this.flags & ~flag;
  }

  private get extra(): Rare {
    return this.rare ??= {};
  }

  // --- typed events ------------------------------------------------------------------------------

  override on<K extends keyof WebSocketEvents>(event: K, listener: Listener<K>): this;
  override on<E extends Error>(event: 'error', listener: (error: E) => void): this;
  override on<Name extends string | symbol>(event: OtherEvent<WebSocketEvents, Name>, listener: (...args: unknown[]) => void): this;
  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    super.on(event, listener as (...args: unknown[]) => void);
    if (event === 'message' || event === 'stream') this.scheduleDelivery();
    return this;
  }

  override addListener<K extends keyof WebSocketEvents>(event: K, listener: Listener<K>): this;
  override addListener<E extends Error>(event: 'error', listener: (error: E) => void): this;
  override addListener<Name extends string | symbol>(event: OtherEvent<WebSocketEvents, Name>, listener: (...args: unknown[]) => void): this;
  override addListener(event: string | symbol, listener: (...args: never[]) => void): this {
    return this.on(event, listener as (...args: unknown[]) => void);
  }

  override prependListener<K extends keyof WebSocketEvents>(event: K, listener: Listener<K>): this;
  override prependListener<E extends Error>(event: 'error', listener: (error: E) => void): this;
  override prependListener<Name extends string | symbol>(event: OtherEvent<WebSocketEvents, Name>, listener: (...args: unknown[]) => void): this;
  override prependListener(event: string | symbol, listener: (...args: never[]) => void): this {
    super.prependListener(event, listener as (...args: unknown[]) => void);
    if (event === 'message' || event === 'stream') this.scheduleDelivery();
    return this;
  }

  // --- state -----------------------------------------------------------------------------------

  /** Lifecycle state: {@link ReadyState}. */
  get readyState(): ReadyState {
    return this.session !== undefined ? this.session.readyState : this.has(Flag.ClosedEarly) ? ReadyState.CLOSED : ReadyState.CONNECTING;
  }

  /** Bytes queued for sending that the socket has not yet written (like the browser's). */
  get bufferedAmount(): number {
    return this.session === undefined ? 0 : this.session.bufferedAmount;
  }

  /** @internal A server tracks this connection in `set` until it closes. */
  track(set: Set<WebSocket>): void {
    this.tracker = set;
    set.add(this);
  }

  /** @internal Bytes the socket holds. */
  backlog(): number {
    return this.socket?.writableLength ?? 0;
  }

  /**
   * Opens the connection over `socket`, feeding `head` (bytes that arrived with the handshake,
   * Node's `'upgrade'` event hands them over) to the session first.
   *
   * @throws {WebSocketUsageError} unless CONNECTING.
   */
  attach(socket: ByteStream, head?: Buffer, info: ConnectionInfo = {}): void {
    if (this.has(Flag.ClosedEarly) || this.session !== undefined) {
      throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'attach() needs a CONNECTING WebSocket');
    }
    const owned = socket as Owned;
    this.socket = owned;
    this.protocol = info.protocol ?? '';
    this.extensions = info.extensions ?? '';
    this.session = new Session(this.config, this, info.extension);
    this.messageExtension = info.extension;
    owned[kWebSocket] = this;
    // Small frames go out at once: Nagle's delay would stall request/response traffic.
    owned.setNoDelay?.(true);
    owned.on('data', socketOnData);
    owned.on('end', socketOnEnd);
    owned.on('close', socketOnClose);
    owned.on('error', socketOnError);
    this.schedule();
    this.emit('open');
    if (head !== undefined && head.length > 0) {
      // Hand the head over once the application has had its chance to add listeners (the
      // 'connection' handler, the code after `await connect()`); the socket waits meanwhile so
      // the head stays first.
      owned.pause();
      setImmediate(() => {
        owned.resume();
        this.onData(head);
      });
    }
  }

  // --- sending ---------------------------------------------------------------------------------

  /**
   * Sends a message: a string as text, a Buffer/Uint8Array as binary, unless `isBinary` (or ws's
   * `{ binary }`) says otherwise. Returns false once the outgoing queue is at the write high-water
   * mark: wait for `'drain'`. In CLOSING or CLOSED state nothing is sent: it returns false and
   * `callback` gets the error. `callback` runs once the message is written to the socket.
   *
   * @throws {WebSocketUsageError} while CONNECTING, for a payload of the wrong type, or for an
   *   options argument that is neither a boolean, a callback nor ws's options object.
   */
  send(data: string | Buffer | Uint8Array, callback?: SendCallback): boolean;
  send(data: string | Buffer | Uint8Array, isBinary: boolean, callback?: SendCallback): boolean;
  send(data: string | Buffer | Uint8Array, options: SendOptions, callback?: SendCallback): boolean;
  send(data: string | Buffer | Uint8Array, second?: boolean | SendOptions | SendCallback, third?: SendCallback): boolean {
    let callback = third;
    let isBinary = typeof data !== 'string';
    let compress = true;
    if (typeof second === 'function') {
      callback = second;
    } else if (typeof second === 'boolean') {
      isBinary = second;
    } else if (second !== undefined) {
      if (second === null || typeof second !== 'object') {
        throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'send() takes isBinary, ws-style options or a callback');
      }
      if (second.binary !== undefined) isBinary = second.binary === true;
      if (second.compress === false) compress = false;
      if (second.fin === false) {
        throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'fin: false is not supported: use sendStream() for a message in parts');
      }
    }
    if (callback !== undefined && typeof callback !== 'function') {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'the callback must be a function');
    }
    const session = this.openSession(callback);
    if (session === undefined) return false;
    if (!session.send(data, isBinary, callback, compress)) {
      this.sync();
      return false;
    }
    this.queueFlush();
    return this.belowHighWaterMark();
  }

  /**
   * Sends a ping (payload at most 125 bytes).
   * @throws {WebSocketUsageError} while CONNECTING, for a payload over 125 bytes, or for a callback
   *   that is not a function (ws's `ping(data, mask, cb)`: there is no mask argument here).
   */
  ping(data?: string | Buffer | Uint8Array, callback?: SendCallback): boolean {
    return this.control('ping', data, callback);
  }

  /**
   * Sends an unsolicited pong (a one-way heartbeat, RFC 6455 §5.5.3).
   * @throws {WebSocketUsageError} while CONNECTING, for a payload over 125 bytes, or for a callback
   *   that is not a function.
   */
  pong(data?: string | Buffer | Uint8Array, callback?: SendCallback): boolean {
    return this.control('pong', data, callback);
  }

  /**
   * Sends one message from a stream of chunks, fragment by fragment as they come, waiting for the
   * socket whenever the queue is full: a 4 GiB file goes out in constant memory. `isBinary`
   * defaults to the type of the first chunk (a string means text). Messages `send()` is given
   * meanwhile follow this one; control frames (pings, a close) may go out between its fragments.
   * Resolves once the whole message is written; rejects if the connection closes first, or with
   * the source's error (the connection is then failed with 1011: the peer cannot be told that a
   * message was abandoned halfway). Several calls send their messages one after another.
   *
   * @throws {WebSocketUsageError} (rejects) while not OPEN, or for a chunk that is not a string or
   *   bytes, or text that is not valid UTF-8.
   */
  sendStream(source: StreamSource, isBinary?: boolean): Promise<void> {
    try {
      // Its place in the outgoing order is taken now: send() calls made after this one follow it.
      this.streamSession().reserveStream();
    } catch (error) {
      return Promise.reject(error);
    }
    const previous = this.extra.streamChain ?? Promise.resolve();
    const run = previous.then(() => this.streamMessage(source, isBinary));
    // The chain goes on after a failed stream; the caller still sees its own failure.
    this.extra.streamChain = run.catch(() => undefined);
    return run;
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2): sends a close frame, then waits up to
   * `closeTimeout` for the peer's. Without a code the close frame is empty (the peer sees 1005).
   * Closing a CONNECTING connection aborts it; closing twice does nothing.
   *
   * @throws {WebSocketUsageError} for a code that may not be sent (1000, 3000-4999 and the
   *   registered 1001-1014 except 1004-1006 are allowed) or a reason over 123 bytes.
   */
  close(code?: number, reason?: string): void {
    const session = this.session;
    if (session === undefined) {
      encodeClosePayload(code, reason); // the arguments are checked in every state
      this.closeEarly();
      return;
    }
    session.close(code, reason);
    this.sync();
  }

  /** Ends a connection that never opened: reported once, as closed (1006). */
  private closeEarly(): void {
    if (this.has(Flag.ClosedEarly)) return;
    this.set(Flag.ClosedEarly, true);
    this.finish();
  }

  /** Drops the connection at once, without a closing handshake (the close event says 1006). */
  terminate(): void {
    if (this.session === undefined) {
      this.closeEarly();
      return;
    }
    this.session.terminate();
    this.sync();
  }

  /**
   * Stops reading from the socket: the peer feels TCP backpressure. Use it when you cannot keep
   * up, e.g. when `send` returned false, and call {@link resume} on `'drain'`.
   */
  pause(): void {
    this.session?.pause();
    this.sync();
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    this.session?.resume();
    this.sync();
  }

  // --- topics (publish/subscribe, pubsub/topics.ts) ---------------------------------------------

  /**
   * Subscribes this connection to `topic`: the server's `publish(topic, ...)`, from this process
   * or, through its broker, any other, reaches it while it is OPEN. Returns false when it already
   * was subscribed, or is CLOSED. A connection leaves all its topics when it closes.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` on a connection not accepted by a
   *   WebSocketServer; `WS_ERR_INVALID_ARGUMENT` when `topic` is not a string.
   */
  subscribe(topic: string): boolean {
    const host = this.requireTopicHost();
    if (this.readyState === ReadyState.CLOSED) return false;
    return host.subscribe(this, topic);
  }

  /**
   * Unsubscribes this connection from `topic`; returns false when it was not subscribed.
   * Messages already queued for it still go out.
   * @throws {WebSocketUsageError} as {@link subscribe}.
   */
  unsubscribe(topic: string): boolean {
    return this.requireTopicHost().unsubscribe(this, topic);
  }

  /** The topics this connection is subscribed to (a read-only view; empty once closed). */
  get topics(): ReadonlySet<string> {
    return this.topicHost === undefined ? NO_TOPICS : this.topicHost.topicsOf(this);
  }

  /** Published messages skipped for this connection because it read too slowly (`slowSubscriber: 'drop'`). */
  get droppedMessages(): number {
    return this.topicHost === undefined ? 0 : this.topicHost.droppedFor(this);
  }

  /** @internal The session while OPEN: what the topic registry queues published messages on. */
  publishSession(): Session | undefined {
    const session = this.session;
    return session !== undefined && session.readyState === ReadyState.OPEN ? session : undefined;
  }

  /**
   * @internal Output was queued on the session outside a read: true when the caller is to flush
   * it at the end of the tick (send() through queueFlush; the topic registry calls
   * {@link flushNow} for all its subscribers at once), false when a flush is already due.
   */
  publishQueued(): boolean {
    if (this.has(Flag.Batching) || this.has(Flag.FlushQueued)) return false;
    this.set(Flag.FlushQueued, true);
    return true;
  }

  private requireTopicHost(): TopicHost {
    if (this.topicHost === undefined) {
      throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'only connections accepted by a WebSocketServer have topics');
    }
    return this.topicHost;
  }

  // --- async iteration -------------------------------------------------------------------------

  /**
   * Async iteration over incoming messages, from the moment the connection opened: messages that
   * arrived before the loop started are held for it (up to `maxQueuedMessages`, then the socket
   * stops being read). The loop ends quietly on a close with 1000, 1001 or 1005, and throws a
   * `ConnectionClosedError` (`closeCode`, `reason`, `cause`) on any other. With `streamMessages`
   * each item carries the message's `stream`.
   *
   * `break` (or `return`) ends the loop and leaves the connection open, as python-websockets
   * does: messages keep being held, and a later loop picks up where this one stopped. Call
   * `close()` to end the connection.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<ReceivedMessage> {
    this.set(Flag.Iterating, true);
    const iterator: AsyncIterableIterator<ReceivedMessage> = {
      next: () => this.next(),
      return: () => {
        this.set(Flag.Iterating, false);
        const waiter = this.rare?.waiter;
        if (waiter !== undefined) this.extra.waiter = undefined;
        waiter?.resolve({ value: undefined, done: true });
        this.scheduleDelivery();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  // --- socket events (called through the shared listeners) --------------------------------------

  /** @internal */
  onData(chunk: Buffer): void {
    const session = this.session as Session;
    // Replies produced while this read is handled (pongs, echoes) leave in one write.
    this.set(Flag.Batching, true);
    session.receive(chunk);
    this.set(Flag.Batching, false);
    this.sync();
  }

  /** @internal */
  onEnd(): void {
    this.session?.receiveEnd();
    this.sync();
  }

  /** @internal */
  onSocketError(error: Error): void {
    // Reset by peer and the like: reported, then the socket's 'close' finishes the job.
    this.session?.transportError(error);
  }

  /** @internal */
  onDrain(): void {
    this.set(Flag.TransportFull, false);
    this.sync();
  }

  /** @internal */
  onClose(): void {
    const session = this.session as Session;
    session.transportClosed();
    // Bytes still waiting in the session (an extension at work) are delivered first; the session
    // closes once they are, and sync() finishes then.
    this.sync();
  }

  /** @internal Scheduler callback. */
  onDeadline(now: number): void {
    this.session?.tick(now);
    this.sync();
  }

  /** @internal */
  flushNow(): void {
    this.set(Flag.FlushQueued, false);
    this.sync();
  }

  /** @internal */
  resumeInputNow(): void {
    this.set(Flag.YieldQueued, false);
    this.session?.resumeInput();
    this.sync();
  }

  // --- session events (SessionHandler) ---------------------------------------------------------

  /** @internal */
  onMessage(data: string | Buffer, isBinary: boolean): void {
    this.deliver('message', data, isBinary);
  }

  /** @internal */
  onStreamStart(isBinary: boolean): void {
    const stream: Readable = new Readable({
      // The Readable's own string decoder joins characters split across pushes; the bytes are
      // already validated, so it never substitutes U+FFFD. It keeps a BOM, as it should.
      encoding: isBinary ? undefined : 'utf8',
      read: () => {
        if (stream === this.rare?.stream) {
          this.session?.streamDrained();
          this.sync();
        }
      },
    });
    this.extra.stream = stream;
    this.deliver('stream', isBinary ? EMPTY : '', isBinary, stream);
  }

  /** @internal */
  onStreamData(bytes: Buffer): void {
    const stream = this.extra.stream as Readable;
    // A reader that destroyed the stream wants no more of it; the rest is validated and dropped.
    if (!stream.destroyed && !stream.push(bytes)) this.session?.streamFull();
  }

  /** @internal */
  onStreamEnd(): void {
    const stream = this.extra.stream as Readable;
    this.extra.stream = undefined;
    if (!stream.destroyed) stream.push(null);
    this.session?.streamDrained();
  }

  /** @internal */
  onPing(data: Buffer): void {
    this.emit('ping', data);
  }

  /** @internal */
  onPong(data: Buffer): void {
    this.emit('pong', data);
  }

  /** @internal */
  onError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** @internal */
  wake(): void {
    this.sync();
  }

  // --- internals -------------------------------------------------------------------------------

  /**
   * Applies the session's outputs: writes what it queued, closes or destroys the transport, pauses
   * or resumes reading, and schedules its next deadline.
   */
  private sync(): void {
    const session = this.session;
    const socket = this.socket;
    if (session === undefined || socket === undefined || this.has(Flag.CloseEmitted)) return;
    if (session.readyState === ReadyState.CLOSED) {
      sharedScheduler.cancel(this);
      this.finish();
      return;
    }
    if (socket.destroyed === true) {
      // Gone, but the session still delivers what arrived before: only its input matters now.
      this.queueYield(session);
      return;
    }
    const action = session.transport;
    if (action === TransportAction.Destroy) {
      socket.destroy();
      return;
    }
    if (!this.has(Flag.TransportFull) && session.outbox.ready && !this.has(Flag.Ended)) this.flush(session, socket);
    if (action === TransportAction.End && !this.has(Flag.Ended) && session.outbox.bytes === 0) {
      this.set(Flag.Ended, true);
      socket.end();
    }
    const reading = session.reading;
    if (reading === this.has(Flag.NotReading)) {
      this.set(Flag.NotReading, !reading);
      if (reading) socket.resume();
      else socket.pause();
    }
    this.queueYield(session);
    this.schedule();
    if (this.has(Flag.DrainWanted) || this.rare?.drainWaiters !== undefined) this.checkDrain(session);
  }

  /** A session that used up its time slice reads on in the next turn of the event loop. */
  private queueYield(session: Session): void {
    if (session.yielding && !this.has(Flag.YieldQueued)) {
      this.set(Flag.YieldQueued, true);
      setImmediate(resumeInput, this);
    }
  }

  private flush(session: Session, socket: Owned): void {
    // Several chunks leave in one gathered write; a single one needs no cork.
    const corked = socket.cork !== undefined && !session.outbox.single;
    if (corked) socket.cork?.();
    const target = socketTarget;
    const outer = target.socket;
    const outerFull = target.full;
    target.socket = socket;
    target.full = false;
    try {
      session.outbox.flushTo(target);
    } finally {
      // A write that re-entered another connection's flush finds its own state restored.
      target.socket = outer;
    }
    const full = target.full;
    target.full = outerFull;
    if (corked) socket.uncork?.();
    this.set(Flag.TransportFull, full);
    // The socket's 'drain' is listened to only while it is full: one listener fewer per connection.
    if (full) socket.once('drain', socketOnDrain);
    session.flushed(full);
  }

  private queueFlush(): void {
    // Everything sent in this tick leaves in one write: one syscall for a burst of small messages.
    if (this.publishQueued()) process.nextTick(flushTick, this);
  }

  private belowHighWaterMark(): boolean {
    if (this.bufferedAmount < this.config.writeHighWaterMark) return true;
    this.set(Flag.DrainWanted, true);
    return false;
  }

  private checkDrain(session: Session): void {
    if (session.bufferedAmount >= this.config.writeHighWaterMark) return;
    const waiters = this.rare?.drainWaiters;
    if (waiters !== undefined) {
      this.extra.drainWaiters = undefined;
      for (const waiter of waiters) waiter();
    }
    if (this.has(Flag.DrainWanted)) {
      this.set(Flag.DrainWanted, false);
      process.nextTick(() => { if (!this.has(Flag.CloseEmitted)) this.emit('drain'); });
    }
  }

  private schedule(): void {
    if (this.session !== undefined) sharedScheduler.schedule(this, this.session.deadline);
  }

  /** The session, when sending is allowed; otherwise reports why (or throws while CONNECTING). */
  private openSession(callback: WriteCallback | undefined): Session | undefined {
    const session = this.session;
    if (session === undefined && !this.has(Flag.ClosedEarly)) {
      throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the connection is not open yet');
    }
    if (session !== undefined && session.readyState === ReadyState.OPEN) return session;
    if (callback !== undefined) {
      process.nextTick(callback, new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the connection is closing or closed'));
    }
    return undefined;
  }

  private control(type: 'ping' | 'pong', data: string | Buffer | Uint8Array | undefined, callback: SendCallback | undefined): boolean {
    // Checked here: a non-function (ws's boolean mask argument) would otherwise fail the write later.
    if (callback !== undefined && typeof callback !== 'function') {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `the ${type} callback must be a function (there is no mask argument)`);
    }
    const session = this.openSession(callback);
    if (session === undefined) return false;
    session.control(type, data, callback);
    this.queueFlush();
    return this.belowHighWaterMark();
  }

  private async streamMessage(source: StreamSource, isBinary: boolean | undefined): Promise<void> {
    if (source === null || typeof source !== 'object' || typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'sendStream() needs a Readable or an async iterable');
    }
    let started = false;
    try {
      for await (const chunk of source as AsyncIterable<unknown>) {
        const session = this.streamSession();
        if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
          throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'a streamed chunk must be a string, Buffer or Uint8Array');
        }
        if (!started) {
          session.sendStreamStart(isBinary ?? typeof chunk !== 'string');
          started = true;
        }
        session.sendStreamChunk(chunk);
        this.queueFlush();
        if (session.bufferedAmount >= this.config.writeHighWaterMark) await this.drained();
      }
      const session = this.streamSession();
      if (!started) session.sendStreamStart(isBinary ?? true);
      await new Promise<void>((resolve, reject) => {
        session.sendStreamEnd((error) => { if (error) reject(error); else resolve(); });
        this.queueFlush();
      });
    } catch (error) {
      // A source that failed (or a chunk we refused) leaves the message unfinishable; one that
      // failed before its first chunk only gives its turn up.
      if (started && this.session?.sendingStream === true) {
        this.session.sendStreamAbort(error instanceof Error ? error : new Error(String(error)));
      } else if (!started) {
        this.session?.releaseStream();
      }
      this.sync();
      throw error;
    }
  }

  private streamSession(): Session {
    const session = this.session;
    if (session === undefined || session.readyState !== ReadyState.OPEN) {
      throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the connection is not open');
    }
    return session;
  }

  /** Resolves once the outgoing queue is below the high-water mark; rejects if the connection closes. */
  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      (this.extra.drainWaiters ??= []).push((error) => { if (error) reject(error); else resolve(); });
    });
  }

  /** Hands a received message to the consumer: the iterator, listeners, or the held queue. */
  /**
   * Hands a message to its listeners, or holds it (in order) for an iterator or for listeners to
   * come. The common case, a listener and nothing held, allocates nothing.
   */
  private deliver(event: 'message' | 'stream', data: string | Buffer, isBinary: boolean, stream?: Readable): void {
    const session = this.session as Session;
    const listening = this.listenerCount(event) > 0;
    if (this.has(Flag.Iterating)) {
      const message = received(data, isBinary, stream);
      const waiter = this.rare?.waiter;
      if (waiter !== undefined && session.inbox.length === 0) {
        this.extra.waiter = undefined;
        waiter.resolve({ value: message, done: false });
      } else {
        session.inbox.push(message);
      }
    } else if (!listening || session.inbox.length > 0) {
      // Nobody takes it yet (or older messages wait): hold it, in order.
      session.inbox.push(received(data, isBinary, stream));
      if (listening) this.scheduleDelivery();
      return;
    }
    if (!listening) return;
    if (event === 'stream') this.emit('stream', stream as Readable, isBinary);
    else this.emit('message', data, isBinary);
  }

  private emitMessage(message: ReceivedMessage, event: 'message' | 'stream'): void {
    if (event === 'stream') this.emit('stream', message.stream as Readable, message.isBinary);
    else this.emit('message', message.data, message.isBinary);
  }

  /** Held messages go to listeners that appeared (on the next tick, once they are attached). */
  private scheduleDelivery(): void {
    if (this.has(Flag.DeliverQueued) || this.has(Flag.Iterating) || this.session === undefined || this.session.inbox.length === 0) return;
    this.set(Flag.DeliverQueued, true);
    process.nextTick(() => {
      this.set(Flag.DeliverQueued, false);
      const session = this.session as Session;
      while (!this.has(Flag.Iterating) && session.inbox.length > 0) {
        const event = this.config.streamMessages ? 'stream' : 'message';
        if (this.listenerCount(event) === 0) break;
        this.emitMessage(session.inbox.shift() as ReceivedMessage, event);
      }
      this.sync();
    });
  }

  private next(): Promise<IteratorResult<ReceivedMessage>> {
    const session = this.session;
    const held = session?.inbox.shift() as ReceivedMessage | undefined;
    if (held !== undefined) {
      this.sync();
      return Promise.resolve({ value: held, done: false });
    }
    if (this.readyState === ReadyState.CLOSED) return this.endOfMessages();
    if (this.rare?.waiter !== undefined) return Promise.reject(new WebSocketUsageError('WS_ERR_INVALID_STATE', 'next() called before the previous one settled'));
    return new Promise((resolve, reject) => { this.extra.waiter = { resolve, reject }; });
  }

  private endOfMessages(): Promise<IteratorResult<ReceivedMessage>> {
    const error = this.closedError();
    return error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(error);
  }

  /** How the iterator ends: quietly for 1000, 1001 and 1005, with an error for any other code. */
  private closedError(): ConnectionClosedError | undefined {
    const session = this.session;
    const code = session === undefined ? 1006 : session.closeCode;
    if (isNormalClose(code)) return undefined;
    return new ConnectionClosedError(code, session?.closeReason ?? '', session?.error);
  }

  private finish(): void {
    if (this.has(Flag.CloseEmitted)) return;
    this.set(Flag.CloseEmitted, true);
    this.tracker?.delete(this);
    const session = this.session;
    const socket = this.socket;
    if (socket !== undefined) socket[kWebSocket] = undefined;
    // Its topics forget it before 'close' listeners run (they see `topics` empty).
    this.topicHost?.unsubscribeAll(this);
    const rare = this.rare;
    const stream = rare?.stream;
    if (rare !== undefined) rare.stream = undefined;
    // An unfinished message's stream never looks complete: it is destroyed, with the error for a
    // reader that listens for one (an unlistened 'error' would throw: the peer could crash us).
    if (stream !== undefined && !stream.destroyed) {
      stream.destroy(stream.listenerCount('error') > 0 ? session?.error ?? new ConnectionClosedError(1006, '') : undefined);
    }
    const waiters = rare?.drainWaiters;
    if (waiters !== undefined) {
      (rare as Rare).drainWaiters = undefined;
      const error = new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the connection closed');
      for (const waiter of waiters) waiter(error);
    }
    const waiter = rare?.waiter;
    if (waiter !== undefined) {
      (rare as Rare).waiter = undefined;
      const error = this.closedError();
      if (error === undefined) waiter.resolve({ value: undefined, done: true });
      else waiter.reject(error);
    }
    this.emit('close', session?.closeCode ?? 1006, session?.closeReason ?? '');
  }
}
