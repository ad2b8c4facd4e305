/**
 * Runs: bytes that arrive in pieces, kept as views or staged, then gathered with one copy.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Runs, stagingCapacity, VIEW_MIN } from '../../lib/frame/runs';
import { maskBytes, pattern } from '../support/frames';

const KiB = 1024;

/** What a Runs holds right now, as Buffers (white-box). */
function parts(runs: Runs): Buffer[] {
  return (Object.values(runs).find(Array.isArray) as Buffer[]).slice();
}

describe('Runs', () => {
  describe('stagingCapacity', () => {
    const table: Array<[held: number, room: number, arriving: number, capacity: number, why: string]> = [
      [0, 10, 1, 10, 'never past the room left'],
      [0, 2 ** 40, 1, 1024, 'a huge announced length reserves 1 KiB'],
      [0, 16 * KiB + 1, 1, 1024, 'a length just past 16 KiB reserves 1 KiB'],
      [0, 16 * KiB, 1, 16 * KiB, 'the rest of a payload of at most 16 KiB, in one exact block'],
      [5000, 2 ** 40, 100, 5000, 'grows with what arrived'],
      [0, 2 ** 40, 30 * KiB, 30 * KiB, 'holds what is arriving now in one block'],
      [1_000_000, 2 ** 40, 100, 16 * KiB, 'at most 16 KiB a block beyond what is arriving'],
      [100, 50, 50, 50, 'the rest only'],
    ];
    for (const [held, room, arriving, capacity, why] of table) {
      it(`${why}: ${held} held, ${arriving} arriving, room ${room} -> ${capacity}`, () => {
        expect(stagingCapacity(held, room, arriving)).to.equal(capacity);
      });
    }
  });

  it('gathers any sequence of pieces into exactly their concatenation, masked or not', () => {
    const piece = fc.integer({ min: 0, max: 6 * KiB });
    fc.assert(fc.property(fc.array(piece, { maxLength: 10 }), fc.option(fc.integer({ min: 0, max: 0xffffffff })), (sizes, key) => {
      const runs = new Runs();
      const chunks = sizes.map((size, i) => pattern(size + 3, i));
      const expected: Buffer[] = [];
      let total = sizes.reduce((a, b) => a + b, 0);
      for (const [i, chunk] of chunks.entries()) {
        runs.add(chunk, 3, sizes[i], total);
        total -= sizes[i];
        expected.push(chunk.subarray(3));
      }
      const plain = Buffer.concat(expected);
      const out = runs.gather(key ?? undefined);
      expect(out.equals(key === null ? plain : maskBytes(plain, key))).to.equal(true);
      expect(runs.length).to.equal(0);
    }), { numRuns: 300 });
  });

  it('keeps a large run that fills most of its chunk as a view, and copies one that would pin a large chunk', () => {
    const runs = new Runs();
    const big = pattern(8 * KiB);
    runs.add(big, 0, 8 * KiB, 64 * KiB);
    expect(parts(runs)[0].buffer).to.equal(big.buffer);
    // 3 KiB at the end of a 64 KiB read: copied, so the read can be freed.
    const read = pattern(64 * KiB, 1);
    runs.add(read, 61 * KiB, 3 * KiB, 56 * KiB);
    expect(parts(runs).some((p) => p.buffer === read.buffer)).to.equal(false);
    expect(runs.gather().equals(Buffer.concat([big, read.subarray(61 * KiB)]))).to.equal(true);
  });

  it('holds at most about twice what arrived when fed one byte at a time, and one Buffer per block, not per byte', () => {
    const runs = new Runs();
    const source = pattern(100 * KiB);
    for (let i = 0; i < source.length; i++) {
      runs.add(source, i, 1, 2 ** 40);
      if ((i & 1023) === 1023) {
        const held = parts(runs).reduce((sum, p) => sum + p.length, 0);
        expect(held).to.be.at.most(Math.max(1024, 2 * (i + 1)));
      }
    }
    expect(parts(runs).length).to.be.below(source.length / (VIEW_MIN / 2));
    expect(runs.gather().equals(source)).to.equal(true);
  });

  it('stages a short payload cut across reads in one exact block and hands that block out (one copy, one allocation)', () => {
    const runs = new Runs();
    const first = pattern(64 * KiB, 1);
    const second = pattern(64 * KiB, 2);
    // 10 KiB at the end of one read, 6 KiB at the start of the next: both too small for a view.
    runs.add(first, 54 * KiB, 10 * KiB, 16 * KiB);
    runs.add(second, 0, 6 * KiB, 6 * KiB);
    expect(parts(runs)).to.have.length(1);
    const block = parts(runs)[0];
    const out = runs.gather(0x12345678);
    expect(out.buffer).to.equal(block.buffer);
    expect(out.length).to.equal(16 * KiB);
    const plain = Buffer.concat([first.subarray(54 * KiB), second.subarray(0, 6 * KiB)]);
    expect(out.equals(maskBytes(plain, 0x12345678))).to.equal(true);
  });

  it('hands a single kept run back as it is (no copy), and copies several into one exact buffer', () => {
    const single = new Runs();
    const chunk = pattern(4 * KiB);
    single.add(chunk, 0, chunk.length, chunk.length);
    expect(single.gather()).to.equal(chunk);
    const several = new Runs();
    several.add(pattern(3 * KiB, 1), 0, 3 * KiB, 6 * KiB);
    several.add(pattern(3 * KiB, 2), 0, 3 * KiB, 3 * KiB);
    const out = several.gather();
    expect([out.length, out.byteOffset, out.buffer.byteLength]).to.deep.equal([6 * KiB, 0, 6 * KiB]);
  });
});
