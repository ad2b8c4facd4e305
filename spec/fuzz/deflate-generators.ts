/**
 * fast-check arbitraries for the permessage-deflate differential fuzzer. A generated value is a
 * plan ({@link DeflatePlan}), plain data that fast-check can shrink and print; {@link materialize}
 * turns it into the compressed messages of a {@link DeflateCase}. Materializing is asynchronous
 * because valid streams come from a real persistent zlib deflater (node:zlib has no synchronous
 * engine that lives across calls).
 *
 * Stream sources:
 * - `deflater`: valid streams as ws and Python send them: one zlib deflate stream per connection,
 *   each message ended with a sync flush and the tail 00 00 ff ff removed (RFC 7692 §7.2.1), with
 *   JSON-like, repetitive, binary, empty and large messages, messages repeating earlier ones (so
 *   context takeover is used), every level, memLevel and strategy, and now and then a message
 *   ended another way: a full flush, a partial flush (not byte-aligned), no flush at all (the
 *   message ends inside a block), BFINAL (Z_FINISH, with and without RFC 7692 §7.2.3.4's extra 00
 *   byte), or the tail left in;
 * - `blocks`: hand-built DEFLATE (deflate-blocks.ts): stored blocks with right and wrong LEN/NLEN,
 *   a stored block running on into the next message, BFINAL blocks, back-references at the exact
 *   window edge and just past the data received, messages that end right after a block, inside
 *   one or off a byte boundary, garbage bytes;
 * - `random`: arbitrary bytes.
 * Then damage on top (bit flips, set/inserted/deleted bytes, truncation, swapped, dropped,
 * repeated, joined and split messages), pieces cut anywhere (empty pieces included), and a size
 * limit, usually the default, sometimes right at a message's inflated size.
 *
 * Windows below 15 bits get only valid streams and references inside the window: past the
 * window, zlib still resolves a reference into output of the same inflate call, so whether such a
 * reference passes depends on where each inflater's output buffers happen to start, which says
 * nothing about either codec.
 */
import fc from 'fast-check';
import * as zlib from 'node:zlib';
import { type Block, encodeBlocks, MAX_DISTANCE, type Token } from './deflate-blocks';
import { DEFAULT_MAX_SIZE, type DeflateCase } from './deflate-case';
import { pattern } from './generators';

// --- plans -----------------------------------------------------------------------------------

/** What one message carries, before compression. */
export type Content =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'json'; records: number; seed: number }
  | { kind: 'repeat'; unit: string; count: number }
  | { kind: 'pattern'; size: number; seed: number }
  /** The content of the message `back` messages earlier, with `insert` spliced in at `at`. */
  | { kind: 'again'; back: number; at: number; insert: string };

/** How the sender ends one message's compressed data. */
export type Ending =
  /** RFC 7692 §7.2.1: a sync flush, the tail removed. */
  | 'sync'
  /** A full flush (resets the compressor's history), the tail removed. */
  | 'full'
  /** A sync flush, the tail left in: the receiver's tail makes a second empty stored block. */
  | 'keep-tail'
  /** A partial flush: an empty fixed block, the data not byte-aligned. */
  | 'partial'
  /** No flush: the message ends wherever the compressor's output stands. */
  | 'none'
  /** Z_FINISH: the last block has BFINAL set (§7.2.3.4); the sender starts a new stream after it. */
  | 'finish'
  /** Z_FINISH followed by one 00 byte, as RFC 7692 §7.2.3.4's example does. */
  | 'finish-00';

export interface DeflaterMessage {
  content: Content;
  ending: Ending;
}

export interface DeflaterSettings {
  level: number;
  memLevel: number;
  strategy: number;
}

export type Source =
  | { kind: 'deflater'; settings: DeflaterSettings; messages: DeflaterMessage[] }
  | { kind: 'blocks'; messages: BlockMessage[] }
  | { kind: 'random'; messages: Uint8Array[] };

/** Hand-built blocks, with distances given relative to the window and the data so far. */
export type BlockPlan =
  | { kind: 'stored'; final: boolean; data: Uint8Array; lenDelta: number; nlenXor: number }
  | { kind: 'fixed'; final: boolean; tokens: TokenPlan[] }
  | { kind: 'flush' }
  | { kind: 'raw'; bytes: Uint8Array };

export type TokenPlan =
  | { literal: number }
  | { length: number; distance: DistancePlan };

