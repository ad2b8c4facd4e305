import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageVersion } from '../../lib/cli/main';
import { run, stopChildren } from './child';

describe('cli/main', () => {
  afterEach(stopChildren);

  it('prints the overview on --help and exits 0', async () => {
    const { code, stdout, stderr } = await run(['--help']);
    expect(code).to.equal(0);
    expect(stdout).to.match(/^wsframe: WebSocket client, echo server and frame inspector/);
    expect(stdout).to.include('Exit codes:');
    expect(stderr).to.equal('');
  });

  it('prints a command\'s help on "<command> --help"', async () => {
    for (const name of ['connect', 'listen', 'inspect']) {
      const { code, stdout } = await run([name, '--help']);
      expect(code, name).to.equal(0);
      expect(stdout, name).to.match(new RegExp(`^Usage: wsframe ${name} `));
    }
  });

  it('prints the version from package.json on --version', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
    const { code, stdout } = await run(['--version']);
    expect(code).to.equal(0);
    expect(stdout).to.equal(`${pkg.version}\n`);
    expect(packageVersion()).to.equal(pkg.version);
  });

  it('exits 1 with a pointer to the help for a usage error', async () => {
    const { code, stdout, stderr } = await run(['listen', '99999']);
    expect(code).to.equal(1);
    expect(stdout).to.equal('');
    expect(stderr).to.equal("wsframe listen: <port> must be from 0 to 65535, not 99999\nRun 'wsframe listen --help' for usage.\n");
  });

  it('exits 1 without a command', async () => {
    const { code, stderr } = await run([]);
    expect(code).to.equal(1);
    expect(stderr).to.match(/^wsframe: missing command\n/);
  });

  it('is declared as the package\'s wsframe command, with a node shebang', () => {
    const root = path.join(__dirname, '..', '..', '..');
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin).to.deep.equal({ wsframe: 'build/lib/cli/main.js' });
    expect(fs.readFileSync(path.join(root, pkg.bin.wsframe), 'utf8')).to.match(/^#!\/usr\/bin\/env node\n/);
  });
});
