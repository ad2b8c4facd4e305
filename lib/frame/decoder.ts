/**
 * FrameDecoder: a readable-stream Transform from wire bytes (any chunking) to {@link Frame}
 * objects, over the sans-I/O {@link FrameParser}.
 */
import type { EventEmitMethod, EventListenerMethod } from '../events';
import type { TransformEvents } from '../streams';
import type { Frame, FramePiece } from './frame';
import { FrameParser, type FrameParserOptions } from './parser';
import { SyncTransform, type TransformCallback } from './sync-transform';

export interface FrameDecoderOptions extends FrameParserOptions {
  /** Object high-water mark of the readable side. Default 16 frames (Node's object-mode default). */
  readableHighWaterMark?: number;
}

/** Events of a {@link FrameDecoder}: a Transform's, with `'data'` carrying the decoded frames. */
export interface FrameDecoderEvents extends TransformEvents {
  /** A decoded frame; with `streamingThreshold`, a long one arrives as {@link FramePiece}s (`isFramePiece`). */
  data: [frame: Frame | FramePiece];
}

// Typed events over the inherited methods: declarations only, nothing changes at run time.
export interface FrameDecoder {
  on: EventListenerMethod<FrameDecoderEvents, this>;
  once: EventListenerMethod<FrameDecoderEvents, this>;
  off: EventListenerMethod<FrameDecoderEvents, this>;
  addListener: EventListenerMethod<FrameDecoderEvents, this>;
  removeListener: EventListenerMethod<FrameDecoderEvents, this>;
  prependListener: EventListenerMethod<FrameDecoderEvents, this>;
  prependOnceListener: EventListenerMethod<FrameDecoderEvents, this>;
  emit: EventEmitMethod<FrameDecoderEvents>;
}

/**
 * A Transform from wire bytes (any chunking) to {@link Frame} objects.
 *
 * Protocol violations destroy the stream with a {@link WebSocketProtocolError} carrying
 * `closeCode`, `code` and `offset`; every frame completed before the bad byte is pushed first,
 * and the error is emitted once those frames have been read (so a paused reader loses none).
 *
 * @throws {WebSocketUsageError} on invalid options.
 */
export class FrameDecoder extends SyncTransform {
  /** The underlying sans-I/O parser (read-only use: `position`, `idle`). */
  readonly parser: FrameParser;

  constructor(options: FrameDecoderOptions = {}) {
    super({
      readableObjectMode: true,
      writableObjectMode: false,
      readableHighWaterMark: options.readableHighWaterMark ?? 16,
    });
    this.parser = new FrameParser(options, { frame: (frame) => { this.push(frame); } });
  }

  // The hot path: parse straight from write(), no per-chunk closure (see SyncTransform).
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.complete(callback, this.parser.write(chunk));
  }

  override _flush(callback: TransformCallback): void {
    this.settle(callback, this.parser.end());
  }
}
