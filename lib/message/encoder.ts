/**
 * MessageEncoder: a readable-stream Transform from messages to frame objects, over the sans-I/O
 * {@link MessageSerializer}, for a FrameEncoder to turn into bytes.
 */
import type { EventEmitMethod, EventListenerMethod } from '../events';
import { Transform, type TransformEvents } from '../streams';
import type { FrameInput } from '../frame/frame';
import type { TransformCallback } from '../frame/sync-transform';
import type { MessageExtension } from './extension';
import { type HeldFrames, type MessageInput, MessageSerializer, serializeMessage } from './serializer';

export interface MessageEncoderOptions {
  /**
   * Largest payload per data frame, in bytes; longer messages are fragmented (RFC 6455 §5.4).
   * Default `Infinity`: one frame per message.
   */
  fragmentSize?: number;
  /**
   * An extension agreed with the peer (e.g. a `PerMessageDeflate` codec in the sending role): data
   * messages are encoded by it, and their first frame carries its reserved bits, as a
   * MessageDecoder with the peer's codec expects.
   */
  extension?: MessageExtension;
  /** Object high-water mark of the readable side (frames). Default 16. */
  readableHighWaterMark?: number;
}

/** Events of a {@link MessageEncoder}: a Transform's, with `'data'` carrying the frames. */
export interface MessageEncoderEvents extends TransformEvents {
  /** A frame for a FrameEncoder (a fragment, for a message longer than `fragmentSize`). */
  data: [frame: FrameInput];
}

// Typed events over the inherited methods: declarations only, nothing changes at run time.
export interface MessageEncoder {
  on: EventListenerMethod<MessageEncoderEvents, this>;
  once: EventListenerMethod<MessageEncoderEvents, this>;
  off: EventListenerMethod<MessageEncoderEvents, this>;
  addListener: EventListenerMethod<MessageEncoderEvents, this>;
  removeListener: EventListenerMethod<MessageEncoderEvents, this>;
  prependListener: EventListenerMethod<MessageEncoderEvents, this>;
  prependOnceListener: EventListenerMethod<MessageEncoderEvents, this>;
  emit: EventEmitMethod<MessageEncoderEvents>;
}

/**
 * A Transform from {@link MessageInput}s to {@link FrameInput}s (object mode both sides), for a
 * FrameEncoder to serialize. Invalid messages fail the stream with a `WebSocketUsageError`. After
 * a close message it refuses data messages and a second close with `WS_ERR_INVALID_STATE`
 * (RFC 6455 §5.5.1: no data frames after a Close frame); ping and pong still pass. A message the
 * extension encodes asynchronously holds the stream until it is done, so frames keep their order.
 *
 * Payloads are passed on as views: do not modify a Buffer after writing it.
 *
 * @throws {WebSocketUsageError} on invalid options.
 */
export class MessageEncoder extends Transform {
  private readonly serializer: MessageSerializer;
  /** The current write's callback, held while the extension encodes its message. */
  private heldCallback: TransformCallback | undefined;
  /** An asynchronous encode is under way. */
  private pending = false;

  constructor(options: MessageEncoderOptions = {}) {
    super({
      readableObjectMode: true,
      writableObjectMode: true,
      readableHighWaterMark: options.readableHighWaterMark ?? 16,
    });
    this.serializer = new MessageSerializer(options, {
      frame: (frame: FrameInput) => { this.push(frame); },
      hold: (): HeldFrames => {
        this.pending = true;
        return {
          frame: (frame: FrameInput) => { this.push(frame); },
          release: (error?: Error) => { this.released(error); },
        };
      },
    });
  }

  override _transform(message: MessageInput, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.heldCallback = callback;
    try {
      serializeMessage(this.serializer, message);
    } catch (error) {
      this.heldCallback = undefined;
      callback(error as Error);
      return;
    }
    // Unless the extension took the message away to encode it later, the write is done.
    if (!this.pending) this.released();
  }

  private released(error?: Error): void {
    const callback = this.heldCallback;
    this.heldCallback = undefined;
    this.pending = false;
    callback?.(error);
  }
}
