/**
 * Frame serialization, sans-I/O: frame-like objects in, wire bytes out (RFC 6455 §5.2), always in
 * the minimal length form. The FrameEncoder Transform and the connection's outgoing queue both
 * write frames with these functions.
 */
import { WebSocketUsageError } from '../errors';
import { checkOutgoing, firstByte, type FrameInput, headerLength, writeHeader } from './frame';
import { maskInto, unmask } from './mask';

/**
 * Unmasked payloads at least this long go out as their own chunk, untouched: copying them next
 * to the header would cost more than the extra chunk.
 */
export const ZERO_COPY_MIN = 1024;

const EMPTY = Buffer.alloc(0);

/** A frame's payload as bytes or a string, and its length in bytes. */
export function payloadLength(frame: FrameInput): number {
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
export function validate(frame: FrameInput): number {
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

/**
 * Writes header and payload of a validated frame (payload `length` bytes) at `pos`, masked with
 * `maskKey` unless it is -1; returns the offset past them.
 */
export function writeFrame(target: Buffer, pos: number, frame: FrameInput, length: number, maskKey: number): number {
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
export function emitValidated(frame: FrameInput, length: number, maskKey: number, sink: ChunkSink): void {
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
