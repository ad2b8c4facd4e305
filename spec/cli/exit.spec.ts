import { expect } from 'chai';
import { CloseCode } from '../../lib/index';
import { EXIT_CODE_HELP, ExitCode, exitCodeForClose } from '../../lib/cli/exit';

describe('cli/exit', () => {
  it('exits 0 for a normal close, going away and a close without a code (RFC 6455 §7.4.1)', () => {
    expect(exitCodeForClose(CloseCode.Normal)).to.equal(0);
    expect(exitCodeForClose(CloseCode.GoingAway)).to.equal(0);
    expect(exitCodeForClose(CloseCode.NoStatus)).to.equal(0);
  });

  it('exits 3 for an abnormal close and every error code', () => {
    for (const code of [1002, 1003, 1006, 1007, 1008, 1009, 1011, 1015, 3000, 4999]) {
      expect(exitCodeForClose(code), String(code)).to.equal(ExitCode.ClosedAbnormally);
    }
  });

  it('documents every exit code in the help table', () => {
    for (const code of Object.values(ExitCode)) {
      expect(EXIT_CODE_HELP, String(code)).to.match(new RegExp(`^ {2}${code} +\\S`, 'm'));
    }
  });
});
