import { expect } from 'chai';
import { DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PAYLOAD } from '../../lib/index';
import { type Command, parseCommandLine, parseHeaderArguments } from '../../lib/cli/args';

function usageError(command: Command): string {
  expect(command.kind, JSON.stringify(command)).to.equal('usage-error');
  return (command as Extract<Command, { kind: 'usage-error' }>).message;
}

function connectArgs(argv: string[]): Extract<Command, { kind: 'connect' }>['args'] {
  const command = parseCommandLine(['connect', ...argv]);
  expect(command.kind, JSON.stringify(command)).to.equal('connect');
  return (command as Extract<Command, { kind: 'connect' }>).args;
}

describe('cli/args', () => {
  describe('top level', () => {
    it('asks for help on --help, -h and "help <command>"', () => {
      expect(parseCommandLine(['--help'])).to.deep.equal({ kind: 'help', topic: undefined });
      expect(parseCommandLine(['-h'])).to.deep.equal({ kind: 'help', topic: undefined });
      expect(parseCommandLine(['help', 'inspect'])).to.deep.equal({ kind: 'help', topic: 'inspect' });
    });

    it('gives a command\'s help when --help appears among its arguments, even invalid ones', () => {
      expect(parseCommandLine(['connect', '--bogus', '--help'])).to.deep.equal({ kind: 'help', topic: 'connect' });
      expect(parseCommandLine(['listen', '-h'])).to.deep.equal({ kind: 'help', topic: 'listen' });
    });

    it('treats --help after "--" as an argument, not a request for help', () => {
      expect(parseCommandLine(['inspect', '--', '--help'])).to.deep.include({ kind: 'inspect' });
    });

    it('reports the version on --version and -V', () => {
      expect(parseCommandLine(['--version'])).to.deep.equal({ kind: 'version' });
      expect(parseCommandLine(['-V'])).to.deep.equal({ kind: 'version' });
    });

    it('refuses a missing or unknown command', () => {
      expect(usageError(parseCommandLine([]))).to.equal('missing command');
      expect(usageError(parseCommandLine(['conect', 'ws://x']))).to.equal('unknown command "conect"');
    });
  });

  describe('connect', () => {
    it('has defaults for everything but the URL', () => {
      expect(connectArgs(['ws://127.0.0.1:8080/chat'])).to.deep.equal({
        url: 'ws://127.0.0.1:8080/chat',
        protocols: [],
        headers: {},
        origin: undefined,
        compress: false,
        binary: false,
        output: 'preview',
        keepOpen: false,
        insecure: false,
        ca: undefined,
        progress: undefined,
        quiet: false,
      });
    });

    it('reads every option, short and long, repeatable ones in order', () => {
      const args = connectArgs([
        'wss://example.test/', '-p', 'chat.v2', '--protocol', 'chat.v1', '-H', 'Authorization: Bearer abc',
        '--header', 'X-Trace:  42 ', '-o', 'https://app.test', '--compress', '-b', '--raw', '--keep-open',
        '-k', '--ca', 'ca.pem', '--progress',
      ]);
      expect(args).to.deep.equal({
        url: 'wss://example.test/',
        protocols: ['chat.v2', 'chat.v1'],
        headers: { Authorization: 'Bearer abc', 'X-Trace': '42' },
        origin: 'https://app.test',
        compress: true,
        binary: true,
        output: 'raw',
        keepOpen: true,
        insecure: true,
        ca: 'ca.pem',
        progress: true,
        quiet: false,
      });
    });

    it('turns progress off with --quiet', () => {
      expect(connectArgs(['ws://x/', '-q'])).to.deep.include({ quiet: true, progress: false });
    });

    it('prints binary messages in full hex with --hex', () => {
      expect(connectArgs(['ws://x/', '--hex']).output).to.equal('hex');
    });

    it('refuses a bad URL with the library\'s own reason', () => {
      expect(usageError(parseCommandLine(['connect', 'ftp://x/']))).to.match(/scheme must be ws:, wss:/);
      expect(usageError(parseCommandLine(['connect', 'not a url']))).to.match(/invalid URL/);
      // RFC 6455 §3: no fragment in a WebSocket URI.
      expect(usageError(parseCommandLine(['connect', 'ws://x/#frag']))).to.match(/fragment/);
    });

    it('accepts http: and https: URLs as ws: and wss:', () => {
      expect(connectArgs(['http://127.0.0.1/']).url).to.equal('http://127.0.0.1/');
    });

    it('refuses a missing URL, a second positional argument and unknown options', () => {
      expect(usageError(parseCommandLine(['connect']))).to.equal('missing <url>');
      expect(usageError(parseCommandLine(['connect', 'ws://x/', 'ws://y/']))).to.equal('unexpected argument "ws://y/"');
      expect(usageError(parseCommandLine(['connect', 'ws://x/', '--nope']))).to.match(/--nope/);
    });

    it('refuses a subprotocol that is not a token or is listed twice (RFC 6455 §4.1)', () => {
      expect(usageError(parseCommandLine(['connect', 'ws://x/', '-p', 'a b']))).to.match(/not a token/);
      expect(usageError(parseCommandLine(['connect', 'ws://x/', '-p', 'a', '-p', 'a']))).to.match(/twice/);
    });

    it('refuses conflicting output and verbosity options', () => {
      expect(usageError(parseCommandLine(['connect', 'ws://x/', '--hex', '--raw']))).to.match(/--hex and --raw/);
      expect(usageError(parseCommandLine(['connect', 'ws://x/', '-q', '--progress']))).to.match(/--quiet and --progress/);
    });
  });

  describe('headers', () => {
    it('splits at the first colon and trims both sides', () => {
      expect(parseHeaderArguments(['Cookie: a=b; c=d:e'])).to.deep.equal({ Cookie: 'a=b; c=d:e' });
    });

    it('joins a repeated name with ", " whatever its case (RFC 9110 §5.3)', () => {
      expect(parseHeaderArguments(['X-A: 1', 'x-a: 2'])).to.deep.equal({ 'X-A': '1, 2' });
    });

    it('refuses a header without a name, a name that is not a token, or a line break in a value', () => {
      expect(() => parseHeaderArguments(['novalue'])).to.throw(/Name: value/);
      expect(() => parseHeaderArguments([': x'])).to.throw(/Name: value/);
      expect(() => parseHeaderArguments(['Bad Name: x'])).to.throw(/not a token/);
      expect(() => parseHeaderArguments(['X: a\r\nInjected: 1'])).to.throw(/line break/);
    });

    it('reports a bad header as a usage error of connect', () => {
      const command = parseCommandLine(['connect', 'ws://x/', '-H', 'oops']);
      expect(command).to.deep.include({ kind: 'usage-error', topic: 'connect' });
    });
  });

  describe('listen', () => {
    it('binds loopback by default and reads every option', () => {
      expect(parseCommandLine(['listen', '0'])).to.deep.equal({
        kind: 'listen',
        args: { port: 0, host: '127.0.0.1', path: undefined, print: false, compress: false, protocols: [], output: 'preview', quiet: false },
      });
      expect(parseCommandLine(['listen', '8080', '--host', '::1', '--path', '/echo', '--print', '--compress', '-p', 'chat', '--hex', '-q'])).to.deep.equal({
        kind: 'listen',
        args: { port: 8080, host: '::1', path: '/echo', print: true, compress: true, protocols: ['chat'], output: 'hex', quiet: true },
      });
    });

    it('refuses a port that is not a whole number from 0 to 65535', () => {
      for (const port of ['65536', '-1', '80.5', '0x50', '1e3', '', 'http']) {
        expect(parseCommandLine(['listen', port]).kind, port).to.equal('usage-error');
      }
      expect(usageError(parseCommandLine(['listen']))).to.equal('missing <port>');
    });

    it('refuses a path that does not start with a slash', () => {
      expect(usageError(parseCommandLine(['listen', '0', '--path', 'echo']))).to.match(/must start with "\/"/);
    });
  });

  describe('inspect', () => {
    it('reads stdin with role any and the library\'s payload limit by default', () => {
      expect(parseCommandLine(['inspect'])).to.deep.equal({
        kind: 'inspect',
        args: {
          file: '-', hex: false, role: 'any', maxPayload: DEFAULT_MAX_PAYLOAD, maxMessage: DEFAULT_MAX_MESSAGE_SIZE,
          allowNonMinimal: false, deflate: false,
          framesOnly: false, previewBytes: 64,
        },
      });
    });

    it('maps its options to decoder options', () => {
      expect(parseCommandLine([
        'inspect', 'capture.bin', '--hex', '--role', 'server', '--max-payload', '1024', '--max-message', '2048', '--allow-non-minimal',
        '--deflate', '--frames-only', '--preview', '0',
      ])).to.deep.equal({
        kind: 'inspect',
        args: {
          file: 'capture.bin', hex: true, role: 'server', maxPayload: 1024, maxMessage: 2048, allowNonMinimal: true, deflate: true,
          framesOnly: true, previewBytes: 0,
        },
      });
    });

    it('refuses an unknown role, a bad number and a second file', () => {
      expect(usageError(parseCommandLine(['inspect', '--role', 'peer']))).to.match(/any, server or client/);
      expect(usageError(parseCommandLine(['inspect', '--max-payload=-5']))).to.match(/whole number/);
      expect(usageError(parseCommandLine(['inspect', 'a', 'b']))).to.equal('unexpected argument "b"');
    });
  });
});
