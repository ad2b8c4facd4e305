/**
 * A WebSocket over any Duplex byte stream (a TCP or TLS socket after the opening handshake, an
 * IPC pipe, an in-memory pair). It composes the frame and message Transforms, answers pings,
 * runs the closing handshake (RFC 6455 §7) and tracks the lifecycle
 * CONNECTING -> OPEN -> CLOSING -> CLOSED, checked at every public call.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'readable-stream';
import {
  CloseCode, DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_BUFFERED_AMOUNT, DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_QUEUED_MESSAGES, Opcode,
} from './constants';
import { ERRORS, WebSocketProtocolError, WebSocketUsageError } from './errors';
import { FrameDecoder, type Role } from './decoder';
import { checkDeflateOptions, type DeflateOptions, type PerMessageDeflate } from './deflate';
import { type ChunkSink, emitFrame } from './encoder';
import type { FrameInput } from './frame';
import { type MaskSource, type MaskSourceLike, toMaskSource } from './mask';
import { encodeClosePayload, fragmentMessage, type Message, MessageDecoder } from './message';

/** Lifecycle states, numbered as in the browser's WebSocket.readyState. */
export enum ReadyState {
  CONNECTING = 0,
  OPEN = 1,
  CLOSING = 2,
  CLOSED = 3,
}

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
  readonly writableHighWaterMark?: number;
  readonly destroyed?: boolean;
}

export interface ConnectionOptions {
  /** Largest frame payload accepted (1009 above it). Default 64 MiB. */
  maxPayload?: number;
  /** Largest reassembled message (1009 above it). Default 64 MiB. */
  maxMessageSize?: number;
  /** Largest number of frames in one message. Default 1 Mi. */
  maxFragments?: number;
  /** Outgoing data messages longer than this many bytes are split into frames. Default: no split. */
  fragmentSize?: number;
  /** Milliseconds to wait for the peer's close frame and TCP close before dropping. Default 5000. */
  closeTimeout?: number;
  /**
   * Send a ping every this many milliseconds; a peer that sent nothing (not even a pong) during a
   * whole interval is dropped with 1006. Default 0 (off).
   */
  heartbeatInterval?: number;
  /** Client role only: where masking keys come from (see FrameEncoderOptions). Default: the shared CSPRNG pool. */
  maskSource?: MaskSourceLike;
  /** ws's hook for the same purpose: fills the 4-byte buffer it is given with the next key. */
  generateMask?: (mask: Buffer) => void;
  /**
   * Deliver data messages as Readables while they arrive ('stream' event) instead of whole
   * ('message' event): a multi-gigabyte upload never sits in memory. Default false.
   */
  streamMessages?: boolean;
  /**
   * Messages held for an async iterator that is not keeping up before the socket is paused (so
   * the peer sees TCP backpressure). Default 64.
   */
  maxQueuedMessages?: number;
  /**
   * Bytes queued for a peer that does not read before the connection is failed with 1008
   * (`WS_ERR_SLOW_CONSUMER`). `send()` returning false is the signal to slow down; this is the
   * backstop for code that ignores it. Default 64 MiB.
   */
  maxBufferedAmount?: number;
  /**
   * permessage-deflate (RFC 7692): servers accept it and clients offer it with these options
   * (`true`: the defaults). Default false: compression costs CPU and memory per connection, and
   * compressing secrets next to attacker-chosen data leaks them (CRIME/BREACH), so it is opt-in.
   */
  perMessageDeflate?: boolean | DeflateOptions;
}

/** Values describing the negotiated connection. */
export interface ConnectionInfo {
  protocol?: string;
  extensions?: string;
  /** The permessage-deflate codec, when the handshake agreed to it. */
  deflate?: PerMessageDeflate;
}

/** The permessage-deflate options in effect, or undefined when it is off. */
export function deflateOptionsOf(options: ConnectionOptions): DeflateOptions | undefined {
  const value = options.perMessageDeflate;
  if (value === undefined || value === false) return undefined;
  return value === true ? {} : value;
}


function checkedNumber(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `${name} must be a non-negative number`);
  }
  return value;
}

type SendCallback = (error?: Error | null) => void;

/** A message as the async iterator yields it. */
export interface ReceivedMessage {
  data: string | Buffer;
  isBinary: boolean;
}

