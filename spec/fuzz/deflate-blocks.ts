/**
 * Hand-built DEFLATE data (RFC 1951), written from the RFC and independent of zlib, for the
 * cases a compressor never produces: stored blocks whose LEN and NLEN disagree, blocks with BFINAL
 * set in the middle of a stream, back-references at exact distances (the window's edge, further
 * than anything received), messages that end inside a block or off a byte boundary.
 */

/** RFC 1951 §3.1.1: data elements are packed starting with the least significant bit of a byte. */
export class BitWriter {
  private readonly bytes: number[] = [];
  private current = 0;
  private used = 0;

  /** Writes the `count` low bits of `value`, least significant first (header fields, extra bits). */
  bits(value: number, count: number): this {
    for (let i = 0; i < count; i++) this.bit((value >>> i) & 1);
    return this;
  }

  /** Writes a Huffman code of `length` bits, most significant bit first (RFC 1951 §3.1.1). */
  code(value: number, length: number): this {
    for (let i = length - 1; i >= 0; i--) this.bit((value >>> i) & 1);
    return this;
  }

  /** Pads with zero bits to the next byte boundary. */
  align(): this {
    if (this.used > 0) this.flushByte();
    return this;
  }

  /** Whole bytes, written at a byte boundary (pads first). */
  raw(data: Uint8Array): this {
    this.align();
    for (const byte of data) this.bytes.push(byte);
    return this;
  }

  /** Everything written, the last byte padded with zero bits. */
  toBuffer(): Buffer {
    const out = [...this.bytes];
    if (this.used > 0) out.push(this.current);
    return Buffer.from(out);
  }

  private bit(bit: number): void {
    this.current |= bit << this.used;
    if (++this.used === 8) this.flushByte();
  }

  private flushByte(): void {
    this.bytes.push(this.current);
    this.current = 0;
    this.used = 0;
  }
}

/** RFC 1951 §3.2.3: BTYPE values. */
const BTYPE_STORED = 0;
const BTYPE_FIXED = 1;

/** A stored block (RFC 1951 §3.2.4), with LEN and NLEN as given or computed. */
export interface StoredBlock {
  kind: 'stored';
  final: boolean;
  data: Uint8Array;
  /** Added to the real length in LEN (0: correct). */
  lenDelta?: number;
  /** XOR-ed into NLEN (0: the one's complement of LEN, as required). */
  nlenXor?: number;
}

/** A literal byte or an LZ77 match (RFC 1951 §3.2.5: length 3-258, distance 1-32768). */
export type Token = { literal: number } | { length: number; distance: number };

/** A block compressed with the fixed Huffman codes (RFC 1951 §3.2.6). */
export interface FixedBlock {
  kind: 'fixed';
  final: boolean;
  tokens: Token[];
}

/**
 * What a sync flush leaves once the sender removed the tail (RFC 7692 §7.2.1): the 3 header bits
 * of an empty stored block and the padding. The receiver's tail 00 00 ff ff supplies LEN/NLEN.
 */
export interface FlushMarker {
  kind: 'flush';
}

/** Bytes written as they are, at a byte boundary: garbage or a hand-made tail. */
export interface RawBytes {
  kind: 'raw';
  bytes: Uint8Array;
}

export type Block = StoredBlock | FixedBlock | FlushMarker | RawBytes;

/** RFC 1951 §3.2.5: base lengths of length codes 257-285 and their extra bits. */
const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
/** RFC 1951 §3.2.5: base distances of distance codes 0-29 and their extra bits. */
const DISTANCE_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
  4097, 6145, 8193, 12289, 16385, 24577];
const DISTANCE_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

export const MIN_MATCH = 3;
export const MAX_MATCH = 258;
export const MAX_DISTANCE = 32768;

/** RFC 1951 §3.2.6: the fixed literal/length code of `symbol` (0-287). */
function writeFixedSymbol(out: BitWriter, symbol: number): void {
  if (symbol <= 143) out.code(0x30 + symbol, 8);
  else if (symbol <= 255) out.code(0x190 + symbol - 144, 9);
  else if (symbol <= 279) out.code(symbol - 256, 7);
  else out.code(0xc0 + symbol - 280, 8);
}

/** The last index of `table` whose value is <= `value`. */
function codeFor(table: readonly number[], value: number): number {
  let index = 0;
  while (index + 1 < table.length && table[index + 1] <= value) index++;
  return index;
}

function writeToken(out: BitWriter, token: Token): void {
  if ('literal' in token) {
    writeFixedSymbol(out, token.literal & 0xff);
    return;
  }
  const length = Math.min(MAX_MATCH, Math.max(MIN_MATCH, token.length));
  const distance = Math.min(MAX_DISTANCE, Math.max(1, token.distance));
  // Length 258 has its own code (285), not 284 with all extra bits set.
  const lengthCode = length === MAX_MATCH ? LENGTH_BASE.length - 1 : codeFor(LENGTH_BASE.slice(0, -1), length);
  writeFixedSymbol(out, 257 + lengthCode);
  out.bits(length - LENGTH_BASE[lengthCode], LENGTH_EXTRA[lengthCode]);
  const distanceCode = codeFor(DISTANCE_BASE, distance);
  // Fixed distance codes are 5 bits (RFC 1951 §3.2.6).
  out.code(distanceCode, 5);
  out.bits(distance - DISTANCE_BASE[distanceCode], DISTANCE_EXTRA[distanceCode]);
}

/** Writes `blocks` one after the other into `out`. */
export function writeBlocks(out: BitWriter, blocks: readonly Block[]): BitWriter {
  for (const block of blocks) {
    switch (block.kind) {
      case 'stored': {
        out.bits(block.final ? 1 : 0, 1).bits(BTYPE_STORED, 2).align();
        const len = (block.data.length + (block.lenDelta ?? 0)) & 0xffff;
        const nlen = (~len & 0xffff) ^ ((block.nlenXor ?? 0) & 0xffff);
        out.raw(Buffer.from([len & 0xff, len >>> 8, nlen & 0xff, nlen >>> 8])).raw(block.data);
        break;
      }
      case 'fixed':
        out.bits(block.final ? 1 : 0, 1).bits(BTYPE_FIXED, 2);
        for (const token of block.tokens) writeToken(out, token);
        writeFixedSymbol(out, 256);
        break;
      case 'flush':
        out.bits(0, 1).bits(BTYPE_STORED, 2).align();
        break;
      case 'raw':
        out.raw(block.bytes);
        break;
    }
  }
  return out;
}

/** One message's payload: its blocks, padded to a byte boundary. */
export function encodeBlocks(blocks: readonly Block[]): Buffer {
  return writeBlocks(new BitWriter(), blocks).toBuffer();
}

/** Literal tokens for `data`. */
export function literals(data: Uint8Array): Token[] {
  return Array.from(data, (literal) => ({ literal }));
}
