/**
 * Hot path: decoding masked client frames on the server (bytes -> frames).
 *
 * Ours: FrameDecoder (the Transform users pipe a socket into), plus FrameParser driven directly
 * as a secondary line, which shows what the stream adapter costs. ws: its Receiver, the Writable
 * a ws server pipes each socket into, with a 'message' listener (a binary frame with FIN set is
 * one message). Both unmask in place, so every iteration is fed freshly copied bytes; the copy
 * happens in `refresh()`, outside the timed window.
 */
import { FrameDecoder } from '../lib/frame/decoder';
import { FrameParser } from '../lib/frame/parser';
import type { Frame } from '../lib/frame/frame';
import {
  chunksOf, type Comparison, compareAll, KiB, MiB, Prng, type Row, type Settings, type Side, sizeName,
  standalone, until, wireFrame,
} from './harness';

/** ws ships no types for its internals; this is the part of its Receiver the bench uses. */
interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}
type WsReceiverClass = new (options: { isServer: boolean; maxPayload: number }) => WsReceiver;
// ws/lib/receiver is not in ws's package exports; the package root re-exports the class.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Receiver = (require('ws') as { Receiver: WsReceiverClass }).Receiver;

/** A set of masked frames, its unmasked payloads for checking, and how it is cut into chunks. */
interface Fixture {
  /** The masked wire bytes, never modified. */
  pristine: Buffer;
  frames: number;
  payloadBytes: number;
  /** The payloads as a decoder must deliver them, concatenated. */
  expected: Buffer;
  chunkSize: number;
}

function buildFixture(payloadSize: number, setBytes: number, chunkSize: number): Fixture {
  const prng = new Prng(0x5eed0000 + payloadSize);
  const wire: Buffer[] = [];
  const payloads: Buffer[] = [];
  let total = 0;
  while (total < setBytes) {
    const payload = prng.bytes(payloadSize);
    const frame = wireFrame(payload, prng.maskKey());
    wire.push(frame);
    payloads.push(payload);
    total += frame.length;
  }
  return {
    pristine: Buffer.concat(wire),
    frames: wire.length,
    payloadBytes: payloads.length * payloadSize,
    expected: Buffer.concat(payloads),
    chunkSize,
  };
}

/** One side's private copy of the fixture: chunks are views of `work`, restored before each iteration. */
function workingCopy(f: Fixture): { chunks: Buffer[]; refresh(): void } {
  const work = Buffer.alloc(f.pristine.length);
  const chunks = chunksOf(work, f.chunkSize);
  return { chunks, refresh: () => { work.set(f.pristine); } };
}

/**
 * The shared shape of a decoding side: `write` feeds one chunk, `frames` counts what came out.
 * Delivery is synchronous in steady state; `until` covers the first writes, which a stream may
 * buffer until its consumer starts flowing.
 */
function decodingSide(
  f: Fixture,
  setup: (onFrame: (payload: Buffer) => void, onError: (err: Error) => void) => (chunk: Buffer) => void,
): Side {
  const { chunks, refresh } = workingCopy(f);
  let frames = 0;
  let expectedFrames = 0;
  let failure: Error | undefined;
  let collected: Buffer[] | undefined;
  const write = setup((payload) => {
    frames++;
    if (collected !== undefined) collected.push(Buffer.from(payload));
  }, (err) => { failure = err; });
  const settled = async (): Promise<void> => {
    if (frames !== expectedFrames) await until(() => frames === expectedFrames || failure !== undefined, 'frames');
    if (failure !== undefined) throw failure;
  };
  return {
    refresh,
    run() {
      for (let i = 0; i < chunks.length; i++) write(chunks[i]);
      expectedFrames += f.frames;
      if (frames !== expectedFrames || failure !== undefined) return settled();
      return undefined;
    },
    async verify() {
      collected = [];
      refresh();
      for (const chunk of chunks) write(chunk);
      expectedFrames += f.frames;
      await settled();
      const got = Buffer.concat(collected);
      collected = undefined;
      if (!got.equals(f.expected)) throw new Error('decoded payloads differ from the fixture');
    },
  };
}

function oursDecoder(f: Fixture): Side {
  return decodingSide(f, (onFrame, onError) => {
    const decoder = new FrameDecoder({ role: 'server' });
    decoder.on('data', (frame: Frame) => { onFrame(frame.payload); });
    decoder.on('error', onError);
    return (chunk) => { decoder.write(chunk); };
  });
}

function oursParser(f: Fixture): Side {
  return decodingSide(f, (onFrame, onError) => {
    const parser = new FrameParser({ role: 'server' }, { frame: (frame) => { onFrame(frame.payload); } });
    return (chunk) => {
      const error = parser.write(chunk);
      if (error !== undefined) onError(error);
    };
  });
}

function wsReceiver(f: Fixture): Side {
  return decodingSide(f, (onFrame, onError) => {
    // maxPayload 0: no limit, as ours is not limiting these sizes either.
    const receiver = new Receiver({ isServer: true, maxPayload: 0 });
    receiver.on('message', (data) => { onFrame(data); });
    receiver.on('error', onError);
    return (chunk) => { receiver.write(chunk); };
  });
}

interface DecodeCase {
  payloadSize: number;
  chunkSize: number;
  /** Wire bytes per iteration (rounded up to whole frames). */
  setBytes: number;
  target?: number;
  primary: 'ops' | 'bytes';
  /** Also show FrameParser without the stream adapter. */
  parserLine?: boolean;
}

const CASES: readonly DecodeCase[] = [
  { payloadSize: 16, chunkSize: 64 * KiB, setBytes: 1 * MiB, target: 2.0, primary: 'ops', parserLine: true },
  { payloadSize: 16, chunkSize: 7, setBytes: 128 * KiB, target: 1.2, primary: 'ops', parserLine: true },
  { payloadSize: 1 * KiB, chunkSize: 64 * KiB, setBytes: 1 * MiB, target: 1.3, primary: 'ops' },
  { payloadSize: 64 * KiB, chunkSize: 64 * KiB, setBytes: 2 * MiB, primary: 'bytes' },
  { payloadSize: 1 * MiB, chunkSize: 64 * KiB, setBytes: 4 * MiB, target: 1.0, primary: 'bytes' },
];

export function decodeComparisons(): Comparison[] {
  const out: Comparison[] = [];
  for (const c of CASES) {
    let fixture: Fixture | undefined;
    const get = (): Fixture => (fixture ??= buildFixture(c.payloadSize, c.setBytes, c.chunkSize));
    const title = `decode ${sizeName(c.payloadSize)} masked, ${sizeName(c.chunkSize)} chunks`;
    // Getters: the fixture is built when a selected row first needs it, not for every row listed.
    const row = (rowTitle: string, target: number | undefined, ours: () => Side): Comparison => ({
      group: 'decode',
      title: rowTitle,
      get opsPerIteration() { return get().frames; },
      opsUnit: 'frames',
      get bytesPerIteration() { return get().pristine.length; },
      bytesUnit: 'MB/s',
      primary: c.primary,
      target,
      ours,
      ws: () => wsReceiver(get()),
    });
    out.push(row(title, c.target, () => oursDecoder(get())));
    if (c.parserLine === true) out.push(row(`${title} (FrameParser, no stream)`, undefined, () => oursParser(get())));
  }
  return out;
}

export function benchDecode(settings: Settings): Promise<Row[]> {
  return compareAll(decodeComparisons(), settings);
}

if (require.main === module) standalone(benchDecode);
