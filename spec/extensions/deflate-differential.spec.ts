/**
 * Differential tests of the permessage-deflate codec (RFC 7692 §7.2.2) against a persistent zlib
 * inflater, the way ws and Python's zlib read a compressed direction: one DEFLATE stream for the
 * whole connection (spec/fuzz/deflate-oracle.ts). Both read the same compressed messages (pieces
 * fed to our `decode` as frames would arrive) and must deliver the same messages, byte for byte,
 * and accept or reject at the same message with the same close code. Two readings of the same
 * bytes would let a message slip past a filter that inflates differently from the endpoint.
 *
 * The bounded run here uses a new seed each time (printed; set WSFRAME_FUZZ_SEED to replay it).
 * Long runs: `npm run fuzz -- --deflate --cases 100000 [--seed N]`.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { WebSocketProtocolError } from '../../lib/errors';
import { type ExtensionCallback, type MessageExtension, type Pending, PENDING } from '../../lib/message/extension';
import { type Block, encodeBlocks, literals } from '../fuzz/deflate-blocks';
import { DEFAULT_MAX_SIZE, type DeflateCase, formatMessages, parseMessages, type Trace } from '../fuzz/deflate-case';
import { type DeflatePlan, DeflaterPool, deflatePlan, jsonRecords, materialize } from '../fuzz/deflate-generators';
import {
  DEFLATE_SIDES, type DeflateDivergence, type DeflateSides, describeDeflateDivergence, judgeDeflate, minimizeDeflate,
} from '../fuzz/deflate-judge';
import { PersistentInflater, runOracle } from '../fuzz/deflate-oracle';
import { type ExtensionFactory, runExtension } from '../fuzz/deflate-ours';

const BOUNDED_CASES = 2000;
/** Generated streams the oracle is checked on against ws itself. */
const ORACLE_CHECK_CASES = 300;

function fuzzSeed(): number {
  const fromEnvironment = process.env.WSFRAME_FUZZ_SEED;
  if (fromEnvironment !== undefined && fromEnvironment !== '') return Number(fromEnvironment);
  return Date.now() % 0x7fffffff;
}

/** A case of whole messages (one piece each) given in hex. */
function hexCase(messages: string[], overrides: Partial<DeflateCase> = {}): DeflateCase {
  return {
    messages: messages.map((hex) => [Buffer.from(hex.replace(/\s+/g, ''), 'hex')]),
    maxSize: DEFAULT_MAX_SIZE,
    windowBits: 15,
    noContextTakeover: false,
    ...overrides,
  };
}

/** A trace in a compact form for assertions: messages as text when printable, then the ending. */
function summary(trace: Trace): string[] {
  const out = trace.messages.map((m) => (/^[\x20-\x7e]*$/.test(m.toString('latin1')) ? `"${m.toString('latin1')}"` : m.toString('hex')));
  const end = trace.ending;
  out.push(end.kind === 'accepted' ? 'accepted' : end.kind === 'rejected' ? `rejected #${end.index} ${end.closeCode}` : `crash #${end.index}`);
  return out;
}

// --- ws's own permessage-deflate, to check the oracle against --------------------------------

interface WsPerMessageDeflate {
  accept(configurations: Array<Record<string, Array<string | true>>>): unknown;
  decompress(data: Buffer, fin: boolean, callback: (error: Error | null, data?: Buffer) => void): void;
  cleanup(): void;
}
type WsPerMessageDeflateConstructor = new (options: { isServer: boolean; maxPayload: number }) => WsPerMessageDeflate;

// ws ships no types for its internals and its package exports hide lib/: loaded by path.
const WsPerMessageDeflateClass = require(path.join(path.dirname(require.resolve('ws')), 'lib', 'permessage-deflate.js')) as WsPerMessageDeflateConstructor;
const { kStatusCode } = require(path.join(path.dirname(require.resolve('ws')), 'lib', 'constants.js')) as { kStatusCode: symbol };

