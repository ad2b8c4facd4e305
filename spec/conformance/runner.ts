/**
 * The server conformance runner: a raw-socket fuzzing client. For each case it opens a TCP
 * connection, performs the opening handshake by hand, runs the case script and judges what the
 * server sent back. `runConformance(url)` is the programmatic entry point; cli.ts wraps it.
 */
import type { Socket } from 'node:net';
import { encodeFrame, text } from './craft';
import { helloEcho } from './cases/helpers';
import { selectCases, serverSuite, type ServerSuiteCase } from './cases/index';
import type { ServerHandshakeCase } from './cases/handshake';
import { buildRequest, checkResponse, DEFLATE_OFFER, header, newKey } from './http';
import { connect, readHead, runPool, writeAll } from './io';
import { judge } from './judge';
import { DEFAULT_TIMEOUTS, Session, type Timeouts } from './session';
import { worse, type CaseDef, type CaseResult, type Verdict } from './types';

export interface ConformanceOptions {
  /** Case ids or patterns (`1.*`, `7.9`, `6.4.1`); default all. */
  cases?: string[];
  /** Case ids or patterns to leave out. */
  exclude?: string[];
  /** Cases run at once. Default 8. */
  concurrency?: number;
  /** Heavy (large-payload) cases run at once. Default 2. */
  heavyConcurrency?: number;
  timeouts?: Partial<Timeouts>;
  /** Reply timeout for heavy cases. Default 30 s. */
  heavyReplyMs?: number;
  /** Called as each case finishes, for progress output. */
  onResult?: (result: CaseResult) => void;
}

/** Where the server under test lives. */
export interface Target {
  host: string;
  port: number;
  /** Host header value. */
  authority: string;
  /** Request target: path and query. */
  path: string;
}

export function parseTarget(url: string): Target {
  const parsed = new URL(url);
  if (parsed.protocol !== 'ws:') throw new Error(`only ws:// URLs are supported, got ${url}`);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  return { host, port: parsed.port === '' ? 80 : Number(parsed.port), authority: parsed.host, path: `${parsed.pathname}${parsed.search}` };
}

export function resolveTimeouts(options: { timeouts?: Partial<Timeouts> }): Timeouts {
  return { ...DEFAULT_TIMEOUTS, ...options.timeouts };
}

/** Timeouts for one case: heavy cases get longer to move their megabytes. */
export function caseTimeouts(base: Timeouts, heavy: boolean, heavyReplyMs: number): Timeouts {
  return heavy ? { ...base, replyMs: Math.max(base.replyMs, heavyReplyMs), closeMs: Math.max(base.closeMs, heavyReplyMs / 3) } : base;
}

/** The longest a case may take before its connection is cut: every wait is bounded, this too. */
export function hardDeadline(timeouts: Timeouts): number {
  return timeouts.replyMs * 4 + timeouts.failFastMs * 2 + timeouts.closeMs * 2;
}

/**
 * Runs the selected server cases against `url` (ws://host:port/path) and returns one result per
 * case, in case order.
 * @throws if the URL is not a ws:// URL.
 */
export async function runConformance(url: string, options: ConformanceOptions = {}): Promise<CaseResult[]> {
  const target = parseTarget(url);
  const base = resolveTimeouts(options);
  const heavyReplyMs = options.heavyReplyMs ?? 30_000;
  const cases = selectCases(serverSuite(), options.cases, options.exclude);
  const isHeavy = (c: ServerSuiteCase): boolean => c.kind !== 'server-handshake' && c.heavy === true;
  return runPool(cases, options.concurrency ?? 8, options.heavyConcurrency ?? 2, isHeavy, async (c) => {
    const timeouts = caseTimeouts(base, isHeavy(c), heavyReplyMs);
    const result = c.kind === 'server-handshake'
      ? await runHandshakeCase(c, target, timeouts)
      : await runFrameCase(c, target, timeouts);
    options.onResult?.(result);
    return result;
  });
}

function failed(c: { id: string; description: string }, started: number, notes: string[], ending: string, verdict: Verdict = 'FAILED'): CaseResult {
  return { id: c.id, description: c.description, verdict, closeCode: null, ending, notes, durationMs: Date.now() - started };
}

/**
 * Runs a script on `session` with a hard deadline that cuts the connection (a peer that stops
 * reading would otherwise hold a write forever), then judges the log.
 */
export async function runScript(c: CaseDef, session: Session, timeouts: Timeouts, started: number): Promise<CaseResult> {
  const deadline = setTimeout(() => session.finish(`the case took longer than ${hardDeadline(timeouts)} ms`), hardDeadline(timeouts));
  try {
    const expectation = await c.run(session);
    session.finish();
    const judgement = judge(session.log, expectation, session.role);
    return { id: c.id, description: c.description, ...judgement, durationMs: Date.now() - started };
  } catch (error) {
    session.finish();
    return failed(c, started, [`runner error: ${(error as Error).stack ?? String(error)}`], 'runner error');
  } finally {
    clearTimeout(deadline);
  }
}

async function open(target: Target, timeouts: Timeouts): Promise<Socket | Error> {
  try {
    return await connect(target.host, target.port, timeouts.replyMs);
  } catch (error) {
    return error as Error;
  }
}

