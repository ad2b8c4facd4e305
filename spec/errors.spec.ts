import { expect } from 'chai';
import { CloseCode } from '../lib/constants';
import { type ErrorCode, ERRORS, isWebSocketError, WebSocketProtocolError, WebSocketUsageError } from '../lib/errors';

const codes = Object.keys(ERRORS) as ErrorCode[];

/**
 * RFC 6455 §7.4: 1000-2999 are the protocol's own codes, 3000-4999 registered and private use.
 * 1006 may be reported locally but never sent; it is the close code of a lost connection.
 */
function isValidCloseCode(code: number): boolean {
  return Number.isInteger(code) && code >= 1000 && code <= 4999;
}

describe('errors', () => {
  describe('the ERRORS table', () => {
    it('has a close code in the valid range (1000-4999) for every entry', () => {
      const bad = codes.filter((code) => !isValidCloseCode(ERRORS[code].closeCode));
      expect(bad).to.deep.equal([]);
    });

    it('never uses 1005 or 1015, which are reserved for reporting and never mean an error here', () => {
      const bad = codes.filter((code) => [CloseCode.NoStatus as number, CloseCode.TlsHandshake as number].includes(ERRORS[code].closeCode));
      expect(bad).to.deep.equal([]);
    });

    it('names every entry WS_ERR_ followed by upper-case words', () => {
      expect(codes.filter((code) => !/^WS_ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/.test(code))).to.deep.equal([]);
    });

    it('has unique codes and a non-empty message for each', () => {
      expect(new Set(codes).size).to.equal(codes.length);
      expect(codes.filter((code) => typeof ERRORS[code].message !== 'string' || ERRORS[code].message.length === 0)).to.deep.equal([]);
    });

    it('gives HTTP statuses only in the 4xx and 5xx ranges', () => {
      const statuses = codes.map((code) => (ERRORS[code] as { status?: number }).status).filter((s) => s !== undefined);
      expect(statuses.length).to.be.above(0);
      expect(statuses.filter((s) => !(Number.isInteger(s) && s >= 400 && s <= 599))).to.deep.equal([]);
    });

    it('maps the frame-layer violations to the close codes RFC 6455 §7.4.1 gives them', () => {
      const want: Partial<Record<ErrorCode, number>> = {
        WS_ERR_UNEXPECTED_RSV_1: 1002, WS_ERR_INVALID_OPCODE: 1002, WS_ERR_EXPECTED_MASK: 1002,
        WS_ERR_NON_MINIMAL_LENGTH: 1002, WS_ERR_INVALID_PAYLOAD_LENGTH: 1002,
        WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009, WS_ERR_PAYLOAD_TOO_BIG: 1009, WS_ERR_TRUNCATED_FRAME: 1006,
        WS_ERR_INVALID_UTF8: 1007,
      };
      for (const [code, closeCode] of Object.entries(want)) expect(ERRORS[code as ErrorCode].closeCode, code).to.equal(closeCode);
    });
  });

  describe('WebSocketProtocolError', () => {
    it('carries the code, close code, status and offset of its table entry for every code', () => {
      for (const code of codes) {
        const err = new WebSocketProtocolError(code, 'detail', 42);
        const entry = ERRORS[code] as { closeCode: number; status?: number };
        expect({ code: err.code, closeCode: err.closeCode, offset: err.offset, status: err.status })
          .to.deep.equal({ code, closeCode: entry.closeCode, offset: 42, status: entry.status });
        expect(err.message).to.be.a('string').and.not.equal('');
      }
    });

    it("takes a refused handshake's real status, headers and body over the table's status", () => {
      const body = Buffer.from('who are you?');
      const err = new WebSocketProtocolError('WS_ERR_HANDSHAKE_FORBIDDEN', 'status 401', undefined,
        { status: 401, headers: { 'www-authenticate': 'Basic' }, body });
      expect({ status: err.status, headers: err.headers, body: err.body })
        .to.deep.equal({ status: 401, headers: { 'www-authenticate': 'Basic' }, body });
      const plain = new WebSocketProtocolError('WS_ERR_HANDSHAKE_FORBIDDEN');
      expect({ status: plain.status, headers: plain.headers, body: plain.body }).to.deep.equal({ status: 403, headers: undefined, body: undefined });
    });

    it('leaves the offset undefined when it is not known', () => {
      expect(new WebSocketProtocolError('WS_ERR_INVALID_OPCODE').offset).to.equal(undefined);
    });

    it('is an Error named WebSocketProtocolError with a stack', () => {
      const err = new WebSocketProtocolError('WS_ERR_INVALID_OPCODE');
      expect(err).to.be.instanceOf(Error);
      expect(err.name).to.equal('WebSocketProtocolError');
      expect(err.stack).to.be.a('string');
    });
  });

  describe('WebSocketUsageError', () => {
    it('carries the code and close code of its table entry', () => {
      for (const code of codes) {
        const err = new WebSocketUsageError(code);
        expect({ code: err.code, closeCode: err.closeCode }).to.deep.equal({ code, closeCode: ERRORS[code].closeCode });
      }
    });

    it('is a TypeError named WebSocketUsageError', () => {
      const err = new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT');
      expect(err).to.be.instanceOf(TypeError);
      expect(err.name).to.equal('WebSocketUsageError');
    });
  });

  describe('the two classes', () => {
    it('are distinct: neither is an instance of the other', () => {
      const protocol = new WebSocketProtocolError('WS_ERR_INVALID_OPCODE');
      const usage = new WebSocketUsageError('WS_ERR_INVALID_OPCODE');
      expect(protocol).to.not.be.instanceOf(WebSocketUsageError);
      expect(usage).to.not.be.instanceOf(WebSocketProtocolError);
      expect(protocol).to.not.be.instanceOf(TypeError);
    });

    it('are both recognised by isWebSocketError, and nothing else is', () => {
      expect(isWebSocketError(new WebSocketProtocolError('WS_ERR_TRUNCATED_FRAME'))).to.equal(true);
      expect(isWebSocketError(new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT'))).to.equal(true);
      const lookalike = Object.assign(new Error('x'), { code: 'WS_ERR_INVALID_OPCODE', closeCode: 1002 });
      for (const other of [new Error('x'), new TypeError('x'), lookalike, null, undefined, 'WS_ERR_INVALID_OPCODE', { code: 'WS_ERR_INTERNAL' }]) {
        expect(isWebSocketError(other)).to.equal(false);
      }
    });
  });
});