/** A distance: a small one, the window's edge (+ delta), or the data received so far (+ delta). */
export type DistancePlan =
  | { kind: 'near'; value: number }
  | { kind: 'window'; delta: number }
  | { kind: 'history'; delta: number };

export interface BlockMessage {
  blocks: BlockPlan[];
}

export type Damage =
  | { op: 'flip'; message: number; at: number; bit: number }
  | { op: 'set'; message: number; at: number; value: number }
  | { op: 'insert'; message: number; at: number; bytes: Uint8Array }
  | { op: 'delete'; message: number; at: number; count: number }
  | { op: 'truncate'; message: number; at: number }
  | { op: 'swap'; message: number }
  | { op: 'drop'; message: number }
  | { op: 'repeat'; message: number }
  | { op: 'join'; message: number }
  | { op: 'split'; message: number; at: number };

export type LimitPlan =
  | { kind: 'default' }
  | { kind: 'small'; value: number }
  /** The inflated size of message `message` plus `delta` (deflater streams only). */
  | { kind: 'message'; message: number; delta: number };

export interface DeflatePlan {
  windowBits: number;
  noContextTakeover: boolean;
  source: Source;
  damage: Damage[];
  /** Per message, offsets (taken modulo its length + 1) where it is cut into pieces. */
  cuts: number[][];
  /** Every message one byte per piece (applied to messages of at most 512 bytes). */
  bytewise: boolean;
  limit: LimitPlan;
}

// --- contents --------------------------------------------------------------------------------

const NAMES = ['alice', 'bob', 'carol', 'dave', 'eve', 'mallory', 'trent', 'zoë', 'jürgen', '名前'];
const TAGS = ['admin', 'beta', 'eu', 'us', 'mobile', 'web'];

/** A JSON array of `records` chat-like records: the kind of text compression is used for. */
export function jsonRecords(records: number, seed: number): Buffer {
  const items: string[] = [];
  for (let i = 0; i < records; i++) {
    const n = (seed + i * 7919) >>> 0;
    items.push(JSON.stringify({
      id: seed + i,
      user: NAMES[n % NAMES.length],
      tags: TAGS.filter((_, t) => ((n >>> t) & 1) === 1),
      online: (n & 4) !== 0,
      score: n % 1000,
      text: `message ${i} of ${records}`,
    }));
  }
  return Buffer.from(`[${items.join(',')}]`, 'utf8');
}

function contentBytes(content: Content, earlier: readonly Buffer[]): Buffer {
  switch (content.kind) {
    case 'bytes': return Buffer.from(content.bytes);
    case 'json': return jsonRecords(content.records, content.seed);
    case 'repeat': return Buffer.from(content.unit.repeat(content.count), 'utf8');
    case 'pattern': return pattern(content.size, content.seed);
    case 'again': {
      const base = earlier[earlier.length - 1 - (content.back % Math.max(1, earlier.length))] ?? Buffer.alloc(0);
      const at = content.at % (base.length + 1);
      return Buffer.concat([base.subarray(0, at), Buffer.from(content.insert, 'utf8'), base.subarray(at)]);
    }
  }
}

// --- materializing ---------------------------------------------------------------------------

/** RFC 7692 §7.2.1: what a sync flush ends with. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** One zlib deflate stream, driven message by message. */
class StreamDeflater {
  private readonly engine: zlib.DeflateRaw;
  private chunks: Buffer[] = [];
  private readonly ended: Promise<void>;
  /** Finished (Z_FINISH) or broken: cannot be reset and used again. */
  spent = false;

  constructor(options: zlib.ZlibOptions) {
    this.engine = zlib.createDeflateRaw(options);
    this.engine.on('data', (chunk: Buffer) => { this.chunks.push(chunk); });
    this.ended = new Promise((resolve, reject) => {
      this.engine.once('end', resolve);
      this.engine.once('error', (error) => { this.spent = true; reject(error); });
    });
    // Only finish() awaits it; a failure is reported there.
    this.ended.catch(() => undefined);
  }

  /** Compresses `data` and flushes with `flush`; returns the output since the last call. */
  async write(data: Buffer, flush: number): Promise<Buffer> {
    this.engine.write(data);
    if (flush === zlib.constants.Z_NO_FLUSH) {
      // Let the write through the threadpool without flushing anything out.
      await new Promise<void>((resolve) => { this.engine.write(Buffer.alloc(0), () => { resolve(); }); });
    } else {
      await new Promise<void>((resolve) => { this.engine.flush(flush, () => { resolve(); }); });
    }
    return this.take();
  }

