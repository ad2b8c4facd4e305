import { expect } from 'chai';
import type { ErrorCode } from '../../lib/index';
import { hintFor } from '../../lib/cli/hints';

/** Every error a capture can make inspect report: frame and message rules, truncation, the HTTP head. */
const INSPECT_ERRORS: readonly ErrorCode[] = [
  'WS_ERR_UNEXPECTED_RSV_1', 'WS_ERR_UNEXPECTED_RSV_2', 'WS_ERR_UNEXPECTED_RSV_3', 'WS_ERR_INVALID_OPCODE',
  'WS_ERR_EXPECTED_FIN', 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 'WS_ERR_EXPECTED_MASK', 'WS_ERR_UNEXPECTED_MASK',
  'WS_ERR_INVALID_PAYLOAD_LENGTH', 'WS_ERR_NON_MINIMAL_LENGTH', 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
  'WS_ERR_PAYLOAD_TOO_BIG', 'WS_ERR_TRUNCATED_FRAME', 'WS_ERR_UNEXPECTED_CONTINUATION', 'WS_ERR_EXPECTED_CONTINUATION',
  'WS_ERR_INVALID_UTF8', 'WS_ERR_INVALID_CLOSE_PAYLOAD', 'WS_ERR_INVALID_CLOSE_CODE', 'WS_ERR_MESSAGE_TOO_BIG',
  'WS_ERR_TOO_MANY_FRAGMENTS', 'WS_ERR_INVALID_COMPRESSED_DATA', 'WS_ERR_HANDSHAKE_HEADER_TOO_LARGE',
];

describe('cli/hints', () => {
  it('explains every error inspect can report', () => {
    for (const code of INSPECT_ERRORS) expect(hintFor(code), code).to.be.a('string').and.not.equal('');
  });

  it('cites the RFC section of the rule for the framing errors', () => {
    for (const code of INSPECT_ERRORS.filter((c) => !/TOO_BIG|TOO_MANY|HANDSHAKE|UNSUPPORTED/.test(c))) {
      expect(hintFor(code), code).to.match(/RFC (6455|7692) §\d/);
    }
  });

  it('tells how a length above 125 in the 7-bit field sets the MASK bit', () => {
    expect(hintFor('WS_ERR_UNEXPECTED_MASK')).to.match(/126 followed by 2 bytes/);
  });

  it('has no hint for errors inspect never reports', () => {
    expect(hintFor('WS_ERR_SLOW_CONSUMER')).to.equal(undefined);
  });
});
