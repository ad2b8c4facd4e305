import { expect } from 'chai';
import fc from 'fast-check';
import { FixedMaskSource, maskInto, RandomMaskSource, unmask } from '../../lib/frame/mask';
import { unmaskJs } from '../../lib/frame/mask';

/** Byte-at-a-time reference: RFC 6455 §5.3, octet i XOR key octet (i mod 4). */
function reference(bytes: Uint8Array, key: number, phase: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) out[i] ^= (key >>> ((3 - ((i + phase) % 4)) * 8)) & 0xff;
  return out;
}

describe('mask', () => {
  it('masks the RFC 6455 §5.7 "Hello" payload with key 37 fa 21 3d', () => {
    const bytes = Buffer.from('Hello');
    unmask(bytes, 0x37fa213d);
    expect(bytes.toString('hex')).to.equal('7f9f4d5158');
  });

  for (const [name, fn] of [['unmask', unmask], ['unmaskJs', unmaskJs]] as const) {
    it(`${name} matches the byte-wise definition for every length, alignment and phase`, () => {
      fc.assert(fc.property(
        fc.uint8Array({ maxLength: 2000 }), fc.nat(7), fc.integer({ min: 0, max: 0xffffffff }), fc.nat(3),
        (data, shift, key, phase) => {
          // Copy to an offset so the view starts at every alignment.
          const backing = Buffer.alloc(data.length + shift);
          const view = backing.subarray(shift);
          view.set(data);
          fn(view, key, phase);
          expect(Buffer.compare(view, reference(data, key, phase))).to.equal(0);
        },
      ), { numRuns: 300 });
    });
  }

  it('unmasking twice restores the input', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 0, max: 0xffffffff }), (data, key) => {
      const copy = Buffer.from(data);
      unmask(copy, key);
      unmask(copy, key);
      expect(Buffer.compare(copy, Buffer.from(data))).to.equal(0);
    }));
  });

  it('maskInto writes the masked copy at the offset and leaves the source alone', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(9), fc.integer({ min: 0, max: 0xffffffff }), (data, offset, key) => {
      const source = Buffer.from(data);
      const target = Buffer.alloc(offset + data.length, 0xee);
      maskInto(source, key, target, offset);
      expect(Buffer.compare(source, Buffer.from(data))).to.equal(0);
      expect(target.subarray(0, offset).every((b) => b === 0xee)).to.equal(true);
      expect(Buffer.compare(target.subarray(offset), reference(data, key, 0))).to.equal(0);
    }));
  });

  it('RandomMaskSource hands out uint32 keys that vary', () => {
    const source = new RandomMaskSource();
    const keys = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const key = source.next();
      expect(Number.isInteger(key) && key >= 0 && key <= 0xffffffff).to.equal(true);
      keys.add(key);
    }
    // 5000 draws of 32 random bits collide with probability ~0.3%; allow a few.
    expect(keys.size).to.be.greaterThan(4990);
  });

  it('FixedMaskSource always returns its key', () => {
    const source = new FixedMaskSource(0x01020304);
    expect([source.next(), source.next()]).to.deep.equal([0x01020304, 0x01020304]);
  });
});
