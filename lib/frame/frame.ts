/**
 * The Frame type and pure helpers for RFC 6455 §5.2 headers: validation rules shared by the
 * decoder and encoder, and header serialization. No I/O, no state.
 */
import {
  FIN_BIT, LENGTH_16_MARKER, LENGTH_64_MARKER, MASK_BIT, MASK_KEY_LENGTH, MAX_16BIT_LENGTH,
  MAX_7BIT_LENGTH, MAX_CONTROL_PAYLOAD, Opcode, RSV1_BIT, RSV2_BIT, RSV3_BIT,
} from '../constants';
import type { ErrorCode } from '../errors';

/**
 * Which end of the connection this side is. `'server'`: peer frames MUST be masked and ours are
 * not; `'client'`: the reverse (RFC 6455 §5.1).
 */
export type Role = 'server' | 'client';
/**
 * A decoder's role: a {@link Role}, or `'any'` to accept masked and unmasked frames alike, for
 * custom protocols that reuse the framing over IPC or other trusted byte streams.
 */
export type DecoderRole = Role | 'any';

/** One decoded frame. `payload` is always unmasked. */
export interface Frame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  /** One of {@link Opcode}. */
  opcode: number;
  /** Whether the frame was masked on the wire. */
  masked: boolean;
  payload: Buffer;
}

/**
 * A piece of a frame delivered while it arrives (streaming mode). Header fields repeat on every
 * piece; `payload` holds the bytes from `offset` to `offset + payload.length` of the frame.
 */
export interface FramePiece extends Frame {
  /** Offset of this piece's first byte within the frame payload. */
  offset: number;
  /** The whole frame's payload length, as announced by its header. */
  totalLength: number;
  /** True on the piece that completes the frame. */
  last: boolean;
}

/** Anything the encoder accepts: a frame description with optional flags. */
export interface FrameInput {
  opcode: number;
  payload?: Buffer | Uint8Array | string;
  /** Defaults to true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
}

/** True for a streamed piece rather than a whole frame. */
export function isFramePiece(frame: Frame): frame is FramePiece {
  return (frame as Partial<FramePiece>).totalLength !== undefined;
}

/** RFC 6455 §5.5: opcodes 0x8-0xF are control frames. */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** RFC 6455 §5.2: 0-2 and 8-10 are defined; 3-7 and 11-15 are reserved. */
export function isKnownOpcode(opcode: number): boolean {
  return (opcode >= Opcode.Continuation && opcode <= Opcode.Binary) ||
    (opcode >= Opcode.Close && opcode <= Opcode.Pong);
}

/** Which reserved bits an extension has enabled, as a bit mask over the first header byte. */
export function rsvMask(rsv1: boolean, rsv2: boolean, rsv3: boolean): number {
  return (rsv1 ? RSV1_BIT : 0) | (rsv2 ? RSV2_BIT : 0) | (rsv3 ? RSV3_BIT : 0);
}

/** RFC 6455 §5.2: the error for reserved bits set that no extension allows (`rsv`: those bits), or undefined. */
export function rsvError(rsv: number): ErrorCode | undefined {
  if ((rsv & RSV1_BIT) !== 0) return 'WS_ERR_UNEXPECTED_RSV_1';
  if ((rsv & RSV2_BIT) !== 0) return 'WS_ERR_UNEXPECTED_RSV_2';
  if ((rsv & RSV3_BIT) !== 0) return 'WS_ERR_UNEXPECTED_RSV_3';
  return undefined;
}

/**
 * Checks the first two header bytes against RFC 6455 §5.2 and §5.5. Returns the error code of the
 * first rule broken, or undefined. `requireMask`: true (server side), false (client side) or
 * undefined (either is fine). Runs before any length or payload byte is read.
 */
export function checkFirstBytes(
  b0: number, b1: number, allowedRsv: number, requireMask: boolean | undefined,
): ErrorCode | undefined {
  const rsv = rsvError(b0 & ~allowedRsv);
  if (rsv !== undefined) return rsv;
  const opcode = b0 & 0x0f;
  if (!isKnownOpcode(opcode)) return 'WS_ERR_INVALID_OPCODE';
  if (isControlOpcode(opcode)) {
    // RFC 6455 §5.5: control frames MUST NOT be fragmented and carry <= 125 bytes; the 126/127
    // length markers are already too long.
    if ((b0 & FIN_BIT) === 0) return 'WS_ERR_EXPECTED_FIN';
    if ((b1 & 0x7f) > MAX_CONTROL_PAYLOAD) return 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH';
  }
  // RFC 6455 §5.1: clients MUST mask, servers MUST NOT.
  const masked = (b1 & MASK_BIT) !== 0;
  if (requireMask === true && !masked) return 'WS_ERR_EXPECTED_MASK';
  if (requireMask === false && masked) return 'WS_ERR_UNEXPECTED_MASK';
  return undefined;
}

/**
 * Checks a frame the local side wants to send; returns the code of the first rule it breaks.
 * RFC 6455 §5.2/§5.5: known opcode; control frames final and at most 125 bytes.
 */
export function checkOutgoing(opcode: number, fin: boolean, payloadLength: number): ErrorCode | undefined {
  if (!Number.isInteger(opcode) || !isKnownOpcode(opcode)) return 'WS_ERR_INVALID_OPCODE';
  if (isControlOpcode(opcode)) {
    if (!fin) return 'WS_ERR_EXPECTED_FIN';
    if (payloadLength > MAX_CONTROL_PAYLOAD) return 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH';
  }
  return undefined;
}

/** Bytes a header takes for this payload length (minimal form, §5.2) and masking. */
export function headerLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength <= MAX_7BIT_LENGTH ? 2 : payloadLength <= MAX_16BIT_LENGTH ? 4 : 10;
  return masked ? base + MASK_KEY_LENGTH : base;
}

