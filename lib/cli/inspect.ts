/**
 * `wsframe inspect [file|-]`: streams a capture (raw bytes or hex text) through the
 * {@link FrameInspector} and prints its records, one line per frame, on stdout.
 */
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { WebSocketUsageError } from '../index';
import type { InspectArgs } from './args';
import type { CommandIo } from './io';
import { ExitCode } from './exit';
import { errorDetail, formatRecord } from './format';
import { HexDecoder } from './hex';
import { FrameInspector, type InspectRecord } from './inspector';

/** Runs `wsframe inspect`: 0 when the input decoded cleanly, 4 on a protocol error or truncation. */
export async function runInspect(args: InspectArgs, io: CommandIo): Promise<ExitCode> {
  let input: Readable;
  if (args.file === '-') {
    input = io.stdin;
  } else {
    // Opened here, not lazily by the stream, so a missing file is a usage error before any output.
    let fd: number;
    try {
      fd = fs.openSync(args.file, 'r');
    } catch (err) {
      io.stderr.write(`wsframe inspect: cannot read ${args.file}: ${(err as Error).message}\n`);
      return ExitCode.Usage;
    }
    input = fs.createReadStream(args.file, { fd });
  }

  let malformed = false;
  const print = (record: InspectRecord): void => {
    if (record.kind === 'error' || record.kind === 'truncated') malformed = true;
    io.stdout.write(`${formatRecord(record).join('\n')}\n`);
  };
  const inspector = new FrameInspector({
    role: args.role,
    maxPayload: args.maxPayload,
    maxMessageSize: args.maxMessage,
    allowNonMinimalLength: args.allowNonMinimal,
    deflate: args.deflate,
    messages: !args.framesOnly,
    previewBytes: args.previewBytes,
  }, print);
  const hex = args.hex ? new HexDecoder() : undefined;

  try {
    for await (const chunk of input) {
      const bytes = hex === undefined ? chunk as Buffer : hex.write(chunk as Buffer);
      // After an error nothing more can be framed: stop reading.
      if (!inspector.write(bytes)) break;
    }
    if (!inspector.failed) {
      if (hex !== undefined) inspector.write(hex.end());
      inspector.end();
    }
  } catch (err) {
    if (err instanceof WebSocketUsageError) {
      io.stderr.write(`wsframe inspect: --hex input: ${errorDetail(err)}\n`);
      return ExitCode.MalformedInput;
    }
    io.stderr.write(`wsframe inspect: cannot read ${args.file === '-' ? 'stdin' : args.file}: ${(err as Error).message}\n`);
    return ExitCode.Usage;
  } finally {
    if (input !== io.stdin) input.destroy();
  }
  return malformed ? ExitCode.MalformedInput : ExitCode.Ok;
}
