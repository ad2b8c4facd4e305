/**
 * The connection core, sans-I/O (python-websockets' `Protocol`, wsproto's `Connection`): one
 * object that owns every protocol rule of an open WebSocket and touches no socket and no timer.
 *
 * Inputs: bytes received ({@link Session.receive}, {@link Session.receiveEnd}), application
 * actions ({@link Session.send}, {@link Session.ping}, {@link Session.close}...), the transport's
 * fate ({@link Session.transportClosed}) and the passing of time ({@link Session.tick}, with the
 * clock given to the constructor).
 *
 * Outputs: events through the {@link SessionHandler}, bytes to write ({@link Session.outbox}),
 * whether to read ({@link Session.reading}), what to do with the transport
 * ({@link Session.transport}) and when to be ticked next ({@link Session.deadline}). The I/O layer
 * (connection/websocket.ts) applies them after every call.
 *
 * It owns: the ready state, the closing handshake (RFC 6455 §7: the code is echoed, an empty close
 * is reported as 1005, a peer that never finishes is dropped after `closeTimeout`), automatic
 * pongs and their bound, heartbeat decisions, receive backpressure (through its {@link Inbox}),
 * and the one place where errors become close codes ({@link Session.fail}).
 */
import { CloseCode, RSV1_BIT, RSV2_BIT, RSV3_BIT } from '../constants';
import { ERRORS, WebSocketProtocolError, WebSocketUsageError } from '../errors';
import type { Frame, FramePiece } from '../frame/frame';
import { FrameParser } from '../frame/parser';
import { encodeClosePayload } from '../message/close';
import type { MessageExtension } from '../message/extension';
import { MessageParser, type WholeMessage } from '../message/parser';
import { MessageSerializer } from '../message/serializer';
import type { SessionConfig } from './config';
import { Inbox, PauseReason } from './inbox';
import { Outbox, type WriteCallback } from './outbox';

/** Lifecycle states, numbered as in the browser's WebSocket.readyState. */
export enum ReadyState {
  CONNECTING = 0,
  OPEN = 1,
  CLOSING = 2,
  CLOSED = 3,
}

/** What the I/O layer should do with the transport. */
export const enum TransportAction {
  /** Keep it open. */
  Keep,
  /** Write what is queued, then close our side (FIN); the transport closes when the peer's side does. */
  End,
  /** Close it now, without writing more. */
  Destroy,
}

/** The events a session produces; the I/O layer implements them. */
export interface SessionHandler {
  /** A whole data message: text as a string, binary as a Buffer. */
  onMessage(data: string | Buffer, isBinary: boolean): void;
  /** Streaming (`streamMessages`): a data message starts. */
  onStreamStart(isBinary: boolean): void;
  /** Streaming: the next bytes of the open message (validated UTF-8 for text, maybe ending mid-character). */
  onStreamData(bytes: Buffer): void;
  /** Streaming: the open message is complete. */
  onStreamEnd(): void;
  /** A ping arrived (already answered). */
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /** The connection failed for this reason (once; `transport` says what follows). */
  onError(error: Error): void;
  /** Something finished outside any call (an extension's work): apply the outputs again. */
  wake(): void;
  /** Bytes the transport has accepted but not yet written, for `bufferedAmount` and the backstop. */
  backlog(): number;
}

/** A session's booleans. */
const enum Bit {
  /** No more input is taken: the peer closed, the input ended, or the connection failed. */
  InputDone = 1,
  /** The input ended while chunks still waited for the paused parser. */
  EndPending = 2,
  /** Anything arrived since the last heartbeat check. */
  Heard = 4,
  /** The transport closed while received bytes still waited: close once they are processed. */
  TransportGone = 8,
}

/** A data message waiting behind a streamed one, or the turn of a streamed message reserved later. */
type Deferred = { data: string | Uint8Array; isBinary: boolean; compress: boolean; callback: WriteCallback | undefined } | typeof STREAM_TURN;
const STREAM_TURN = 'stream';

