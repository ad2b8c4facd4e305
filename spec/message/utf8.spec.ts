import { expect } from 'chai';
import fc from 'fast-check';
import { decodeUtf8, hasNativeUtf8Validation, isValidUtf8, Utf8Validator, utf8Text } from '../../lib/message/utf8';

/**
 * Reference validator written straight from the Unicode Standard's Table 3-7 ("Well-Formed UTF-8
 * Byte Sequences"), one row per lead-byte range, independent of lib/utf8's state machine.
 * Returns the index of the first byte at which the bytes stop being the prefix of any valid text
 * (-1 if none), and whether they end inside a character.
 */
const TABLE_3_7: ReadonlyArray<ReadonlyArray<readonly [number, number]>> = [
  [[0x00, 0x7f]],
  [[0xc2, 0xdf], [0x80, 0xbf]],
  [[0xe0, 0xe0], [0xa0, 0xbf], [0x80, 0xbf]],
  [[0xe1, 0xec], [0x80, 0xbf], [0x80, 0xbf]],
  [[0xed, 0xed], [0x80, 0x9f], [0x80, 0xbf]],
  [[0xee, 0xef], [0x80, 0xbf], [0x80, 0xbf]],
  [[0xf0, 0xf0], [0x90, 0xbf], [0x80, 0xbf], [0x80, 0xbf]],
  [[0xf1, 0xf3], [0x80, 0xbf], [0x80, 0xbf], [0x80, 0xbf]],
  [[0xf4, 0xf4], [0x80, 0x8f], [0x80, 0xbf], [0x80, 0xbf]],
];

interface Utf8Verdict {
  /** Index of the first byte that makes the text invalid, or -1. */
  firstInvalid: number;
  /** Valid so far but ends inside a character. */
  truncated: boolean;
}

function referenceUtf8(bytes: Uint8Array): Utf8Verdict {
  let i = 0;
  while (i < bytes.length) {
    const row = TABLE_3_7.find(([[lo, hi]]) => bytes[i] >= lo && bytes[i] <= hi);
    if (row === undefined) return { firstInvalid: i, truncated: false };
    for (let j = 1; j < row.length; j++) {
      if (i + j >= bytes.length) return { firstInvalid: -1, truncated: true };
      const [lo, hi] = row[j];
      if (bytes[i + j] < lo || bytes[i + j] > hi) return { firstInvalid: i + j, truncated: false };
    }
    i += row.length;
  }
  return { firstInvalid: -1, truncated: false };
}

/**
 * Bytes that are mostly UTF-8-shaped (whole characters, lead bytes, continuation bytes, boundary
 * values) so random inputs hit the interesting cases, not just an invalid first byte.
 */
const utf8ishBytes = (maxParts = 40): fc.Arbitrary<Buffer> => fc.array(fc.oneof(
  fc.string({ unit: 'binary', maxLength: 4 }).map((s) => Buffer.from(s, 'utf8')),
  fc.integer({ min: 0x80, max: 0xbf }).map((b) => Buffer.from([b])),
  fc.integer({ min: 0xc0, max: 0xff }).map((b) => Buffer.from([b])),
  fc.constantFrom(0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff)
    .map((b) => Buffer.from([b])),
  fc.uint8Array({ maxLength: 4 }).map((b) => Buffer.from(b)),
), { maxLength: maxParts }).map((parts) => Buffer.concat(parts));

/** Sorted, distinct cut points inside [1, length - 1]. */
function cutsFor(length: number, raw: readonly number[]): number[] {
  return [...new Set(raw.map((c) => (length > 1 ? 1 + (c % (length - 1)) : 0)).filter((c) => c > 0))].sort((a, b) => a - b);
}

/** Kuhn-style cases (after Markus Kuhn's UTF-8 decoder capability and stress test). */
interface Utf8Vector {
  name: string;
  hex: string;
  /** First invalid byte index, or -1. */
  firstInvalid: number;
  truncated?: boolean;
}

const h = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