  /** Compresses `data` and ends the stream (the last block has BFINAL set). */
  async finish(data: Buffer): Promise<Buffer> {
    this.spent = true;
    this.engine.end(data);
    await this.ended;
    return this.take();
  }

  /** Back to an empty history, as a new stream (deflateReset). */
  reset(): void {
    this.engine.reset();
    this.chunks = [];
  }

  close(): void {
    this.engine.close();
  }

  private take(): Buffer {
    const out = Buffer.concat(this.chunks);
    this.chunks = [];
    return out;
  }
}

/**
 * Deflaters kept between cases, reset before reuse. Only speed: a zlib engine's first use costs
 * about a millisecond (its memory), a reset one about a tenth of that.
 */
export class DeflaterPool {
  private readonly idle = new Map<string, StreamDeflater[]>();

  acquire(options: zlib.ZlibOptions): StreamDeflater {
    return this.idle.get(JSON.stringify(options))?.pop() ?? new StreamDeflater(options);
  }

  release(options: zlib.ZlibOptions, deflater: StreamDeflater): void {
    if (deflater.spent) {
      deflater.close();
      return;
    }
    deflater.reset();
    const key = JSON.stringify(options);
    const list = this.idle.get(key) ?? [];
    list.push(deflater);
    this.idle.set(key, list);
  }

  close(): void {
    for (const list of this.idle.values()) for (const deflater of list) deflater.close();
    this.idle.clear();
  }
}

const FLUSH_OF: Record<Exclude<Ending, 'finish' | 'finish-00'>, number> = {
  sync: zlib.constants.Z_SYNC_FLUSH,
  full: zlib.constants.Z_FULL_FLUSH,
  'keep-tail': zlib.constants.Z_SYNC_FLUSH,
  partial: zlib.constants.Z_PARTIAL_FLUSH,
  none: zlib.constants.Z_NO_FLUSH,
};

/** Compresses the messages with one persistent deflater, as a sender keeping context does. */
async function deflaterMessages(source: Extract<Source, { kind: 'deflater' }>, windowBits: number, noContextTakeover: boolean,
  pool: DeflaterPool): Promise<{ payloads: Buffer[]; inflated: Buffer[] }> {
  const options: zlib.ZlibOptions = {
    // zlib refuses 8 bits for raw deflate; at 9 it never refers further back than 250 bytes
    // (w_size - MIN_LOOKAHEAD), so its output is valid for a 256-byte window too.
    windowBits: Math.max(9, windowBits),
    level: source.settings.level,
    memLevel: source.settings.memLevel,
    strategy: source.settings.strategy,
  };
  const payloads: Buffer[] = [];
  const inflated: Buffer[] = [];
  let deflater = pool.acquire(options);
  try {
    for (const message of source.messages) {
      const data = contentBytes(message.content, inflated);
      inflated.push(data);
      if (message.ending === 'finish' || message.ending === 'finish-00') {
        const out = await deflater.finish(data);
        payloads.push(message.ending === 'finish-00' ? Buffer.concat([out, Buffer.alloc(1)]) : out);
        pool.release(options, deflater);
        deflater = pool.acquire(options);
        continue;
      }
      let out = await deflater.write(data, FLUSH_OF[message.ending]);
      const endsWithTail = out.length >= TAIL.length && out.subarray(out.length - TAIL.length).equals(TAIL);
      if (endsWithTail && message.ending !== 'keep-tail') out = out.subarray(0, out.length - TAIL.length);
      payloads.push(out);
      // §7.1.1.2: without context takeover each message is compressed on its own.
      if (noContextTakeover) deflater.reset();
    }
  } finally {
    pool.release(options, deflater);
  }
  return { payloads, inflated };
}

function resolveDistance(plan: DistancePlan, windowBits: number, history: number): number {
  let distance: number;
  switch (plan.kind) {
    case 'near': distance = plan.value; break;
    case 'window': distance = 2 ** windowBits + plan.delta; break;
    case 'history': distance = history + plan.delta; break;
  }
  // Below 15 bits stay inside the window (see the top of this file).
  const limit = windowBits < 15 ? 2 ** windowBits : MAX_DISTANCE;
  return Math.min(limit, Math.max(1, distance));
}

