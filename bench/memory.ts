/**
 * Hot path: memory while one huge frame streams through. A 1 GiB masked frame is generated on the
 * fly in 64 KiB chunks (nothing ever holds 1 GiB) and written into FrameDecoder in streaming mode;
 * a second line sends the same bytes on through MessageDecoder and reads the message as a stream.
 *
 * Each line runs in its own child process (`node --expose-gc`), so the baseline is a process that
 * has done nothing else: RSS after start-up and a full GC. The peak is the larger of RSS sampled
 * every few milliseconds and the kernel's high-water mark (VmHWM, reset after the baseline through
 * /proc/self/clear_refs where the kernel allows it).
 *
 * Where the chunks come from matters as much as the decoder. A fresh Buffer per chunk (what a
 * socket does by default) is garbage that V8 collects lazily: it lets external memory grow by
 * about its 64 MiB soft limit before it collects, so the generator alone peaks at 35-50 MiB and the
 * 64 MiB target would measure V8's GC policy. The target lines therefore feed the decoder from a
 * small ring of recycled chunk Buffers (as a socket with `onread: { buffer }` does), which leaves
 * the decoder's own memory; an info line repeats the frame case with fresh chunks, and a
 * reference line runs the fresh-chunk generator alone. Retention is checked either way: V8's count
 * of live ArrayBuffers after the stream and a full GC must be back at the baseline.
 *
 * ws has no streaming mode (its Receiver holds a whole message in memory), so no ws column.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { FrameDecoder } from '../lib/frame/decoder';
import type { FramePiece } from '../lib/frame/frame';
import { type Message as DecodedMessage, MessageDecoder } from '../lib/message/decoder';
import { KiB, MiB, Prng, type Row, type Settings, selected, standalone, turn } from './harness';

const FRAME_BYTES = 1024 * MiB;
const CHUNK_BYTES = 64 * KiB;
/** Target: peak RSS at most this far above the baseline. */
const LIMIT_BYTES = 64 * MiB;
const CHILD_TIMEOUT_MS = 120_000;
/** Live ArrayBuffer memory allowed after the stream and a full GC: more means something kept chunks. */
const RETAINED_LIMIT = 1 * MiB;

/**
 * `frames`, `messages`: the target lines (recycled chunks). `frames-fresh`: a fresh Buffer per
 * chunk. `source`: the fresh-chunk generator alone, no decoder.
 */
type Mode = 'frames' | 'messages' | 'frames-fresh' | 'source';

/** Chunk Buffers in the recycling ring: far more than the pipeline holds at once (one or two). */
const RING_CHUNKS = 16;

interface ChildResult {
  ok: boolean;
  error?: string;
  baseline: number;
  peak: number;
  /** How the peak was taken: 'VmHWM' when the kernel's mark could be reset, else 'sampled'. */
  peakSource: string;
  seconds: number;
  bytes: number;
  /**
   * ArrayBuffer bytes still alive after the stream and a full GC, over the baseline's: what the
   * pipeline retained. RSS after GC cannot tell (malloc keeps freed pages), V8's count can.
   */
  retained: number;
}

/** Payload byte `i` of the generated frame: a pattern the consumer can check without storing it. */
const patternByte = (i: number): number => i & 0xff;

/**
 * The wire bytes of one 1 GiB masked binary frame, chunk by chunk. The first chunk carries the
 * 14-byte header, so every later chunk starts at the same payload offset modulo 256 (and modulo
 * 4, the mask phase): all of them are copies of one template.
 */
class FrameSource {
  private readonly first: Buffer;
  private readonly template: Buffer;
  /** Recycled chunk Buffers, or empty for a fresh Buffer per chunk. */
  private readonly ring: Buffer[];
  private sent = 0;
  private count = 0;
  readonly total: number;

