/**
 * MessageDecoder: a readable-stream Transform from frames to messages, over the sans-I/O
 * {@link MessageParser}; in streaming mode each data message is a Readable of its own.
 */
import { Readable, Transform, type TransformEvents } from '../streams';
import { WebSocketProtocolError } from '../errors';
import type { EventEmitMethod, EventListenerMethod } from '../events';
import type { Frame, FramePiece } from '../frame/frame';
import type { TransformCallback } from '../frame/sync-transform';
import { numberOption } from '../options';
import { MessageParser, type MessageParserOptions, type WholeMessage } from './parser';

/**
 * A data message delivered while it arrives (`streaming: true`): a `text-stream` yields strings,
 * a `binary-stream` Buffers. The stream ends at the message's final fragment, and is destroyed
 * with the error if the connection fails before that.
 */
export interface StreamingMessage { type: 'text-stream' | 'binary-stream'; stream: Readable }
/** Everything a MessageDecoder emits. */
export type Message = WholeMessage | StreamingMessage;

export interface MessageDecoderOptions extends MessageParserOptions {
  /** Object high-water mark of the readable side (messages). Default 16. */
  readableHighWaterMark?: number;
  /**
   * High-water mark of each streamed message's Readable: bytes for `binary-stream`, characters for
   * `text-stream`. Default 16 KiB. The decoder stops taking frames while a stream holds this much.
   */
  streamHighWaterMark?: number;
}

const DEFAULT_STREAM_HIGH_WATER_MARK = 16 * 1024;

/** Events of a {@link MessageDecoder}: a Transform's, with `'data'` carrying the messages. */
export interface MessageDecoderEvents extends TransformEvents {
  /** A message: whole, or (`streaming: true`) a data message's stream while it arrives. */
  data: [message: Message];
}

// Typed events over the inherited methods: declarations only, nothing changes at run time.
export interface MessageDecoder {
  on: EventListenerMethod<MessageDecoderEvents, this>;
  once: EventListenerMethod<MessageDecoderEvents, this>;
  off: EventListenerMethod<MessageDecoderEvents, this>;
  addListener: EventListenerMethod<MessageDecoderEvents, this>;
  removeListener: EventListenerMethod<MessageDecoderEvents, this>;
  prependListener: EventListenerMethod<MessageDecoderEvents, this>;
  prependOnceListener: EventListenerMethod<MessageDecoderEvents, this>;
  emit: EventEmitMethod<MessageDecoderEvents>;
}

/**
 * A Transform from {@link Frame}s and {@link FramePiece}s (object mode) to {@link Message}s
 * (object mode). Reassembles fragments, delivers control frames at once, validates UTF-8 as it
 * arrives and enforces `maxMessageSize` and `maxFragments`.
 *
 * Errors: a protocol violation destroys the stream with a {@link WebSocketProtocolError}
 * (`closeCode`, `code`); every message completed before it is pushed first. An open message
 * stream is destroyed with the same error. If input ends in the middle of a streamed message, its
 * stream is destroyed with `WS_ERR_CONNECTION_LOST` (1006) rather than ended, so a truncated
 * message never looks complete.
 *
 * Backpressure in streaming mode: while the open message's stream holds `streamHighWaterMark`,
 * the decoder takes no more frames, so its writable side fills and `write()` returns false.
 *
 * @throws {WebSocketUsageError} on invalid options.
 */
export class MessageDecoder extends Transform {
  /** The underlying sans-I/O parser (read-only use: `idle`). */
  readonly parser: MessageParser;
  private readonly streamHighWaterMark: number;
  /** The streamed message whose bytes are still arriving (or whose end waits for a read). */
  private stream: Readable | undefined;
  /** The open stream is full: hold the write callback until it is read. */
  private blocked = false;
  /** The message is complete but its stream was full: end it at the next read. */
  private endPending = false;
  private heldCallback: TransformCallback | undefined;

