/**
 * MessageParser: frames in, messages out, sans-I/O (RFC 6455 §5.4 fragmentation, §5.5 control
 * frames, §5.6 data frames, §7.1.5 close payloads, §8.1 UTF-8). The MessageDecoder Transform and
 * the connection session both drive it directly. An agreed extension (permessage-deflate) decodes
 * the messages marked with its reserved bits before every other check.
 */
import { DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE, MAX_CONTROL_PAYLOAD, Opcode } from '../constants';
import { type ErrorCode, WebSocketProtocolError, WebSocketUsageError } from '../errors';
import { type Frame, type FramePiece, isControlOpcode, isFramePiece, rsvError, rsvMask } from '../frame/frame';
import { Runs } from '../frame/runs';
import { numberOption, resolveOnce } from '../options';
import { readClosePayload } from './close';
import { type MessageExtension, PENDING } from './extension';
import { decodeUtf8, Utf8Validator, utf8Text } from './utf8';

export interface TextMessage { type: 'text'; data: string }
export interface BinaryMessage { type: 'binary'; data: Buffer }
export interface PingMessage { type: 'ping'; data: Buffer }
export interface PongMessage { type: 'pong'; data: Buffer }
/** `code` is 1005 (`CloseCode.NoStatus`) when the close payload was empty (RFC 6455 §7.1.5). */
export interface CloseMessage { type: 'close'; code: number; reason: string }
/** A message delivered whole. */
export type WholeMessage = TextMessage | BinaryMessage | PingMessage | PongMessage | CloseMessage;

export interface MessageParserOptions {
  /**
   * Largest message, in bytes, summed over its fragments (decoded size for a compressed one); more
   * fails with 1009 (`WS_ERR_MESSAGE_TOO_BIG`) as soon as a frame's announced length would pass
   * it, before its bytes are buffered. Default 64 MiB: a whole message is held in memory, so this
   * is what bounds a peer's claim on it. `Infinity` disables the limit (sensible only with
   * `streaming`).
   */
  maxMessageSize?: number;
  /**
   * Largest number of frames in one message; more fails with 1009 (`WS_ERR_TOO_MANY_FRAGMENTS`).
   * Default 1 Mi. Memory is bounded by bytes, not by this (fragments are copied into one buffer);
   * it stops a peer that trickles empty fragments forever.
   */
  maxFragments?: number;
  /**
   * Default false: data messages are delivered whole. True: each data message is announced at its
   * first frame and its bytes are handed on as they arrive, so its size is not bounded by memory.
   */
  streaming?: boolean;
  /**
   * The extension the handshake agreed to (see {@link MessageExtension}). A data message whose
   * first frame carries its reserved bits is decoded by it; without one, reserved bits are a
   * protocol error. It can also be given later, with {@link MessageParser.useExtension}.
   */
  extension?: MessageExtension;
}

/** {@link MessageParserOptions} checked and resolved (without the extension), to share between parsers. */
export interface MessageParserConfig {
  readonly maxMessageSize: number;
  readonly maxFragments: number;
  readonly streaming: boolean;
}

/**
 * Checks and resolves parser options once (a config passes through unchanged); the extension, if
 * any, is not part of it.
 * @throws {WebSocketUsageError} on invalid options.
 */
export function resolveMessageParserOptions(options: MessageParserOptions | MessageParserConfig): MessageParserConfig {
  return resolveOnce(options, (o: MessageParserOptions): MessageParserConfig => ({
    maxMessageSize: numberOption('maxMessageSize', o.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, { integer: true }),
    maxFragments: numberOption('maxFragments', o.maxFragments, DEFAULT_MAX_FRAGMENTS, { integer: true, min: 1 }),
    streaming: o.streaming === true,
  }));
}

/** Receives what {@link MessageParser} decodes. */
export interface MessageSink {
  /** A control message, or a whole data message when not streaming. */
  message(message: WholeMessage): void;
  /** Streaming: a data message starts. */
  streamStart(type: 'text' | 'binary'): void;
  /**
   * Streaming: the next bytes of the open message. For text they are validated UTF-8, possibly
   * ending inside a character that the next call completes.
   */
  streamData(bytes: Buffer): void;
  /** Streaming: the open message is complete. */
  streamEnd(): void;
  /**
   * The extension finished a message that {@link MessageParser.write} left pending: the message
   * was delivered and the parser takes frames again, or `error` stopped it.
   */
  resumed?(error?: WebSocketProtocolError | Error): void;
}

const enum State {
  /** No data message open. */
  Idle,
  /** A data message spans several frames or pieces; its bytes are being collected. */
  Collecting,
  /** A data message is open and its bytes go straight to the sink. */
  Streaming,
  /** The extension is decoding a complete message; no frame may be written until it is done. */
  Waiting,
  Failed,
}