/** ws 8's server side receiving a client's compressed messages, each as one frame. */
async function runWs(input: DeflateCase): Promise<Trace> {
  // ws reads maxPayload 0 as "no limit"; the cases checked here never use 0.
  const extension = new WsPerMessageDeflateClass({ isServer: true, maxPayload: input.maxSize });
  const offer: Record<string, Array<string | true>> = { client_max_window_bits: [String(input.windowBits)] };
  if (input.noContextTakeover) offer.client_no_context_takeover = [true];
  extension.accept([offer]);
  const messages: Buffer[] = [];
  try {
    for (let index = 0; index < input.messages.length; index++) {
      const result = await new Promise<{ error: Error | null; data?: Buffer }>((resolve) => {
        extension.decompress(Buffer.concat(input.messages[index]), true, (error, data) => { resolve({ error, data }); });
      });
      if (result.error !== null) {
        const closeCode = (result.error as unknown as Record<symbol, number | undefined>)[kStatusCode] ?? -1;
        return { messages, ending: { kind: 'rejected', index, closeCode, detail: result.error.message } };
      }
      messages.push(result.data as Buffer);
    }
    return { messages, ending: { kind: 'accepted' } };
  } finally {
    extension.cleanup();
  }
}

// --- an extension that answers through its callback ------------------------------------------

/**
 * A MessageExtension over the oracle that always answers a message's last piece later, through
 * the callback: the runner must handle PENDING like a synchronous answer.
 */
class PendingInflater implements MessageExtension {
  readonly name = 'permessage-deflate';
  readonly rsvBits = 0x40;
  private pieces: Buffer[] = [];
  private readonly inflater: PersistentInflater;

  constructor(input: DeflateCase) {
    this.inflater = new PersistentInflater(input.windowBits, input.noContextTakeover);
  }

  encode(): undefined {
    return undefined;
  }

  decode(piece: Buffer, fin: boolean, maxSize: number, callback: ExtensionCallback): undefined | Pending {
    this.pieces.push(piece);
    if (!fin) return undefined;
    const payload = Buffer.concat(this.pieces);
    this.pieces = [];
    this.inflater.inflate(payload, maxSize).then((result) => {
      if (result.ok) callback(null, result.data);
      else callback(new WebSocketProtocolError(result.closeCode === 1009 ? 'WS_ERR_MESSAGE_TOO_BIG' : 'WS_ERR_INVALID_COMPRESSED_DATA', result.detail));
    }, (error: unknown) => { callback(error instanceof Error ? error : new Error(String(error))); });
    return PENDING;
  }

  maxEncodedSize(maxSize: number): number {
    return maxSize;
  }

  close(): void {
    this.inflater.close();
  }
}

function sidesWith(ours: ExtensionFactory): DeflateSides {
  return { ...DEFLATE_SIDES, ours: (input) => runExtension(input, ours) };
}

// --- the vectors -----------------------------------------------------------------------------

const HELLO = 'f248cdc9c90700';
const HELLO_AGAIN = 'f200110000';

/**
 * Streams whose reading is known without running either side: RFC 7692 §7.2.3's examples, and
 * the cases where a persistent DEFLATE stream (RFC 1951 read across messages, §7.2.2) and one
 * fresh engine per message read the same bytes differently.
 */