/**
 * One WebSocket connection. Events:
 * - `'open'` ()
 * - `'message'` (data: string | Buffer, isBinary: boolean) — text arrives as a string
 * - `'stream'` (stream: Readable, isBinary: boolean) — with `streamMessages`
 * - `'ping'` / `'pong'` (data: Buffer) — pings are answered automatically
 * - `'close'` (code: number, reason: string) — the peer's close code, 1005 if its close frame had
 *   none (RFC 6455 §7.1.5); when we failed the connection, the code we sent (1002, 1007, 1009,
 *   1011...); 1006 if it ended without a closing handshake
 * - `'error'` (err) — emitted only when a listener is attached, so a misbehaving peer can never
 *   crash the process; `'close'` always follows.
 * - `'drain'` () — the outgoing buffer emptied after `send` returned false.
 */
export class WebSocket extends EventEmitter {
  static readonly CONNECTING = ReadyState.CONNECTING;
  static readonly OPEN = ReadyState.OPEN;
  static readonly CLOSING = ReadyState.CLOSING;
  static readonly CLOSED = ReadyState.CLOSED;

  /** `'server'` for connections accepted by a server, `'client'` for ones we opened. */
  readonly role: Role;
  /** The subprotocol the handshake agreed on ('' if none). */
  protocol = '';
  /** The extensions the handshake agreed on ('' if none). */
  extensions = '';
  private state = ReadyState.CONNECTING;

  private socket: ByteStream | undefined;
  private readonly frameDecoder: FrameDecoder;
  private readonly messageDecoder: MessageDecoder;
  private readonly maskSource: MaskSource | undefined;
  private readonly fragmentSize: number;
  private readonly closeTimeout: number;
  private readonly heartbeatInterval: number;
  private readonly maxQueued: number;
  private readonly maxBuffered: number;
  private readonly sink: ChunkSink;
  /** Set by attach() when the handshake agreed to permessage-deflate. */
  private deflate: PerMessageDeflate | undefined;

  /** Our close frame went out. */
  private closeSent = false;
  /** The peer's close frame, once it arrived. */
  private closeReceived: { code: number; reason: string } | undefined;
  /** No more input is processed (close received, or the connection failed). */
  private inputDone = false;
  private corked = false;
  private closeTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heard = true;
  private failure: unknown;
  /** The close code {@link fail} chose; 1006 until then. */
  private failCode: number = CloseCode.Abnormal;
  private queue: ReceivedMessage[] | undefined;
  private waiter: { resolve: (r: IteratorResult<ReceivedMessage>) => void; reject: (e: unknown) => void } | undefined;
  private pausedForQueue = false;
  private userPaused = false;
  /** Reading stopped until the socket drains the automatic replies (pongs) queued in it. */
  private pausedForReplies = false;