const EMPTY = Buffer.alloc(0);


/**
 * The sans-I/O message assembler: feed it the frames of one connection in order with
 * {@link write}; messages come out through the sink. Frames may be whole {@link Frame}s or
 * {@link FramePiece}s (the frame parser's `streamingThreshold`), in any mix.
 *
 * Memory: a single-frame message is handed on as the frame's own payload (zero copy). Fragments
 * are copied into one buffer that grows with what arrived, so however many fragments a message
 * has, the parser holds one buffer and never a reference to an input payload.
 */
export class MessageParser {
  private readonly sink: MessageSink;
  private readonly config: MessageParserConfig;
  /** Incremental UTF-8 state for text that arrives in several pieces; made on first use. */
  private utf8: Utf8Validator | undefined;

  private state = State.Idle;
  private error: WebSocketProtocolError | WebSocketUsageError | undefined;
  private extension: MessageExtension | undefined;
  /** A frame has been written: the extension can no longer change. */
  private started = false;

  // The open data message.
  private text = false;
  /** It arrived with the extension's bits on its first frame: its payloads go through it. */
  private encoded = false;
  /** Bytes received so far. */
  private size = 0;
  private fragments = 0;
  /** The current data frame has FIN: its end ends the message. */
  private finalFrame = false;
  /** Message size once the current frame is complete (its header announced its length). */
  private frameEnd = 0;
  /** What arrived of a message spanning frames or reads (made on first use). */
  private runs: Runs | undefined;
  /** Waiting: the pending decode completes a single-frame message of this opcode (else an open one). */
  private pendingSingle: number | undefined;
  /** The extension's callback for pending decodes (made on first use: most parsers never need it). */
  private onDecoded: ((error: Error | null, payload?: Buffer) => void) | undefined;

  /** Offset the next piece must start at; 0 between frames. */
  private pieceOffset = 0;
  /** A control frame arriving in pieces. */
  private control: Buffer | undefined;
  private controlLength = 0;

  /**
   * `options` may be a config from {@link resolveMessageParserOptions}, which many parsers can
   * share; the extension is then given apart (it is per connection).
   * @throws {WebSocketUsageError} on invalid options.
   */
  constructor(options: MessageParserOptions | MessageParserConfig, sink: MessageSink, extension?: MessageExtension) {
    this.sink = sink;
    this.config = resolveMessageParserOptions(options);
    this.extension = extension ?? (options as MessageParserOptions).extension;
  }

  /**
   * Sets the extension once the handshake agreed to it, for a parser made before the handshake
   * was done.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` once a frame has been written.
   */
  useExtension(extension: MessageExtension | undefined): void {
    if (this.started) throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the extension must be set before the first frame');
    this.extension = extension;
  }

  /** True between messages (no data message open, no frame half-delivered in pieces). */
  get idle(): boolean {
    return this.state === State.Idle && this.pieceOffset === 0;
  }

  /** True while the extension decodes a message: write nothing until the sink's `resumed()`. */
  get waiting(): boolean {
    return this.state === State.Waiting;
  }

  /**
   * Takes the next frame or piece. Everything it completes reaches the sink before this returns,
   * unless the extension finishes the message later ({@link waiting}). Returns the error that
   * stopped decoding (it then sticks): a {@link WebSocketProtocolError} for a peer's violation, a
   * {@link WebSocketUsageError} when pieces arrive out of order or a frame arrives while waiting
   * (a bug in whatever feeds the parser).
   */
  write(frame: Frame | FramePiece): WebSocketProtocolError | WebSocketUsageError | undefined {
    if (this.state === State.Failed) return this.error;
    if (this.state === State.Waiting) return this.misuse('a frame written while the extension decodes a message');
    this.started = true;
    let first = true;
    let last = true;
    let frameLength = frame.payload.length;
    if (isFramePiece(frame)) {
      const next = frame.offset + frame.payload.length;
      if (frame.offset !== this.pieceOffset || next > frame.totalLength || frame.last !== (next === frame.totalLength)) {
        return this.misuse('frame pieces out of order');
      }
      first = frame.offset === 0;
      last = frame.last;
      frameLength = frame.totalLength;
      this.pieceOffset = last ? 0 : next;
    } else if (this.pieceOffset !== 0) {
      return this.misuse('a whole frame inside a frame delivered in pieces');
    }
    const rsv = rsvMask(frame.rsv1, frame.rsv2, frame.rsv3);
    if (rsv !== 0) {
      // RFC 6455 §5.2 / RFC 7692 §6.1: reserved bits only as an agreed extension defines them,
      // which for permessage-deflate is the first frame of a data message and nothing else.
      const allowed = this.extension === undefined || isControlOpcode(frame.opcode) || frame.opcode === Opcode.Continuation
        ? 0 : this.extension.rsvBits;
      const unexpected = rsvError(rsv & ~allowed);
      if (unexpected !== undefined) return this.fail(unexpected);
    }
    if (isControlOpcode(frame.opcode)) return this.controlFrame(frame, first, last, frameLength);
    return this.dataFrame(frame, rsv !== 0, first, last, frameLength);
  }