const UTF8_VECTORS: readonly Utf8Vector[] = [
  // 1. Correct text and boundaries.
  { name: 'the empty text', hex: '', firstInvalid: -1 },
  { name: 'ASCII', hex: '48656c6c6f', firstInvalid: -1 },
  { name: 'Greek "kosme" (Kuhn 1)', hex: 'ceba e1bdb9 cf83 cebc ceb5', firstInvalid: -1 },
  { name: 'first 1-byte sequence U+0000', hex: '00', firstInvalid: -1 },
  { name: 'first 2-byte sequence U+0080', hex: 'c280', firstInvalid: -1 },
  { name: 'first 3-byte sequence U+0800', hex: 'e0a080', firstInvalid: -1 },
  { name: 'first 4-byte sequence U+10000', hex: 'f0908080', firstInvalid: -1 },
  { name: 'last 1-byte sequence U+007F', hex: '7f', firstInvalid: -1 },
  { name: 'last 2-byte sequence U+07FF', hex: 'dfbf', firstInvalid: -1 },
  { name: 'last 3-byte sequence U+FFFF', hex: 'efbfbf', firstInvalid: -1 },
  { name: 'last 4-byte sequence U+10FFFF', hex: 'f48fbfbf', firstInvalid: -1 },
  { name: 'U+D7FF, just below the surrogates', hex: 'ed9fbf', firstInvalid: -1 },
  { name: 'U+E000, just above the surrogates', hex: 'ee8080', firstInvalid: -1 },
  { name: 'U+FFFD', hex: 'efbfbd', firstInvalid: -1 },
  { name: 'noncharacters U+FFFE and U+FDD0 (valid UTF-8)', hex: 'efbfbe efb790', firstInvalid: -1 },
  { name: 'a byte-order mark', hex: 'efbbbf 41', firstInvalid: -1 },
  // 3. Malformed sequences.
  { name: 'a lone continuation byte 0x80', hex: '80', firstInvalid: 0 },
  { name: 'a lone continuation byte 0xBF', hex: 'bf', firstInvalid: 0 },
  { name: 'three continuation bytes', hex: '80bf80', firstInvalid: 0 },
  { name: 'a continuation byte after ASCII', hex: '616263 80', firstInvalid: 3 },
  { name: 'an extra continuation byte after a 2-byte character', hex: 'c3a9 a9', firstInvalid: 2 },
  { name: 'a 2-byte lead followed by a space', hex: 'c2 20', firstInvalid: 1 },
  { name: 'a 3-byte lead followed by a space', hex: 'e1 20', firstInvalid: 1 },
  { name: 'a 4-byte lead followed by a space', hex: 'f1 20', firstInvalid: 1 },
  { name: 'a 3-byte sequence missing its last byte, then ASCII', hex: 'e282 41', firstInvalid: 2 },
  { name: 'a 2-byte sequence cut at the end', hex: '41 c3', firstInvalid: -1, truncated: true },
  { name: 'a 3-byte sequence cut after 2 bytes', hex: 'e0a0', firstInvalid: -1, truncated: true },
  { name: 'a 4-byte sequence cut after 3 bytes', hex: 'f09080', firstInvalid: -1, truncated: true },
  { name: 'U+10FFFF cut after 3 bytes', hex: 'f48fbf', firstInvalid: -1, truncated: true },
  { name: 'impossible byte 0xFE', hex: 'fe', firstInvalid: 0 },
  { name: 'impossible byte 0xFF', hex: 'ff', firstInvalid: 0 },
  { name: 'impossible bytes FE FE FF FF', hex: 'fefeffff', firstInvalid: 0 },
  { name: 'lead byte 0xF5 (would be above U+10FFFF)', hex: 'f5808080', firstInvalid: 0 },
  { name: 'an old 5-byte sequence', hex: 'f888808080', firstInvalid: 0 },
  { name: 'an old 6-byte sequence', hex: 'fc8480808080', firstInvalid: 0 },
  // 4. Overlong sequences.
  { name: 'overlong "/" in 2 bytes', hex: 'c0af', firstInvalid: 0 },
  { name: 'overlong "/" in 3 bytes', hex: 'e080af', firstInvalid: 1 },
  { name: 'overlong "/" in 4 bytes', hex: 'f08080af', firstInvalid: 1 },
  { name: 'largest overlong 2-byte sequence', hex: 'c1bf', firstInvalid: 0 },
  { name: 'largest overlong 3-byte sequence', hex: 'e09fbf', firstInvalid: 1 },
  { name: 'largest overlong 4-byte sequence', hex: 'f08fbfbf', firstInvalid: 1 },
  { name: 'overlong NUL in 2 bytes', hex: 'c080', firstInvalid: 0 },
  { name: 'overlong NUL in 3 bytes', hex: 'e08080', firstInvalid: 1 },
  // Above U+10FFFF.
  { name: 'U+110000', hex: 'f4908080', firstInvalid: 1 },
  { name: 'U+1FFFFF', hex: 'f7bfbfbf', firstInvalid: 0 },
  // 5. Surrogates (UTF-16 code units are not characters).
  { name: 'high surrogate U+D800', hex: 'eda080', firstInvalid: 1 },
  { name: 'high surrogate U+DB7F', hex: 'edadbf', firstInvalid: 1 },
  { name: 'high surrogate U+DBFF', hex: 'edafbf', firstInvalid: 1 },
  { name: 'low surrogate U+DC00', hex: 'edb080', firstInvalid: 1 },
  { name: 'low surrogate U+DFFF', hex: 'edbfbf', firstInvalid: 1 },
  { name: 'a surrogate pair encoded separately (CESU-8)', hex: 'eda080 edb080', firstInvalid: 1 },
  { name: 'valid Greek then a surrogate (Autobahn 6.3.1)', hex: 'cebae1bdb9cf83cebcceb5 eda080 656469746564', firstInvalid: 12 },
  { name: 'a surrogate cut after its second byte', hex: 'eda0', firstInvalid: 1 },
];

