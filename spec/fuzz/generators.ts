/**
 * fast-check arbitraries for differential fuzzing: streams of masked frames as a client sends
 * them, mostly well-formed messages (fragmented, with control frames between fragments) so the
 * parsers get deep into their state machines, salted with every kind of rule breaking: reserved
 * bits and opcodes, unmasked frames, non-minimal and invalid length encodings, lying lengths,
 * invalid UTF-8, bad close payloads, oversized control frames, broken fragment sequences, then
 * byte-level mutations and arbitrary chunking on top.
 */
import fc from 'fast-check';
import type { FuzzCase } from './parsers';
import { WS_SERVER_MAX_FRAGMENTS } from './parsers';
import {
  encodeFrames, type FrameSpec, type LengthEncoding, manyFragments, OP_BINARY, OP_CLOSE, OP_CONTINUATION,
  OP_PING, OP_PONG, OP_TEXT,
} from './wire';

/** Our default maxPayload / maxMessageSize (lib/constants.ts), repeated so a change shows here. */
export const DEFAULT_LIMIT = 64 * 1024 * 1024;

/** Byte sequences that are not valid UTF-8 (RFC 3629 §3-4), or not on their own. */
export const INVALID_UTF8: readonly number[][] = [
  [0x80], // lone continuation byte
  [0xbf],
  [0xc0, 0x80], // overlong NUL
  [0xc1, 0xbf], // overlong
  [0xe0, 0x80, 0x80], // overlong 3-byte
  [0xed, 0xa0, 0x80], // surrogate U+D800
  [0xed, 0xbf, 0xbf], // surrogate U+DFFF
  [0xf0, 0x80, 0x80, 0x80], // overlong 4-byte
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xf5, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff],
  [0xc3], // truncated 2-byte
  [0xe2, 0x82], // truncated 3-byte
  [0xf0, 0x9f, 0x98], // truncated 4-byte
  [0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64],
];

/** Close codes worth hitting exactly: every boundary of RFC 6455 §7.4 and the IANA registry. */
export const INTERESTING_CLOSE_CODES: readonly number[] = [
  0, 1, 999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
  1014, 1015, 1016, 1100, 2000, 2999, 3000, 3001, 3999, 4000, 4001, 4999, 5000, 0x7fff, 0xffff,
];

/** `size` deterministic bytes (xorshift32), cheap to make for large payloads. */
export function pattern(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (seed | 1) >>> 0;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 200 }) },
).map((s) => Buffer.from(s, 'utf8'));

/** Text bytes: valid UTF-8, sometimes with an invalid sequence spliced in. */
const textBytes = fc.oneof(
  { weight: 10, arbitrary: text },
  {
    weight: 1,
    arbitrary: fc.tuple(text, fc.constantFrom(...INVALID_UTF8), fc.nat()).map(([valid, bad, at]) => {
      const cut = at % (valid.length + 1);
      return Buffer.concat([valid.subarray(0, cut), Buffer.from(bad), valid.subarray(cut)]);
    }),
  },
);

/** Sizes around the 7/16/64-bit length boundaries, as patterned bytes. */
const largeBytes = fc.tuple(
  fc.oneof(
    fc.constantFrom(125, 126, 127, 65535, 65536, 65537),
    fc.integer({ min: 126, max: 4000 }),
  ),
  fc.nat(),
).map(([size, seed]) => pattern(size, seed));

const binaryBytes = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 150 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: largeBytes },
);

/** A masking key: random, sometimes all zero (ws skips unmasking then). */
const maskKey = fc.oneof(
  { weight: 15, arbitrary: fc.uint8Array({ minLength: 4, maxLength: 4 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(4)) },
);

/** Lengths a header may claim instead of the real one (huge ones leave the stream truncated). */
const lyingLength = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(126, 65535, 65536, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1),
);

/** Per-frame wire details: mask, length form, reserved bits, sometimes a lying length. */
interface Wire {
  mask: Buffer | null;
  length: LengthEncoding;
  rsv: number;
  announced: number | undefined;
}

/** Picks `rare` with probability 1/(odds + 1), else `usual`. */
function rarely<T>(odds: number, usual: fc.Arbitrary<T>, rare: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: odds, arbitrary: usual }, { weight: 1, arbitrary: rare });
}