  // RFC 6455 §5.4: a message is a Text or Binary frame, then Continuation frames; the last has FIN.
  private dataFrame(
    frame: Frame, encoded: boolean, first: boolean, last: boolean, frameLength: number,
  ): WebSocketProtocolError | WebSocketUsageError | undefined {
    if (first) {
      switch (frame.opcode) {
        case Opcode.Text:
        case Opcode.Binary:
          // §5.4: fragments of one message are not interleaved with another message.
          if (this.state !== State.Idle) return this.fail('WS_ERR_EXPECTED_CONTINUATION');
          // An encoded message is bounded by its decoded size, which the extension enforces as it
          // decodes; here only its size on the wire can be checked.
          if (frameLength > (encoded ? this.maxEncodedSize() : this.config.maxMessageSize)) return this.fail('WS_ERR_MESSAGE_TOO_BIG');
          if (frame.fin && last && !this.config.streaming) {
            if (!encoded) return this.single(frame.opcode, frame.payload);
            const decoded = this.decode(frame.payload, true);
            if (decoded === PENDING) {
              this.pendingSingle = frame.opcode;
              return undefined;
            }
            return decoded instanceof WebSocketProtocolError ? decoded : this.single(frame.opcode, decoded);
          }
          this.open(frame.opcode === Opcode.Text, encoded);
          break;
        case Opcode.Continuation:
          if (this.state === State.Idle) return this.fail('WS_ERR_UNEXPECTED_CONTINUATION');
          // Encoded: the extension bounds the bytes as they arrive.
          if (!this.encoded && frameLength > this.config.maxMessageSize - this.size) return this.fail('WS_ERR_MESSAGE_TOO_BIG');
          break;
        default:
          // The frame layer rejects reserved opcodes; this guards other frame sources.
          return this.fail('WS_ERR_INVALID_OPCODE');
      }
      if (++this.fragments > this.config.maxFragments) return this.fail('WS_ERR_TOO_MANY_FRAGMENTS');
      this.finalFrame = frame.fin;
      this.frameEnd = this.size + frameLength;
    }
    const end = last && this.finalFrame;
    if (!this.encoded) return this.append(frame.payload, end);
    const decoded = this.decode(frame.payload, end);
    if (decoded === PENDING) {
      this.pendingSingle = undefined;
      return undefined;
    }
    return decoded instanceof WebSocketProtocolError ? decoded : this.append(decoded, end);
  }

  /** Adds bytes to the open message (validated, then collected or streamed); `end` finishes it. */
  private append(bytes: Buffer, end: boolean): WebSocketProtocolError | undefined {
    if (bytes.length > 0) {
      // §8.1: text must be valid UTF-8; checked as it arrives so the failure comes with the
      // fragment (or piece) holding the first bad byte, and no invalid byte reaches the sink.
      if (this.text && !(this.utf8 as Utf8Validator).write(bytes)) return this.fail('WS_ERR_INVALID_UTF8');
      if (this.state === State.Streaming) {
        this.size += bytes.length;
        this.sink.streamData(bytes);
      } else {
        this.collect(bytes);
      }
    }
    return end ? this.finish() : undefined;
  }

  /** A message in one frame, delivered as the frame's payload: no copy. */
  private single(opcode: number, payload: Buffer): WebSocketProtocolError | undefined {
    if (opcode === Opcode.Binary) {
      this.sink.message({ type: 'binary', data: payload });
      return undefined;
    }
    const data = decodeUtf8(payload);
    if (data === undefined) return this.fail('WS_ERR_INVALID_UTF8');
    this.sink.message({ type: 'text', data });
    return undefined;
  }

  private maxEncodedSize(): number {
    return (this.extension as MessageExtension).maxEncodedSize(this.config.maxMessageSize);
  }

  /**
   * Passes a payload piece of an encoded message to the extension: the whole decoded message at
   * its end (now, or later through {@link resume}), an empty buffer before. Everything after this
   * (UTF-8, collect or stream) sees decoded bytes only.
   */
  private decode(bytes: Buffer, end: boolean): Buffer | WebSocketProtocolError | typeof PENDING {
    let decoded: Buffer | undefined | typeof PENDING;
    try {
      this.onDecoded ??= (error, payload) => { this.resume(error, payload); };
      decoded = (this.extension as MessageExtension).decode(bytes, end, this.config.maxMessageSize, this.onDecoded);
    } catch (error) {
      if (!(error instanceof WebSocketProtocolError)) throw error;
      this.stop(error);
      return error;
    }
    if (decoded === PENDING) {
      this.state = State.Waiting;
      return PENDING;
    }
    return decoded ?? EMPTY;
  }

