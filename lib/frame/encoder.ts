/**
 * FrameEncoder: a readable-stream Transform from frame objects to wire bytes, over the
 * serializer; frames written together leave as one chunk.
 */
import { WebSocketUsageError } from '../errors';
import type { EventEmitMethod, EventListenerMethod } from '../events';
import type { Transform, TransformEvents } from '../streams';
import type { FrameInput, Role } from './frame';
import { headerLength } from './frame';
import { type MaskSource, type MaskSourceLike, toMaskSource } from './mask';
import { emitFrame, emitValidated, validate, writeFrame } from './serializer';
import { SyncTransform, type TransformCallback } from './sync-transform';

export interface FrameEncoderOptions {
  /** `'client'` masks every frame with a fresh key (RFC 6455 §5.3); `'server'` never masks. Default `'server'`. */
  role?: Role;
  /**
   * Where masking keys come from: an object with `next()` or a function, returning the key as a
   * uint32 (first wire byte most significant) or as 4 bytes. Default: a pooled CSPRNG shared by
   * the process.
   */
  maskSource?: MaskSourceLike;
  /** ws's hook for the same purpose: fills the 4-byte buffer it is given with the next key. */
  generateMask?: (mask: Buffer) => void;
  /** Byte high-water mark of the readable side. Default 16 KiB (Node's default). */
  readableHighWaterMark?: number;
  /** Frame high-water mark of the writable side. Default 64 frames. */
  writableHighWaterMark?: number;
  /**
   * Gather the frames written in one tick into one output chunk (the stream corks itself on the
   * first write and uncorks on the next tick), as Node's HTTP responses do: a burst of small
   * frames becomes one socket write. Default true; false emits each frame as it is written.
   */
  autoCork?: boolean;
}

type WriteCallback = (error: Error | null | undefined) => void;
type WriteChunk = Parameters<Transform['write']>[0];

function uncorkEncoder(encoder: FrameEncoder): void {
  encoder.releaseCork();
}

/** Frames larger than this (header included) are not gathered into a batch. */
const BATCH_FRAME_MAX = 4096;

/** Largest output chunk a batch of small frames makes: Node's default stream high-water mark. */
const BATCH_BYTES = 16 * 1024;

/** Events of a {@link FrameEncoder}: a Transform's, with `'data'` carrying the wire bytes. */
export interface FrameEncoderEvents extends TransformEvents {
  /** Encoded bytes: one or more whole frames (with autoCork, the frames written in one tick). */
  data: [bytes: Buffer];
}

// Typed events over the inherited methods: declarations only, nothing changes at run time.
export interface FrameEncoder {
  on: EventListenerMethod<FrameEncoderEvents, this>;
  once: EventListenerMethod<FrameEncoderEvents, this>;
  off: EventListenerMethod<FrameEncoderEvents, this>;
  addListener: EventListenerMethod<FrameEncoderEvents, this>;
  removeListener: EventListenerMethod<FrameEncoderEvents, this>;
  prependListener: EventListenerMethod<FrameEncoderEvents, this>;
  prependOnceListener: EventListenerMethod<FrameEncoderEvents, this>;
  emit: EventEmitMethod<FrameEncoderEvents>;
}

/**
 * A Transform from frame objects `{ opcode, payload, fin?, rsv1?, rsv2?, rsv3? }` to wire bytes.
 * Invalid frames fail the stream with a {@link WebSocketUsageError}; nothing is silently fixed.
 * Frames written while the stream is corked come out as one chunk.
 *
 * Large unmasked payloads are passed on without a copy: do not modify a Buffer after writing it.
 *
 * @throws {WebSocketUsageError} on invalid options.
 */
export class FrameEncoder extends SyncTransform {
  private readonly maskSource: MaskSource | undefined;
  private readonly autoCork: boolean;
  private corkedForTick = false;