const VECTORS: { name: string; input: DeflateCase; expected: string[] }[] = [
  { name: 'RFC 7692 §7.2.3.1: "Hello"', input: hexCase([HELLO]), expected: ['"Hello"', 'accepted'] },
  {
    name: 'RFC 7692 §7.2.3.2: a second "Hello" referring back into the first (context takeover)',
    input: hexCase([HELLO, HELLO_AGAIN]),
    expected: ['"Hello"', '"Hello"', 'accepted'],
  },
  {
    name: 'RFC 7692 §7.2.3.2 without context takeover: the reference reaches before the data (1007)',
    input: hexCase([HELLO, HELLO_AGAIN], { noContextTakeover: true }),
    expected: ['"Hello"', 'rejected #1 1007'],
  },
  { name: 'RFC 7692 §7.2.3.3: a stored block', input: hexCase(['000500faff48656c6c6f00']), expected: ['"Hello"', 'accepted'] },
  {
    name: 'RFC 7692 §7.2.3.4: a block with BFINAL set, then the extra 00 byte',
    input: hexCase(['f348cdc9c9070000', HELLO]),
    expected: ['"Hello"', '"Hello"', 'accepted'],
  },
  {
    name: 'RFC 7692 §7.2.3.5: two blocks in one message',
    input: hexCase(['f248050000 00ffff cac9c90700']),
    expected: ['"Hello"', 'accepted'],
  },
  { name: 'RFC 7692 §7.2.3.6: an empty message (one 00 byte), then "Hello"', input: hexCase(['00', HELLO]), expected: ['""', '"Hello"', 'accepted'] },
  {
    name: 'a message of no bytes at all: the tail opens a stored block of 0xff00 bytes whose NLEN the next message breaks (1007)',
    input: hexCase(['', HELLO]),
    expected: ['""', 'rejected #1 1007'],
  },
  {
    name: 'two messages of no bytes: the second is read as stored data of the block the first opened',
    input: hexCase(['', '']),
    expected: ['""', '00ffff', 'accepted'],
  },
  {
    name: 'a message ending inside a stored block: the tail is read as its data, and the next message goes on with it',
    input: hexCase(['00 0a00 f5ff 4865', '6c6c6f']),
    expected: ['48650000ffff', '6c6c6f00', 'accepted'],
  },
  {
    name: 'after a block with BFINAL the next message starts a new stream: a reference into the old one fails (1007)',
    input: hexCase(['f348cdc9c90700', HELLO_AGAIN]),
    expected: ['"Hello"', 'rejected #1 1007'],
  },
  {
    name: 'a stored block whose NLEN is not the complement of LEN (1007)',
    input: hexCase(['000500faef48656c6c6f00']),
    expected: ['rejected #0 1007'],
  },
  {
    name: 'a reference at exactly the 256-byte window of client_max_window_bits=8 passes, one further fails (1007)',
    input: {
      ...hexCase([]),
      windowBits: 8,
      messages: [
        // 300 bytes: 44 'a', one 'b', 255 'a'. 256 bytes back from its end is the 'b'.
        [encodeBlocks([{ kind: 'fixed', final: false, tokens: literals(Buffer.from(`${'a'.repeat(44)}b${'a'.repeat(255)}`)) }, { kind: 'flush' }])],
        [encodeBlocks([{ kind: 'fixed', final: false, tokens: [{ length: 3, distance: 256 }] }, { kind: 'flush' }])],
        [encodeBlocks([{ kind: 'fixed', final: false, tokens: [{ length: 3, distance: 300 }] }, { kind: 'flush' }])],
      ],
    },
    expected: [`"${'a'.repeat(44)}b${'a'.repeat(255)}"`, '"baa"', 'rejected #2 1007'],
  },
  {
    name: 'a message inflating to exactly maxSize passes and one byte more is 1009',
    input: {
      ...hexCase([HELLO, HELLO_AGAIN], { maxSize: 5 }),
      messages: [[Buffer.from(HELLO, 'hex')], [Buffer.from(HELLO_AGAIN, 'hex')],
        [encodeBlocks([{ kind: 'fixed', final: false, tokens: literals(Buffer.from('Hello!')) }, { kind: 'flush' }])]],
    },
    expected: ['"Hello"', '"Hello"', 'rejected #2 1009'],
  },
];

// --- the spec --------------------------------------------------------------------------------

