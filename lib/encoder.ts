/**
 * FrameEncoder: frame-like objects in, wire bytes out. encodeFrame() is the sans-I/O core;
 * FrameEncoder adapts it to a Transform and packs frames written together into one chunk.
 */
import { WebSocketUsageError } from './errors';
import type { Transform } from 'readable-stream';
import { checkOutgoing, firstByte, type FrameInput, headerLength, writeHeader } from './frame';
import { type MaskSource, type MaskSourceLike, maskInto, toMaskSource, unmask } from './mask';
import type { Role } from './decoder';
import { SyncTransform, type TransformCallback } from './transform';

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

/**
 * Unmasked payloads at least this long go out as their own chunk, untouched: copying them next
 * to the header would cost more than the extra chunk.
 */
const ZERO_COPY_MIN = 1024;

/** Frames larger than this (header included) are not gathered into a batch. */
const BATCH_FRAME_MAX = 4096;

/** Largest output chunk a batch of small frames makes: Node's default stream high-water mark. */
const BATCH_BYTES = 16 * 1024;

const EMPTY = Buffer.alloc(0);

/** A frame's payload as bytes or a string, and its length in bytes. */
function payloadLength(frame: FrameInput): number {
  const payload = frame.payload;
  if (payload === undefined) return 0;
  if (typeof payload === 'string') return Buffer.byteLength(payload);
  if (payload instanceof Uint8Array) return payload.byteLength;
  throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'payload must be a Buffer, Uint8Array or string');
}

/**
 * Validates `frame` and returns its payload length.
 * @throws {WebSocketUsageError} for reserved opcodes, fragmented or oversized control frames.
 */
function validate(frame: FrameInput): number {
  if (frame === null || typeof frame !== 'object') {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'expected a frame object');
  }
  const length = payloadLength(frame);
  const problem = checkOutgoing(frame.opcode, frame.fin !== false, length);
  if (problem !== undefined) throw new WebSocketUsageError(problem, `opcode ${String(frame.opcode)}, ${length} bytes`);
  return length;
}

function header(frame: FrameInput): number {
  return firstByte(frame.fin !== false, frame.rsv1 === true, frame.rsv2 === true, frame.rsv3 === true, frame.opcode);
}

/** Writes header and payload at `pos`; returns the offset past them. */
function writeFrame(target: Buffer, pos: number, frame: FrameInput, length: number, maskKey: number): number {
  const start = writeHeader(target, pos, header(frame), length, maskKey);
  const payload = frame.payload ?? EMPTY;
  if (typeof payload === 'string') {
    target.write(payload, start, length, 'utf8');
    if (maskKey !== -1) unmask(target.subarray(start, start + length), maskKey, 0);
  } else if (maskKey !== -1) {
    maskInto(payload, maskKey, target, start);
  } else {
    target.set(payload, start);
  }
  return start + length;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Encodes one frame into a new Buffer, in the minimal length form. `maskKey` (big-endian uint32)
 * masks it; -1 (the default) leaves it unmasked. The input payload is never modified.
 *
 * @throws {WebSocketUsageError} when the frame is invalid (RFC 6455 §5.2, §5.5).
 */
export function encodeFrame(frame: FrameInput, maskKey = -1): Buffer {
  const length = validate(frame);
  const out = Buffer.allocUnsafe(headerLength(length, maskKey !== -1) + length);
  writeFrame(out, 0, frame, length, maskKey);
  return out;
}

/** Where {@link emitFrame} hands its chunks: a Transform's `push` or a socket's `write`. */
export interface ChunkSink {
  push(chunk: Buffer): unknown;
}

/**
 * Encodes one frame into `sink` as one chunk, or as header + the caller's own payload Buffer
 * when it is large and unmasked (no copy). `maskKey`: big-endian uint32, or -1 for unmasked.
 *
 * @throws {WebSocketUsageError} when the frame is invalid (RFC 6455 §5.2, §5.5).
 */
export function emitFrame(frame: FrameInput, maskKey: number, sink: ChunkSink): void {
  emitValidated(frame, validate(frame), maskKey, sink);
}

/** {@link emitFrame} for a frame already validated, whose payload is `length` bytes. */
function emitValidated(frame: FrameInput, length: number, maskKey: number, sink: ChunkSink): void {
  const payload = frame.payload;
  if (maskKey === -1 && length >= ZERO_COPY_MIN && typeof payload !== 'string' && payload !== undefined) {
    const head = Buffer.allocUnsafe(headerLength(length, false));
    writeHeader(head, 0, header(frame), length, -1);
    sink.push(head);
    sink.push(asBuffer(payload));
    return;
  }
  const out = Buffer.allocUnsafe(headerLength(length, maskKey !== -1) + length);
  writeFrame(out, 0, frame, length, maskKey);
  sink.push(out);
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
  // The chunk keeps the base class's type, so the encoder still fits readable-stream's pipeline
  // types; a FrameInput is what it expects (anything else fails the stream with a usage error).
  override write(frame: WriteChunk, callback?: WriteCallback): boolean;
  override write(frame: WriteChunk, encoding?: string, callback?: WriteCallback): boolean;
  override write(frame: WriteChunk, encoding?: string | WriteCallback, callback?: WriteCallback): boolean {
    if (this.autoCork && !this.corkedForTick) {
      this.corkedForTick = true;
      this.cork();
      process.nextTick(uncorkEncoder, this);
    }
    return typeof encoding === 'function' ? super.write(frame, encoding) : super.write(frame, encoding, callback);
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

  /** Encodes and pushes one frame. @throws {WebSocketUsageError} */
  private encodeOne(frame: FrameInput): void {
    emitFrame(frame, this.nextKey(), this);
  }

  override _transform(frame: FrameInput, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.encodeOne(frame);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  // The hot path: encode straight from write(), no per-frame closure (see SyncTransform).
  override _write(frame: FrameInput, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.encodeOne(frame);
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