async function runFrameCase(c: CaseDef, target: Target, timeouts: Timeouts): Promise<CaseResult> {
  const started = Date.now();
  const socket = await open(target, timeouts);
  if (socket instanceof Error) return failed(c, started, [`cannot connect: ${socket.message}`], 'no connection');
  const key = newKey();
  const offerDeflate = c.offerDeflate === true;
  await writeAll(socket, buildRequest({ host: target.authority, path: target.path, key, extensions: offerDeflate ? DEFLATE_OFFER : undefined }));
  const outcome = await readHead(socket, timeouts.replyMs);
  if (outcome.kind !== 'head') {
    socket.destroy();
    return failed(c, started, [`opening handshake: ${outcome.kind} before a complete response head`], 'no handshake');
  }
  const { problems, deflate } = checkResponse(outcome.head, { key, deflate: offerDeflate });
  if (problems.length > 0) {
    socket.destroy();
    return failed(c, started, [`opening handshake: ${problems.join('; ')}`], `HTTP ${outcome.head.startLine[1] ?? '?'}`);
  }
  const session = new Session(socket, 'client', { deflate }, timeouts, outcome.leftover);
  if (c.requires === 'deflate' && !deflate) {
    await session.expectEcho([]);
    session.finish();
    return failed(c, started, ['the server declined permessage-deflate'], 'not negotiated', 'UNIMPLEMENTED');
  }
  return runScript(c, session, timeouts, started);
}

/** Scores a refusal: status, required header; a 101 or a 2xx/3xx is FAILED. */
function scoreRefusal(c: ServerHandshakeCase, status: number, headerValue: (name: string) => string | undefined): { verdict: Verdict; notes: string[] } {
  if (status < 400) return { verdict: 'FAILED', notes: [`answered ${status} to an invalid handshake`] };
  const ok = c.statuses === undefined ? status < 500 : c.statuses.includes(status);
  let verdict: Verdict = ok ? 'OK' : 'NON-STRICT';
  const notes = ok ? [] : [`refused with ${status}, expected ${c.statuses?.join(' or ') ?? '4xx'}`];
  if (c.requireHeader !== undefined) {
    const value = headerValue(c.requireHeader.name);
    if (value === undefined || !c.requireHeader.test(value)) {
      verdict = worse(verdict, 'NON-STRICT');
      notes.push(`the ${status} response lacks ${c.requireHeader.what} (got ${value ?? 'none'})`);
    }
  }
  return { verdict, notes };
}

async function runHandshakeCase(c: ServerHandshakeCase, target: Target, timeouts: Timeouts): Promise<CaseResult> {
  const started = Date.now();
  const socket = await open(target, timeouts);
  if (socket instanceof Error) return failed(c, started, [`cannot connect: ${socket.message}`], 'no connection');
  const key = newKey();
  let request = c.request({ host: target.authority, path: target.path, key });
  if (c.earlyFrame === true) request = Buffer.concat([request, encodeFrame(text('Hello'), 'client')]);
  const reading = readHead(socket, timeouts.replyMs + (c.dribble === true ? request.length * 10 : 0));
  await writeAll(socket, request, c.dribble);
  const outcome = await reading;
  const result = (verdict: Verdict, notes: string[], ending: string): CaseResult =>
    ({ id: c.id, description: c.description, verdict, closeCode: null, ending, notes, durationMs: Date.now() - started });

  switch (outcome.kind) {
    case 'closed':
      socket.destroy();
      if (c.expect === 'upgrade') return result('FAILED', ['the server closed the connection without a response'], 'closed');
      return c.dropIsOk === true
        ? result('OK', ['closed the connection without a response'], 'closed')
        : result('NON-STRICT', ['closed the connection without an HTTP error response'], 'closed');
    case 'timeout':
    case 'too-large':
      socket.destroy();
      return result('FAILED', [outcome.kind === 'timeout' ? `no response within ${timeouts.replyMs} ms` : 'response head too large'], outcome.kind);
    case 'head':
      break;
  }
  const { head, leftover } = outcome;
  const status = Number(head.startLine[1]);
  const ending = `HTTP ${head.startLine[1] ?? '?'}`;
  if (status !== 101) {
    socket.destroy();
    if (c.expect === 'upgrade') return result('FAILED', [`refused a valid handshake with ${status}`], ending);
    const { verdict, notes } = scoreRefusal(c, status, (name) => header(head, name));
    return result(verdict, notes, ending);
  }
  if (c.expect === 'refuse') {
    socket.destroy();
    return result('FAILED', ['accepted an invalid handshake: 101 Switching Protocols'], ending);
  }
  const { problems } = checkResponse(head, { key });
  const protocol = header(head, 'sec-websocket-protocol');
  if (protocol !== undefined && !(c.protocols ?? []).includes(protocol)) {
    // checkResponse() reports it as "not offered"; here it was offered but cannot be spoken.
    problems.splice(problems.findIndex((p) => p.startsWith('Sec-WebSocket-Protocol')), 1,
      `selected the subprotocol ${protocol}, which the server cannot speak (RFC 6455 §4.2.2: only one it is ready to use)`);
  }
  if (problems.length > 0) {
    socket.destroy();
    return result('FAILED', problems, ending);
  }
  // The connection must work: an echo and a clean close.
  const session = new Session(socket, 'client', { deflate: false }, timeouts, leftover);
  const proof = helloEcho(c);
  const echoed = await runScript(proof, session, timeouts, started);
  return { ...echoed, ending: `${ending}, ${echoed.ending}`, notes: echoed.notes.map((n) => `after the 101: ${n}`) };
}
