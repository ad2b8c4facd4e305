/**
 * Wire-level helpers for the differential fuzzer, written from RFC 6455 §5.2 directly and
 * independent of lib/: a frame description that can break every rule (any RSV bits and opcode,
 * lengths in non-minimal or invalid encodings, lengths that lie), its serializer, and a tolerant
 * walker that cuts any byte stream into the frames its headers announce.
 *
 * The walker validates nothing. Both parsers under test stop at their first error, and until
 * then they follow exactly the frame boundaries the headers announce, so the walker tells which
 * frame an observation belongs to and what that frame looked like, for the rules in
 * differences.ts.
 */

/** How a frame's payload length is written (RFC 6455 §5.2). */
export type LengthEncoding =
  /** The shortest form: the only legal one. */
  | 'minimal'
  /** 126 + 16-bit length even when the length would fit 7 bits. */
  | 'wide16'
  /** 127 + 64-bit length even when the length would fit 7 or 16 bits. */
  | 'wide64'
  /** 127 + 64-bit length with the most significant bit set (must be 0). */
  | 'msb64';

/** One frame to put on the wire. `payload` is the unmasked payload. */
export interface FrameSpec {
  fin: boolean;
  /** RSV1-3 as the 3 bits 0b(rsv1)(rsv2)(rsv3). */
  rsv: number;
  /** 0-15, reserved opcodes included. */
  opcode: number;
  /** The 4-byte masking key, or null for an unmasked frame. */
  mask: Buffer | null;
  payload: Buffer;
  length: LengthEncoding;
  /**
   * Announce this length instead of the payload's (a lying header): the following bytes are then
   * read as payload or as the next header. The payload bytes are still written.
   */
  announced?: number;
}

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** RFC 6455 §5.3, byte by byte: octet i XOR key octet i mod 4. Returns a new Buffer. */
export function maskPayload(payload: Uint8Array, key: Uint8Array): Buffer {
  const out = Buffer.from(payload);
  for (let i = 0; i < out.length; i++) out[i] ^= key[i & 3];
  return out;
}

/** Serializes one frame exactly as described, legal or not. */
export function encodeFrameSpec(frame: FrameSpec): Buffer {
  const length = frame.announced ?? frame.payload.length;
  const b0 = (frame.fin ? 0x80 : 0) | ((frame.rsv & 7) << 4) | (frame.opcode & 0x0f);
  const maskBit = frame.mask === null ? 0 : 0x80;
  let encoding = frame.length;
  // A form too short for the length cannot be written: fall back to the next wider one.
  if (encoding === 'minimal') encoding = length <= 125 ? 'minimal' : length <= 0xffff ? 'wide16' : 'wide64';
  if (encoding === 'wide16' && length > 0xffff) encoding = 'wide64';
  const header: number[] = [b0];
  if (encoding === 'minimal') {
    header.push(maskBit | length);
  } else if (encoding === 'wide16') {
    header.push(maskBit | 126, length >>> 8, length & 0xff);
  } else {
    const high = Math.floor(length / 0x100000000) | (encoding === 'msb64' ? 0x80000000 : 0);
    const low = length >>> 0;
    header.push(maskBit | 127,
      (high >>> 24) & 0xff, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff,
      low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff);
  }
  if (frame.mask !== null) header.push(...frame.mask.subarray(0, 4));
  const body = frame.mask === null ? frame.payload : maskPayload(frame.payload, frame.mask);
  return Buffer.concat([Buffer.from(header), body]);
}

export function encodeFrames(frames: readonly FrameSpec[]): Buffer {
  return Buffer.concat(frames.map(encodeFrameSpec));
}

/** One masked message of `count` 1-byte fragments (fragment-count limits). */
export function manyFragments(count: number, opcode = OP_BINARY): FrameSpec[] {
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const frames: FrameSpec[] = [];
  for (let i = 0; i < count; i++) {
    frames.push({
      fin: i === count - 1, rsv: 0, opcode: i === 0 ? opcode : OP_CONTINUATION, mask: key,
      payload: Buffer.from([0x61 + (i % 26)]), length: 'minimal',
    });
  }
  return frames;
}

/** A frame as the walker found it in a byte stream. */
export interface WalkedFrame {
  index: number;
  /** Offset of the first header byte. */
  start: number;
  /** Offset just past the header (0 if the header itself is cut off). */
  headerEnd: number;
  /** Offset just past the payload as announced: may lie beyond the input. */
  end: number;
  /** The header or payload runs past the end of the input. */
  truncated: boolean;
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** Announced payload length (NaN while the length field is cut off). */
  length: number;
  /** The form the length was written in, as far as it arrived. */
  encoding: LengthEncoding | undefined;
  /** The payload bytes that arrived, unmasked. */
  payload: Buffer;
}

