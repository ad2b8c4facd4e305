/**
 * MessageSerializer: messages in, frames out, sans-I/O; the mirror of MessageParser (RFC 6455
 * §5.4 fragmentation, §5.5 control frames, §5.6 text and binary, §5.5.1 close payloads). The
 * MessageEncoder Transform and the connection session both send through it, and an agreed
 * extension encodes data messages here, as it decodes them in the parser.
 */
import { MAX_CONTROL_PAYLOAD, MAX_UTF8_PER_UNIT, Opcode } from '../constants';
import { WebSocketUsageError } from '../errors';
import type { FrameInput } from '../frame/frame';
import { numberOption } from '../options';
import { encodeClosePayload } from './close';
import { type MessageExtension, PENDING } from './extension';
import { Utf8Validator } from './utf8';

/** What {@link MessageSerializer.message}, MessageEncoder and {@link fragmentMessage} accept. */
export type MessageInput =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Buffer | Uint8Array }
  | { type: 'ping' | 'pong'; data?: Buffer | Uint8Array | string }
  | { type: 'close'; code?: number; reason?: string };

/** Receives the frames a {@link MessageSerializer} produces, in wire order. */
export interface FrameWriter {
  frame(frame: FrameInput): void;
  /**
   * Reserves the current position of the output for a message the extension finishes later:
   * frames written to the returned writer go out here, before anything written to this writer
   * after the call. `release(error?)` ends the reservation.
   */
  hold(): HeldFrames;
}

/** A reserved position in the output (see {@link FrameWriter.hold}). */
export interface HeldFrames {
  frame(frame: FrameInput): void;
  /** The reserved frames are complete (or `error` stopped the message: nothing was written). */
  release(error?: Error): void;
}

export interface MessageSerializerOptions {
  /**
   * Largest payload per data frame, in bytes; longer messages are fragmented (RFC 6455 §5.4).
   * Default `Infinity`: one frame per message.
   */
  fragmentSize?: number;
  /** The extension the handshake agreed to; it may encode each data message. */
  extension?: MessageExtension;
}

const EMPTY = Buffer.alloc(0);

function bytesOf(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

function byteLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}

/**
 * Splits a data payload into frames of at most `fragmentSize` bytes on `writer`: a Text/Binary
 * frame without FIN, Continuation frames, a final one with FIN (RFC 6455 §5.4). Text is split on
 * bytes, which may cut a UTF-8 sequence (legal: only the whole message must be valid). Payloads
 * are views of the input, never copies. `rsv1` marks the first frame (an extension's bits).
 */
export function writeData(
  writer: { frame(frame: FrameInput): void }, opcode: number, data: string | Uint8Array, fragmentSize: number, rsv1: boolean,
): void {
  // Short strings skip the byte copy: the frame encoder writes them straight into the output.
  if (typeof data === 'string' ? data.length * MAX_UTF8_PER_UNIT <= fragmentSize : data.byteLength <= fragmentSize) {
    writer.frame({ opcode, payload: data, fin: true, rsv1 });
    return;
  }
  const bytes = bytesOf(data);
  const length = bytes.byteLength;
  if (length <= fragmentSize) {
    writer.frame({ opcode, payload: bytes, fin: true, rsv1 });
    return;
  }
  for (let offset = 0; offset < length; offset += fragmentSize) {
    const end = Math.min(offset + fragmentSize, length);
    writer.frame({
      opcode: offset === 0 ? opcode : Opcode.Continuation,
      payload: bytes.subarray(offset, end),
      fin: end === length,
      rsv1: offset === 0 && rsv1,
    });
  }
}

/** Checks a ping/pong payload (RFC 6455 §5.5: at most 125 bytes). @throws {WebSocketUsageError} */
function controlPayload(type: 'ping' | 'pong', data: unknown): string | Uint8Array {
  const payload = data ?? EMPTY;
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `${type} data must be a Buffer, Uint8Array or string`);
  }
  const length = byteLength(payload);
  if (length > MAX_CONTROL_PAYLOAD) {
    throw new WebSocketUsageError('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', `${type} of ${length} bytes`);
  }
  return payload;
}

const enum State {
  Open,
  /** A streamed message is open: its fragments are being sent. */
  Streaming,
  /** A close frame went out (RFC 6455 §5.5.1: no data frames after it). */
  Closed,
}

