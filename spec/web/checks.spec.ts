import { expect } from 'chai';
import fc from 'fast-check';
import {
  bytesOfBufferSource, checkCloseArguments, checkProtocols, clampUnsignedShort, getUrlRecord, isBufferSource, toArrayBuffer,
  toUSVString,
} from '../../lib/web/checks';

/** The name of the DOMException `fn` throws. */
function domError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(DOMException);
    return (error as DOMException).name;
  }
  throw new Error('no exception');
}

describe('web argument checks', () => {
  describe('toUSVString', () => {
    it('replaces lone surrogates with U+FFFD and keeps pairs', () => {
      expect(toUSVString('a\ud800b\udc00c\ud834\udd1e')).to.equal('a\ufffdb\ufffdc\ud834\udd1e');
    });

    it('converts non-strings as String() does', () => {
      expect(toUSVString(42)).to.equal('42');
      expect(toUSVString(null)).to.equal('null');
    });

    it('gives a string whose UTF-8 round trip is itself, for any input', () => {
      fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => {
        const out = toUSVString(text);
        expect(Buffer.from(out, 'utf8').toString('utf8')).to.equal(out);
      }));
    });
  });

  describe('clampUnsignedShort', () => {
    it('turns NaN into 0 and clamps to 0..65535', () => {
      expect(clampUnsignedShort('abc')).to.equal(0);
      expect(clampUnsignedShort(undefined)).to.equal(0);
      expect(clampUnsignedShort(-5)).to.equal(0);
      expect(clampUnsignedShort(70000)).to.equal(65535);
      expect(clampUnsignedShort(Infinity)).to.equal(65535);
    });

    it('rounds half to even and otherwise to the nearest integer', () => {
      expect(clampUnsignedShort(3000.5)).to.equal(3000);
      expect(clampUnsignedShort(3001.5)).to.equal(3002);
      expect(clampUnsignedShort(3000.4)).to.equal(3000);
      expect(clampUnsignedShort(3000.6)).to.equal(3001);
      expect(clampUnsignedShort('4000')).to.equal(4000);
    });
  });

  describe('getUrlRecord', () => {
    it('keeps ws: and wss: URLs and maps http: and https: to them', () => {
      expect(getUrlRecord('ws://example.com/a?b').href).to.equal('ws://example.com/a?b');
      expect(getUrlRecord('http://example.com:8080/x').href).to.equal('ws://example.com:8080/x');
      expect(getUrlRecord('https://example.com/').href).to.equal('wss://example.com/');
      expect(getUrlRecord(new URL('wss://example.com/p')).href).to.equal('wss://example.com/p');
    });

    it('takes ws+unix: URLs (a Node extension)', () => {
      expect(getUrlRecord('ws+unix:/tmp/s.sock:/path').protocol).to.equal('ws+unix:');
    });

    it('throws SyntaxError for an unparsable or relative URL, another scheme, or any fragment', () => {
      expect(domError(() => getUrlRecord('/relative'))).to.equal('SyntaxError');
      expect(domError(() => getUrlRecord('ws://['))).to.equal('SyntaxError');
      expect(domError(() => getUrlRecord('ftp://example.com/'))).to.equal('SyntaxError');
      expect(domError(() => getUrlRecord('ws://example.com/#frag'))).to.equal('SyntaxError');
      expect(domError(() => getUrlRecord('ws://example.com/#'))).to.equal('SyntaxError');
    });

    it('allows a # that is percent-encoded in the path', () => {
      expect(getUrlRecord('ws://example.com/a%23b').pathname).to.equal('/a%23b');
    });
  });

  describe('checkProtocols', () => {
    it('makes a string a list of one, and takes any iterable', () => {
      expect(checkProtocols(undefined)).to.deep.equal([]);
      expect(checkProtocols('chat')).to.deep.equal(['chat']);
      expect(checkProtocols(new Set(['a', 'b']))).to.deep.equal(['a', 'b']);
    });

    it('compares duplicates case-sensitively, as the standard and Chromium do', () => {
      expect(checkProtocols(['chat', 'Chat'])).to.deep.equal(['chat', 'Chat']);
      expect(domError(() => checkProtocols(['chat', 'chat']))).to.equal('SyntaxError');
    });

    it('throws SyntaxError for a subprotocol that is not a token', () => {
      for (const bad of ['', 'a b', 'a,b', 'a/b', 'caf\u00e9', '"q"']) {
        expect(domError(() => checkProtocols([bad])), bad).to.equal('SyntaxError');
      }
    });
  });

  describe('checkCloseArguments', () => {
    it('accepts no code, 1000 and 3000-4999', () => {
      for (const code of [undefined, 1000, 3000, 4999]) expect(() => { checkCloseArguments(code, undefined); }).not.to.throw();
    });

    it('throws InvalidAccessError for the protocol-reserved codes and those out of range', () => {
      for (const code of [0, 999, 1001, 1005, 1006, 1011, 2999, 5000]) {
        expect(domError(() => { checkCloseArguments(code, undefined); }), String(code)).to.equal('InvalidAccessError');
      }
    });

    it('throws SyntaxError for a reason over 123 bytes of UTF-8, counting bytes not characters', () => {
      expect(() => { checkCloseArguments(1000, 'x'.repeat(123)); }).not.to.throw();
      expect(domError(() => { checkCloseArguments(1000, 'x'.repeat(124)); })).to.equal('SyntaxError');
      expect(domError(() => { checkCloseArguments(1000, '\u00e9'.repeat(62)); })).to.equal('SyntaxError');
    });
  });

  describe('buffer sources', () => {
    it('recognizes ArrayBuffers and every view, not strings or Blobs', () => {
      expect(isBufferSource(new ArrayBuffer(1))).to.equal(true);
      expect(isBufferSource(new DataView(new ArrayBuffer(2)))).to.equal(true);
      expect(isBufferSource(new Float64Array(1))).to.equal(true);
      expect(isBufferSource('x')).to.equal(false);
      expect(isBufferSource(new Blob(['x']))).to.equal(false);
    });

    it('gives the bytes a view covers, over the same memory', () => {
      const whole = new Uint8Array([1, 2, 3, 4, 5]);
      const bytes = bytesOfBufferSource(whole.subarray(1, 4));
      expect([...bytes]).to.deep.equal([2, 3, 4]);
      whole[2] = 9;
      expect(bytes[1]).to.equal(9);
      expect([...bytesOfBufferSource(whole.buffer)]).to.deep.equal([1, 2, 9, 4, 5]);
    });

    it('copies a received Buffer that shares its ArrayBuffer, and hands over one that owns it', () => {
      const shared = Buffer.from([0, 1, 2, 3]).subarray(1, 3);
      const copy = toArrayBuffer(shared);
      expect(copy).not.to.equal(shared.buffer);
      expect([...new Uint8Array(copy)]).to.deep.equal([1, 2]);
      const owner = Buffer.from(new ArrayBuffer(3));
      expect(toArrayBuffer(owner)).to.equal(owner.buffer);
    });
  });
});
