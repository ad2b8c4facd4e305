import { expect } from 'chai';
import fc from 'fast-check';
import { WebSocketUsageError } from '../../lib/index';
import { LineSplitter } from '../../lib/cli/lines';

function splitAll(chunks: readonly Buffer[], max?: number): string[] {
  const splitter = new LineSplitter(max);
  const lines = chunks.flatMap((chunk) => splitter.push(chunk));
  return [...lines, ...splitter.end()];
}

describe('cli/lines', () => {
  it('splits on LF and CRLF, dropping the line ends', () => {
    expect(splitAll([Buffer.from('one\ntwo\r\nthree\n')])).to.deep.equal(['one', 'two', 'three']);
  });

  it('keeps empty lines as empty messages', () => {
    expect(splitAll([Buffer.from('a\n\nb\n')])).to.deep.equal(['a', '', 'b']);
  });

  it('sends a last line that has no newline', () => {
    expect(splitAll([Buffer.from('a\nlast')])).to.deep.equal(['a', 'last']);
    expect(splitAll([Buffer.from('')])).to.deep.equal([]);
  });

  it('joins a line and a character split across chunks', () => {
    const bytes = Buffer.from('héllo €\r\nnext\n');
    expect(splitAll([bytes.subarray(0, 2), bytes.subarray(2, 8), bytes.subarray(8, 10), bytes.subarray(10)])).to.deep.equal(['héllo €', 'next']);
  });

  it('gives the same lines however the input is chunked', () => {
    fc.assert(fc.property(
      fc.array(fc.string({ unit: 'grapheme', maxLength: 10 }).map((s) => s.replace(/[\r\n]/g, '')), { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
      (lines, sizes) => {
        const input = Buffer.from(lines.map((line) => `${line}\n`).join(''));
        const chunks: Buffer[] = [];
        for (let at = 0, i = 0; at < input.length; i++) {
          chunks.push(Buffer.from(input.subarray(at, at + sizes[i % sizes.length])));
          at += sizes[i % sizes.length];
        }
        expect(splitAll(chunks)).to.deep.equal(lines);
      },
    ));
  });

  it('does not keep references to the chunks it was given', () => {
    const splitter = new LineSplitter();
    const chunk = Buffer.from('abc');
    splitter.push(chunk);
    chunk.fill(0x7a);
    expect(splitter.end()).to.deep.equal(['abc']);
  });

  it('refuses a line longer than the limit instead of holding it', () => {
    expect(splitAll([Buffer.from('12345\n')], 5)).to.deep.equal(['12345']);
    expect(splitAll([Buffer.from('12345\r\n')], 5)).to.deep.equal(['12345']);
    expect(() => splitAll([Buffer.from('123456\n')], 5)).to.throw(WebSocketUsageError, 'longer than 5 bytes');
    const splitter = new LineSplitter(5);
    expect(() => { for (let i = 0; i < 10; i++) splitter.push(Buffer.from('x')); }).to.throw(WebSocketUsageError);
  });
});