  constructor(payloadLength: number, maskKey: number, recycle: boolean) {
    this.ring = recycle ? Array.from({ length: RING_CHUNKS }, () => Buffer.alloc(CHUNK_BYTES)) : [];
    const header = Buffer.alloc(14);
    header[0] = 0x82; // FIN + binary
    header[1] = 0x80 | 127; // masked, 64-bit length (RFC 6455 §5.2)
    header.writeBigUInt64BE(BigInt(payloadLength), 2);
    header.writeUInt32BE(maskKey, 10);
    const masked = (offset: number, length: number): Buffer => {
      const out = Buffer.allocUnsafe(length);
      for (let i = 0; i < length; i++) {
        out[i] = patternByte(offset + i) ^ ((maskKey >>> ((3 - ((offset + i) & 3)) << 3)) & 0xff);
      }
      return out;
    };
    const firstPayload = CHUNK_BYTES - header.length;
    this.first = Buffer.concat([header, masked(0, firstPayload)]);
    this.template = masked(firstPayload, CHUNK_BYTES);
    this.total = header.length + payloadLength;
  }

  /**
   * The next chunk, freshly filled with masked bytes (the decoder unmasks in place), or undefined
   * at the end. A recycled Buffer is refilled only after RING_CHUNKS - 1 others: the pipeline has
   * long let go of it, and if it had not, the consumer would see masked bytes and fail its check.
   */
  next(): Buffer | undefined {
    if (this.sent === this.total) return undefined;
    const source = this.sent === 0 ? this.first : this.template;
    const length = Math.min(source.length, this.total - this.sent);
    const chunk = this.ring.length === 0
      ? Buffer.allocUnsafe(length)
      : this.ring[this.count++ % this.ring.length].subarray(0, length);
    source.copy(chunk, 0, 0, length);
    this.sent += length;
    return chunk;
  }
}

/** Checks the bytes of the frame as they arrive: right offset, right first byte, right total. */
class PayloadCheck {
  received = 0;
  error: string | undefined;

  take(bytes: Buffer, offset = this.received): void {
    if (this.error !== undefined) return;
    if (offset !== this.received) this.error = `piece at offset ${offset}, expected ${this.received}`;
    else if (bytes.length > 0 && (bytes[0] !== patternByte(offset) || bytes[bytes.length - 1] !== patternByte(offset + bytes.length - 1))) {
      this.error = `wrong bytes at offset ${offset}`;
    }
    this.received += bytes.length;
  }
}

/** The kernel's peak-RSS mark for this process, in bytes, or undefined where /proc is missing. */
function vmHwm(): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Resets VmHWM to the current RSS (Linux >= 4.0: write "5" to clear_refs); false if not allowed. */
function resetHwm(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** The child: stream one frame, measure, report to the parent and exit. */
async function child(mode: Mode): Promise<ChildResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run the child with --expose-gc');
  const source = new FrameSource(FRAME_BYTES, new Prng(0x1a1b).maskKey(), mode === 'frames' || mode === 'messages');
  const check = new PayloadCheck();
  const decoder = new FrameDecoder({ role: 'server', streamingThreshold: CHUNK_BYTES, maxPayload: Infinity });
  let failure: Error | undefined;
  decoder.on('error', (err: Error) => { failure = err; });
  let done = false;

  if (mode === 'source') {
    done = true;
  } else if (mode === 'frames' || mode === 'frames-fresh') {
    // Every frame here is longer than the threshold, so each arrives in pieces.
    decoder.on('data', (frame) => {
      const piece = frame as FramePiece;
      check.take(piece.payload, piece.offset);
      if (piece.last) done = true;
    });
  } else {
    const messages = new MessageDecoder({ streaming: true, maxMessageSize: Infinity });
    messages.on('error', (err: Error) => { failure = err; });
    messages.on('data', (message: DecodedMessage) => {
      if (message.type !== 'binary-stream') {
        failure = new Error(`expected a binary-stream message, got ${message.type}`);
        return;
      }
      message.stream.on('data', (bytes: Buffer) => { check.take(bytes); });
      message.stream.on('end', () => { done = true; });
      message.stream.on('error', (err: Error) => { failure = err; });
    });
    decoder.pipe(messages);
  }
  await turn();

  gc();
  gc();
  await new Promise((resolve) => { setTimeout(resolve, 50); });
  const baseline = process.memoryUsage.rss();
  const baselineBuffers = process.memoryUsage().arrayBuffers;
  const hwmReset = resetHwm();
  let sampled = baseline;
  const sample = (): void => {
    const rss = process.memoryUsage.rss();
    if (rss > sampled) sampled = rss;
  };
  const timer = setInterval(sample, 2);

  const start = process.hrtime.bigint();
  for (let chunk = source.next(), n = 0; chunk !== undefined && failure === undefined; chunk = source.next(), n++) {
    if (mode === 'source') check.received += chunk.length - (n === 0 ? 14 : 0);
    else if (!decoder.write(chunk)) await once(decoder, 'drain');
    // Let timers and I/O run between chunks, as between socket reads.
    await turn();
    if ((n & 15) === 0) sample();
  }
  if (mode !== 'source') decoder.end();
  const deadline = Date.now() + 10_000;
  while (!done && failure === undefined && Date.now() < deadline) await turn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  clearInterval(timer);
  sample();

  const hwm = hwmReset ? vmHwm() : undefined;
  const peak = Math.max(sampled, hwm ?? 0);
  gc();
  gc();
  const retained = process.memoryUsage().arrayBuffers - baselineBuffers;
  const error = failure?.message ?? check.error ??
    (check.received !== FRAME_BYTES ? `received ${check.received} of ${FRAME_BYTES} bytes` : undefined);
  return {
    ok: error === undefined,
    error,
    baseline,
    peak,
    peakSource: hwm !== undefined ? 'VmHWM + sampled' : 'sampled every 2 ms',
    seconds,
    bytes: check.received,
    retained,
  };
}

