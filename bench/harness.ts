/**
 * The shared benchmark harness: settings from the command line, fixture helpers, and the
 * alternating ours/ws measurement behind every comparison row.
 *
 * Method: each side gets a warm-up, then short rounds alternate ours, ws, ws, ours, ours, ws ...
 * A side's figure is the median of its rounds. The ratio is the median of the per-round ratios
 * (each round of ours over the ws round next to it), not the quotient of the two medians: on a
 * shared machine the load drifts between rounds, adjacent rounds share it, and an A/A run (the
 * same code on both sides) showed the quotient of medians off by up to 25% where the paired
 * median stayed within 5%. The table also gives the middle half of the per-round ratios.
 *
 * Only code inside `run()` is timed: fixtures are built before, and inputs that the code under
 * test modifies (decoders unmask in place) are restored by `refresh()` outside the timed window.
 */

// --- Settings ---------------------------------------------------------------------------------

export interface Settings {
  /** `--quick`: about 30 s for everything instead of about 4 minutes. */
  quick: boolean;
  /** `--only <regex>`: run only the rows whose title matches (case-insensitive), e.g. `decode` or `16 B masked \(client\)$`. */
  only: RegExp | undefined;
  /** `--side ours|ws|both`: `ours` alone is for profiling (`node --cpu-prof`). */
  side: 'ours' | 'ws' | 'both';
  /** Warm-up per side before the first round, in ms. */
  warmupMs: number;
  /** Rounds per side; the reported figure is their median. */
  rounds: number;
  /** Timed milliseconds per round and side. */
  roundMs: number;
  /**
   * `--echo-client per-message`: the echo load answers each echo with its own `send` (one socket
   * write per message) instead of batching the replies of one read; see bench/echo.ts.
   */
  echoClient: 'batched' | 'per-message';
}

export function parseSettings(argv: readonly string[]): Settings {
  const quick = argv.includes('--quick');
  const valueOf = (flag: string): string | undefined => {
    const at = argv.indexOf(flag);
    return at >= 0 && at + 1 < argv.length ? argv[at + 1] : undefined;
  };
  const side = valueOf('--side') ?? 'both';
  const echoClient = valueOf('--echo-client') ?? 'batched';
  if (echoClient !== 'batched' && echoClient !== 'per-message') {
    throw new Error(`--echo-client must be batched or per-message, not ${echoClient}`);
  }
  if (side !== 'ours' && side !== 'ws' && side !== 'both') {
    throw new Error(`--side must be ours, ws or both, not ${side}`);
  }
  return {
    quick,
    only: valueOf('--only') === undefined ? undefined : new RegExp(valueOf('--only') as string, 'i'),
    side,
    warmupMs: quick ? 80 : 250,
    // Many short rounds: machine load swings on a scale of 100 ms, and adjacent rounds share it.
    rounds: quick ? 5 : 15,
    roundMs: quick ? 40 : 80,
    echoClient,
  };
}

/** Whether a row with this title is selected by `--only`. */
export function selected(settings: Settings, title: string): boolean {
  return settings.only === undefined || settings.only.test(title);
}

// --- Rows: what every bench file returns and the table prints ------------------------------------

export type Status = 'pass' | 'miss' | 'info' | 'pending' | 'error';

/** One measured figure: `value` in `unit`, plus an optional second reading for the same run. */
export interface Figure {
  value: number;
  unit: string;
  /** E.g. MB/s next to frames/s. */
  secondary?: { value: number; unit: string };
}

export interface Row {
  group: string;
  title: string;
  ours?: Figure;
  ws?: Figure;
  /** ours/ws, higher is better: the median of the per-round ratios. */
  ratio?: number;
  /** Minimum ratio wanted (or a text target for rows that are not ratios). */
  target?: number;
  targetText?: string;
  status: Status;
  note?: string;
  /** Raw per-round rates, for the JSON file. */
  samples?: { ours: number[]; ws: number[]; ratios: number[] };
}

export function statusFor(ratio: number | undefined, target: number | undefined): Status {
  if (target === undefined || ratio === undefined) return 'info';
  return ratio >= target ? 'pass' : 'miss';
}

// --- Timed sides -------------------------------------------------------------------------------

/** One implementation under test, set up outside the timed region. */
export interface Side {
  /** Untimed: restore inputs that the previous iteration consumed or modified. */
  refresh?(): void;
  /** Timed: one iteration. A returned promise is awaited inside the timed window. */
  run(): void | Promise<void>;
  /** Untimed, once before warm-up: throws if the output is wrong (benchmarks that lie are worse than none). */
  verify?(): void | Promise<void>;
  /** Untimed, after the last round: final checks; throws if the output was wrong. */
  dispose?(): void;
}

export interface Comparison {
  group: string;
  title: string;
  /** Operations (frames, messages, unmask calls ...) per iteration, counted in `opsUnit`. */
  opsPerIteration: number;
  opsUnit: string;
  /** Bytes per iteration, for a MB/s or GB/s reading; 0 to leave it out. */
  bytesPerIteration: number;
  bytesUnit?: 'MB/s' | 'GB/s';
  /** Which figure is the main one: the op rate (default) or the byte rate. */
  primary?: 'ops' | 'bytes';
  target?: number;
  ours: () => Side;
  /** Missing for reference rows (e.g. Buffer.copy) that have no ws counterpart. */
  ws?: () => Side;
  note?: string;
}