  constructor(options: FrameEncoderOptions = {}) {
    super({
      writableObjectMode: true,
      readableObjectMode: false,
      readableHighWaterMark: options.readableHighWaterMark,
      writableHighWaterMark: options.writableHighWaterMark ?? 64,
    });
    this.autoCork = options.autoCork !== false;
    const role = options.role ?? 'server';
    if (role !== 'server' && role !== 'client') {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `role must be 'server' or 'client'`);
    }
    this.maskSource = role === 'client' ? toMaskSource(options.maskSource, options.generateMask) : undefined;
  }

  /** Writes a frame; with autoCork, the frames of one tick are encoded together on the next. */
  // The chunk keeps the base class's type, so the encoder still fits Node's pipeline
  // types; a FrameInput is what it expects (anything else fails the stream with a usage error).
  override write(frame: WriteChunk, callback?: WriteCallback): boolean;
  override write(frame: WriteChunk, encoding?: BufferEncoding, callback?: WriteCallback): boolean;
  override write(frame: WriteChunk, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    if (this.autoCork && !this.corkedForTick) {
      this.corkedForTick = true;
      this.cork();
      process.nextTick(uncorkEncoder, this);
    }
    return typeof encoding === 'function' ? super.write(frame, encoding) : super.write(frame, encoding as BufferEncoding, callback);
  }

  /** @internal Ends the tick's cork. */
  releaseCork(): void {
    if (!this.corkedForTick) return;
    this.corkedForTick = false;
    this.uncork();
  }

  // A reader asking now gets the frames written so far, not an empty buffer until the next tick.
  override read(size?: number): ReturnType<SyncTransform['read']> {
    this.releaseCork();
    return super.read(size);
  }

  // The hot path: encode straight from write(), no per-frame closure (see SyncTransform).
  override _write(frame: FrameInput, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      emitFrame(frame, this.nextKey(), this);
    } catch (err) {
      this.complete(callback, err as Error);
      return;
    }
    this.complete(callback);
  }

  /**
   * Frames written together (cork, autoCork, or while a write was pending): runs of small frames
   * become one output chunk of at most BATCH_BYTES; a large frame goes out on its own, as from
   * `_write` (gathering it would only add a copy). Frames before an invalid one still go out.
   */
  override _writev(chunks: Array<{ chunk: FrameInput }>, callback: TransformCallback): void {
    const count = chunks.length;
    const masked = this.maskSource !== undefined;
    const lengths: number[] = [];
    let failure: Error | undefined;
    let start = 0;
    let total = 0;
    for (let i = 0; i < count; i++) {
      const frame = chunks[i].chunk;
      let length: number;
      try {
        length = validate(frame);
      } catch (err) {
        failure = err as Error;
        break;
      }
      const size = headerLength(length, masked) + length;
      if (size > BATCH_FRAME_MAX) {
        this.flushRun(chunks, start, lengths, total);
        emitValidated(frame, length, this.nextKey(), this);
        lengths.length = 0;
        total = 0;
        start = i + 1;
        continue;
      }
      if (total + size > BATCH_BYTES) {
        this.flushRun(chunks, start, lengths, total);
        lengths.length = 0;
        total = 0;
        start = i;
      }
      lengths.push(length);
      total += size;
    }
    this.flushRun(chunks, start, lengths, total);
    this.complete(callback, failure);
  }

  /** Encodes the small frames `chunks[start ...]` (their payload `lengths`) as one chunk. */
  private flushRun(chunks: Array<{ chunk: FrameInput }>, start: number, lengths: readonly number[], total: number): void {
    if (lengths.length === 0) return;
    const out = Buffer.allocUnsafe(total);
    let pos = 0;
    for (let k = 0; k < lengths.length; k++) pos = writeFrame(out, pos, chunks[start + k].chunk, lengths[k], this.nextKey());
    this.push(out);
  }

  private nextKey(): number {
    return this.maskSource === undefined ? -1 : this.maskSource.next();
  }

}