/**
 * The arbitraries for one kind of stream. Clean streams follow every frame-level rule (masked,
 * minimal lengths, no RSV bits, valid control frames) so the parsers get deep into message state;
 * noisy streams break a frame-level rule now and then. Each broken rule ends the stream for at
 * least one parser, so they are kept rare per frame.
 */
function streamArbitraries(noisy: boolean): fc.Arbitrary<FrameSpec[]> {
  const wire: fc.Arbitrary<Wire> = !noisy
    ? fc.record({ mask: maskKey, length: fc.constant<LengthEncoding>('minimal'), rsv: fc.constant(0), announced: fc.constant(undefined) })
    : fc.record({
      mask: rarely<Buffer | null>(60, maskKey, fc.constant(null)),
      length: rarely<LengthEncoding>(60, fc.constant('minimal'), fc.constantFrom('wide16', 'wide64', 'wide16', 'wide64', 'msb64')),
      rsv: rarely(60, fc.constant(0), fc.integer({ min: 1, max: 7 })),
      announced: rarely<number | undefined>(100, fc.constant(undefined), lyingLength),
    });
  const frame = (opcode: number, fin: boolean, payload: Buffer, details: Wire): FrameSpec =>
    ({ fin, opcode, payload, mask: details.mask, length: details.length, rsv: details.rsv, announced: details.announced });

  const closeCode = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...INTERESTING_CLOSE_CODES) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
  );
  const closePayload = fc.oneof(
    { weight: 2, arbitrary: fc.constant(Buffer.alloc(0)) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => Buffer.from([b])) },
    {
      weight: 8,
      arbitrary: fc.tuple(closeCode, textBytes).map(([code, reason]) => {
        const head = Buffer.alloc(2);
        head.writeUInt16BE(code, 0);
        return Buffer.concat([head, reason]).subarray(0, 125);
      }),
    },
    // Too long for a control frame (RFC 6455 §5.5).
    ...(noisy ? [{ weight: 1, arbitrary: fc.integer({ min: 126, max: 130 }).map((n) => pattern(n, n)) }] : []),
  );
  const smallPayload = fc.uint8Array({ maxLength: 125 }).map((a) => Buffer.from(a));
  const pingPayload = noisy ? rarely(20, smallPayload, fc.integer({ min: 126, max: 200 }).map((n) => pattern(n, n))) : smallPayload;

  const pingOrPong = fc.tuple(fc.constantFrom(OP_PING, OP_PONG), pingPayload);
  const close = fc.tuple(fc.constant(OP_CLOSE), closePayload);
  const controlFrame: fc.Arbitrary<FrameSpec> = fc.tuple(
    // A close frame ends the stream: keep it rarer than pings and pongs.
    rarely<[number, Buffer]>(8, pingOrPong, close),
    noisy ? rarely(40, fc.constant(true), fc.constant(false)) : fc.constant(true),
    wire,
  ).map(([[opcode, payload], fin, details]) => frame(opcode, fin, payload, details));

  /** A data message cut into fragments, control frames between them, sometimes left open. */
  const message: fc.Arbitrary<FrameSpec[]> = fc.boolean().chain((isText) => fc.record({
    data: isText ? textBytes : binaryBytes,
    cuts: rarely<number[]>(2, fc.constant([]), fc.array(fc.nat(), { minLength: 1, maxLength: 6 })),
    controls: fc.array(fc.tuple(fc.nat(), controlFrame), { maxLength: 3 }),
    wires: fc.array(wire, { minLength: 1, maxLength: 6 }),
    unfinished: rarely(30, fc.constant(false), fc.constant(true)),
  }).map(({ data, cuts, controls, wires, unfinished }) => {
    // Fragment boundaries anywhere, empty fragments included; text may be cut inside a character.
    const points = cuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b);
    const bounds = [0, ...points, data.length];
    const fragments: FrameSpec[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const last = i + 2 === bounds.length;
      fragments.push(frame(i === 0 ? (isText ? OP_TEXT : OP_BINARY) : OP_CONTINUATION, last && !unfinished,
        data.subarray(bounds[i], bounds[i + 1]), wires[i % wires.length]));
    }
    for (const [at, control] of controls) fragments.splice(1 + (at % fragments.length), 0, control);
    return fragments;
  }));

  /** Any header at all: reserved opcodes, out-of-sequence continuations, random flags. */
  const rawFrame: fc.Arbitrary<FrameSpec> = fc.tuple(
    rarely(3, fc.constantFrom(OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG), fc.integer({ min: 0, max: 15 })),
    fc.boolean(),
    binaryBytes,
    wire,
  ).map(([opcode, fin, payload, details]) => frame(opcode, fin, payload, details));

  const item = fc.oneof(
    { weight: 8, arbitrary: message },
    { weight: 2, arbitrary: controlFrame.map((f) => [f]) },
    ...(noisy ? [{ weight: 1, arbitrary: rawFrame.map((f) => [f]) }] : []),
  );
  return fc.array(item, { minLength: 1, maxLength: 8 }).map((groups) => groups.flat());
}