describe('utf8', () => {
  describe('decodeUtf8 and utf8Text', () => {
    const MiB = 1024 * 1024;
    const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

    it('decode like a fatal TextDecoder that keeps a BOM, or give undefined for invalid bytes', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let expected: string | undefined;
        try { expected = fatal.decode(bytes); } catch { expected = undefined; }
        expect(decodeUtf8(Buffer.from(bytes))).to.equal(expected);
        if (expected !== undefined) expect(utf8Text(Buffer.from(bytes))).to.equal(expected);
      }), { numRuns: 2000 });
      expect(decodeUtf8(Buffer.from([0xef, 0xbb, 0xbf, 0x41]))).to.equal('\ufeffA');
    });

    it('decode large text the same whether it is pure ASCII (external-string path) or not', () => {
      const ascii = Buffer.alloc(2 * MiB, 'json{"a":1}, ');
      expect(decodeUtf8(ascii)).to.equal(ascii.toString('utf8'));
      expect(utf8Text(ascii)).to.equal(ascii.toString('utf8'));
      const accented = Buffer.concat([ascii, Buffer.from('é€😀')]);
      expect(decodeUtf8(accented)).to.equal(accented.toString('utf8'));
      expect(utf8Text(accented)).to.equal(accented.toString('utf8'));
    });

    it('refuse large invalid text, the bad byte anywhere', () => {
      for (const at of [0, MiB, 2 * MiB - 1]) {
        const bytes = Buffer.alloc(2 * MiB, 'a');
        bytes[at] = 0xff;
        expect(decodeUtf8(bytes), `0xff at ${at}`).to.equal(undefined);
      }
      // A lone surrogate's encoding is not ASCII and not valid UTF-8 (RFC 3629 §3).
      expect(decodeUtf8(Buffer.concat([Buffer.alloc(2 * MiB, 'a'), Buffer.from([0xed, 0xa0, 0x80])]))).to.equal(undefined);
    });
  });

  describe('the reference validator (sanity check of the test oracle)', () => {
    it('agrees with a fatal TextDecoder on every vector and on random bytes', () => {
      const check = (bytes: Buffer): void => {
        const verdict = referenceUtf8(bytes);
        let decoderOk = true;
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch {
          decoderOk = false;
        }
        expect(verdict.firstInvalid === -1 && !verdict.truncated).to.equal(decoderOk);
      };
      for (const vector of UTF8_VECTORS) check(h(vector.hex));
      fc.assert(fc.property(utf8ishBytes(), check), { numRuns: 500 });
    });

    for (const vector of UTF8_VECTORS) {
      it(`places the first invalid byte of ${vector.name} where the table says`, () => {
        expect(referenceUtf8(h(vector.hex))).to.deep.equal({ firstInvalid: vector.firstInvalid, truncated: vector.truncated === true });
      });
    }
  });

  describe('isValidUtf8', () => {
    it('accepts exactly the valid, complete vectors', () => {
      for (const vector of UTF8_VECTORS) {
        const valid = vector.firstInvalid === -1 && vector.truncated !== true;
        expect(isValidUtf8(h(vector.hex)), vector.name).to.equal(valid);
      }
    });
  });

  const modes = hasNativeUtf8Validation ? [true, false] : [false];
  for (const native of modes) {
    describe(`Utf8Validator (${native ? 'native' : 'JavaScript'} path)`, () => {
      for (const vector of UTF8_VECTORS) {
        it(`judges ${vector.name} fed whole and byte by byte`, () => {
          const bytes = h(vector.hex);
          const valid = vector.firstInvalid === -1;

          const whole = new Utf8Validator(native);
          expect(whole.write(bytes)).to.equal(valid);
          expect(whole.end()).to.equal(valid && vector.truncated !== true);

          const bytewise = new Utf8Validator(native);
          let failedAt = -1;
          for (let i = 0; i < bytes.length; i++) {
            if (!bytewise.write(bytes.subarray(i, i + 1))) {
              failedAt = i;
              break;
            }
          }
          expect(failedAt).to.equal(vector.firstInvalid);
          if (valid) expect(bytewise.end()).to.equal(vector.truncated !== true);
        });
      }

      it('fails at the write holding the first invalid byte, never earlier, however the bytes are split', () => {
        fc.assert(fc.property(utf8ishBytes(), fc.array(fc.nat(), { maxLength: 8 }), (bytes, rawCuts) => {
          const verdict = referenceUtf8(bytes);
          const cuts = [...cutsFor(bytes.length, rawCuts), bytes.length];
          const validator = new Utf8Validator(native);
          let start = 0;
          for (const cut of cuts) {
            const ok = validator.write(bytes.subarray(start, cut));
            const containsFirstInvalid = verdict.firstInvalid >= start && verdict.firstInvalid < cut;
            expect(ok).to.equal(!containsFirstInvalid);
            if (!ok) return;
            start = cut;
          }
          expect(validator.end()).to.equal(verdict.firstInvalid === -1 && !verdict.truncated);
        }), { numRuns: 1000 });
      });

      it('accepts any well-formed text however it is split, and ends complete', () => {
        fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.array(fc.nat(), { maxLength: 8 }), (text, rawCuts) => {
          const bytes = Buffer.from(text, 'utf8');
          const validator = new Utf8Validator(native);
          let start = 0;
          for (const cut of [...cutsFor(bytes.length, rawCuts), bytes.length]) {
            expect(validator.write(bytes.subarray(start, cut))).to.equal(true);
            start = cut;
          }
          expect(validator.complete).to.equal(true);
          expect(validator.end()).to.equal(true);
        }), { numRuns: 500 });
      });

      it('keeps failing after an error until reset, then validates afresh', () => {
        const validator = new Utf8Validator(native);
        expect(validator.write(h('ff'))).to.equal(false);
        expect(validator.write(h('41'))).to.equal(false);
        expect(validator.end()).to.equal(false);
        validator.reset();
        expect(validator.write(h('41'))).to.equal(true);
        expect(validator.end()).to.equal(true);
      });

      it('reports an unfinished character as not complete', () => {
        const validator = new Utf8Validator(native);
        validator.write(h('e282'));
        expect(validator.complete).to.equal(false);
        validator.write(h('ac'));
        expect(validator.complete).to.equal(true);
      });
    });
  }
});