/** Hand-built messages; distances resolved against the data the blocks have produced so far. */
function blockMessages(source: Extract<Source, { kind: 'blocks' }>, windowBits: number): Buffer[] {
  let history = 0;
  return source.messages.map((message) => {
    const blocks: Block[] = message.blocks.map((block): Block => {
      switch (block.kind) {
        case 'stored':
          history += block.data.length;
          return { kind: 'stored', final: block.final, data: block.data, lenDelta: block.lenDelta, nlenXor: block.nlenXor };
        case 'fixed': {
          const tokens: Token[] = block.tokens.map((token) => {
            if ('literal' in token) {
              history += 1;
              return token;
            }
            const resolved = { length: token.length, distance: resolveDistance(token.distance, windowBits, history) };
            history += token.length;
            return resolved;
          });
          return { kind: 'fixed', final: block.final, tokens };
        }
        case 'flush':
        case 'raw':
          return block;
      }
    });
    return encodeBlocks(blocks);
  });
}

function applyDamage(messages: Buffer[], damage: readonly Damage[]): Buffer[] {
  let out = messages.map((m) => m);
  for (const d of damage) {
    if (out.length === 0) break;
    const m = d.message % out.length;
    const bytes = out[m];
    const at = 'at' in d ? d.at % (bytes.length + 1) : 0;
    switch (d.op) {
      case 'flip':
        if (bytes.length === 0) break;
        out[m] = Buffer.from(bytes);
        out[m][at % bytes.length] ^= 1 << d.bit;
        break;
      case 'set':
        if (bytes.length === 0) break;
        out[m] = Buffer.from(bytes);
        out[m][at % bytes.length] = d.value;
        break;
      case 'insert':
        out[m] = Buffer.concat([bytes.subarray(0, at), d.bytes, bytes.subarray(at)]);
        break;
      case 'delete':
        out[m] = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + d.count)]);
        break;
      case 'truncate':
        out[m] = bytes.subarray(0, at);
        break;
      case 'swap':
        if (m + 1 < out.length) [out[m], out[m + 1]] = [out[m + 1], out[m]];
        break;
      case 'drop':
        out = out.filter((_, i) => i !== m);
        break;
      case 'repeat':
        out.splice(m, 0, bytes);
        break;
      case 'join':
        if (m + 1 < out.length) out.splice(m, 2, Buffer.concat([bytes, out[m + 1]]));
        break;
      case 'split':
        out.splice(m, 1, bytes.subarray(0, at), bytes.subarray(at));
        break;
    }
  }
  return out;
}

/** Pieces longer than this are not cut one byte at a time. */
const BYTEWISE_LIMIT = 512;

function cutIntoPieces(payload: Buffer, cuts: readonly number[] | undefined, bytewise: boolean): Buffer[] {
  if (bytewise && payload.length > 0 && payload.length <= BYTEWISE_LIMIT) {
    return Array.from({ length: payload.length }, (_, i) => payload.subarray(i, i + 1));
  }
  const points = (cuts ?? []).map((c) => c % (payload.length + 1)).sort((a, b) => a - b);
  const bounds = [0, ...points, payload.length];
  const pieces: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) pieces.push(payload.subarray(bounds[i], bounds[i + 1]));
  return pieces;
}

/** Turns a plan into the compressed messages of a case, with deflaters from `pool`. */
export async function materialize(plan: DeflatePlan, pool: DeflaterPool): Promise<DeflateCase> {
  let payloads: Buffer[];
  let inflated: Buffer[] | undefined;
  switch (plan.source.kind) {
    case 'deflater':
      ({ payloads, inflated } = await deflaterMessages(plan.source, plan.windowBits, plan.noContextTakeover, pool));
      break;
    case 'blocks':
      payloads = blockMessages(plan.source, plan.windowBits);
      break;
    case 'random':
      payloads = plan.source.messages.map((m) => Buffer.from(m));
      break;
  }
  const damaged = plan.damage.length > 0;
  if (damaged) payloads = applyDamage(payloads, plan.damage);
  let maxSize = DEFAULT_MAX_SIZE;
  if (plan.limit.kind === 'small') maxSize = plan.limit.value;
  if (plan.limit.kind === 'message' && inflated !== undefined && !damaged && inflated.length > 0) {
    maxSize = Math.max(0, inflated[plan.limit.message % inflated.length].length + plan.limit.delta);
  }
  return {
    messages: payloads.map((payload, i) => cutIntoPieces(payload, plan.cuts[i], plan.bytewise)),
    maxSize,
    windowBits: plan.windowBits,
    noContextTakeover: plan.noContextTakeover,
  };
}

// --- arbitraries -----------------------------------------------------------------------------