  /**
   * Creates a connection in CONNECTING state; {@link attach} opens it over a byte stream whose
   * opening handshake is done. Servers and `connect()` do both for you.
   *
   * @throws {WebSocketUsageError} on invalid options.
   */
  constructor(role: Role, options: ConnectionOptions = {}) {
    super();
    if (role !== 'server' && role !== 'client') {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `role must be 'server' or 'client'`);
    }
    this.role = role;
    this.maskSource = role === 'client' ? toMaskSource(options.maskSource, options.generateMask) : undefined;
    this.fragmentSize = checkedNumber('fragmentSize', options.fragmentSize, Infinity);
    if (this.fragmentSize === 0) throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'fragmentSize must be positive');
    this.closeTimeout = checkedNumber('closeTimeout', options.closeTimeout, DEFAULT_CLOSE_TIMEOUT);
    this.heartbeatInterval = checkedNumber('heartbeatInterval', options.heartbeatInterval, 0);
    this.maxQueued = checkedNumber('maxQueuedMessages', options.maxQueuedMessages, DEFAULT_MAX_QUEUED_MESSAGES);
    this.maxBuffered = checkedNumber('maxBufferedAmount', options.maxBufferedAmount, DEFAULT_MAX_BUFFERED_AMOUNT);
    const deflateOptions = deflateOptionsOf(options);
    if (deflateOptions !== undefined) checkDeflateOptions(deflateOptions);
    this.frameDecoder = new FrameDecoder({
      role,
      // RSV1 belongs to permessage-deflate when it may be agreed; the message layer then checks
      // that it was, and that RSV1 sits on the first frame of a data message only (RFC 7692 §6.1).
      allowRsv1: deflateOptions !== undefined,
      maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      // Every frame passes as pieces of what each read brought: a frame inside one read is one
      // piece (still a zero-copy view), a frame spanning reads reaches the UTF-8 check piece by
      // piece (invalid text fails before the rest arrives) and is copied once, straight into the
      // message, instead of into a frame buffer first.
      streamingThreshold: 0,
    });
    this.messageDecoder = new MessageDecoder({
      maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      maxFragments: options.maxFragments ?? DEFAULT_MAX_FRAGMENTS,
      streaming: options.streamMessages === true,
    });
    this.sink = { push: (chunk: Buffer) => this.socket?.write(chunk) };
    this.frameDecoder.pipe(this.messageDecoder);
    this.frameDecoder.on('error', (err: unknown) => { this.fail(err); });
    this.messageDecoder.on('error', (err: unknown) => { this.fail(err); });
    this.messageDecoder.on('data', (message: Message) => { this.onMessage(message); });
  }

  /** Lifecycle state: {@link ReadyState}. */
  get readyState(): ReadyState {
    return this.state;
  }

  /** Bytes queued for sending that the socket has not yet taken (like the browser's). */
  get bufferedAmount(): number {
    return this.socket?.writableLength ?? 0;
  }

  /**
   * Opens the connection over `socket`, feeding `head` (bytes that arrived with the handshake,
   * Node's `'upgrade'` event hands them over) to the decoder first.
   *
   * @throws {WebSocketUsageError} unless CONNECTING.
   */
  attach(socket: ByteStream, head?: Buffer, info: ConnectionInfo = {}): void {
    if (this.state !== ReadyState.CONNECTING || this.socket !== undefined) {
      throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'attach() needs a CONNECTING WebSocket');
    }
    this.socket = socket;
    this.protocol = info.protocol ?? '';
    this.extensions = info.extensions ?? '';
    this.deflate = info.deflate;
    this.messageDecoder.parser.useDeflate(info.deflate);
    this.state = ReadyState.OPEN;
    // Small frames go out at once: Nagle's delay would stall request/response traffic.
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => { this.onData(chunk); });
    socket.on('end', () => { this.onEnd(); });
    socket.on('close', () => { this.onSocketClose(); });
    socket.on('error', (err: Error) => { this.onSocketError(err); });
    socket.on('drain', () => { this.emit('drain'); });
    this.frameDecoder.on('drain', () => { if (this.mayRead()) socket.resume(); });
    if (this.heartbeatInterval > 0) {
      this.heartbeatTimer = setInterval(() => { this.beat(); }, this.heartbeatInterval);
      this.heartbeatTimer.unref();
    }
    this.emit('open');
    if (head !== undefined && head.length > 0) {
      // Hand the head over once the application has had its chance to add listeners (the
      // 'connection' handler, the code after `await connect()`); the socket waits meanwhile so
      // the head stays first.
      socket.pause();
      setImmediate(() => {
        if (this.onData(head) && this.mayRead()) socket.resume();
      });
    }
  }

  /**
   * Sends a message: a string as text, a Buffer/Uint8Array as binary (or pass `isBinary`).
   * Returns false when the socket's buffer is above its high-water mark: wait for `'drain'`.
   * In CLOSING or CLOSED state nothing is sent: returns false and `callback` gets the error.
   *
   * @throws {WebSocketUsageError} while CONNECTING, or for a payload of the wrong type.
   */
  send(data: string | Buffer | Uint8Array, callback?: SendCallback): boolean;
  send(data: string | Buffer | Uint8Array, isBinary: boolean, callback?: SendCallback): boolean;
  send(data: string | Buffer | Uint8Array, binaryOrCallback?: boolean | SendCallback, maybeCallback?: SendCallback): boolean {
    const callback = typeof binaryOrCallback === 'function' ? binaryOrCallback : maybeCallback;
    const isBinary = typeof binaryOrCallback === 'boolean' ? binaryOrCallback : typeof data !== 'string';
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'data must be a string, Buffer or Uint8Array');
    }
    if (!this.writable(callback)) return false;
    if (isBinary && typeof data === 'string') data = Buffer.from(data);
    const opcode = isBinary ? Opcode.Binary : Opcode.Text;
    let length = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    // RFC 7692 §6.1: a compressed message carries RSV1 on its first frame only.
    let rsv1 = false;
    if (this.deflate !== undefined && this.deflate.shouldCompress(length)) {
      data = this.deflate.deflate(data);
      length = data.byteLength;
      rsv1 = true;
    }
    if (length <= this.fragmentSize) {
      this.writeFrame({ opcode, payload: data, fin: true, rsv1 });
    } else {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      const frames = fragmentMessage({ type: 'binary', data: bytes }, this.fragmentSize);
      frames[0].opcode = opcode;
      frames[0].rsv1 = rsv1;
      for (const frame of frames) this.writeFrame(frame);
    }
    return this.flushed(callback);
  }

  /**
   * Sends a ping (payload at most 125 bytes).
   * @throws {WebSocketUsageError} while CONNECTING or for a payload over 125 bytes.
   */
  ping(data: string | Buffer | Uint8Array = EMPTY, callback?: SendCallback): boolean {
    if (!this.writable(callback)) return false;
    this.writeFrame({ opcode: Opcode.Ping, payload: data });
    return this.flushed(callback);
  }

  /**
   * Sends an unsolicited pong (a one-way heartbeat, RFC 6455 §5.5.3).
   * @throws {WebSocketUsageError} while CONNECTING or for a payload over 125 bytes.
   */
  pong(data: string | Buffer | Uint8Array = EMPTY, callback?: SendCallback): boolean {
    if (!this.writable(callback)) return false;
    this.writeFrame({ opcode: Opcode.Pong, payload: data });
    return this.flushed(callback);
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
    const payload = encodeClosePayload(code, reason);
    switch (this.state) {
      case ReadyState.CONNECTING:
        this.state = ReadyState.CLOSED;
        this.socket?.destroy();
        this.finish();
        return;
      case ReadyState.OPEN:
        this.state = ReadyState.CLOSING;
        this.sendClose(payload);
        this.armCloseTimer();
        return;
      case ReadyState.CLOSING:
      case ReadyState.CLOSED:
        return;
    }
  }

  /**
   * Stops reading from the socket: the peer feels TCP backpressure. Use it when you cannot keep
   * up, e.g. when `send` returned false, and call {@link resume} on `'drain'`.
   */
  pause(): void {
    this.userPaused = true;
    this.socket?.pause();
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    this.userPaused = false;
    if (this.mayRead()) this.socket?.resume();
  }

  /** Drops the connection at once, without a closing handshake (the close event says 1006). */
  terminate(): void {
    if (this.state === ReadyState.CLOSED) return;
    this.state = ReadyState.CLOSING;
    if (this.socket === undefined) {
      this.state = ReadyState.CLOSED;
      this.finish();
      return;
    }
    this.socket.destroy();
  }

  /**
   * Async iteration over incoming messages; ends when the connection closes cleanly and throws
   * the error that failed it otherwise. While the consumer lags more than `maxQueuedMessages`
   * behind, the socket is paused so the peer feels backpressure.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<ReceivedMessage> {
    this.queue ??= [];
    const iterator: AsyncIterableIterator<ReceivedMessage> = {
      next: () => this.nextQueued(),
      return: () => {
        this.queue = undefined;
        this.resumeFromQueue();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  // --- sending -------------------------------------------------------------------------------

  private writable(callback: SendCallback | undefined): boolean {
    switch (this.state) {
      case ReadyState.CONNECTING:
        throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the connection is not open yet');
      case ReadyState.OPEN:
        return true;
      case ReadyState.CLOSING:
      case ReadyState.CLOSED:
        if (callback !== undefined) {
          const error = new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the connection is closing or closed');
          process.nextTick(callback, error);
        }
        return false;
    }
  }

  private writeFrame(frame: FrameInput): void {
    const socket = this.socket as ByteStream;
    if (!this.corked && socket.cork !== undefined) {
      // Everything sent in this tick leaves in one write: one syscall for a burst of small
      // messages instead of one each.
      this.corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    emitFrame(frame, this.maskSource === undefined ? -1 : this.maskSource.next(), this.sink);
  }

  /** @internal */
  uncork(): void {
    this.corked = false;
    this.socket?.uncork?.();
  }

  private flushed(callback: SendCallback | undefined): boolean {
    const socket = this.socket as ByteStream;
    if (callback !== undefined) socket.write(EMPTY, callback);
    const buffered = socket.writableLength ?? 0;
    if (buffered > this.maxBuffered) {
      this.fail(new WebSocketProtocolError('WS_ERR_SLOW_CONSUMER', `${buffered} bytes queued`));
      return false;
    }
    return buffered < (socket.writableHighWaterMark ?? 16384);
  }

  private sendClose(payload: Buffer): void {
    if (this.closeSent || this.socket === undefined || this.socket.destroyed === true) return;
    this.closeSent = true;
    this.writeFrame({ opcode: Opcode.Close, payload });
  }

  // --- receiving -----------------------------------------------------------------------------

  /** Returns false when the decoder is full and the socket was paused until it drains. */
  private onData(chunk: Buffer): boolean {
    this.heard = true;
    if (this.inputDone) return true;
    const socket = this.socket as ByteStream;
    // Replies produced while parsing this chunk (pongs, echoes) leave in one write.
    let corkedHere = false;
    if (!this.corked && socket.cork !== undefined) {
      corkedHere = true;
      this.corked = true;
      socket.cork();
    }
    const more = this.frameDecoder.write(chunk);
    if (!more) socket.pause();
    if (corkedHere) this.uncork();
    return more;
  }

  /** No reason to keep the socket paused: the application, the iterator and the replies allow it. */
  private mayRead(): boolean {
    return !this.userPaused && !this.pausedForQueue && !this.pausedForReplies;
  }

  /**
   * Pongs are written without the application asking, so a peer that floods pings and never reads
   * would make them pile up in the socket's buffer without bound. Once that buffer is above its
   * high-water mark, stop reading until it drains: the peer feels TCP backpressure instead.
   */
  private throttleReplies(): void {
    const socket = this.socket;
    if (socket === undefined || this.pausedForReplies) return;
    if ((socket.writableLength ?? 0) < (socket.writableHighWaterMark ?? 16384)) return;
    this.pausedForReplies = true;
    socket.pause();
    socket.once('drain', () => {
      this.pausedForReplies = false;
      if (this.mayRead()) socket.resume();
    });
  }

  private onMessage(message: Message): void {
    if (this.inputDone) return;
    switch (message.type) {
      case 'text':
        this.deliver(message.data, false);
        return;
      case 'binary':
        this.deliver(message.data, true);
        return;
      case 'text-stream':
      case 'binary-stream':
        this.deliverStream(message.stream, message.type === 'binary-stream');
        return;
      case 'ping':
        if (this.state === ReadyState.OPEN) {
          this.writeFrame({ opcode: Opcode.Pong, payload: message.data });
          this.throttleReplies();
        }
        this.emit('ping', message.data);
        return;
      case 'pong':
        this.emit('pong', message.data);
        return;
      case 'close':
        this.onCloseFrame(message.code, message.reason);
        return;
    }
  }

  private deliver(data: string | Buffer, isBinary: boolean): void {
    if (this.state !== ReadyState.OPEN) return;
    if (this.queue !== undefined) {
      if (this.waiter !== undefined) {
        const waiter = this.waiter;
        this.waiter = undefined;
        waiter.resolve({ value: { data, isBinary }, done: false });
      } else {
        this.queue.push({ data, isBinary });
        if (this.queue.length >= this.maxQueued && !this.pausedForQueue) {
          this.pausedForQueue = true;
          this.socket?.pause();
        }
      }
    }
    this.emit('message', data, isBinary);
  }

  private deliverStream(stream: Readable, isBinary: boolean): void {
    if (this.listenerCount('stream') === 0) {
      // Nobody asked for the bytes: drain them so the connection keeps moving.
      stream.resume();
      return;
    }
    this.emit('stream', stream, isBinary);
  }

  /** RFC 6455 §5.5.1 / §7.1.2-§7.1.3: the peer's close frame. */
  private onCloseFrame(code: number, reason: string): void {
    this.closeReceived = { code, reason };
    this.inputDone = true;
    if (this.state === ReadyState.OPEN) {
      this.state = ReadyState.CLOSING;
      // Echo the status code; an empty close is answered with an empty close (§5.5.1).
      this.sendClose(code === CloseCode.NoStatus ? EMPTY : encodeClosePayload(code));
    }
    if (this.role === 'server') {
      // §7.1.1: the server closes the TCP connection first, once both close frames are out.
      this.socket?.end();
    }
    this.armCloseTimer();
  }

  /**
   * The one place where errors become close frames (RFC 6455 §7.1.7 "Fail the WebSocket
   * Connection"): a protocol error sends its close code, anything unexpected sends 1011 with no
   * details, then the TCP connection is closed.
   */
  private fail(err: unknown): void {
    if (this.state === ReadyState.CLOSED || this.inputDone && this.failure !== undefined) return;
    this.inputDone = true;
    this.failure = err;
    const protocolError = err instanceof WebSocketProtocolError;
    const code = protocolError ? err.closeCode : CloseCode.InternalError;
    this.failCode = code;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    if (this.state === ReadyState.OPEN && code !== CloseCode.Abnormal) {
      const reason = protocolError ? ERRORS[err.code].message : '';
      this.sendClose(encodeClosePayload(code, reason));
    }
    if (this.state === ReadyState.OPEN) this.state = ReadyState.CLOSING;
    if (code === CloseCode.Abnormal) {
      this.socket?.destroy();
      return;
    }
    this.socket?.end();
    this.armCloseTimer();
  }

  private beat(): void {
    if (this.state !== ReadyState.OPEN) return;
    if (!this.heard) {
      this.fail(new WebSocketProtocolError('WS_ERR_PEER_UNRESPONSIVE'));
      return;
    }
    this.heard = false;
    this.writeFrame({ opcode: Opcode.Ping, payload: EMPTY });
  }

  // --- teardown ------------------------------------------------------------------------------

  private armCloseTimer(): void {
    if (this.closeTimer !== undefined || this.socket === undefined) return;
    this.closeTimer = setTimeout(() => { this.socket?.destroy(); }, this.closeTimeout);
    this.closeTimer.unref();
  }

  private onEnd(): void {
    // The peer finished sending. After a completed closing handshake this is the expected TCP
    // close; before it, the connection was lost. Either way our side is done too.
    this.inputDone = true;
    this.socket?.end();
    this.armCloseTimer();
  }

  private onSocketError(err: Error): void {
    // Reset by peer and the like: report it, then the socket's 'close' finishes the job.
    if (this.failure === undefined && this.closeReceived === undefined) {
      this.failure = err;
      if (this.listenerCount('error') > 0) this.emit('error', err);
    }
  }

  private onSocketClose(): void {
    this.state = ReadyState.CLOSED;
    this.finish();
  }

  private finish(): void {
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.closeTimer = undefined;
    this.heartbeatTimer = undefined;
    const received = this.closeReceived;
    // The peer's code when it sent one; after we failed the connection, the code we failed it with
    // (the peer's echo is no longer read); otherwise 1006.
    const code = received?.code ?? this.failCode;
    this.settleIterator();
    this.frameDecoder.destroy();
    this.messageDecoder.destroy();
    this.deflate?.close();
    this.emit('close', code, received?.reason ?? '');
  }

  // --- async iteration -----------------------------------------------------------------------

  private nextQueued(): Promise<IteratorResult<ReceivedMessage>> {
    const queue = this.queue;
    if (queue !== undefined && queue.length > 0) {
      const value = queue.shift() as ReceivedMessage;
      if (queue.length < this.maxQueued / 2) this.resumeFromQueue();
      return Promise.resolve({ value, done: false });
    }
    if (this.state === ReadyState.CLOSED || this.inputDone) return this.endResult();
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
  }

  private endResult(): Promise<IteratorResult<ReceivedMessage>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return Promise.resolve({ value: undefined, done: true });
  }

  private resumeFromQueue(): void {
    if (!this.pausedForQueue) return;
    this.pausedForQueue = false;
    if (this.mayRead()) this.socket?.resume();
  }

  private settleIterator(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    this.waiter = undefined;
    if (this.failure !== undefined) waiter.reject(this.failure);
    else waiter.resolve({ value: undefined, done: true });
  }
}

const EMPTY = Buffer.alloc(0);

function uncork(ws: WebSocket): void {
  ws.uncork();
}
