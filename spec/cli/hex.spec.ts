import { expect } from 'chai';
import fc from 'fast-check';
import { WebSocketUsageError } from '../../lib/index';
import { HexDecoder } from '../../lib/cli/hex';

/** Decodes `text` fed in the given chunk sizes (cycled). */
function decode(text: string, sizes: readonly number[] = [text.length]): Buffer {
  const decoder = new HexDecoder();
  const input = Buffer.from(text, 'latin1');
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < input.length; i++) {
    const size = Math.max(1, sizes[i % sizes.length]);
    out.push(decoder.write(input.subarray(at, at + size)));
    at += size;
  }
  out.push(decoder.end());
  return Buffer.concat(out);
}

describe('cli/hex', () => {
  const vectors: Array<[string, string, string]> = [
    ['spaced pairs', '81 05 48 65 6c 6c 6f', '810548656c6c6f'],
    ['one run', '810548656C6C6F', '810548656c6c6f'],
    ['0x-prefixed pairs with commas', '0x81, 0x05,0X48', '810548'],
    ['one 0x-prefixed run', '0x8105', '8105'],
    ['lines, tabs and CRLF', '81\t05\r\n48 65\n', '81054865'],
    ['pairs split by whitespace', '8 1 0 5', '8105'],
    ['zero digits split by whitespace', '00 00 0 0', '000000'],
  ];
  for (const [name, text, expected] of vectors) {
    it(`reads ${name}`, () => {
      expect(decode(text).toString('hex')).to.equal(expected);
    });
  }

  it('reads the same bytes however the text is split, byte by byte included', () => {
    for (const [, text, expected] of vectors) {
      expect(decode(text, [1]).toString('hex'), text).to.equal(expected);
      expect(decode(text, [2, 3]).toString('hex'), text).to.equal(expected);
    }
  });

  it('gives back any bytes written as hex in any accepted style and chunking', () => {
    fc.assert(fc.property(
      fc.uint8Array({ maxLength: 64 }),
      fc.constantFrom('', ' ', '\n', ', ', '\r\n'),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }),
      (bytes, separator, prefixed, sizes) => {
        const text = Array.from(bytes, (b) => `${prefixed && separator !== '' ? '0x' : ''}${b.toString(16).padStart(2, '0')}`).join(separator);
        expect(decode(text, sizes).equals(Buffer.from(bytes))).to.equal(true);
      },
    ));
  });

  it('refuses a character that is not hex, naming its line and column', () => {
    expect(() => decode('81 05\n48 6g')).to.throw(WebSocketUsageError, '"g" is not a hex digit (line 2, column 5)');
    expect(() => decode('81 05\n48 6g', [1])).to.throw(WebSocketUsageError, '(line 2, column 5)');
    expect(() => decode('\\x81')).to.throw(WebSocketUsageError, '"\\" is not a hex digit (line 1, column 1)');
    expect(() => decode('81\u00a0')).to.throw(WebSocketUsageError, 'byte 0xa0 is not a hex digit');
  });

  it('accepts 0x only at the start of a run of digits', () => {
    expect(() => decode('810x05')).to.throw(WebSocketUsageError, '"x" is not a hex digit');
    expect(() => decode('0x0x05')).to.throw(WebSocketUsageError, '"x" is not a hex digit');
  });

  it('refuses an odd number of digits at the end', () => {
    expect(() => decode('81 0')).to.throw(WebSocketUsageError, 'odd number of hex digits');
    expect(() => decode('8')).to.throw(WebSocketUsageError, 'odd number of hex digits');
  });

  it('reads empty or blank input as no bytes', () => {
    expect(decode('').length).to.equal(0);
    expect(decode(' \n\t').length).to.equal(0);
  });
});