function runChild(mode: Mode): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = fork(__filename, ['--child', mode], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const timer = setTimeout(() => {
      proc.kill();
      reject(new Error(`memory child (${mode}) timed out`));
    }, CHILD_TIMEOUT_MS);
    proc.once('message', (result: ChildResult) => {
      clearTimeout(timer);
      resolve(result);
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`memory child (${mode}) exited with code ${String(code)} before reporting`));
    });
  });
}

function rowFor(title: string, result: ChildResult, info: boolean): Row {
  const over = result.peak - result.baseline;
  const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
  return {
    group: 'memory',
    title,
    ours: {
      value: over / MiB,
      unit: 'MiB peak RSS above baseline',
      secondary: { value: result.bytes / result.seconds / 1e9, unit: 'GB/s' },
    },
    targetText: info ? '—' : `< ${LIMIT_BYTES / MiB} MiB above baseline`,
    // Passing needs both: a low peak, and nothing kept once the stream is over.
    status: !result.ok ? 'error' : info ? 'info' : over < LIMIT_BYTES && result.retained <= RETAINED_LIMIT ? 'pass' : 'miss',
    note: result.ok
      ? `baseline RSS ${mib(result.baseline)} MiB, peak ${mib(result.peak)} MiB (${result.peakSource}), ` +
        `1 GiB in ${result.seconds.toFixed(2)} s, ArrayBuffers alive after GC ${mib(result.retained)} MiB over baseline`
      : result.error,
  };
}

export async function benchMemory(settings: Settings): Promise<Row[]> {
  const rows: Row[] = [];
  if (settings.side === 'ws') return rows;
  const lines: Array<{ mode: Mode; title: string }> = [
    { mode: 'frames', title: '1 GiB frame streaming (FrameDecoder, 64 KiB chunks)' },
    { mode: 'messages', title: '1 GiB message streaming (FrameDecoder -> MessageDecoder stream)' },
    { mode: 'frames-fresh', title: '1 GiB frame streaming, fresh Buffer per chunk (socket default)' },
    { mode: 'source', title: '1 GiB of fresh 64 KiB chunks, no decoder (reference)' },
  ];
  for (const { mode, title } of lines) {
    if (!selected(settings, title)) continue;
    process.stderr.write(`  ${title} ...`);
    let row: Row;
    try {
      row = rowFor(title, await runChild(mode), mode === 'source' || mode === 'frames-fresh');
    } catch (err) {
      row = { group: 'memory', title, status: 'error', note: (err as Error).message };
    }
    process.stderr.write(` ${row.status}\n`);
    rows.push(row);
  }
  return rows;
}

if (require.main === module) {
  const at = process.argv.indexOf('--child');
  if (at >= 0) {
    const mode = process.argv[at + 1] as Mode;
    const send = (result: ChildResult): void => {
      process.send?.(result, () => { process.exit(0); });
    };
    child(mode).then(send, (err: unknown) => {
      send({ ok: false, error: (err as Error).message, baseline: 0, peak: 0, peakSource: '', seconds: 0, bytes: 0, retained: 0 });
    });
  } else {
    standalone(benchMemory);
  }
}
