/**
 * Small helpers shared by the frame-codec specs: byte fixtures, chunking, and running the decoder
 * or encoder to completion.
 *
 * The decoder owns the chunks written to it (it unmasks them in place and hands out views of
 * them), so every helper here copies fixture bytes before writing them: a vector can be decoded
 * any number of times.
 */
import type { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { FrameDecoder, type FrameDecoderOptions } from '../../lib/frame/decoder';
import { FrameParser } from '../../lib/frame/parser';
import { FrameEncoder, type FrameEncoderOptions } from '../../lib/frame/encoder';
import { WebSocketProtocolError } from '../../lib/errors';
import { type Frame, type FrameInput, isFramePiece } from '../../lib/frame/frame';
import type { MaskSource } from '../../lib/frame/mask';

/** Bytes from hex text; spaces and line breaks are ignored. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** `length` deterministic, non-constant bytes (so a wrong offset or mask phase shows). */
export function pattern(length: number, seed = 0): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff;
  return out;
}

/** RFC 6455 §5.3 written out byte by byte, independent of lib/mask: octet i XOR key octet i mod 4. */
export function maskBytes(payload: Uint8Array, key: number): Buffer {
  const out = Buffer.from(payload);
  for (let i = 0; i < out.length; i++) out[i] ^= (key >>> ((3 - (i % 4)) * 8)) & 0xff;
  return out;
}

/** A key as its four wire bytes. */
export function keyBytes(key: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(key >>> 0, 0);
  return out;
}

/**
 * Cuts `bytes` at the given offsets (any order; duplicates and out-of-range offsets ignored) into
 * fresh, unpooled Buffers, so each chunk has its own memory and the fixture is left untouched.
 */
export function split(bytes: Uint8Array, cuts: readonly number[] = []): Buffer[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    const chunk = Buffer.alloc(point - start);
    chunk.set(bytes.subarray(start, point));
    chunks.push(chunk);
    start = point;
  }
  return chunks;
}

/** Every byte as its own chunk. */
export function bytewise(bytes: Uint8Array): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(Buffer.from([bytes[i]]));
  return chunks;
}

/** The result of decoding: the frames (or pieces) in order, then the error that stopped it. */
export interface Decoded {
  frames: Frame[];
  error: WebSocketProtocolError | undefined;
}

/**
 * Feeds `chunks` to a FrameParser synchronously and, unless `end` is false, declares the end of
 * input. The chunks are handed over as they are: callers pass copies.
 */
export function parseChunks(chunks: readonly Buffer[], options: FrameDecoderOptions = {}, end = true): Decoded {
  const frames: Frame[] = [];
  const parser = new FrameParser(options, { frame: (frame) => { frames.push(frame); } });
  for (const chunk of chunks) {
    const error = parser.write(chunk);
    if (error !== undefined) return { frames, error };
  }
  return { frames, error: end ? parser.end() : undefined };
}

/** Decodes a copy of `bytes`, cut at `cuts`, with a FrameParser. */
export function decodeAll(
  bytes: Uint8Array, options: FrameDecoderOptions = {}, cuts: readonly number[] = [], end = true,
): Decoded {
  return parseChunks(split(bytes, cuts), options, end);
}

/** What a readable side produced, and how it stopped. */
export interface Collected<T> {
  items: T[];
  error: Error | undefined;
  /** True when the error came after every item (nothing was pushed after it). */
  errorLast: boolean;
}

/** Reads a stream in flowing mode until it closes (after 'end' or 'error'). */
export function collect<T>(stream: EventEmitter): Promise<Collected<T>> {
  return new Promise((resolve) => {
    const items: T[] = [];
    let error: Error | undefined;
    let errorLast = true;
    stream.on('data', (item: T) => {
      if (error !== undefined) errorLast = false;
      items.push(item);
    });
    stream.on('error', (err: Error) => { error = err; });
    stream.on('close', () => { resolve({ items, error, errorLast }); });
  });
}

/** Reads a stream with `for await`, i.e. in paused mode, one item at a time. */
export async function collectIterating<T>(stream: AsyncIterable<unknown>): Promise<Collected<T>> {
  const items: T[] = [];
  try {
    for await (const item of stream) items.push(item as T);
  } catch (err) {
    return { items, error: err as Error, errorLast: true };
  }
  return { items, error: undefined, errorLast: true };
}

/** Writes `chunks` to a FrameDecoder (then ends it unless `end` is false) and collects the output. */
export async function decodeStream(
  chunks: readonly Buffer[], options: FrameDecoderOptions = {}, end = true,
): Promise<Collected<Frame>> {
  const decoder = new FrameDecoder(options);
  const done = collect<Frame>(decoder);
  for (const chunk of chunks) decoder.write(chunk);
  if (end) decoder.end();
  return done;
}