const fragmentFlood: fc.Arbitrary<FrameSpec[]> = fc.integer({ min: -1, max: 2 })
  .map((delta) => manyFragments(WS_SERVER_MAX_FRAGMENTS + delta));

const frames: fc.Arbitrary<FrameSpec[]> = fc.oneof(
  { weight: 1000, arbitrary: streamArbitraries(false) },
  { weight: 1000, arbitrary: streamArbitraries(true) },
  { weight: 1, arbitrary: fragmentFlood },
);

/** Byte-level damage on top of the structure. */
type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'truncate'; at: number }
  | { op: 'repeat'; at: number; count: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('repeat' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
);

function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = bytes;
  for (const m of mutations) {
    if (out.length === 0) break;
    const at = m.at % out.length;
    switch (m.op) {
      case 'flip':
        out = Buffer.from(out);
        out[at] ^= 1 << m.bit;
        break;
      case 'set':
        out = Buffer.from(out);
        out[at] = m.value;
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
        break;
      case 'delete':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.count)]);
        break;
      case 'truncate':
        out = out.subarray(0, at);
        break;
      case 'repeat':
        out = Buffer.concat([out.subarray(0, at + m.count), out.subarray(at)]);
        break;
    }
  }
  return out;
}

const mutations = rarely(3, fc.constant<Mutation[]>([]), fc.array(mutation, { minLength: 1, maxLength: 3 }));

/**
 * The limit both parsers get: usually the default, often small enough to matter, and often right
 * at a frame's or a message's size (one byte under, at, one byte over).
 */
function maxPayloadFor(specs: readonly FrameSpec[]): fc.Arbitrary<number> {
  const sizes: number[] = [];
  let message = 0;
  for (const spec of specs) {
    if ((spec.opcode & 0x8) !== 0) continue;
    if (spec.opcode !== OP_CONTINUATION) message = 0;
    message += spec.payload.length;
    sizes.push(spec.payload.length, message);
  }
  const options: { weight: number; arbitrary: fc.Arbitrary<number> }[] = [
    { weight: 6, arbitrary: fc.constant(DEFAULT_LIMIT) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 300 }) },
    { weight: 1, arbitrary: fc.integer({ min: 126, max: 70_000 }) },
  ];
  const edges = sizes.filter((n) => n > 1);
  if (edges.length > 0) {
    options.push({ weight: 2, arbitrary: fc.tuple(fc.constantFrom(...edges), fc.integer({ min: -1, max: 1 })).map(([n, d]) => n + d) });
  }
  return fc.oneof(...options);
}

/** How the bytes are cut into writes: not at all, at random offsets, or one byte per write. */
function chunking(length: number): fc.Arbitrary<number[]> {
  const options: { weight: number; arbitrary: fc.Arbitrary<number[]> }[] = [
    { weight: 5, arbitrary: fc.constant([]) },
    { weight: 4, arbitrary: fc.array(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 12 }) },
  ];
  if (length <= 4096) {
    options.push({ weight: 1, arbitrary: fc.constant(Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1)) });
  }
  return fc.oneof(...options);
}

/** A whole differential case. */
export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.tuple(frames, mutations).chain(([specs, damage]) => {
  const bytes = mutate(encodeFrames(specs), damage);
  return fc.record({
    bytes: fc.constant(bytes),
    cuts: chunking(bytes.length),
    maxPayload: maxPayloadFor(specs),
    streamingThreshold: rarely<number | undefined>(3, fc.constant(undefined), fc.oneof(fc.integer({ min: 0, max: 200 }), fc.constant(0))),
    streaming: rarely(3, fc.constant(false), fc.constant(true)),
  }, { requiredKeys: ['bytes', 'cuts', 'maxPayload'] });
});
