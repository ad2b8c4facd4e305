/**
 * Differential tests against ws 8: the same bytes (a client's masked frames, fresh copies for
 * each side) go through our FrameParser + MessageParser and through ws's Receiver, and both must
 * deliver the same messages and control frames and stop the same way, with the same close code,
 * unless a rule of spec/fuzz/differences.ts explains the difference.
 *
 * The bounded run here uses a new seed each time (printed; set WSFRAME_FUZZ_SEED to replay it).
 * Long runs: `npm run fuzz -- --cases 200000 [--seed N]`.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { DIFFERENCES, differencesMarkdown } from './fuzz/differences';
import { fuzzCase } from './fuzz/generators';
import { describeDivergence, judge, RUNNERS, type Runners } from './fuzz/judge';
import { type FuzzCase, type Observation, runOurs, runWs } from './fuzz/parsers';
import { encodeFrames, type FrameSpec, walkFrames } from './fuzz/wire';

const BOUNDED_CASES = 2000;

function fuzzSeed(): number {
  const fromEnvironment = process.env.WSFRAME_FUZZ_SEED;
  if (fromEnvironment !== undefined && fromEnvironment !== '') return Number(fromEnvironment);
  return Date.now() % 0x7fffffff;
}

/** Masked with the key 00000000, so the payload reads as plain bytes in the vectors. */
function hexCase(hex: string, maxPayload = 64 * 1024 * 1024): FuzzCase {
  return { bytes: Buffer.from(hex.replace(/\s+/g, ''), 'hex'), cuts: [], maxPayload };
}

/** A trace in a compact form for assertions. */
function summary(trace: readonly Observation[]): string[] {
  return trace.map((o) => {
    switch (o.kind) {
      case 'text': return `text "${Buffer.from(o.data, 'hex').toString('utf8')}"`;
      case 'binary':
      case 'ping':
      case 'pong': return `${o.kind} ${o.data}`;
      case 'close': return `close ${o.code} "${Buffer.from(o.reason, 'hex').toString('utf8')}"`;
      case 'error': return `error ${o.closeCode}`;
      case 'end': return `end${o.midFrame ? ' mid-frame' : ''}${o.openMessage ? ' mid-message' : ''}`;
      case 'crash': return `crash ${o.message}`;
    }
  });
}

function bothSides(input: FuzzCase): { ours: string[]; ws: string[] } {
  const frames = walkFrames(input.bytes);
  return { ours: summary(runOurs(input, frames)), ws: summary(runWs(input, frames)) };
}