const now = (): bigint => process.hrtime.bigint();

function isPromise(value: unknown): value is Promise<void> {
  return typeof (value as Promise<void> | undefined)?.then === 'function';
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

/**
 * Lets the event loop turn once, outside the timed window. A chain of awaits on already-settled
 * promises never does, so without this a stream's deferred work (a Readable starting to flow on
 * the next tick, Writable callbacks) would wait for the whole benchmark.
 */
export function turn(): Promise<void> {
  return new Promise((resolve) => { setImmediate(resolve); });
}

/** Runs iterations until `ms` of timed work; returns iterations per second. */
async function measure(side: Side, ms: number): Promise<number> {
  const budget = BigInt(Math.round(ms * 1e6));
  let timed = 0n;
  let iterations = 0;
  while (timed < budget || iterations === 0) {
    side.refresh?.();
    const start = now();
    const result = side.run();
    if (isPromise(result)) await result;
    timed += now() - start;
    iterations++;
  }
  return iterations / (Number(timed) / 1e9);
}

/** The q-quantile (0..1) with linear interpolation between order statistics. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low] + (sorted[high] - sorted[low]) * (at - low);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/**
 * The middle half of the per-round ratios (25th to 75th percentile): how far one round's ratio
 * strays on this machine. A wide range means the row needs a quieter machine, not a conclusion.
 */
export function ratioSpread(row: Row): [number, number] | undefined {
  const ratios = row.samples?.ratios ?? [];
  return ratios.length < 2 ? undefined : [quantile(ratios, 0.25), quantile(ratios, 0.75)];
}

function figure(c: Comparison, iterationsPerSecond: number): Figure {
  const ops = { value: iterationsPerSecond * c.opsPerIteration, unit: `${c.opsUnit}/s` };
  if (c.bytesPerIteration === 0) return ops;
  const unit = c.bytesUnit ?? 'MB/s';
  const bytes = { value: (iterationsPerSecond * c.bytesPerIteration) / (unit === 'GB/s' ? 1e9 : 1e6), unit };
  return c.primary === 'bytes' ? { ...bytes, secondary: ops } : { ...ops, secondary: bytes };
}

/** Measures one comparison: verify, warm up, alternate rounds, medians and ratio. */
export async function compare(c: Comparison, settings: Settings): Promise<Row> {
  const runOurs = settings.side !== 'ws';
  const runWs = settings.side !== 'ours' && c.ws !== undefined;
  const sides: Array<{ name: 'ours' | 'ws'; side: Side; rates: number[] }> = [];
  try {
    if (runOurs) sides.push({ name: 'ours', side: c.ours(), rates: [] });
    if (runWs && c.ws !== undefined) sides.push({ name: 'ws', side: c.ws(), rates: [] });
    for (const s of sides) {
      await s.side.verify?.();
      await turn();
    }
    for (const s of sides) {
      await measure(s.side, settings.warmupMs);
      await turn();
    }
    for (let round = 0; round < settings.rounds; round++) {
      // Alternate which side goes first, so neither always follows the other's garbage.
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const s of order) {
        s.rates.push(await measure(s.side, settings.roundMs));
        await turn();
      }
    }
    // Last checks (e.g. every byte came out): a failure here voids the figures too.
    for (const s of sides) s.side.dispose?.();
  } catch (err) {
    return { group: c.group, title: c.title, status: 'error', note: (err as Error).message, target: c.target };
  }
  const ours = sides.find((s) => s.name === 'ours');
  const ws = sides.find((s) => s.name === 'ws');
  const ratios = ours !== undefined && ws !== undefined ? ours.rates.map((r, i) => r / ws.rates[i]) : [];
  const ratio = ratios.length > 0 ? median(ratios) : undefined;
  return {
    group: c.group,
    title: c.title,
    ours: ours === undefined ? undefined : figure(c, median(ours.rates)),
    ws: ws === undefined ? undefined : figure(c, median(ws.rates)),
    ratio,
    target: c.target,
    status: statusFor(ratio, c.target),
    note: c.note,
    samples: { ours: ours?.rates ?? [], ws: ws?.rates ?? [], ratios },
  };
}

/** Runs the selected comparisons one after the other, logging progress to stderr. */
export async function compareAll(cases: readonly Comparison[], settings: Settings): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of cases) {
    if (!selected(settings, c.title)) continue;
    process.stderr.write(`  ${c.title} ...`);
    const row = await compare(c, settings);
    process.stderr.write(` ${row.ratio === undefined ? row.status : `${row.ratio.toFixed(2)}x`}\n`);
    rows.push(row);
  }
  return rows;
}

/** Resolves once `done()` is true, checking after each turn of the event loop. */
export function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  if (done()) return Promise.resolve();
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (done()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setImmediate(check);
    };
    setImmediate(check);
  });
}