/** The longest a connection processes input in one go when compressed messages are involved. */
const SLICE_MS = 5;

/** Why the connection closed, as the 'close' event and the iterator report it. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/**
 * One WebSocket connection's protocol state. Created once the opening handshake is done (the
 * handshake is not its business), with the config the server or client resolved and the
 * extension the handshake agreed to.
 */
export class Session {
  readonly config: SessionConfig;
  /** Bytes waiting to be written, packed; the I/O layer takes them with `flushTo`. */
  readonly outbox: Outbox;
  /** Receive backpressure: why reading stopped, and messages waiting for a consumer. */
  readonly inbox: Inbox<unknown>;
  private readonly handler: SessionHandler;
  private readonly frames: FrameParser;
  private readonly messages: MessageParser;
  private readonly serializer: MessageSerializer;
  private readonly extension: MessageExtension | undefined;

  private state = ReadyState.OPEN;
  private action = TransportAction.Keep;
  /** The peer's close frame, once it arrived. */
  private received: CloseInfo | undefined;
  /** Why we failed the connection, and the code we failed it with. */
  private failure: Error | undefined;
  private failCode: number = CloseCode.Abnormal;
  /** Booleans as bits ({@link Bit}). */
  private bits = 0;
  /** Chunks received while the parser was paused. */
  private pending: Buffer[] | undefined;

  // Time: deadlines in whole milliseconds of the clock, 0 for none. Whole numbers stay small
  // integers to V8: a fractional or infinite value would box every field in a heap object.
  private closeDeadline = 0;
  private nextBeat: number;
  private pingDeadline = 0;
  private sliceEnd = 0;

  /**
   * Sends that must wait, in order: data messages behind a streamed message (sent or reserved), and
   * the turns of streamed messages reserved after them.
   */
  private deferred: Deferred[] | undefined;
  /** Bytes of the data messages in {@link deferred}, for the backstop and `bufferedAmount`. */
  private deferredBytes = 0;
  /** A reserved streamed message's turn has come; it has not started yet. */
  private streamTurn = false;

  /**
   * Time comes from `config.clock` (`performance.now` by default); tests give a fake one and call
   * {@link tick}.
   */
  constructor(config: SessionConfig, handler: SessionHandler, extension?: MessageExtension) {
    this.config = config;
    this.handler = handler;
    this.extension = extension;
    this.inbox = new Inbox(config.maxQueuedMessages);
    this.outbox = new Outbox(config.maskSource, this);
    const rsv = extension === undefined ? 0 : extension.rsvBits;
    this.frames = new FrameParser(rsv === 0 ? config.frameParser : rsv === RSV1_BIT ? config.frameParserRsv1 : {
      role: config.role, maxPayload: config.maxPayload, streamingThreshold: 0,
      allowRsv1: (rsv & RSV1_BIT) !== 0, allowRsv2: (rsv & RSV2_BIT) !== 0, allowRsv3: (rsv & RSV3_BIT) !== 0,
    }, this);
    this.messages = new MessageParser(config.messageParser, this, extension);
    this.serializer = new MessageSerializer({ fragmentSize: config.fragmentSize, extension }, this.outbox);
    this.nextBeat = config.heartbeatInterval > 0 ? Math.ceil(config.clock()) + config.heartbeatInterval : 0;
  }

  private get inputDone(): boolean {
    return (this.bits & Bit.InputDone) !== 0;
  }

  private get heard(): boolean {
    return (this.bits & Bit.Heard) !== 0;
  }

  // --- outputs ---------------------------------------------------------------------------------

  get readyState(): ReadyState {
    return this.state;
  }

  /**
   * True while the transport should be read. Once no more input is taken (the peer's close came,
   * or the connection failed), it is read regardless, and what arrives is dropped: only its end
   * matters, and a paused socket would never report it.
   */
  get reading(): boolean {
    return this.inputDone || this.inbox.reading;
  }