/** Cuts `bytes` into the frames the headers announce. The last one may be truncated. */
export function walkFrames(bytes: Uint8Array): WalkedFrame[] {
  const frames: WalkedFrame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    const b0 = bytes[pos];
    const frame: WalkedFrame = {
      index: frames.length, start, headerEnd: 0, end: Infinity, truncated: true,
      fin: (b0 & 0x80) !== 0, rsv: (b0 >>> 4) & 7, opcode: b0 & 0x0f, masked: false,
      length: NaN, encoding: undefined, payload: Buffer.alloc(0),
    };
    frames.push(frame);
    if (pos + 2 > bytes.length) break;
    const b1 = bytes[pos + 1];
    frame.masked = (b1 & 0x80) !== 0;
    const short = b1 & 0x7f;
    pos += 2;
    if (short <= 125) {
      frame.length = short;
      frame.encoding = 'minimal';
    } else if (short === 126) {
      if (pos + 2 > bytes.length) break;
      frame.length = (bytes[pos] << 8) | bytes[pos + 1];
      frame.encoding = frame.length <= 125 ? 'wide16' : 'minimal';
      pos += 2;
    } else {
      if (pos + 8 > bytes.length) break;
      const high = ((bytes[pos] << 24) | (bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3]) >>> 0;
      const low = ((bytes[pos + 4] << 24) | (bytes[pos + 5] << 16) | (bytes[pos + 6] << 8) | bytes[pos + 7]) >>> 0;
      // Above 2^53 the value is approximate, which is all a walker needs (it is past the input).
      frame.length = high * 0x100000000 + low;
      frame.encoding = high >= 0x80000000 ? 'msb64' : frame.length <= 0xffff ? 'wide64' : 'minimal';
      pos += 8;
    }
    let key: Uint8Array | undefined;
    if (frame.masked) {
      if (pos + 4 > bytes.length) break;
      key = bytes.subarray(pos, pos + 4);
      pos += 4;
    }
    frame.headerEnd = pos;
    frame.end = pos + frame.length;
    const available = bytes.subarray(pos, Math.min(bytes.length, frame.end));
    frame.payload = key === undefined ? Buffer.from(available) : maskPayload(available, key);
    frame.truncated = frame.end > bytes.length;
    if (frame.truncated) break;
    pos = frame.end;
  }
  return frames;
}

/** Index of the frame holding byte `offset` (the last frame for offsets past the input). */
export function frameAt(frames: readonly WalkedFrame[], offset: number): number {
  let lo = 0;
  let hi = frames.length - 1;
  if (hi < 0) return 0;
  if (offset >= frames[hi].start) return hi;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (frames[mid].start <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The data message open before a frame, replaying the walked frames before it (all accepted). */
export interface OpenMessage {
  opcode: number;
  /** Payload bytes of the fragments so far. */
  bytes: Buffer;
  fragments: number;
}

/**
 * Replays frames [0, index) as a conforming receiver would and returns the data message still
 * open before frame `index` (undefined between messages). Only meaningful for frames both parsers
 * accepted, which is every frame before the first disagreement.
 */
export function openMessageBefore(frames: readonly WalkedFrame[], index: number): OpenMessage | undefined {
  let open: { opcode: number; parts: Buffer[]; fragments: number } | undefined;
  for (let i = 0; i < index && i < frames.length; i++) {
    const frame = frames[i];
    if ((frame.opcode & 0x8) !== 0) continue;
    if (frame.opcode !== OP_CONTINUATION) open = { opcode: frame.opcode, parts: [], fragments: 0 };
    if (open === undefined) continue;
    open.parts.push(frame.payload);
    open.fragments++;
    if (frame.fin) open = undefined;
  }
  return open === undefined ? undefined : { opcode: open.opcode, bytes: Buffer.concat(open.parts), fragments: open.fragments };
}

/** Offsets where `bytes` is cut into chunks, as `cuts` says (sorted, in range, no duplicates). */
export function chunksOf(bytes: Uint8Array, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point > start) {
      // A fresh, unpooled copy per chunk: both parsers unmask in place and keep views of chunks.
      const chunk = Buffer.alloc(point - start);
      chunk.set(bytes.subarray(start, point));
      chunks.push(chunk);
    }
    start = point;
  }
  return chunks;
}
