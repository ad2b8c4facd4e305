/**
 * FrameEncoder: frame-like objects in, wire bytes out. encodeFrame() is the sans-I/O core;
 * FrameEncoder adapts it to a Transform and packs frames written together into one chunk.
 */
import { WebSocketUsageError } from './errors';
import { checkOutgoing, firstByte, type FrameInput, headerLength, writeHeader } from './frame';
import { defaultMaskSource, type MaskSource, maskInto, unmask } from './mask';
import type { Role } from './decoder';
import { SyncTransform, type TransformCallback } from './transform';

export interface FrameEncoderOptions {
  /** `'client'` masks every frame with a fresh key (RFC 6455 §5.3); `'server'` never masks. Default `'server'`. */
  role?: Role;
  /** Where masking keys come from. Default: a pooled CSPRNG shared by the process. */
  maskSource?: MaskSource;
  /** Byte high-water mark of the readable side. Default 16 KiB (Node's default). */
  readableHighWaterMark?: number;
}

/**
 * Unmasked payloads at least this long go out as their own chunk, untouched: copying them next
 * to the header would cost more than the extra chunk.
 */
const ZERO_COPY_MIN = 1024;

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
  const length = validate(frame);
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

  constructor(options: FrameEncoderOptions = {}) {
    super({
      writableObjectMode: true,
      readableObjectMode: false,
      readableHighWaterMark: options.readableHighWaterMark,
    });
    const role = options.role ?? 'server';
    if (role !== 'server' && role !== 'client') {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `role must be 'server' or 'client'`);
    }
    this.maskSource = role === 'client' ? options.maskSource ?? defaultMaskSource() : undefined;
  }

  /** Encodes and pushes one frame. @throws {WebSocketUsageError} */
  private encodeOne(frame: FrameInput): void {
    emitFrame(frame, this.maskSource === undefined ? -1 : this.maskSource.next(), this);
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

  /** Frames written together (cork, or while a write was pending) become one output chunk. */
  override _writev(chunks: Array<{ chunk: FrameInput }>, callback: TransformCallback): void {
    const count = chunks.length;
    const lengths: number[] = new Array<number>(count);
    let failure: Error | undefined;
    let valid = 0;
    let total = 0;
    for (; valid < count; valid++) {
      const frame = chunks[valid].chunk;
      let length: number;
      try {
        length = validate(frame);
      } catch (err) {
        failure = err as Error;
        break;
      }
      lengths[valid] = length;
      total += headerLength(length, this.maskSource !== undefined) + (this.inline(frame, length) ? length : 0);
    }
    // Frames before an invalid one still go out, as they would have one write at a time.
    const out = Buffer.allocUnsafe(total);
    let pos = 0;
    let flushed = 0;
    for (let i = 0; i < valid; i++) {
      const frame = chunks[i].chunk;
      const length = lengths[i];
      if (this.inline(frame, length)) {
        pos = writeFrame(out, pos, frame, length, this.maskSource === undefined ? -1 : this.maskSource.next());
      } else {
        pos = writeHeader(out, pos, header(frame), length, -1);
        this.push(out.subarray(flushed, pos));
        this.push(asBuffer(frame.payload as Uint8Array));
        flushed = pos;
      }
    }
    if (pos > flushed) this.push(out.subarray(flushed, pos));
    this.complete(callback, failure);
  }

  /** Whether the payload is copied next to its header rather than passed on as its own chunk. */
  private inline(frame: FrameInput, length: number): boolean {
    return this.maskSource !== undefined || length < ZERO_COPY_MIN || typeof frame.payload === 'string';
  }
}
