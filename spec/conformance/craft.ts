/**
 * Crafts the bytes the runner sends: valid frames, and frames that break exactly one rule. Written
 * independently of lib/encoder.ts on purpose: the runner judges that encoder, so it must not share
 * its bugs. Only masking comes from lib/mask.ts, which has its own byte-wise reference tests.
 */
import { randomBytes } from 'node:crypto';
import { FIN_BIT, LENGTH_16_MARKER, LENGTH_64_MARKER, MASK_BIT, MASK_KEY_LENGTH, MAX_16BIT_LENGTH, MAX_7BIT_LENGTH, Opcode, OPCODE_MASK } from '../../lib/constants';
import { maskInto } from '../../lib/frame/mask';
import type { FrameSpec, Role, Sendable } from './types';

/** A frame with no payload and the given opcode, for tables of one-line cases. */
export function frame(opcode: number, payload: Buffer | string = Buffer.alloc(0), extra: Partial<FrameSpec> = {}): FrameSpec {
  return { opcode, payload, ...extra };
}

export const text = (payload: Buffer | string, extra?: Partial<FrameSpec>): FrameSpec => frame(Opcode.Text, payload, extra);
export const binary = (payload: Buffer, extra?: Partial<FrameSpec>): FrameSpec => frame(Opcode.Binary, payload, extra);
export const continuation = (payload: Buffer | string, extra?: Partial<FrameSpec>): FrameSpec => frame(Opcode.Continuation, payload, extra);
export const ping = (payload: Buffer | string = '', extra?: Partial<FrameSpec>): FrameSpec => frame(Opcode.Ping, payload, extra);
export const pong = (payload: Buffer | string = '', extra?: Partial<FrameSpec>): FrameSpec => frame(Opcode.Pong, payload, extra);

/** RFC 6455 §5.5.1: a close payload is a 2-byte big-endian code, then a UTF-8 reason. */
export function closePayload(code?: number, reason: string | Buffer = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const payload = Buffer.alloc(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  return payload;
}

export const close = (code?: number, reason?: string | Buffer, extra?: Partial<FrameSpec>): FrameSpec =>
  frame(Opcode.Close, closePayload(code, reason), extra);

/**
 * Splits a message into frames of at most `size` payload bytes: the first with the message
 * opcode, the rest continuations, FIN on the last only (RFC 6455 §5.4).
 */
export function fragments(opcode: number, payload: Buffer, size: number): FrameSpec[] {
  const frames: FrameSpec[] = [];
  let offset = 0;
  do {
    const end = Math.min(payload.length, offset + size);
    frames.push({
      opcode: offset === 0 ? opcode : Opcode.Continuation,
      payload: payload.subarray(offset, end),
      fin: end === payload.length,
    });
    offset = end;
  } while (offset < payload.length);
  return frames;
}

/** Bytes of the RFC 6455 §5.2 header plus payload for one frame sent by `role`. */
export function encodeFrame(spec: FrameSpec, role: Role): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const masked = (role === 'client') !== (spec.masking === 'wrong');
  const announced = spec.announcedLength ?? payload.length;
  const form = spec.length ?? 'minimal';
  const lengthBytes = form === 'minimal'
    ? (announced <= MAX_7BIT_LENGTH ? 0 : announced <= MAX_16BIT_LENGTH ? 2 : 8)
    : form === '16' ? 2 : 8;
  const headerLength = 2 + lengthBytes + (masked ? MASK_KEY_LENGTH : 0);
  const bytes = Buffer.alloc(headerLength + payload.length);
  const fin = spec.fin ?? true;
  bytes[0] = (fin ? FIN_BIT : 0) | ((spec.rsv ?? 0) << 4) | (spec.opcode & OPCODE_MASK);
  const maskBit = masked ? MASK_BIT : 0;
  switch (lengthBytes) {
    case 0:
      bytes[1] = maskBit | announced;
      break;
    case 2:
      bytes[1] = maskBit | LENGTH_16_MARKER;
      bytes.writeUInt16BE(announced, 2);
      break;
    default:
      bytes[1] = maskBit | LENGTH_64_MARKER;
      // Two 32-bit halves: lengths beyond 2^32 are legal (and used to claim huge frames).
      // RFC 6455 §5.2: the 64-bit form's most significant bit MUST be 0; '64-msb' sets it.
      bytes.writeUInt32BE((Math.floor(announced / 0x1_0000_0000) | (form === '64-msb' ? 0x8000_0000 : 0)) >>> 0, 2);
      bytes.writeUInt32BE(announced >>> 0, 6);
      break;
  }
  if (masked) {
    // RFC 6455 §5.3: a fresh, unpredictable key per frame.
    const key = randomBytes(MASK_KEY_LENGTH);
    key.copy(bytes, 2 + lengthBytes);
    maskInto(payload, key.readUInt32BE(0), bytes, headerLength);
  } else {
    payload.copy(bytes, headerLength);
  }
  return bytes;
}

/** Frames and raw byte strings, encoded one Buffer per item. */
export function encodeAll(items: readonly Sendable[], role: Role): Buffer[] {
  return items.map((item) => (Buffer.isBuffer(item) ? item : encodeFrame(item, role)));
}