  /** What the transport should do now. */
  get transport(): TransportAction {
    return this.action;
  }

  /** When {@link tick} should next be called (clock milliseconds), Infinity for never. */
  get deadline(): number {
    if (this.state === ReadyState.CLOSED) return Infinity;
    if (this.state !== ReadyState.OPEN) return this.closeDeadline === 0 ? Infinity : this.closeDeadline;
    return Math.min(this.nextBeat === 0 ? Infinity : this.nextBeat, this.pingDeadline === 0 ? Infinity : this.pingDeadline);
  }

  /** True while input waits for the next turn of the event loop: call {@link resumeInput} then. */
  get yielding(): boolean {
    return this.inbox.has(PauseReason.Slice);
  }

  /** Outgoing bytes not yet written: queued here (or waiting behind a stream) plus the transport's backlog. */
  get bufferedAmount(): number {
    return this.outbox.bytes + this.deferredBytes + this.handler.backlog();
  }

  /** The close code to report: the peer's, else the one we failed with, else 1006. */
  get closeCode(): number {
    return this.received?.code ?? this.failCode;
  }

  /** The peer's close reason ('' when none arrived). */
  get closeReason(): string {
    return this.received?.reason ?? '';
  }

  /** Both close frames were exchanged and nothing failed (RFC 6455 §7.1.4 "closed cleanly"). */
  get wasClean(): boolean {
    return this.received !== undefined && this.serializer.closed && this.failure === undefined;
  }

  /** Why the connection failed, if it did. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** True while a streamed message is being sent. */
  get sendingStream(): boolean {
    return this.serializer.streaming;
  }

  // --- input -----------------------------------------------------------------------------------

  /** Bytes from the transport, in order. */
  receive(chunk: Buffer): void {
    this.bits |= Bit.Heard;
    if (this.inputDone) return;
    if (this.frames.isPaused || this.pending !== undefined) {
      (this.pending ??= []).push(chunk);
      return;
    }
    if (this.extension !== undefined) this.sliceEnd = Math.ceil(this.config.clock()) + SLICE_MS;
    this.parse(this.frames.write(chunk));
  }

  /** The peer will send nothing more (TCP FIN). */
  receiveEnd(): void {
    if (this.frames.isPaused || this.pending !== undefined) {
      this.bits |= Bit.EndPending;
      return;
    }
    this.inputEnded();
  }

  /** Continues input that waited for a new turn of the event loop (see {@link yielding}). */
  resumeInput(): void {
    if (!this.inbox.has(PauseReason.Slice)) return;
    this.inbox.resume(PauseReason.Slice);
    this.continueInput();
  }

  /** The transport is closed (by us or the peer): the connection is over. */
  transportClosed(): void {
    if (this.state === ReadyState.CLOSED) return;
    if (!this.inputDone && (this.frames.isPaused || this.pending !== undefined)) {
      // Bytes that arrived before the transport closed still wait (for an extension, or the next
      // time slice): they are processed first, the close frame among them, and the session closes
      // after them. Nothing received is lost to the order in which the socket reported things.
      this.bits |= Bit.TransportGone | Bit.EndPending;
      return;
    }
    this.closed();
  }

