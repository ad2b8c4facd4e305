#!/usr/bin/env node
/**
 * The `wsframe` command: parses the arguments, runs one subcommand, exits with its code. Each
 * subcommand lives in its own module; this file only dispatches and owns the process exit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, parseCommandLine } from './args';
import { runConnect } from './connect';
import type { CommandIo } from './io';
import { ExitCode } from './exit';
import { helpText } from './help';
import { runInspect } from './inspect';
import { runListen } from './listen';

/** The version field of the package.json this file was built from (build/lib/cli -> root). */
export function packageVersion(): string {
  const file = path.join(__dirname, '..', '..', '..', 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

/** Runs one parsed command; resolves with the process exit code. */
export async function run(command: Command, io: CommandIo): Promise<number> {
  switch (command.kind) {
    case 'help':
      io.stdout.write(helpText(command.topic));
      return ExitCode.Ok;
    case 'version':
      io.stdout.write(`${packageVersion()}\n`);
      return ExitCode.Ok;
    case 'usage-error': {
      const name = command.topic === undefined ? 'wsframe' : `wsframe ${command.topic}`;
      io.stderr.write(`${name}: ${command.message}\nRun '${name} --help' for usage.\n`);
      return ExitCode.Usage;
    }
    case 'connect':
      return runConnect(command.args, io);
    case 'listen':
      return runListen(command.args, io);
    case 'inspect':
      return runInspect(command.args, io);
  }
}

/** Exits once stdout and stderr have taken everything written to them. */
function exit(code: number): void {
  let pending = 2;
  const done = (): void => { if (--pending === 0) process.exit(code); };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

if (require.main === module) {
  // A reader that went away (`wsframe ... | head -1`) is not an error worth a stack trace.
  process.stdout.on('error', (err: Error & { code?: string }) => {
    process.exit(err.code === 'EPIPE' ? ExitCode.Ok : ExitCode.Internal);
  });
  const io: CommandIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
  run(parseCommandLine(process.argv.slice(2)), io).then(exit, (err: unknown) => {
    process.stderr.write(`wsframe: internal error, please report it: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    exit(ExitCode.Internal);
  });
}
