import { expect } from 'chai';
import { type CommandName, COMMAND_NAMES } from '../../lib/cli/args';
import { EXIT_CODE_HELP } from '../../lib/cli/exit';
import { helpText } from '../../lib/cli/help';

/** Every option each command accepts, as written on its command line. */
const OPTIONS: Record<CommandName, readonly string[]> = {
  connect: ['--protocol', '-p', '--header', '-H', '--origin', '-o', '--compress', '--binary', '-b', '--hex', '--raw',
    '--keep-open', '--insecure', '-k', '--ca', '--progress', '--quiet', '-q', '--help'],
  listen: ['--host', '--path', '--print', '--compress', '--protocol', '-p', '--hex', '--raw', '--quiet', '-q', '--help'],
  inspect: ['--hex', '--role', '--max-payload', '--max-message', '--allow-non-minimal', '--deflate', '--frames-only', '--preview', '--help'],
};

describe('cli/help', () => {
  for (const name of COMMAND_NAMES) {
    it(`documents every option of ${name}`, () => {
      const text = helpText(name);
      for (const option of OPTIONS[name]) expect(text, option).to.match(new RegExp(`(^|[\\s,])${option}\\b`));
    });

    it(`shows the exit codes in the help of ${name}`, () => {
      expect(helpText(name)).to.include(EXIT_CODE_HELP);
    });
  }

  it('lists every command and the exit codes in the overview', () => {
    const text = helpText(undefined);
    for (const name of COMMAND_NAMES) expect(text).to.include(`wsframe ${name}`);
    expect(text).to.include(EXIT_CODE_HELP);
  });

  it('keeps lines within 100 columns', () => {
    for (const topic of [undefined, ...COMMAND_NAMES]) {
      for (const line of helpText(topic).split('\n')) expect(line.length, line).to.be.at.most(100);
    }
  });
});