  /** The transport is gone and every byte it brought was processed. */
  private closed(): void {
    this.state = ReadyState.CLOSED;
    this.bits |= Bit.InputDone;
    this.pending = undefined;
    this.closeDeadline = 0;
    if (this.received === undefined && this.failure === undefined) {
      this.failure = new WebSocketProtocolError('WS_ERR_CONNECTION_LOST');
    }
    this.outbox.clear(this.failure ?? new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the connection closed'));
    this.inbox.pause(PauseReason.Queue);
    this.extension?.close();
  }

  /** The transport failed (a reset, say): reported once, then {@link transportClosed} follows. */
  transportError(error: Error): void {
    if (this.failure !== undefined || this.received !== undefined || this.state === ReadyState.CLOSED) return;
    this.failure = error;
    this.bits |= Bit.InputDone;
    this.handler.onError(error);
  }

  /** Time passed: checks the close timeout and the heartbeat. */
  tick(now = this.config.clock()): void {
    if (this.state === ReadyState.CLOSED) return;
    if (this.state === ReadyState.CLOSING) {
      // RFC 6455 §7.1.1: a peer that never finishes the closing handshake is dropped.
      if (this.closeDeadline !== 0 && now >= this.closeDeadline) {
        this.closeDeadline = 0;
        if (this.failure === undefined && this.received === undefined) {
          this.failure = new WebSocketProtocolError('WS_ERR_CLOSE_TIMEOUT');
        }
        this.action = TransportAction.Destroy;
      }
      return;
    }
    if (this.config.heartbeatInterval === 0) return;
    if (this.pingDeadline !== 0) {
      if (this.heard) {
        this.pingDeadline = 0;
      } else if (now >= this.pingDeadline) {
        this.fail(new WebSocketProtocolError('WS_ERR_PEER_UNRESPONSIVE'));
        return;
      }
    }
    if (now >= this.nextBeat) {
      this.nextBeat = Math.ceil(now) + this.config.heartbeatInterval;
      if (!this.heard && this.pingDeadline === 0) {
        this.serializer.control('ping');
        // While we are not reading, silence is ours, not the peer's: the ping still goes out (a
        // dead transport then fails on the write), but no answer is required.
        if (this.reading) this.pingDeadline = Math.ceil(now) + this.config.heartbeatTimeout;
      }
      this.bits &= ~Bit.Heard;
    }
  }

  // --- application actions ---------------------------------------------------------------------

  /**
   * Sends a data message (see `MessageSerializer.message`; `compress: false` skips the
   * extension). While a streamed message is being sent, the message waits behind it. `callback`
   * runs once its bytes are written.
   * Returns false when the connection failed instead (the backstop, see `maxBufferedAmount`).
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` unless OPEN; `WS_ERR_INVALID_ARGUMENT`
   *   for data that is not a string or bytes.
   */
  send(data: string | Uint8Array, isBinary: boolean, callback?: WriteCallback, compress = true): boolean {
    this.checkOpen();
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'data must be a string, Buffer or Uint8Array');
    }
    if (!this.underBackstop()) return false;
    if (this.serializer.streaming || this.streamTurn) {
      (this.deferred ??= []).push({ data, isBinary, compress, callback });
      this.deferredBytes += typeof data === 'string' ? data.length : data.byteLength;
      return true;
    }
    this.serializer.message(data, isBinary, compress);
    if (callback !== undefined) this.outbox.callback(callback);
    return true;
  }

  /**
   * Sends a ping or an unsolicited pong (RFC 6455 §5.5.2-§5.5.3), at most 125 bytes.
   * @throws {WebSocketUsageError} unless OPEN, or for a payload over 125 bytes.
   */
  control(type: 'ping' | 'pong', data?: string | Uint8Array, callback?: WriteCallback): void {
    this.checkOpen();
    this.serializer.control(type, data);
    if (callback !== undefined) this.outbox.callback(callback);
  }

  /**
   * Reserves the next place in the outgoing order for a streamed message whose chunks come later:
   * data messages sent after this wait behind it. Its turn comes when the messages (and streams)
   * reserved before it are out; {@link sendStreamStart} then opens it, or {@link releaseStream}
   * gives the turn up.
   * @throws {WebSocketUsageError} unless OPEN.
   */
  reserveStream(): void {
    this.checkOpen();
    if (!this.serializer.streaming && !this.streamTurn) this.streamTurn = true;
    else (this.deferred ??= []).push(STREAM_TURN);
  }

  /** True when a reserved streamed message may start (its turn came). */
  get streamReady(): boolean {
    return this.streamTurn;
  }

  /**
   * Opens a streamed outgoing message, in its reserved turn (or at once when nothing waits).
   * @throws {WebSocketUsageError} unless OPEN, or while another streamed message is open or waits.
   */
  sendStreamStart(isBinary: boolean): void {
    this.checkOpen();
    if (this.streamTurn) this.streamTurn = false;
    else if (this.deferred !== undefined) throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'another streamed message comes first');
    this.serializer.startStream(isBinary);
  }

  /** Gives up a reserved turn that never started (its source failed first). */
  releaseStream(): void {
    if (!this.streamTurn) return;
    this.streamTurn = false;
    this.nextTurn();
  }

  /** The next chunk of the open streamed message. @throws {WebSocketUsageError} */
  sendStreamChunk(data: string | Uint8Array): void {
    this.checkOpen();
    this.serializer.streamChunk(data);
  }

  /** Ends the open streamed message; messages sent meanwhile follow it. @throws {WebSocketUsageError} */
  sendStreamEnd(callback?: WriteCallback): void {
    this.checkOpen();
    this.serializer.endStream();
    if (callback !== undefined) this.outbox.callback(callback);
    this.nextTurn();
  }

  /**
   * Abandons the open streamed message (its source failed): the peer waits for the rest of it,
   * so the connection is failed with 1011 (RFC 6455 §5.4 leaves no way to cancel a message).
   */
  sendStreamAbort(error: Error): void {
    if (!this.serializer.streaming) return;
    this.serializer.abortStream();
    this.fail(error);
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2): queues our close frame and waits up to
   * `closeTimeout` for the peer's. Closing twice does nothing.
   * @throws {WebSocketUsageError} for a code that may not be sent or a reason over 123 bytes.
   */
  close(code?: number, reason?: string): void {
    // Arguments are checked whatever the state: a bad call is a bug wherever it happens.
    encodeClosePayload(code, reason);
    if (this.state !== ReadyState.OPEN) return;
    this.abandonStream();
    this.serializer.close(code, reason);
    this.closing();
  }

  /** Drops the connection at once, without a closing handshake (reported as 1006). */
  terminate(): void {
    if (this.state === ReadyState.CLOSED) return;
    this.bits |= Bit.InputDone;
    if (this.state === ReadyState.OPEN) this.state = ReadyState.CLOSING;
    this.action = TransportAction.Destroy;
  }

  /** Stops reading (the application's `pause()`); {@link resume} undoes it. */
  pause(): void {
    this.inbox.pause(PauseReason.User);
  }

  resume(): void {
    this.inbox.resume(PauseReason.User);
  }

  /** A streamed message's reader is full: stop reading until {@link streamDrained}. */
  streamFull(): void {
    this.inbox.pause(PauseReason.Stream);
  }

  streamDrained(): void {
    this.inbox.resume(PauseReason.Stream);
  }

  /**
   * The I/O layer took output: reading may resume if it stopped for replies. `transportFull`:
   * the transport refused more for now (the I/O layer flushes again on its 'drain').
   */
  flushed(transportFull: boolean): void {
    if (!transportFull || this.outbox.bytes <= this.config.writeHighWaterMark) this.inbox.resume(PauseReason.Replies);
  }

  /**
   * The one place where errors become close frames (RFC 6455 §7.1.7 "Fail the WebSocket
   * Connection"): a protocol error sends its close code and the table's message, anything else
   * 1011 with no details; 1006 errors (the connection is already gone) send nothing. Then the
   * transport is closed. Reported once through the handler's `error`.
   */
  fail(error: Error): void {
    if (this.state === ReadyState.CLOSED || this.failure !== undefined) return;
    this.failure = error;
    this.bits |= Bit.InputDone;
    this.pending = undefined;
    const protocol = error instanceof WebSocketProtocolError;
    const code = protocol ? error.closeCode : CloseCode.InternalError;
    this.failCode = code;
    this.handler.onError(error);
    if (code === CloseCode.Abnormal) {
      if (this.state === ReadyState.OPEN) this.state = ReadyState.CLOSING;
      this.action = TransportAction.Destroy;
      return;
    }
    if (this.state === ReadyState.OPEN) {
      this.abandonStream();
      this.serializer.close(code, protocol ? ERRORS[error.code].message : '');
      this.state = ReadyState.CLOSING;
    }
    this.action = TransportAction.End;
    this.armCloseTimeout();
  }

  // --- parsers' sinks (called by FrameParser and MessageParser) -------------------------------

  /** @internal FrameSink: every frame or piece goes on to the message parser. */
  frame(frame: Frame | FramePiece): void {
    if (this.inputDone) {
      this.frames.pause();
      return;
    }
    const error = this.messages.write(frame);
    if (error !== undefined) {
      this.frames.pause();
      this.fail(error);
    } else if (this.messages.waiting) {
      // The extension finishes this message later: later frames wait for it, and the socket too.
      this.frames.pause();
      this.inbox.pause(PauseReason.Extension);
    } else if (this.extension !== undefined && frame.fin && this.config.clock() > this.sliceEnd) {
      // Compressed traffic costs real CPU per message: yield to other connections in slices.
      this.frames.pause();
      this.inbox.pause(PauseReason.Slice);
    }
  }

  /** @internal MessageSink */
  message(message: WholeMessage): void {
    switch (message.type) {
      // Data sent before the peer saw our close is still delivered while CLOSING (as ws and
      // python-websockets do); nothing is read after the peer's close or a failure.
      case 'text':
        this.handler.onMessage(message.data, false);
        return;
      case 'binary':
        this.handler.onMessage(message.data, true);
        return;
      case 'ping':
        if (this.state === ReadyState.OPEN) {
          // RFC 6455 §5.5.2: answer with the same payload.
          this.serializer.control('pong', message.data);
          // Bounded: past the write high-water mark, stop reading until the replies are written.
          if (this.outbox.bytes > this.config.writeHighWaterMark) this.inbox.pause(PauseReason.Replies);
        }
        this.handler.onPing(message.data);
        return;
      case 'pong':
        this.handler.onPong(message.data);
        return;
      case 'close':
        this.closeFrame(message.code, message.reason);
        return;
    }
  }

  /** @internal MessageSink */
  streamStart(type: 'text' | 'binary'): void {
    this.handler.onStreamStart(type === 'binary');
  }

  /** @internal MessageSink */
  streamData(bytes: Buffer): void {
    this.handler.onStreamData(bytes);
  }

  /** @internal MessageSink */
  streamEnd(): void {
    this.handler.onStreamEnd();
  }

  /** @internal MessageSink: a pending decode finished. */
  resumed(error?: Error): void {
    if (this.inputDone && this.failure !== undefined) return;
    this.inbox.resume(PauseReason.Extension);
    if (error !== undefined) {
      this.fail(error);
    } else {
      if (this.extension !== undefined) this.sliceEnd = Math.ceil(this.config.clock()) + SLICE_MS;
      this.continueInput();
    }
    this.handler.wake();
  }

  // --- internals -------------------------------------------------------------------------------

  /** RFC 6455 §5.5.1 / §7.1.2-§7.1.3: the peer's close frame. */
  private closeFrame(code: number, reason: string): void {
    this.received = { code, reason };
    this.bits |= Bit.InputDone;
    this.frames.pause();
    if (this.state === ReadyState.OPEN) {
      this.abandonStream();
      // Echo the status code; an empty close is answered with an empty close (§5.5.1).
      this.serializer.close(code === CloseCode.NoStatus ? undefined : code);
      this.closing();
    }
    // §7.1.1: the server closes the TCP connection first, once both close frames are out; the
    // client waits for it (up to closeTimeout).
    if (this.config.role === 'server') this.action = TransportAction.End;
  }

  private closing(): void {
    this.state = ReadyState.CLOSING;
    this.armCloseTimeout();
  }

  private armCloseTimeout(): void {
    if (this.closeDeadline === 0) this.closeDeadline = Math.ceil(this.config.clock()) + this.config.closeTimeout;
  }

  /** The input ended (TCP FIN), after everything received before it was processed. */
  private inputEnded(): void {
    if (this.inputDone && this.received === undefined && this.failure !== undefined) return;
    const complete = this.frames.idle && this.messages.idle;
    this.bits |= Bit.InputDone;
    if (this.received === undefined && this.failure === undefined) {
      // No close frame: the connection was lost (reported as 1006), mid-frame or not.
      this.failure = new WebSocketProtocolError(complete ? 'WS_ERR_CONNECTION_LOST' : 'WS_ERR_TRUNCATED_FRAME');
    }
    if (this.state === ReadyState.OPEN) this.state = ReadyState.CLOSING;
    // The peer is done sending; close our side too, after what is queued.
    this.action = TransportAction.End;
    this.armCloseTimeout();
  }

  private parse(error: WebSocketProtocolError | undefined): void {
    if (error !== undefined) this.fail(error);
  }

  /** Resumes the paused parser, then the chunks that arrived meanwhile, then a pending end. */
  private continueInput(): void {
    if (this.inputDone) {
      if ((this.bits & Bit.TransportGone) !== 0) this.closed();
      return;
    }
    this.parse(this.frames.resume());
    while (!this.frames.isPaused && !this.inputDone && this.pending !== undefined) {
      const chunk = this.pending.shift() as Buffer;
      if (this.pending.length === 0) this.pending = undefined;
      this.parse(this.frames.write(chunk));
    }
    if ((this.bits & Bit.EndPending) !== 0 && !this.frames.isPaused && this.pending === undefined) {
      this.bits &= ~Bit.EndPending;
      this.inputEnded();
    }
    if ((this.bits & Bit.TransportGone) !== 0 && (this.inputDone || (!this.frames.isPaused && this.pending === undefined))) {
      this.closed();
    }
  }

  /** @internal OutboxOwner: an extension finished encoding a held message (or failed to). */
  outboxReleased(error: Error | undefined): void {
    if (error !== undefined) this.fail(error);
    this.handler.wake();
  }

  /**
   * The backstop: a send while more than `maxBufferedAmount` bytes of memory wait for the peer
   * fails the connection (1008). The message being sent is not counted, so one message of any size
   * the peer accepts always goes out.
   */
  private underBackstop(): boolean {
    const queued = this.outbox.memory + this.deferredBytes + this.handler.backlog();
    if (queued <= this.config.maxBufferedAmount) return true;
    this.fail(new WebSocketProtocolError('WS_ERR_SLOW_CONSUMER', `${queued} bytes queued`));
    return false;
  }

  /** A streamed message ended: what waited behind it goes out, up to the next stream's turn. */
  private nextTurn(): void {
    const deferred = this.deferred;
    if (deferred === undefined) return;
    let i = 0;
    for (; i < deferred.length; i++) {
      const item = deferred[i];
      if (item === STREAM_TURN) {
        this.streamTurn = true;
        i++;
        break;
      }
      this.deferredBytes -= typeof item.data === 'string' ? item.data.length : item.data.byteLength;
      this.serializer.message(item.data, item.isBinary, item.compress);
      if (item.callback !== undefined) this.outbox.callback(item.callback);
    }
    this.deferred = i === deferred.length ? undefined : deferred.slice(i);
  }

  /** A close is going out while a streamed message is open: the stream can never finish. */
  private abandonStream(): void {
    this.serializer.abortStream();
    this.streamTurn = false;
    const deferred = this.deferred;
    this.deferred = undefined;
    this.deferredBytes = 0;
    if (deferred === undefined) return;
    const error = new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the connection closed before the message was sent');
    for (const item of deferred) if (item !== STREAM_TURN && item.callback !== undefined) process.nextTick(item.callback, error);
  }

  private checkOpen(): void {
    if (this.state !== ReadyState.OPEN) {
      throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the connection is not open');
    }
  }
}