// --- Fixtures ----------------------------------------------------------------------------------

/** A small seeded PRNG (xorshift32): fixtures are the same on every run. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  /** A uint32. */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /**
   * A masking key with no zero byte: ws skips unmasking for the all-zero key, and a real client's
   * key is random, so the fixture must make both decoders do the work.
   */
  maskKey(): number {
    for (;;) {
      const key = this.next();
      if ((key & 0xff) && (key & 0xff00) && (key & 0xff0000) && (key & 0xff000000)) return key;
    }
  }
}

export const OPCODE_BINARY = 0x2;

/**
 * One frame's wire bytes, built here by the byte-wise RFC 6455 §5.2/§5.3 definition rather than by
 * the library's encoder, so the decode benchmarks also cross-check the library.
 */
export function wireFrame(payload: Uint8Array, maskKey: number | undefined, opcode = OPCODE_BINARY): Buffer {
  const length = payload.length;
  const extra = length <= 125 ? 0 : length <= 0xffff ? 2 : 8;
  const head = 2 + extra + (maskKey === undefined ? 0 : 4);
  const out = Buffer.allocUnsafe(head + length);
  out[0] = 0x80 | opcode;
  out[1] = (maskKey === undefined ? 0 : 0x80) | (extra === 0 ? length : extra === 2 ? 126 : 127);
  if (extra === 2) out.writeUInt16BE(length, 2);
  if (extra === 8) out.writeBigUInt64BE(BigInt(length), 2);
  if (maskKey === undefined) {
    out.set(payload, head);
    return out;
  }
  out.writeUInt32BE(maskKey, head - 4);
  for (let i = 0; i < length; i++) out[head + i] = payload[i] ^ ((maskKey >>> ((3 - (i & 3)) << 3)) & 0xff);
  return out;
}

/** Views of `bytes` of at most `size` bytes each, as a socket would hand them over. */
export function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, Math.min(at + size, bytes.length)));
  return chunks;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** "16 B", "64 KiB", "1 MiB". */
export function sizeName(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

// --- Printing ----------------------------------------------------------------------------------

/** 3 significant digits with k/M/G prefixes: "12.3 M frames/s". */
export function formatValue(value: number, unit: string): string {
  if (unit === 'MB/s' || unit === 'GB/s' || unit.startsWith('MiB')) {
    return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${unit}`;
  }
  const prefixes: Array<[number, string]> = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [scale, prefix] of prefixes) {
    if (value >= scale) return `${(value / scale).toPrecision(3)} ${prefix} ${unit}`;
  }
  return `${value.toPrecision(3)} ${unit}`;
}

export function formatFigure(f: Figure | undefined): string {
  if (f === undefined) return '—';
  const main = formatValue(f.value, f.unit);
  return f.secondary === undefined ? main : `${main} (${formatValue(f.secondary.value, f.secondary.unit)})`;
}

export function targetText(row: Row): string {
  if (row.targetText !== undefined) return row.targetText;
  return row.target === undefined ? '—' : `>= ${row.target.toFixed(1)}`;
}

/** The ratio with 2 decimals, or 3 where 2 would round it onto its target (0.998 is a miss of 1.0). */
export function ratioText(row: Row): string {
  if (row.ratio === undefined) return '—';
  const short = row.ratio.toFixed(2);
  const digits = row.target !== undefined && short === row.target.toFixed(2) ? 3 : 2;
  return `${row.ratio.toFixed(digits)}x`;
}

function spreadText(row: Row): string {
  const spread = ratioSpread(row);
  return spread === undefined ? '' : ` (${spread[0].toFixed(2)}-${spread[1].toFixed(2)})`;
}

/** The one table: case | ours | ws | ratio ours/ws (higher is better) | target | status. */
export function formatTable(rows: readonly Row[]): string {
  const header = ['case', 'ours', 'ws', 'ours/ws, higher is better (IQR)', 'target', 'status'];
  const cells = rows.map((r) => [
    r.title,
    r.status === 'pending' && r.ours === undefined ? 'pending' : formatFigure(r.ours),
    formatFigure(r.ws),
    r.ratio === undefined ? '—' : `${ratioText(r)}${spreadText(r)}`,
    targetText(r),
    r.status,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => `| ${c.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  const out = [line(header), rule];
  let group: string | undefined;
  for (let i = 0; i < rows.length; i++) {
    if (group !== undefined && rows[i].group !== group) out.push(line(widths.map(() => '')));
    group = rows[i].group;
    out.push(line(cells[i]));
  }
  const notes = rows.filter((r) => r.note !== undefined).map((r) => `  ${r.title}: ${r.note}`);
  return [...out, ...(notes.length > 0 ? ['', 'notes:', ...notes] : [])].join('\n');
}

/** Entry point shared by the bench files when run on their own (`node build/bench/decode.js`). */
export function standalone(produce: (settings: Settings) => Promise<Row[]>): void {
  const settings = parseSettings(process.argv.slice(2));
  produce(settings).then((rows) => {
    process.stdout.write(`${formatTable(rows)}\n`);
  }, (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