/** Runs frames through a FrameEncoder and returns its output chunks. */
export async function encodeStream(frames: readonly FrameInput[], options: FrameEncoderOptions = {}): Promise<Collected<Buffer>> {
  const encoder = new FrameEncoder(options);
  const done = collect<Buffer>(encoder);
  for (const frame of frames) encoder.write(frame);
  encoder.end();
  return done;
}

/** A mask source that hands out the given keys in turn and counts its calls. */
export class ScriptedMaskSource implements MaskSource {
  calls = 0;
  constructor(private readonly keys: readonly number[]) {}

  next(): number {
    const key = this.keys[this.calls % this.keys.length];
    this.calls++;
    return key;
  }
}

/** A frame or piece as plain data, for readable deep-equality diffs. */
export function show(frame: Frame): Record<string, unknown> {
  const shown: Record<string, unknown> = {
    fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2, rsv3: frame.rsv3,
    opcode: frame.opcode, masked: frame.masked, payload: frame.payload.toString('hex'),
  };
  if (isFramePiece(frame)) {
    shown.offset = frame.offset;
    shown.totalLength = frame.totalLength;
    shown.last = frame.last;
  }
  return shown;
}

/**
 * Joins streamed pieces back into whole frames; whole frames pass through. Throws when the pieces
 * are out of order, so a broken piece sequence cannot look like a good one.
 */
export function reassemble(frames: readonly Frame[]): Frame[] {
  const whole: Frame[] = [];
  let parts: Buffer[] = [];
  let expected = 0;
  for (const frame of frames) {
    if (!isFramePiece(frame)) {
      if (parts.length > 0) throw new Error('whole frame inside a streamed frame');
      whole.push(frame);
      continue;
    }
    if (frame.offset !== expected) throw new Error(`piece at ${frame.offset}, expected ${expected}`);
    parts.push(Buffer.from(frame.payload));
    expected += frame.payload.length;
    if (frame.last) {
      if (expected !== frame.totalLength) throw new Error('last piece before the announced length');
      whole.push({
        fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2, rsv3: frame.rsv3,
        opcode: frame.opcode, masked: frame.masked, payload: Buffer.concat(parts),
      });
      parts = [];
      expected = 0;
    }
  }
  if (parts.length > 0) throw new Error('stream ended inside a streamed frame');
  return whole;
}

/** A frame the properties generate: every field explicit, payload as bytes. */
export interface GeneratedFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  payload: Buffer;
}

/** Payloads of every length form, weighted towards small ones and the 7/16/64-bit boundaries. */
function arbitraryPayload(maxLength: number): fc.Arbitrary<Buffer> {
  const small = fc.uint8Array({ maxLength: Math.min(maxLength, 140) }).map((bytes) => Buffer.from(bytes));
  if (maxLength <= 140) return small;
  const sized = (min: number, max: number): fc.Arbitrary<Buffer> =>
    fc.record({ length: fc.integer({ min, max }), seed: fc.nat(255) }).map(({ length, seed }) => pattern(length, seed));
  return fc.oneof(
    { weight: 8, arbitrary: small },
    { weight: 2, arbitrary: sized(124, 400) },
    { weight: 1, arbitrary: sized(65534, 65538) },
  );
}

/** Any valid frame: data frames of any length and fragment flag, control frames final and short. */
export function arbitraryFrame(): fc.Arbitrary<GeneratedFrame> {
  const rsv = { rsv1: fc.boolean(), rsv2: fc.boolean(), rsv3: fc.boolean() };
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ opcode: fc.constantFrom(0, 1, 2), fin: fc.boolean(), payload: arbitraryPayload(70000), ...rsv }) },
    { weight: 1, arbitrary: fc.record({ opcode: fc.constantFrom(8, 9, 10), fin: fc.constant(true), payload: arbitraryPayload(125), ...rsv }) },
  );
}

/** Decoder options that accept every generated frame (all RSV bits enabled). */
export const ALL_RSV: FrameDecoderOptions = { allowRsv1: true, allowRsv2: true, allowRsv3: true };

/** The frame a decoder should produce for a generated one. */
export function expected(frame: GeneratedFrame, masked: boolean): Frame {
  return { ...frame, masked };
}

/** Turns fast-check cut points into offsets inside `length`. */
export function cutsWithin(cuts: readonly number[], length: number): number[] {
  return length <= 1 ? [] : cuts.map((c) => 1 + (c % (length - 1)));
}