describe('differential fuzzing against ws 8 (spec/fuzz)', () => {
  it(`agrees with ws on ${BOUNDED_CASES} generated streams, except for the documented differences`, function () {
    const seed = fuzzSeed();
    const counts = new Map<string, number>();
    let agreements = 0;
    console.log(`      fuzz seed ${seed} (WSFRAME_FUZZ_SEED=${seed} replays this run)`);
    fc.assert(fc.property(fuzzCase, (input) => {
      const verdict = judge(input);
      if (verdict.kind === 'unexplained') {
        throw new Error(`disagreement with ws that no rule of spec/fuzz/differences.ts explains:\n${describeDivergence(verdict.divergence)}`);
      }
      if (verdict.kind === 'agree') agreements++;
      else counts.set(verdict.id, (counts.get(verdict.id) ?? 0) + 1);
    }), { seed, numRuns: BOUNDED_CASES });
    const documented = [...counts].map(([id, n]) => `${id} ${n}`).join(', ');
    console.log(`      ${agreements} agreements; documented differences: ${documented || 'none'}`);
  });

  describe('agrees on edge cases with a known answer', () => {
    // Each vector: the bytes a client sends (masking key 00000000) and what both parsers must
    // report. The answers come from RFC 6455, not from either implementation.
    const vectors: { name: string; hex: string; expected: string[] }[] = [
      { name: 'RFC 6455 §5.7 masked "Hello"', hex: '81 85 37fa213d 7f9f4d5158', expected: ['text "Hello"', 'end'] },
      {
        name: 'a fragmented "Hello" with a ping between its fragments (§5.4)',
        hex: '01 83 00000000 48656c   89 82 00000000 6869   80 82 00000000 6c6f',
        expected: ['ping 6869', 'text "Hello"', 'end'],
      },
      {
        name: 'a 4-byte character split across three fragments',
        hex: '01 81 00000000 f0   00 82 00000000 9f98   80 81 00000000 80',
        expected: ['text "😀"', 'end'],
      },
      { name: 'an empty close frame: status 1005 (§7.1.5)', hex: '88 80 00000000', expected: ['close 1005 ""'] },
      { name: 'a close frame with a 1-byte payload (§5.5.1)', hex: '88 81 00000000 03', expected: ['error 1002'] },
      { name: 'close code 1000 with a reason', hex: '88 84 00000000 03e8 6f6b', expected: ['close 1000 "ok"'] },
      { name: 'close code 1004 (reserved)', hex: '88 82 00000000 03ec', expected: ['error 1002'] },
      { name: 'close code 1005 (never on the wire)', hex: '88 82 00000000 03ed', expected: ['error 1002'] },
      { name: 'close code 1006 (never on the wire)', hex: '88 82 00000000 03ee', expected: ['error 1002'] },
      { name: 'close code 1014 (IANA: bad gateway)', hex: '88 82 00000000 03f6', expected: ['close 1014 ""'] },
      { name: 'close code 1015 (never on the wire)', hex: '88 82 00000000 03f7', expected: ['error 1002'] },
      { name: 'close code 1016 (unassigned)', hex: '88 82 00000000 03f8', expected: ['error 1002'] },
      { name: 'close code 2999 (reserved for RFCs)', hex: '88 82 00000000 0bb7', expected: ['error 1002'] },
      { name: 'close code 3000 (registered)', hex: '88 82 00000000 0bb8', expected: ['close 3000 ""'] },
      { name: 'close code 4999 (private use)', hex: '88 82 00000000 1387', expected: ['close 4999 ""'] },
      { name: 'close code 5000 (out of range)', hex: '88 82 00000000 1388', expected: ['error 1002'] },
      { name: 'a close reason that is not UTF-8 (§8.1)', hex: '88 83 00000000 03e8 ff', expected: ['error 1007'] },
      { name: 'an unmasked frame from a client (§5.1)', hex: '81 01 61', expected: ['error 1002'] },
      { name: 'a reserved opcode (§5.2)', hex: '83 80 00000000', expected: ['error 1002'] },
      { name: 'RSV1 without an extension (§5.2)', hex: 'c1 81 00000000 61', expected: ['error 1002'] },
      { name: 'a fragmented ping (§5.5)', hex: '09 80 00000000', expected: ['error 1002'] },
      { name: 'a ping announcing 126 bytes (§5.5)', hex: '89 fe 007e 00000000', expected: ['error 1002'] },
      { name: 'a continuation with no message open (§5.4)', hex: '80 81 00000000 61', expected: ['error 1002'] },
      { name: 'a new message inside a fragmented one (§5.4)', hex: '01 81 00000000 61   81 81 00000000 62', expected: ['error 1002'] },
      { name: 'a length above 2^53 - 1', hex: '82 ff 0020000000000000 00000000', expected: ['error 1009'] },
      { name: 'a text message ending inside a character', hex: '81 82 00000000 e282', expected: ['error 1007'] },
      { name: 'a surrogate code point in text (RFC 3629 §3)', hex: '81 83 00000000 eda080', expected: ['error 1007'] },
      { name: 'a byte order mark, kept as part of the text', hex: '81 84 00000000 efbbbf61', expected: ['text "\ufeffa"', 'end'] },
      { name: 'nothing after a close frame is read', hex: '88 80 00000000 ff', expected: ['close 1005 ""'] },
    ];
    for (const vector of vectors) {
      it(`${vector.name}: ${vector.expected.join(', ')}`, () => {
        const input = hexCase(vector.hex);
        const { ours, ws } = bothSides(input);
        expect(ours, 'wsframe').to.deep.equal(vector.expected);
        expect(ws, 'ws').to.deep.equal(vector.expected);
      });
    }

    it('a message exactly at the limit passes and one byte more is 1009, in one frame or fragmented', () => {
      const key = Buffer.alloc(4);
      const frame = (opcode: number, fin: boolean, size: number): FrameSpec =>
        ({ fin, rsv: 0, opcode, mask: key, payload: Buffer.alloc(size, 0x61), length: 'minimal' });
      const limit = 300;
      const cases: [FrameSpec[], string][] = [
        [[frame(2, true, limit)], 'binary'],
        [[frame(2, true, limit + 1)], 'error 1009'],
        [[frame(2, false, 200), frame(0, true, limit - 200)], 'binary'],
        [[frame(2, false, 200), frame(0, true, limit - 199)], 'error 1009'],
      ];
      for (const [frames, expected] of cases) {
        const { ours, ws } = bothSides({ bytes: encodeFrames(frames), cuts: [], maxPayload: limit });
        const matches = expected === 'binary' ? ours[0].startsWith('binary ') : ours[0] === expected;
        expect(matches, `wsframe: ${ours.join(', ')}`).to.equal(true);
        expect(ws, 'ws').to.deep.equal(ours);
      }
    });
  });

  describe('the documented differences (spec/fuzz/differences.ts)', () => {
    for (const difference of DIFFERENCES) {
      it(`${difference.id}: its example still differs, and this rule is what explains it`, () => {
        const verdict = judge(difference.example);
        expect(verdict.kind, verdict.kind === 'agree' ? 'the example no longer differs' : describeDivergence(verdict.divergence))
          .to.equal('documented');
        expect(verdict.kind === 'documented' ? verdict.id : undefined).to.equal(difference.id);
      });
    }

    it('gives each difference a unique id, a reason and both behaviours', () => {
      const ids = DIFFERENCES.map((d) => d.id);
      expect(new Set(ids).size).to.equal(ids.length);
      for (const d of DIFFERENCES) {
        expect(d.id).to.match(/^[a-z0-9]+(-[a-z0-9]+)*$/);
        for (const field of [d.description, d.rfc, d.ours, d.ws]) expect(field.trim()).to.not.equal('');
      }
    });

    it('renders as a markdown table with one row per difference', () => {
      const lines = differencesMarkdown().split('\n');
      expect(lines).to.have.length(DIFFERENCES.length + 2);
      expect(lines[1]).to.match(/^\| ---/);
      for (const [i, d] of DIFFERENCES.entries()) expect(lines[i + 2]).to.contain(`\`${d.id}\``);
    });
  });

  describe('the judge', () => {
    const sample = hexCase('01 83 00000000 48656c   8a 82 00000000 6869   80 82 00000000 6c6f');

    it('agrees when both sides deliver the same messages and stop the same way', () => {
      expect(judge(sample).kind).to.equal('agree');
    });

    it('flags a side that loses a control frame as an unexplained disagreement', () => {
      const dropsPongs: Runners = { ...RUNNERS, ours: (input, frames) => RUNNERS.ours(input, frames).filter((o) => o.kind !== 'pong') };
      const verdict = judge(sample, dropsPongs);
      expect(verdict.kind).to.equal('unexplained');
      expect(verdict.kind !== 'agree' && describeDivergence(verdict.divergence)).to.contain('--replay 0183');
    });

    it('flags a different close code as an unexplained disagreement', () => {
      const wrongCode: Runners = {
        ...RUNNERS,
        ws: (input, frames) => RUNNERS.ws(input, frames).map((o) => (o.kind === 'error' ? { ...o, closeCode: 1011 } : o)),
      };
      expect(judge(hexCase('83 80 00000000'), wrongCode).kind).to.equal('unexplained');
    });

    it('never counts a parser that throws as a documented difference', () => {
      const throws: Runners = {
        ...RUNNERS,
        ours: (_input, frames) => [{ frame: frames.length, kind: 'crash', message: 'TypeError: boom' }],
      };
      // A non-minimal length would otherwise be a documented difference.
      expect(judge(DIFFERENCES[0].example, throws).kind).to.equal('unexplained');
    });
  });
});