/** Picks `rare` with probability 1/(odds + 1), else `usual`. */
function rarely<T>(odds: number, usual: fc.Arbitrary<T>, rare: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: odds, arbitrary: usual }, { weight: 1, arbitrary: rare });
}

const content: fc.Arbitrary<Content> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('json' as const), records: fc.integer({ min: 0, max: 40 }), seed: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('again' as const), back: fc.nat(3), at: fc.nat(), insert: fc.string({ maxLength: 12 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('repeat' as const),
      unit: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom('a', 'ab', '{"k":1},', 'é€𝄞')),
      count: fc.integer({ min: 1, max: 400 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 300 }) }) },
  { weight: 2, arbitrary: fc.constant<Content>({ kind: 'bytes', bytes: new Uint8Array(0) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pattern' as const), size: fc.integer({ min: 1, max: 40_000 }), seed: fc.nat() }) },
  // Large messages: a few thousand records, or long runs that compress to almost nothing.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('json' as const), records: fc.integer({ min: 300, max: 1500 }), seed: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('repeat' as const), unit: fc.constantFrom('x', 'ab', 'hello '), count: fc.integer({ min: 20_000, max: 120_000 }) }),
  },
);

const ending: fc.Arbitrary<Ending> = rarely<Ending>(12, fc.constant('sync'),
  fc.constantFrom<Ending>('full', 'keep-tail', 'partial', 'none', 'finish', 'finish-00'));

const deflaterSettings: fc.Arbitrary<DeflaterSettings> = fc.record({
  level: rarely(4, fc.constant(-1), fc.integer({ min: 0, max: 9 })),
  memLevel: rarely(4, fc.constant(8), fc.integer({ min: 1, max: 9 })),
  strategy: rarely(4, fc.constant(zlib.constants.Z_DEFAULT_STRATEGY), fc.constantFrom(
    zlib.constants.Z_FILTERED, zlib.constants.Z_HUFFMAN_ONLY, zlib.constants.Z_RLE, zlib.constants.Z_FIXED,
  )),
});

/** Messages from one persistent deflater, each ended as `endings` picks. */
function deflaterSource(endings: fc.Arbitrary<Ending>): fc.Arbitrary<Source> {
  return fc.record({
    kind: fc.constant('deflater' as const),
    settings: deflaterSettings,
    messages: fc.array(fc.record({ content, ending: endings }), { minLength: 1, maxLength: 8 }),
  });
}

const distance: fc.Arbitrary<DistancePlan> = fc.oneof(
  fc.record({ kind: fc.constant('near' as const), value: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ kind: fc.constant('window' as const), delta: fc.integer({ min: -2, max: 1 }) }),
  fc.record({ kind: fc.constant('history' as const), delta: fc.integer({ min: -2, max: 1 }) }),
);

const tokens: fc.Arbitrary<TokenPlan[]> = fc.array(fc.oneof(
  { weight: 3, arbitrary: fc.record({ literal: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ length: fc.integer({ min: 3, max: 258 }), distance }) },
), { maxLength: 12 });

/**
 * Blocks for one message. `wellFormed`: ended by the sync-flush marker, stored lengths right, no
 * BFINAL, no garbage (a reference may still reach past the data, which both sides must refuse).
 */
function blockMessage(wellFormed: boolean): fc.Arbitrary<BlockMessage> {
  const final = wellFormed ? fc.constant(false) : rarely(6, fc.constant(false), fc.constant(true));
  const stored: fc.Arbitrary<BlockPlan> = fc.record({
    kind: fc.constant('stored' as const),
    final,
    data: fc.uint8Array({ maxLength: 40 }),
    lenDelta: wellFormed ? fc.constant(0) : rarely(4, fc.constant(0), fc.integer({ min: -3, max: 8 })),
    nlenXor: wellFormed ? fc.constant(0) : rarely(6, fc.constant(0), fc.integer({ min: 1, max: 0xffff })),
  });
  const fixed: fc.Arbitrary<BlockPlan> = fc.record({ kind: fc.constant('fixed' as const), final, tokens });
  const block = fc.oneof(
    { weight: 4, arbitrary: fixed },
    { weight: 2, arbitrary: stored },
    { weight: 1, arbitrary: fc.constant<BlockPlan>({ kind: 'flush' }) },
    ...(wellFormed ? [] : [{ weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }) }]),
  );
  // A well-formed message ends with the flush marker; otherwise mostly, not always.
  const endsWithFlush = wellFormed ? fc.constant(true) : rarely(3, fc.constant(true), fc.constant(false));
  return fc.tuple(fc.array(block, { maxLength: 4 }), endsWithFlush).map(([blocks, flush]) => ({
    blocks: flush ? [...blocks, { kind: 'flush' }] : blocks,
  }));
}