/**
 * Writes a header in the minimal length form (RFC 6455 §5.2: "the minimal number of bytes MUST be
 * used"). `maskKey` is the key as a big-endian uint32 (first wire byte most significant), or -1
 * for an unmasked frame. Returns the offset just past the header.
 */
export function writeHeader(
  target: Uint8Array, offset: number, firstByte: number, payloadLength: number, maskKey: number,
): number {
  let pos = offset;
  target[pos++] = firstByte;
  const maskBit = maskKey === -1 ? 0 : MASK_BIT;
  if (payloadLength <= MAX_7BIT_LENGTH) {
    target[pos++] = maskBit | payloadLength;
  } else if (payloadLength <= MAX_16BIT_LENGTH) {
    target[pos++] = maskBit | LENGTH_16_MARKER;
    target[pos++] = payloadLength >>> 8;
    target[pos++] = payloadLength & 0xff;
  } else {
    target[pos++] = maskBit | LENGTH_64_MARKER;
    // Split the 53-bit length into two 32-bit halves without losing precision.
    const high = Math.floor(payloadLength / 0x100000000);
    const low = payloadLength >>> 0;
    target[pos++] = high >>> 24;
    target[pos++] = (high >>> 16) & 0xff;
    target[pos++] = (high >>> 8) & 0xff;
    target[pos++] = high & 0xff;
    target[pos++] = low >>> 24;
    target[pos++] = (low >>> 16) & 0xff;
    target[pos++] = (low >>> 8) & 0xff;
    target[pos++] = low & 0xff;
  }
  if (maskKey !== -1) {
    target[pos++] = maskKey >>> 24;
    target[pos++] = (maskKey >>> 16) & 0xff;
    target[pos++] = (maskKey >>> 8) & 0xff;
    target[pos++] = maskKey & 0xff;
  }
  return pos;
}

/** The first header byte for these flags and opcode. */
export function firstByte(fin: boolean, rsv1: boolean, rsv2: boolean, rsv3: boolean, opcode: number): number {
  return (fin ? FIN_BIT : 0) | rsvMask(rsv1, rsv2, rsv3) | opcode;
}

/** A parsed header, as {@link parseHeader} returns it. */
export interface FrameHeader extends Omit<Frame, 'payload'> {
  /** The key as a big-endian uint32, or -1 when unmasked. */
  maskKey: number;
  payloadLength: number;
  /** Header size in bytes. */
  headerLength: number;
}

/**
 * Parses a header at `offset` without validating it (for tools and tests; the decoder has its
 * own incremental state machine). Returns undefined when `bytes` does not hold the whole header.
 * 64-bit lengths above 2^53 - 1 come back as their nearest double.
 */
export function parseHeader(bytes: Uint8Array, offset = 0): FrameHeader | undefined {
  if (bytes.length - offset < 2) return undefined;
  const b0 = bytes[offset];
  const b1 = bytes[offset + 1];
  const masked = (b1 & MASK_BIT) !== 0;
  const len7 = b1 & 0x7f;
  const extra = len7 === LENGTH_16_MARKER ? 2 : len7 === LENGTH_64_MARKER ? 8 : 0;
  const size = 2 + extra + (masked ? MASK_KEY_LENGTH : 0);
  if (bytes.length - offset < size) return undefined;
  let payloadLength = len7;
  let pos = offset + 2;
  if (extra === 2) {
    payloadLength = (bytes[pos] << 8) | bytes[pos + 1];
  } else if (extra === 8) {
    payloadLength = readUint32(bytes, pos) * 0x100000000 + readUint32(bytes, pos + 4);
  }
  pos += extra;
  return {
    fin: (b0 & FIN_BIT) !== 0,
    rsv1: (b0 & RSV1_BIT) !== 0,
    rsv2: (b0 & RSV2_BIT) !== 0,
    rsv3: (b0 & RSV3_BIT) !== 0,
    opcode: b0 & 0x0f,
    masked,
    maskKey: masked ? readUint32(bytes, pos) : -1,
    payloadLength,
    headerLength: size,
  };
}

/** Big-endian uint32 at `pos`. */
export function readUint32(bytes: Uint8Array, pos: number): number {
  return ((bytes[pos] << 24) | (bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3]) >>> 0;
}
