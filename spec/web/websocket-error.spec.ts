import { expect } from 'chai';
import { closedError, closeInfoOf, WebSocketError } from '../../lib/web/websocket-error';

describe('WebSocketError', () => {
  it('is a DOMException named WebSocketError with a close code and a reason', () => {
    const error = new WebSocketError('stopping', { closeCode: 4000, reason: 'why' });
    expect(error).to.be.instanceOf(DOMException).and.instanceOf(Error);
    expect([error.name, error.message, error.closeCode, error.reason]).to.deep.equal(['WebSocketError', 'stopping', 4000, 'why']);
  });

  it('defaults to no code and an empty reason; a reason alone means 1000', () => {
    const plain = new WebSocketError();
    expect([plain.message, plain.closeCode, plain.reason]).to.deep.equal(['', null, '']);
    expect(new WebSocketError('', { reason: 'r' }).closeCode).to.equal(1000);
  });

  it('refuses the codes scripts may not send (InvalidAccessError) and reasons over 123 bytes (SyntaxError)', () => {
    expect(() => new WebSocketError('', { closeCode: 1006 })).to.throw(DOMException).with.property('name', 'InvalidAccessError');
    expect(() => new WebSocketError('', { closeCode: 1000, reason: '\u20ac'.repeat(42) })).to.throw(DOMException).with.property('name', 'SyntaxError');
  });

  it('reports 1006 for an unclean close, with the cause underneath', () => {
    const cause = new Error('lost');
    const error = closedError('not clean', 1006, '', cause);
    expect(error).to.be.instanceOf(WebSocketError);
    expect([error.closeCode, error.reason, error.message, (error as { cause?: unknown }).cause]).to.deep.equal([1006, '', 'not clean', cause]);
    expect(closedError('never opened', null).closeCode).to.equal(null);
  });

  describe('closeInfoOf', () => {
    it('clamps the code as Chromium does and keeps an empty reason for none', () => {
      expect(closeInfoOf({ closeCode: 3000.5 })).to.deep.equal({ code: 3000, reason: '' });
      expect(closeInfoOf(undefined)).to.deep.equal({ code: undefined, reason: '' });
      expect(closeInfoOf({ closeCode: undefined, reason: 'r' })).to.deep.equal({ code: 1000, reason: 'r' });
    });

    it('throws InvalidAccessError for 70000 (clamped to 65535)', () => {
      expect(() => closeInfoOf({ closeCode: 70000 })).to.throw(DOMException).with.property('name', 'InvalidAccessError');
    });
  });
});
