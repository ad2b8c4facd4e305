/**
 * FrameParser's handling of a payload that spans chunks (the rest of the parser is covered through
 * FrameDecoder in decoder.spec.ts, the run store itself in runs.spec.ts): copied once when the
 * frame completes, unmasked on the way, and nothing reserved because a header announced a length.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Opcode } from '../../lib/constants';
import type { Frame } from '../../lib/frame/frame';
import { FrameParser } from '../../lib/frame/parser';
import { Runs } from '../../lib/frame/runs';
import { encodeFrame } from '../../lib/frame/serializer';
import { parseChunks, pattern, split } from '../support/frames';

const KiB = 1024;
const KEY = 0x5a1c93e7;

/** The Uint8Arrays a parser holds, directly, in an array or in its {@link Runs} (white-box). */
function held(holder: object): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const value of Object.values(holder)) {
    if (value instanceof Uint8Array) {
      out.push(value);
    } else if (Array.isArray(value)) {
      for (const item of value) if (item instanceof Uint8Array) out.push(item);
    } else if (value instanceof Runs) {
      out.push(...held(value));
    }
  }
  return out;
}

describe('FrameParser: payloads spanning chunks', () => {
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