  /** A pending decode finished: deliver the message, then let frames in. */
  private resume(error: Error | null, payload?: Buffer): void {
    if (this.state !== State.Waiting) return;
    let failure: WebSocketProtocolError | Error | undefined;
    if (error !== null || payload === undefined) {
      failure = error ?? new WebSocketProtocolError('WS_ERR_INTERNAL', 'extension gave no result');
      if (failure instanceof WebSocketProtocolError) this.stop(failure);
      else this.state = State.Failed;
    } else if (this.pendingSingle !== undefined) {
      this.state = State.Idle;
      failure = this.single(this.pendingSingle, payload);
    } else {
      this.state = this.config.streaming ? State.Streaming : State.Collecting;
      failure = this.append(payload, true);
    }
    this.sink.resumed?.(failure);
  }

  private open(text: boolean, encoded: boolean): void {
    this.text = text;
    this.encoded = encoded;
    this.size = 0;
    this.fragments = 0;
    if (text) (this.utf8 ??= new Utf8Validator()).reset();
    if (this.config.streaming) {
      this.state = State.Streaming;
      this.sink.streamStart(text ? 'text' : 'binary');
    } else {
      this.state = State.Collecting;
    }
  }

  /**
   * Keeps the bytes until the message is complete, then they are copied once (lib/frame/runs.ts):
   * a peer that announces a large frame and stalls makes us hold what it sent, never the
   * announced length, and the reads of a large message are not copied again and again.
   */
  private collect(bytes: Buffer): void {
    const room = Math.max(bytes.length, Math.min(this.frameEnd, this.config.maxMessageSize) - this.size);
    (this.runs ??= new Runs()).add(bytes, 0, bytes.length, room);
    this.size += bytes.length;
  }

  private finish(): WebSocketProtocolError | undefined {
    // §8.1: a message that ends inside a multi-byte sequence is invalid.
    if (this.text && !(this.utf8 as Utf8Validator).end()) return this.fail('WS_ERR_INVALID_UTF8');
    const streamed = this.state === State.Streaming;
    this.state = State.Idle;
    if (streamed) {
      this.sink.streamEnd();
      return undefined;
    }
    const buffer = this.runs === undefined || this.size === 0 ? EMPTY : this.runs.gather();
    if (this.text) this.sink.message({ type: 'text', data: utf8Text(buffer) });
    else this.sink.message({ type: 'binary', data: buffer });
    return undefined;
  }

  // RFC 6455 §5.5: control frames may sit between the fragments of a message (§5.4) and are
  // delivered at once, leaving the open message untouched.
  private controlFrame(frame: Frame, first: boolean, last: boolean, frameLength: number): WebSocketProtocolError | undefined {
    // The frame layer enforces both rules; they are repeated for other frame sources because the
    // buffer below is sized from frameLength.
    if (!frame.fin) return this.fail('WS_ERR_EXPECTED_FIN');
    if (frameLength > MAX_CONTROL_PAYLOAD) return this.fail('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH');
    let payload = frame.payload;
    if (!first || !last) {
      // Pieces of a control frame: gather them (at most 125 bytes).
      if (first) {
        this.control = Buffer.allocUnsafe(frameLength);
        this.controlLength = 0;
      }
      const control = this.control as Buffer;
      control.set(payload, this.controlLength);
      this.controlLength += payload.length;
      if (!last) return undefined;
      payload = control;
      this.control = undefined;
    }
    switch (frame.opcode) {
      case Opcode.Ping:
        this.sink.message({ type: 'ping', data: payload });
        return undefined;
      case Opcode.Pong:
        this.sink.message({ type: 'pong', data: payload });
        return undefined;
      case Opcode.Close: {
        const close = readClosePayload(payload);
        if (typeof close === 'string') return this.fail(close);
        this.sink.message({ type: 'close', code: close.code, reason: close.reason });
        return undefined;
      }
      default:
        return this.fail('WS_ERR_INVALID_OPCODE');
    }
  }

  private fail(code: ErrorCode): WebSocketProtocolError {
    const error = new WebSocketProtocolError(code);
    this.stop(error);
    return error;
  }

  private misuse(detail: string): WebSocketUsageError {
    const error = new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', detail);
    this.stop(error);
    return error;
  }

  private stop(error: WebSocketProtocolError | WebSocketUsageError): void {
    this.state = State.Failed;
    this.error = error;
    this.runs = undefined;
    this.control = undefined;
  }
}