  constructor(options: MessageDecoderOptions = {}) {
    super({
      readableObjectMode: true,
      writableObjectMode: true,
      readableHighWaterMark: options.readableHighWaterMark ?? 16,
    });
    this.streamHighWaterMark = numberOption('streamHighWaterMark', options.streamHighWaterMark, DEFAULT_STREAM_HIGH_WATER_MARK, { integer: true });
    this.parser = new MessageParser(options, {
      message: (message) => { this.push(message); },
      streamStart: (type) => { this.startStream(type); },
      streamData: (bytes) => { this.streamData(bytes); },
      streamEnd: () => { this.endStream(); },
      resumed: (error) => { this.resumed(error); },
    });
  }

  override _transform(frame: Frame | FramePiece, _encoding: BufferEncoding, callback: TransformCallback): void {
    const error = this.parser.write(frame);
    if (error !== undefined) {
      // Destroys this stream with the error; _destroy hands it on to an open message stream.
      callback(error);
    } else if (this.blocked || this.parser.waiting) {
      // A full message stream, or the extension still decoding: take the next frame later.
      this.heldCallback = callback;
    } else {
      callback();
    }
  }

  /** The extension finished the message the parser was waiting on. */
  private resumed(error: Error | undefined): void {
    if (error !== undefined) {
      this.heldCallback = undefined;
      this.destroy(error);
      return;
    }
    if (!this.blocked) this.release();
  }

  override _flush(callback: TransformCallback): void {
    if (this.stream !== undefined && !this.endPending) {
      this.abortStream(new WebSocketProtocolError('WS_ERR_CONNECTION_LOST', 'input ended inside a message'));
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    const stream = this.stream;
    if (stream !== undefined && this.endPending) {
      // The message was complete; only its reader was behind.
      this.stream = undefined;
      stream.push(null);
    } else {
      this.abortStream(error ?? new WebSocketProtocolError('WS_ERR_CONNECTION_LOST', 'decoder destroyed inside a message'));
    }
    this.heldCallback = undefined;
    callback(error);
  }

  private startStream(type: 'text' | 'binary'): void {
    const stream: Readable = new Readable({
      highWaterMark: this.streamHighWaterMark,
      // The Readable's own string decoder joins characters split across pushes; the bytes are
      // already validated, so it never substitutes U+FFFD. It keeps a BOM, as it should.
      encoding: type === 'text' ? 'utf8' : undefined,
      read: () => { this.streamRead(stream); },
      destroy: (error, callback) => {
        this.streamDestroyed(stream);
        callback(error);
      },
    });
    this.stream = stream;
    this.blocked = false;
    this.endPending = false;
    this.push({ type: type === 'text' ? 'text-stream' : 'binary-stream', stream });
  }

  private streamData(bytes: Buffer): void {
    const stream = this.stream as Readable;
    // A reader that destroyed the stream wants no more of it; the rest is validated and dropped.
    if (!stream.destroyed && !stream.push(bytes)) this.blocked = true;
  }

  private endStream(): void {
    const stream = this.stream as Readable;
    if (this.blocked) {
      this.endPending = true;
      return;
    }
    this.stream = undefined;
    if (!stream.destroyed) stream.push(null);
  }

  /** The reader wants more: end or resume the message. */
  private streamRead(stream: Readable): void {
    if (stream !== this.stream || !this.blocked) return;
    this.blocked = false;
    if (this.endPending) {
      this.endPending = false;
      this.stream = undefined;
      stream.push(null);
    }
    this.release();
  }

  /** The reader destroyed the stream: stop waiting for it. */
  private streamDestroyed(stream: Readable): void {
    if (stream !== this.stream) return;
    if (this.endPending) this.stream = undefined;
    this.endPending = false;
    this.blocked = false;
    this.release();
  }

  private release(): void {
    if (this.parser.waiting) return;
    const callback = this.heldCallback;
    if (callback !== undefined) {
      this.heldCallback = undefined;
      callback();
    }
  }

  private abortStream(error: Error): void {
    const stream = this.stream;
    this.stream = undefined;
    this.blocked = false;
    this.endPending = false;
    if (stream !== undefined && !stream.destroyed) stream.destroy(error);
  }
}
