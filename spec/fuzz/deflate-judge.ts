/**
 * Judges one compressed stream: our codec and the persistent inflater (deflate-oracle.ts) must
 * deliver the same messages, byte for byte, up to the same point, and then both accept the stream
 * or both reject it at the same message with the same close code (1007 corrupt data, 1009 over
 * the size limit). There are no documented differences here: two readings of the same compressed
 * bytes are the filter-evasion class this fuzzer exists to find. A crash never agrees.
 *
 * A disagreement is minimized (fewer and shorter messages, fewer pieces) before it is reported, and
 * printed as the command line that replays it.
 */
import { type DeflateCase, type Ending, replayArguments, type Trace } from './deflate-case';
import { runOracle } from './deflate-oracle';
import { runExtension } from './deflate-ours';

/** The two sides; replaceable so the spec can check that a broken side shows. */
export interface DeflateSides {
  ours(input: DeflateCase): Promise<Trace>;
  oracle(input: DeflateCase): Promise<Trace>;
}

export const DEFLATE_SIDES: DeflateSides = { ours: (input) => runExtension(input), oracle: runOracle };

export type DeflateVerdict =
  | { kind: 'agree'; trace: Trace }
  | { kind: 'disagree'; divergence: DeflateDivergence };

export interface DeflateDivergence {
  input: DeflateCase;
  /** The first message at which the traces part. */
  index: number;
  ours: Trace;
  oracle: Trace;
}

function sameEnding(a: Ending, b: Ending): boolean {
  if (a.kind === 'crash' || b.kind === 'crash') return false;
  if (a.kind === 'accepted' || b.kind === 'accepted') return a.kind === b.kind;
  return a.index === b.index && a.closeCode === b.closeCode;
}

/** Where the traces first part, or undefined when they agree. */
export function firstDifference(ours: Trace, oracle: Trace): number | undefined {
  const shared = Math.min(ours.messages.length, oracle.messages.length);
  for (let i = 0; i < shared; i++) {
    if (!ours.messages[i].equals(oracle.messages[i])) return i;
  }
  if (ours.messages.length !== oracle.messages.length || !sameEnding(ours.ending, oracle.ending)) return shared;
  return undefined;
}

export async function judgeDeflate(input: DeflateCase, sides: DeflateSides = DEFLATE_SIDES): Promise<DeflateVerdict> {
  // Sequentially: both sides may share the zlib threadpool, and a case's time stays bounded.
  const oracle = await sides.oracle(input);
  const ours = await sides.ours(input);
  const index = firstDifference(ours, oracle);
  if (index === undefined) return { kind: 'agree', trace: oracle };
  return { kind: 'disagree', divergence: { input, index, ours, oracle } };
}

// --- minimizing ------------------------------------------------------------------------------

/** At most this many candidate cases are judged while minimizing one disagreement. */
export const MINIMIZE_BUDGET = 600;

type Candidate = DeflateCase;

function withMessages(input: DeflateCase, messages: Buffer[][]): Candidate {
  return { ...input, messages };
}

/** Candidates with one byte range of message `m` removed, from halves down to single bytes. */
function* byteRemovals(input: DeflateCase, m: number): Generator<Candidate> {
  const whole = Buffer.concat(input.messages[m]);
  for (let size = Math.max(1, whole.length >> 1); size >= 1; size = size === 1 ? 0 : Math.max(1, size >> 1)) {
    for (let at = 0; at + size <= whole.length; at += size) {
      const shorter = Buffer.concat([whole.subarray(0, at), whole.subarray(at + size)]);
      const messages = input.messages.map((pieces) => pieces);
      messages[m] = [shorter];
      yield withMessages(input, messages);
    }
  }
}

/**
 * Greedy minimization: keeps any simpler case that still disagrees (not necessarily in the same
 * way: a smaller case showing any disagreement is the better reproducer). Each pass tries cutting
 * the stream after the first difference, dropping messages, joining pieces, then removing byte
 * ranges from each message; passes repeat while one of them helps and the budget lasts.
 */
export async function minimizeDeflate(divergence: DeflateDivergence, sides: DeflateSides = DEFLATE_SIDES,
  budget = MINIMIZE_BUDGET): Promise<DeflateDivergence> {
  let best = divergence;
  let left = budget;
  const attempt = async (candidate: Candidate): Promise<boolean> => {
    if (left <= 0) return false;
    left--;
    const verdict = await judgeDeflate(candidate, sides);
    if (verdict.kind === 'agree') return false;
    best = verdict.divergence;
    return true;
  };

  // Cheap structural steps first; after any byte range goes, they get another chance.
  for (let progress = true; progress && left > 0;) {
    progress = false;
    if (best.index + 1 < best.input.messages.length) {
      progress = (await attempt(withMessages(best.input, best.input.messages.slice(0, best.index + 1)))) || progress;
    }
    for (let m = 0; m < best.input.messages.length && best.input.messages.length > 1 && left > 0;) {
      if (await attempt(withMessages(best.input, best.input.messages.filter((_, i) => i !== m)))) progress = true;
      else m++;
    }
    if (best.input.messages.some((pieces) => pieces.length > 1)) {
      progress = (await attempt(withMessages(best.input, best.input.messages.map((pieces) => [Buffer.concat(pieces)])))) || progress;
    }
    bytes: for (let m = 0; m < best.input.messages.length; m++) {
      for (const candidate of byteRemovals(best.input, m)) {
        if (left <= 0) break bytes;
        if (await attempt(candidate)) {
          progress = true;
          break bytes;
        }
      }
    }
  }
  return best;
}

// --- reporting -------------------------------------------------------------------------------

/** Messages up to this many bytes are printed whole. */
const PRINTED_BYTES = 48;

function showBytes(bytes: Buffer): string {
  if (bytes.length === 0) return '(empty)';
  const hex = bytes.subarray(0, PRINTED_BYTES).toString('hex');
  return bytes.length <= PRINTED_BYTES ? `${bytes.length} B ${hex}` : `${bytes.length} B ${hex}...`;
}

function showEnding(ending: Ending): string {
  switch (ending.kind) {
    case 'accepted': return 'accepted the stream';
    case 'rejected': return `rejected message #${ending.index} with ${ending.closeCode} (${ending.detail})`;
    case 'crash': return `CRASHED at message #${ending.index}: ${ending.detail}`;
  }
}

/** A trace from message `from` on (earlier messages agree). */
function showTrace(trace: Trace, from: number): string {
  const shown = trace.messages.slice(from).map((m, i) => `#${from + i} ${showBytes(m)}`);
  if (from > 0) shown.unshift(`(#0-#${from - 1} agree)`);
  shown.push(showEnding(trace.ending));
  return shown.join(' | ');
}

/** A disagreement as text: the command that replays it, then both traces from where they part. */
export function describeDeflateDivergence(d: DeflateDivergence): string {
  const { input } = d;
  const sizes = input.messages.map((pieces) => pieces.reduce((n, p) => n + p.length, 0));
  return [
    `replay: npm run fuzz -- --deflate ${replayArguments(input)}`,
    `${input.messages.length} compressed message(s) of ${sizes.join(', ')} bytes; window ${input.windowBits} bits, ` +
      `${input.noContextTakeover ? 'no context takeover' : 'context takeover'}, maxSize ${input.maxSize}`,
    `first difference at message #${d.index}`,
    `  ours:   ${showTrace(d.ours, d.index)}`,
    `  oracle: ${showTrace(d.oracle, d.index)}`,
  ].join('\n');
}