describe('permessage-deflate differential fuzzing against a persistent zlib inflater (spec/fuzz/deflate-*)', function () {
  this.timeout(120_000);
  const pool = new DeflaterPool();
  after(() => { pool.close(); });

  it(`reads ${BOUNDED_CASES} generated compressed streams as a persistent inflater does: the same messages, accepted or rejected alike`, async () => {
    const seed = fuzzSeed();
    console.log(`      fuzz seed ${seed} (WSFRAME_FUZZ_SEED=${seed} replays this run)`);
    let first: DeflateDivergence | undefined;
    let disagreements = 0;
    const endings = { accepted: 0, 1007: 0, 1009: 0 };
    // The property never fails: every stream is judged, and the first disagreement is minimized
    // and reported once the run is over.
    await fc.assert(fc.asyncProperty(deflatePlan, async (plan: DeflatePlan) => {
      const verdict = await judgeDeflate(await materialize(plan, pool));
      if (verdict.kind === 'disagree') {
        disagreements++;
        first ??= verdict.divergence;
        return;
      }
      const { ending } = verdict.trace;
      if (ending.kind === 'accepted') endings.accepted++;
      else if (ending.kind === 'rejected') endings[ending.closeCode === 1009 ? 1009 : 1007]++;
    }), { seed, numRuns: BOUNDED_CASES });
    console.log(`      ${endings.accepted} accepted, ${endings[1007]} rejected 1007, ${endings[1009]} rejected 1009 by both; ${disagreements} disagreements`);
    if (first !== undefined) {
      const minimized = await minimizeDeflate(first);
      throw new Error(`${disagreements} of ${BOUNDED_CASES} streams read differently by our codec and a persistent inflater ` +
        `(seed ${seed}); the first, minimized:\n${describeDeflateDivergence(minimized)}`);
    }
  });

  describe('streams with a known reading', () => {
    const short = (item: string): string => (item.length > 24 ? `${item.slice(0, 12)}...(${item.length} chars)` : item);
    for (const vector of VECTORS) {
      it(`${vector.name}: ${vector.expected.map(short).join(', ')}`, async () => {
        expect(summary(await runOracle(vector.input)), 'the persistent inflater').to.deep.equal(vector.expected);
        expect(summary(await runExtension(vector.input)), 'our codec').to.deep.equal(vector.expected);
      });
    }

    it('reads a stream the same however its messages are cut into pieces (empty pieces and single bytes included)', async () => {
      const messages = [HELLO, HELLO_AGAIN, '00', '000500faff48656c6c6f00'].map((hex) => Buffer.from(hex, 'hex'));
      const whole = summary(await runExtension({ ...hexCase([]), messages: messages.map((m) => [m]) }));
      await fc.assert(fc.asyncProperty(fc.array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: 4, maxLength: 4 }), async (cuts) => {
        const pieces = messages.map((m, i) => {
          const points = [0, ...cuts[i].map((c) => c % (m.length + 1)).sort((a, b) => a - b), m.length];
          return points.slice(1).map((end, j) => m.subarray(points[j], end));
        });
        expect(summary(await runExtension({ ...hexCase([]), messages: pieces }))).to.deep.equal(whole);
      }), { numRuns: 100 });
      const bytewise = messages.map((m) => [...m].map((b) => Buffer.from([b])));
      expect(summary(await runExtension({ ...hexCase([]), messages: bytewise }))).to.deep.equal(whole);
    });
  });

  describe('the oracle', () => {
    it(`reads ${ORACLE_CHECK_CASES} generated streams exactly as ws 8's own permessage-deflate does`, async () => {
      await fc.assert(fc.asyncProperty(deflatePlan, async (plan: DeflatePlan) => {
        const input = await materialize(plan, pool);
        if (input.maxSize === 0) return;
        const oracle = await runOracle(input);
        const ws = await runWs(input);
        expect(summary(oracle), `oracle vs ws for ${formatMessages(input.messages).slice(0, 200)}`).to.deep.equal(summary(ws));
        for (let i = 0; i < oracle.messages.length; i++) expect(oracle.messages[i].equals(ws.messages[i]), `message ${i}`).to.equal(true);
      }), { seed: fuzzSeed(), numRuns: ORACLE_CHECK_CASES, endOnFailure: true });
    });

    it('inflates what the valid-stream generator compresses back to its content, message after message', async () => {
      const pool2 = new DeflaterPool();
      try {
        const plan = (records: number): DeflatePlan => ({
          windowBits: 15, noContextTakeover: false, damage: [], cuts: [], bytewise: false, limit: { kind: 'default' },
          source: {
            kind: 'deflater',
            settings: { level: -1, memLevel: 8, strategy: zlib.constants.Z_DEFAULT_STRATEGY },
            messages: [
              { content: { kind: 'json', records, seed: 1 }, ending: 'sync' },
              { content: { kind: 'again', back: 0, at: 10, insert: 'é' }, ending: 'sync' },
              { content: { kind: 'bytes', bytes: new Uint8Array(0) }, ending: 'sync' },
            ],
          },
        });
        const trace = await runOracle(await materialize(plan(50), pool2));
        const first = jsonRecords(50, 1);
        expect(summary(trace).at(-1)).to.equal('accepted');
        expect(trace.messages[0].equals(first)).to.equal(true);
        expect(trace.messages[1].toString()).to.equal(`${first.subarray(0, 10).toString()}é${first.subarray(10).toString()}`);
        expect(trace.messages[2].length).to.equal(0);
      } finally {
        pool2.close();
      }
    });

    it('builds the bytes of RFC 7692 §7.2.3 with the hand-written DEFLATE encoder', () => {
      const blocks = (list: Block[]): string => encodeBlocks(list).toString('hex');
      expect(blocks([{ kind: 'fixed', final: false, tokens: literals(Buffer.from('Hello')) }, { kind: 'flush' }])).to.equal(HELLO);
      expect(blocks([{ kind: 'fixed', final: false, tokens: [{ literal: 0x48 }, { length: 4, distance: 5 }] }, { kind: 'flush' }])).to.equal(HELLO_AGAIN);
      expect(blocks([{ kind: 'stored', final: false, data: Buffer.from('Hello') }, { kind: 'raw', bytes: Buffer.from([0]) }])).to.equal('000500faff48656c6c6f00');
      expect(blocks([{ kind: 'fixed', final: true, tokens: literals(Buffer.from('Hello')) }, { kind: 'raw', bytes: Buffer.from([0]) }])).to.equal('f348cdc9c9070000');
    });
  });

  describe('the judge', () => {
    it('agrees on a stream both sides read the same', async () => {
      const verdict = await judgeDeflate(hexCase([HELLO, HELLO_AGAIN]));
      expect(verdict.kind).to.equal('agree');
    });

    it('takes answers given later through the callback (PENDING) like answers given at once', async () => {
      const pending = sidesWith((input) => new PendingInflater(input));
      await fc.assert(fc.asyncProperty(deflatePlan, async (plan: DeflatePlan) => {
        const verdict = await judgeDeflate(await materialize(plan, pool), pending);
        if (verdict.kind === 'disagree') throw new Error(describeDeflateDivergence(verdict.divergence));
      }), { seed: fuzzSeed(), numRuns: 100, endOnFailure: true });
    });

    it('flags a side that delivers other bytes, and prints the command that replays the stream', async () => {
      const corrupting = sidesWith((input) => {
        const real = new PendingInflater(input);
        const wrapped: MessageExtension = {
          name: real.name,
          rsvBits: real.rsvBits,
          encode: () => undefined,
          decode: (piece, fin, maxSize, callback) => real.decode(piece, fin, maxSize, (error, payload) => {
            callback(error, payload === undefined ? payload : Buffer.concat([payload, Buffer.from('!')]));
          }),
          maxEncodedSize: (n) => n,
          close: () => { real.close(); },
        };
        return wrapped;
      });
      const verdict = await judgeDeflate(hexCase([HELLO, HELLO_AGAIN]), corrupting);
      expect(verdict.kind).to.equal('disagree');
      if (verdict.kind !== 'disagree') return;
      expect(verdict.divergence.index).to.equal(0);
      expect(describeDeflateDivergence(verdict.divergence)).to.contain(`--replay ${HELLO}/${HELLO_AGAIN}`);
    });

    it('flags the same rejection with another close code', async () => {
      const wrongCode: DeflateSides = {
        ...DEFLATE_SIDES,
        oracle: async (input) => {
          const trace = await runOracle(input);
          return trace.ending.kind === 'rejected' ? { ...trace, ending: { ...trace.ending, closeCode: 1011 } } : trace;
        },
      };
      expect((await judgeDeflate(hexCase(['000500faef48656c6c6f00']), wrongCode)).kind).to.equal('disagree');
    });

    it('never agrees with a side that breaks the extension contract: a message before fin, a callback before returning', async () => {
      const early = sidesWith(() => ({
        name: 'permessage-deflate', rsvBits: 0x40, encode: () => undefined, maxEncodedSize: (n: number) => n, close: () => undefined,
        decode: () => Buffer.from('Hello'),
      }));
      const twoPieces = { ...hexCase([]), messages: [[Buffer.from('f248', 'hex'), Buffer.from('cdc9c90700', 'hex')]] };
      const first = await judgeDeflate(twoPieces, early);
      expect(first.kind === 'disagree' && first.divergence.ours.ending.kind).to.equal('crash');

      const hasty = sidesWith(() => ({
        name: 'permessage-deflate', rsvBits: 0x40, encode: () => undefined, maxEncodedSize: (n: number) => n, close: () => undefined,
        decode: (_piece: Buffer, _fin: boolean, _max: number, callback: ExtensionCallback) => {
          callback(null, Buffer.from('Hello'));
          return PENDING;
        },
      }));
      const second = await judgeDeflate(hexCase([HELLO]), hasty);
      expect(second.kind === 'disagree' && second.divergence.ours.ending.kind).to.equal('crash');
    });

    it('minimizes a disagreement to the messages and bytes that show it', async () => {
      // A side that loses every message after a stored block: only the stored block matters.
      const stored = '000500faff48656c6c6f00';
      const forgetful = sidesWith((input) => {
        const real = new PendingInflater(input);
        let sawStored = false;
        return {
          name: real.name, rsvBits: real.rsvBits, encode: () => undefined, maxEncodedSize: (n: number) => n, close: () => { real.close(); },
          decode: (piece: Buffer, fin: boolean, maxSize: number, callback: ExtensionCallback) => real.decode(piece, fin, maxSize, (error, payload) => {
            const lose = sawStored;
            if (piece.toString('hex').startsWith('0005')) sawStored = true;
            callback(error, lose && payload !== undefined ? Buffer.alloc(0) : payload);
          }),
        };
      });
      const input = hexCase([HELLO, HELLO_AGAIN, '00', stored, HELLO, HELLO_AGAIN, HELLO]);
      const verdict = await judgeDeflate(input, forgetful);
      expect(verdict.kind).to.equal('disagree');
      if (verdict.kind !== 'disagree') return;
      const minimized = await minimizeDeflate(verdict.divergence, forgetful);
      expect(minimized.input.messages.length).to.be.at.most(3);
      expect(formatMessages(minimized.input.messages).length).to.be.lessThan(formatMessages(input.messages).length);
      expect((await judgeDeflate(minimized.input, forgetful)).kind).to.equal('disagree');
    });

    it('prints cases in a form the CLI reads back, empty messages and pieces included', () => {
      const messages = [[Buffer.from('f248', 'hex'), Buffer.alloc(0)], [Buffer.alloc(0)], [Buffer.from('00', 'hex')]];
      const text = formatMessages(messages);
      expect(text).to.equal('f248.//00');
      expect(parseMessages(text).map((pieces) => pieces.map((p) => p.toString('hex')))).to.deep.equal([['f248', ''], [''], ['00']]);
      expect(() => parseMessages('f2x8')).to.throw();
    });
  });
});