/**
 * The sans-I/O message serializer: call {@link message}, {@link control} or {@link close}, get
 * frames through the writer, in order. A streamed message ({@link startStream}) goes out fragment
 * by fragment as its chunks come; control frames may still go out between its fragments (§5.4),
 * other data messages may not.
 *
 * Payloads are passed on as views: do not modify a Buffer after handing it over.
 */
export class MessageSerializer {
  private readonly writer: FrameWriter;
  private readonly fragmentSize: number;
  private extension: MessageExtension | undefined;
  private state = State.Open;
  /** The open streamed message: its opcode until its first fragment went out. */
  private streamOpcode = Opcode.Continuation;
  /** Text streams are validated as they go, so we never send invalid UTF-8 (§8.1). */
  private streamUtf8: Utf8Validator | undefined;

  /** @throws {WebSocketUsageError} on invalid options. */
  constructor(options: MessageSerializerOptions, writer: FrameWriter) {
    this.writer = writer;
    this.fragmentSize = numberOption('fragmentSize', options.fragmentSize, Infinity, { integer: true, min: 1 });
    this.extension = options.extension;
  }

  /** Sets the extension once the handshake agreed to it. */
  useExtension(extension: MessageExtension | undefined): void {
    this.extension = extension;
  }

  /** True once a close frame was serialized. */
  get closed(): boolean {
    return this.state === State.Closed;
  }

  /** True while a streamed message is open. */
  get streaming(): boolean {
    return this.state === State.Streaming;
  }

  /**
   * Serializes one data message: `isBinary` false sends a Text message (a string, or bytes that
   * are UTF-8), true a Binary one. The extension may encode it (unless `compress` is false), now,
   * or later: the frames then go out at this position of the output all the same (see
   * {@link FrameWriter.hold}).
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for data that is not a string or
   *   bytes; `WS_ERR_INVALID_STATE` after a close or while a streamed message is open.
   */
  message(data: string | Uint8Array, isBinary: boolean, compress = true): void {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'data must be a string, Buffer or Uint8Array');
    }
    this.checkData();
    const opcode = isBinary ? Opcode.Binary : Opcode.Text;
    const extension = this.extension;
    if (extension === undefined || !compress) {
      writeData(this.writer, opcode, data, this.fragmentSize, false);
      return;
    }
    let held: HeldFrames | undefined;
    const encoded = extension.encode(data, !isBinary, (error, payload) => {
      const target = held as HeldFrames;
      if (error === null && payload !== undefined) writeData(target, opcode, payload, this.fragmentSize, true);
      target.release(error ?? undefined);
    });
    if (encoded === PENDING) {
      held = this.writer.hold();
    } else if (encoded === undefined) {
      writeData(this.writer, opcode, data, this.fragmentSize, false);
    } else {
      writeData(this.writer, opcode, encoded, this.fragmentSize, true);
    }
  }

  /**
   * A ping or pong (RFC 6455 §5.5.2-§5.5.3), at most 125 bytes. Allowed between the fragments of
   * a streamed message and after a close.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH` over 125 bytes.
   */
  control(type: 'ping' | 'pong', data?: string | Uint8Array): void {
    this.writer.frame({ opcode: type === 'ping' ? Opcode.Ping : Opcode.Pong, payload: controlPayload(type, data) });
  }

  /**
   * The close frame (RFC 6455 §5.5.1): empty without a code, else the code and the UTF-8 reason.
   * @throws {WebSocketUsageError} as `encodeClosePayload`; `WS_ERR_INVALID_STATE` for a second close.
   */
  close(code?: number, reason?: string): void {
    const payload = encodeClosePayload(code, reason);
    if (this.state === State.Closed) throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'a close frame was already sent');
    this.state = State.Closed;
    this.writer.frame({ opcode: Opcode.Close, payload });
  }

  /**
   * Opens a streamed message: its chunks follow through {@link streamChunk} and it ends with
   * {@link endStream}. Streamed messages are never encoded by the extension (a message of unknown
   * length would need a live compressor for its whole duration): they go out as they are.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` after a close or while a stream is open.
   */
  startStream(isBinary: boolean): void {
    this.checkData();
    this.state = State.Streaming;
    this.streamOpcode = isBinary ? Opcode.Binary : Opcode.Text;
    if (isBinary) this.streamUtf8 = undefined;
    else (this.streamUtf8 ??= new Utf8Validator()).reset();
  }

  /**
   * The next chunk of the open streamed message, sent as one fragment (split further by
   * `fragmentSize`). Empty chunks send nothing.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` with no stream open;
   *   `WS_ERR_INVALID_ARGUMENT` for text that is not valid UTF-8 so far.
   */
  streamChunk(data: string | Uint8Array): void {
    if (this.state !== State.Streaming) throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'no streamed message is open');
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'a chunk must be a string, Buffer or Uint8Array');
    }
    const bytes = bytesOf(data);
    if (bytes.byteLength === 0) return;
    if (this.streamUtf8 !== undefined && typeof data !== 'string' && !this.streamUtf8.write(bytes)) {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'a text stream must be valid UTF-8');
    }
    for (let offset = 0; offset < bytes.byteLength; offset += this.fragmentSize) {
      const end = Math.min(offset + this.fragmentSize, bytes.byteLength);
      this.writer.frame({ opcode: this.streamOpcode, payload: bytes.subarray(offset, end), fin: false });
      this.streamOpcode = Opcode.Continuation;
    }
  }

  /**
   * Ends the open streamed message with a final (empty, or first if nothing was sent) frame.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` with no stream open;
   *   `WS_ERR_INVALID_ARGUMENT` when a text stream ended inside a UTF-8 sequence.
   */
  endStream(): void {
    if (this.state !== State.Streaming) throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'no streamed message is open');
    if (this.streamUtf8 !== undefined && !this.streamUtf8.end()) {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'a text stream ended inside a UTF-8 sequence');
    }
    this.state = State.Open;
    this.writer.frame({ opcode: this.streamOpcode, payload: EMPTY, fin: true });
    this.streamOpcode = Opcode.Continuation;
  }

  /**
   * Abandons the open streamed message (its source failed): nothing more of it can be sent, and
   * the connection must be closed, since the peer waits for the rest (§5.4).
   */
  abortStream(): void {
    if (this.state === State.Streaming) this.state = State.Open;
  }

  private checkData(): void {
    if (this.state === State.Closed) throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'no data message may follow a close');
    if (this.state === State.Streaming) throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'a streamed message is open');
  }
}

