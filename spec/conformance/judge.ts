/**
 * The judge: a pure function from what was observed (the session log) and what the case expected
 * to a verdict with its reasons. No I/O, so every verdict rule is unit-tested with made-up logs.
 */
import { sameReplies } from './session';
import type { Expectation, Expected, Observed, Role, Verdict } from './types';
import { worse } from './types';

export interface Judgement {
  verdict: Verdict;
  notes: string[];
  closeCode: number | null;
  ending: string;
}

/** Close codes that say "you did something wrong": answering a valid close with one is a bug. */
const FAILURE_CODES = new Set([1002, 1003, 1007, 1008, 1009, 1010, 1011]);

function describeReply(event: Observed | Expected): string {
  switch (event.kind) {
    case 'message': {
      const preview = event.data.length <= 24
        ? ` ${event.binary ? event.data.toString('hex') : JSON.stringify(event.data.toString())}`
        : '';
      return `${event.binary ? 'binary' : 'text'}(${event.data.length} bytes)${preview}`;
    }
    case 'pong':
      return `pong(${event.data.length} bytes)`;
    default:
      return event.kind;
  }
}

/** The first difference between observed and expected replies, in words. */
export function describeMismatch(observed: readonly Observed[], expected: readonly Expected[]): string {
  for (let i = 0; i < Math.max(observed.length, expected.length); i++) {
    const got = observed[i];
    const want = expected[i];
    if (got === undefined) return `expected ${expected.length} replies, got ${observed.length}: reply ${i + 1} ${describeReply(want)} missing`;
    if (want === undefined) return `unexpected reply ${i + 1}: ${describeReply(got)} (expected ${expected.length} replies)`;
    if (!sameReplies([got], [want])) {
      let detail = '';
      if (got.kind === 'message' && want.kind === 'message' && got.binary === want.binary) {
        let at = 0;
        while (at < got.data.length && at < want.data.length && got.data[at] === want.data[at]) at++;
        detail = `, first difference at byte ${at}`;
      }
      return `reply ${i + 1}: expected ${describeReply(want)}, got ${describeReply(got)}${detail}`;
    }
  }
  return 'replies differ';
}

/** A short description of how the connection ended, for the results table. */
export function describeEnding(log: readonly Observed[]): string {
  const parts: string[] = [];
  for (const event of log) {
    switch (event.kind) {
      case 'close':
        parts.push(`close ${event.code ?? 'empty'}`);
        break;
      case 'tcp-end':
        parts.push(event.reset ? 'tcp reset' : 'tcp closed');
        break;
      case 'dropped':
        parts.push('dropped by runner');
        break;
      case 'violation':
        parts.push('violation');
        break;
      default:
        break;
    }
  }
  return parts.length === 0 ? 'open' : parts.join(', ');
}

export function judge(log: readonly Observed[], expectation: Expectation, role: Role): Judgement {
  const closeIndex = log.findIndex((e) => e.kind === 'close');
  const close = closeIndex === -1 ? undefined : (log[closeIndex] as Extract<Observed, { kind: 'close' }>);
  const closeCode = close?.code ?? null;
  const ending = describeEnding(log);
  const result = (verdict: Verdict, notes: string[]): Judgement =>
    ({ verdict, notes: expectation.note === undefined ? notes : [...notes, expectation.note], closeCode, ending });

  for (const event of log) {
    if (event.kind === 'violation') return result('FAILED', [`the peer sent an invalid frame: ${event.detail}`]);
  }
  const replies = log.filter((e) => e.kind === 'message' || e.kind === 'pong');

  if (expectation.informational === true) {
    return result('INFORMATIONAL', [replies.length === 0 ? 'no replies' : `replies: ${replies.map(describeReply).join(', ')}`]);
  }

  let verdict: Verdict = 'OK';
  const notes: string[] = [];
  if (!sameReplies(replies, expectation.replies)) {
    const tolerated = expectation.tolerated;
    if (tolerated !== undefined && sameReplies(replies, tolerated.replies)) {
      return result('NON-STRICT', [tolerated.note]);
    }
    const alternative = expectation.nonStrict?.find((a) => sameReplies(replies, a.replies));
    if (alternative === undefined) return result('FAILED', [describeMismatch(replies, expectation.replies)]);
    verdict = 'NON-STRICT';
    notes.push(alternative.note);
  }

  const tcpEndIndex = log.findIndex((e) => e.kind === 'tcp-end');
  const sentCloseIndex = log.findIndex((e) => e.kind === 'sent-close');
  const expectedEnding = expectation.ending;
  const codeList = expectedEnding.codes.map((c) => c ?? 'empty').join(' or ');
  switch (expectedEnding.by) {
    case 'runner': {
      if (close === undefined) {
        return result('FAILED', [...notes, tcpEndIndex === -1
          ? 'no close frame in answer to ours (RFC 6455 §5.5.1)'
          : 'the peer dropped TCP without answering our close frame (RFC 6455 §5.5.1)']);
      }
      if (sentCloseIndex === -1 || closeIndex < sentCloseIndex) {
        return result('FAILED', [...notes, `the peer closed the connection itself (code ${close.code ?? 'empty'})`]);
      }
      if (expectedEnding.codes.includes(close.code)) {
        // As expected.
      } else if (close.code === null) {
        verdict = worse(verdict, 'NON-STRICT');
        notes.push(`answered our close with an empty close frame, expected ${codeList}`);
      } else {
        const bad = FAILURE_CODES.has(close.code);
        verdict = worse(verdict, bad ? 'FAILED' : 'NON-STRICT');
        notes.push(`answered our close with code ${close.code}, expected ${codeList}`);
      }
      if (role === 'client' && tcpEndIndex === -1) {
        verdict = worse(verdict, 'NON-STRICT');
        notes.push('the server did not close TCP after the close handshake (RFC 6455 §7.1.1 SHOULD)');
      }
      return result(verdict, notes);
    }
    case 'peer': {
      const failIndex = close !== undefined ? closeIndex : tcpEndIndex;
      if (failIndex === -1) return result('FAILED', [...notes, `the peer did not fail the connection (expected close ${codeList})`]);
      if (close === undefined) {
        notes.push('failed by dropping TCP without a close frame');
      } else if (close.code === null) {
        verdict = worse(verdict, 'NON-STRICT');
        notes.push(`failed with an empty close frame, expected ${codeList} (RFC 6455 §7.1.7 SHOULD send a code)`);
      } else if (!expectedEnding.codes.includes(close.code)) {
        // Another failure code is a misclassified failure; 1000 and friends say all was well.
        if (!FAILURE_CODES.has(close.code)) {
          return result('FAILED', [...notes, `closed with code ${close.code} instead of failing with ${codeList}`]);
        }
        verdict = worse(verdict, 'NON-STRICT');
        notes.push(`failed with close code ${close.code}, expected ${codeList}`);
      }
      if (role === 'client' && close !== undefined && tcpEndIndex === -1) {
        verdict = worse(verdict, 'NON-STRICT');
        notes.push('the server did not close TCP after the close handshake (RFC 6455 §7.1.1 SHOULD)');
      }
      if (expectedEnding.before !== undefined) {
        const markIndex = log.findIndex((e) => e.kind === 'mark' && e.name === expectedEnding.before);
        if (markIndex !== -1 && markIndex < failIndex) {
          verdict = worse(verdict, 'NON-STRICT');
          notes.push(`failed late: only after ${expectedEnding.before} (fail-fast, RFC 6455 §8.1)`);
        }
      }
      return result(verdict, notes);
    }
  }
}