function blocksSource(wellFormed: boolean): fc.Arbitrary<Source> {
  return fc.record({
    kind: fc.constant('blocks' as const),
    messages: fc.array(blockMessage(wellFormed), { minLength: 1, maxLength: 6 }),
  });
}

const randomSource: fc.Arbitrary<Source> = fc.record({
  kind: fc.constant('random' as const),
  messages: fc.array(rarely(8, fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 400 })), { minLength: 1, maxLength: 5 }),
});

const damageOne: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), message: fc.nat(), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), message: fc.nat(), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), message: fc.nat(), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ op: fc.constant('delete' as const), message: fc.nat(), at: fc.nat(), count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant('truncate' as const), message: fc.nat(), at: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), message: fc.nat() }),
  fc.record({ op: fc.constant('drop' as const), message: fc.nat() }),
  fc.record({ op: fc.constant('repeat' as const), message: fc.nat() }),
  fc.record({ op: fc.constant('join' as const), message: fc.nat() }),
  fc.record({ op: fc.constant('split' as const), message: fc.nat(), at: fc.nat() }),
);

const cuts: fc.Arbitrary<number[][]> = fc.array(
  rarely(2, fc.constant<number[]>([]), fc.array(fc.nat(), { minLength: 1, maxLength: 5 })),
  { maxLength: 12 },
);

function limitFor(source: Source, damaged: boolean): fc.Arbitrary<LimitPlan> {
  const options: { weight: number; arbitrary: fc.Arbitrary<LimitPlan> }[] = [{ weight: 8, arbitrary: fc.constant<LimitPlan>({ kind: 'default' }) }];
  // A limit that corrupt data could reach halfway through a message would make the close code
  // depend on how far each inflater got before noticing the corruption: limits go with valid
  // streams only.
  if (source.kind === 'deflater' && !damaged) {
    options.push(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('message' as const), message: fc.nat(), delta: fc.integer({ min: -1, max: 1 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('small' as const), value: fc.integer({ min: 0, max: 2000 }) }) },
    );
  }
  return fc.oneof(...options);
}

/** A plan for a window of 15 bits: every source, with or without damage. */
const fullWindowPlan: fc.Arbitrary<DeflatePlan> = fc.record({
  noContextTakeover: rarely(5, fc.constant(false), fc.constant(true)),
  source: fc.oneof(
    { weight: 6, arbitrary: deflaterSource(ending) },
    { weight: 3, arbitrary: blocksSource(false) },
    { weight: 1, arbitrary: blocksSource(true) },
    { weight: 1, arbitrary: randomSource },
  ),
  damage: rarely(2, fc.constant<Damage[]>([]), fc.array(damageOne, { minLength: 1, maxLength: 3 })),
}).chain(({ noContextTakeover, source, damage }) => fc.record({
  windowBits: fc.constant(15),
  noContextTakeover: fc.constant(noContextTakeover),
  source: fc.constant(source),
  damage: fc.constant(damage),
  cuts,
  bytewise: rarely(15, fc.constant(false), fc.constant(true)),
  limit: limitFor(source, damage.length > 0),
}));

/** A plan for a smaller window: valid streams only, references inside the window. */
const smallWindowPlan: fc.Arbitrary<DeflatePlan> = fc.record({
  windowBits: fc.integer({ min: 8, max: 14 }),
  noContextTakeover: rarely(4, fc.constant(false), fc.constant(true)),
  source: fc.oneof({ weight: 3, arbitrary: deflaterSource(fc.constant<Ending>('sync')) }, { weight: 1, arbitrary: blocksSource(true) }),
}).chain(({ windowBits, noContextTakeover, source }) => fc.record({
  windowBits: fc.constant(windowBits),
  noContextTakeover: fc.constant(noContextTakeover),
  source: fc.constant(source),
  damage: fc.constant<Damage[]>([]),
  cuts,
  bytewise: rarely(15, fc.constant(false), fc.constant(true)),
  limit: limitFor(source, false),
}));

/** Every stream the fuzzer generates: mostly a full window, where context takeover reaches furthest. */
export const deflatePlan: fc.Arbitrary<DeflatePlan> = fc.oneof(
  { weight: 5, arbitrary: fullWindowPlan },
  { weight: 1, arbitrary: smallWindowPlan },
);