/**
 * The frames of one message, as an array (for tools and tests; senders use
 * {@link MessageSerializer}). Data messages longer than `fragmentSize` bytes are fragmented;
 * control messages are always one frame (§5.5). Payloads are views of the input, not copies.
 *
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for an unknown type, a wrong data type
 *   or a `fragmentSize` that is not a positive integer (or `Infinity`);
 *   `WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH` for a ping/pong payload over 125 bytes; the errors of
 *   `encodeClosePayload` for a close message.
 */
export function fragmentMessage(message: MessageInput, fragmentSize = Infinity): FrameInput[] {
  const frames: FrameInput[] = [];
  const writer: FrameWriter = {
    frame: (frame) => { frames.push(frame); },
    hold: () => { throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'no extension'); },
  };
  serializeMessage(new MessageSerializer({ fragmentSize }, writer), message);
  return frames;
}

/**
 * Hands one {@link MessageInput} to `serializer`.
 * @throws {WebSocketUsageError} as the serializer's methods, and for an unknown type.
 */
export function serializeMessage(serializer: MessageSerializer, message: MessageInput): void {
  if (message === null || typeof message !== 'object') {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'expected a message object');
  }
  switch (message.type) {
    case 'text':
      if (typeof message.data !== 'string') throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'text data must be a string');
      serializer.message(message.data, false);
      return;
    case 'binary':
      if (!((message.data as unknown) instanceof Uint8Array)) {
        throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'binary data must be a Buffer or Uint8Array');
      }
      serializer.message(message.data, true);
      return;
    case 'ping':
    case 'pong':
      serializer.control(message.type, message.data);
      return;
    case 'close':
      serializer.close(message.code, message.reason);
      return;
    default:
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `unknown message type ${String((message as { type: unknown }).type)}`);
  }
}
