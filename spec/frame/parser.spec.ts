/**
 * FrameParser's handling of a payload that spans chunks (the rest of the parser is covered through
 * FrameDecoder in decoder.spec.ts): runs of at least 2 KiB are kept as views of their chunks and
 * copied once when the frame completes, short runs go into staging blocks that grow with what
 * arrived, and nothing is reserved because a header announced a length.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Opcode } from '../../lib/constants';
import type { Frame } from '../../lib/frame/frame';
import { FrameParser, stagingCapacity } from '../../lib/frame/parser';
import { encodeFrame } from '../../lib/frame/serializer';
import { parseChunks, pattern, split } from '../support/frames';

const KiB = 1024;
const KEY = 0x5a1c93e7;

/** The Uint8Arrays a parser holds, directly or in an array field (white-box). */
function held(parser: FrameParser): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const value of Object.values(parser)) {
    if (value instanceof Uint8Array) out.push(value);
    else if (Array.isArray(value)) for (const item of value) if (item instanceof Uint8Array) out.push(item);
  }
  return out;
}

describe('FrameParser: payloads spanning chunks', () => {
  describe('stagingCapacity', () => {
    const table: Array<[received: number, length: number, capacity: number, why: string]> = [
      [0, 10, 10, 'never past the frame'],
      [0, 2 ** 40, 1024, 'a huge announced length reserves 1 KiB'],
      [5000, 2 ** 40, 5000, 'grows with what arrived'],
      [1_000_000, 2 ** 40, 16 * KiB, 'at most 16 KiB a block'],
      [100, 150, 50, 'the rest of the frame only'],
    ];
    for (const [received, length, capacity, why] of table) {
      it(`${why}: ${received} of ${length} -> ${capacity}`, () => {
        expect(stagingCapacity(received, length)).to.equal(capacity);
      });
    }
  });

  it('gives the same frames for any chunking, with runs above and below the view size, masked or not', () => {
    const payloads = fc.array(fc.integer({ min: 0, max: 12 * KiB }), { minLength: 1, maxLength: 4 });
    fc.assert(fc.property(payloads, fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (lengths, masked, cuts) => {
      const frames = lengths.map((length, i) => ({ opcode: Opcode.Binary, payload: pattern(length, i) }));
      const bytes = Buffer.concat(frames.map((f) => encodeFrame(f, masked ? KEY : -1)));
      const chunks = split(bytes, cuts.map((c) => c % (bytes.length + 1)));
      const { frames: got, error } = parseChunks(chunks, { role: masked ? 'server' : 'client' });
      expect(error).to.equal(undefined);
      expect(got.map((f) => Buffer.from(f.payload).toString('hex'))).to.deep.equal(frames.map((f) => f.payload.toString('hex')));
    }), { numRuns: 300 });
  });

  it('copies a spanning payload out of its chunks once complete: overwriting the chunks afterwards changes nothing', () => {
    for (const masked of [false, true]) {
      const payload = pattern(40 * KiB, 3);
      const bytes = encodeFrame({ opcode: Opcode.Binary, payload }, masked ? KEY : -1);
      // Big runs (views) and small ones (staged) mixed.
      const chunks = split(bytes, [100, 5000, 5100, 5101, 30000, 30500]);
      const { frames } = parseChunks(chunks, { role: masked ? 'server' : 'client' });
      for (const chunk of chunks) chunk.fill(0xee);
      expect(frames).to.have.length(1);
      expect(frames[0].payload.equals(payload), masked ? 'masked' : 'unmasked').to.equal(true);
      // One allocation of exactly the payload's size.
      expect([frames[0].payload.byteOffset, frames[0].payload.buffer.byteLength]).to.deep.equal([0, payload.length]);
    }
  });

  it('keeps a large run as a view of its chunk until the frame completes, then holds nothing', () => {
    const payload = pattern(10 * KiB, 5);
    const bytes = encodeFrame({ opcode: Opcode.Binary, payload }, KEY);
    const chunks = split(bytes, [4 * KiB]);
    const frames: Frame[] = [];
    const parser = new FrameParser({ role: 'server' }, { frame: (f) => { frames.push(f); } });
    parser.write(chunks[0]);
    expect(held(parser).some((b) => b.buffer === chunks[0].buffer), 'a view of the first chunk').to.equal(true);
    parser.write(chunks[1]);
    expect(frames).to.have.length(1);
    expect(held(parser).filter((b) => b.length > 14)).to.deep.equal([]);
    expect(frames[0].payload.equals(payload)).to.equal(true);
  });

  it('copies short runs into staging blocks that never exceed what arrived (or 1 KiB)', () => {
    const parser = new FrameParser({ role: 'client', maxPayload: Infinity }, { frame: () => undefined });
    // A header announcing 2^40 bytes, then 3,000 bytes in 100-byte chunks.
    parser.write(Buffer.from('827f0000010000000000', 'hex'));
    let arrived = 0;
    for (let i = 0; i < 30; i++) {
      parser.write(pattern(100, i));
      arrived += 100;
      const bytes = held(parser).reduce((sum, b) => sum + b.length, 0);
      expect(bytes, `after ${arrived} bytes`).to.be.at.most(Math.max(1024, 2 * arrived) + 14);
    }
  });
});
