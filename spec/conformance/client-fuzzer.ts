/**
 * The client conformance runner: a raw-socket fuzzing server. For each case the client under
 * test is asked (through `connectAndEcho`) to connect to `ws://127.0.0.1:PORT/<case id>` and echo
 * every message; the fuzzer answers the opening handshake by hand, runs the case script with the
 * roles swapped (it sends unmasked frames, expects masked ones) and judges what the client sent.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { encodeFrame, text } from './craft';
import { helloEcho } from './cases/helpers';
import { selectCases, clientSuite, type ClientSuiteCase } from './cases/index';
import type { ClientHandshakeCase } from './cases/client-handshake';
import { buildResponse, checkRequest, type Head } from './http';
import { readHead, runPool, within, writeAll } from './io';
import { caseTimeouts, resolveTimeouts, runScript, type ConformanceOptions } from './runner';
import { Session, type Timeouts } from './session';
import { type CaseDef, type CaseResult, type Observed, type Verdict } from './types';

export interface ClientConformanceOptions extends ConformanceOptions {
  /** Loopback address the fuzzer listens on. Default 127.0.0.1. */
  host?: string;
}

/** Connects the client under test to `url`, echoes every message, resolves once it closed. */
export type ConnectAndEcho = (url: string) => Promise<void>;

/** What the fuzzer answers when the client offers permessage-deflate for a 12.x case. */
const DEFLATE_RESPONSE = 'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover';

interface Arrival {
  socket: Socket;
  head: Head;
  leftover: Buffer;
}

/**
 * Runs the selected client cases: one `connectAndEcho` call per case, on a fuzzing server bound
 * to a loopback port for the duration of the run. Results come in case order.
 * @throws (rejects) if the fuzzing server cannot listen.
 */
export async function runClientConformance(connectAndEcho: ConnectAndEcho, options: ClientConformanceOptions = {}): Promise<CaseResult[]> {
  const host = options.host ?? '127.0.0.1';
  const base = resolveTimeouts(options);
  const heavyReplyMs = options.heavyReplyMs ?? 30_000;
  const cases = selectCases(clientSuite(), options.cases, options.exclude);
  const arrivals = new Map<string, (arrival: Arrival) => void>();
  const sockets = new Set<Socket>();

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    void readHead(socket, base.replyMs).then((outcome) => {
      if (outcome.kind !== 'head') {
        socket.destroy();
        return;
      }
      const id = decodeURIComponent((outcome.head.startLine[1] ?? '').replace(/^\//, '').split('?')[0]);
      const deliver = arrivals.get(id);
      if (deliver === undefined) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      arrivals.delete(id);
      deliver({ socket, head: outcome.head, leftover: outcome.leftover });
    });
  });
  const port = await listen(server, host);
  const isHeavy = (c: ClientSuiteCase): boolean => c.kind !== 'client-handshake' && c.heavy === true;

  try {
    return await runPool(cases, options.concurrency ?? 8, options.heavyConcurrency ?? 2, isHeavy, async (c) => {
      const timeouts = caseTimeouts(base, isHeavy(c), heavyReplyMs);
      const started = Date.now();
      const arrived = new Promise<Arrival>((resolve) => arrivals.set(c.id, resolve));
      let settled = false;
      let clientError: string | undefined;
      const client = Promise.resolve()
        .then(() => connectAndEcho(`ws://${host}:${port}/${c.id}`))
        .then(() => { settled = true; }, (error: unknown) => {
          settled = true;
          clientError = error instanceof Error ? error.message : String(error);
        });
      const arrival = await within<Arrival | null>(arrived, timeouts.replyMs, null);
      arrivals.delete(c.id);
      let result: CaseResult;
      if (arrival === null) {
        result = { id: c.id, description: c.description, verdict: 'FAILED', closeCode: null, ending: 'no connection',
          notes: [`the client did not connect within ${timeouts.replyMs} ms`], durationMs: Date.now() - started };
      } else {
        result = c.kind === 'client-handshake'
          ? await runHandshakeCase(c, arrival, timeouts, started)
          : await runFrameCase(c, arrival, timeouts, started);
      }
      await within(client, timeouts.closeMs, undefined);
      if (!settled) result.notes.push(`connectAndEcho had not settled ${timeouts.closeMs} ms after the case ended`);
      else if (clientError !== undefined && result.verdict !== 'OK') result.notes.push(`the client reported: ${clientError}`);
      options.onResult?.(result);
      return result;
    });
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

function failed(c: { id: string; description: string }, started: number, notes: string[], ending: string, verdict: Verdict = 'FAILED'): CaseResult {
  return { id: c.id, description: c.description, verdict, closeCode: null, ending, notes, durationMs: Date.now() - started };
}

async function runFrameCase(c: CaseDef, { socket, head, leftover }: Arrival, timeouts: Timeouts, started: number): Promise<CaseResult> {
  const { key, offersDeflate } = checkRequest(head);
  if (key === undefined) {
    socket.destroy();
    return failed(c, started, ['the client sent no Sec-WebSocket-Key'], 'no handshake');
  }
  const deflate = c.offerDeflate === true && offersDeflate;
  await writeAll(socket, buildResponse(key, deflate ? [DEFLATE_RESPONSE] : []));
  const session = new Session(socket, 'server', { deflate }, timeouts, leftover);
  if (c.requires === 'deflate' && !deflate) {
    await session.expectEcho([]);
    session.finish();
    return failed(c, started, ['the client did not offer permessage-deflate'], 'not negotiated', 'UNIMPLEMENTED');
  }
  return runScript(c, session, timeouts, started);
}

/** A refused handshake: the client must close TCP having sent nothing (RFC 6455 §4.1). */
export function judgeRefusal(log: readonly Observed[]): { verdict: Verdict; notes: string[] } {
  const violation = log.find((e) => e.kind === 'violation');
  if (violation !== undefined) return { verdict: 'FAILED', notes: [`the client sent an invalid frame: ${violation.detail}`] };
  if (log.some((e) => e.kind === 'message' || e.kind === 'pong')) {
    return { verdict: 'FAILED', notes: ['the client accepted the invalid response and answered a frame'] };
  }
  const tcpClosed = log.some((e) => e.kind === 'tcp-end');
  if (log.some((e) => e.kind === 'close')) {
    return { verdict: tcpClosed ? 'NON-STRICT' : 'FAILED', notes: ['the client sent a close frame on a connection that never opened'] };
  }
  if (!tcpClosed) return { verdict: 'FAILED', notes: ['the client kept the connection open after an invalid response'] };
  return { verdict: 'OK', notes: [] };
}

async function runHandshakeCase(c: ClientHandshakeCase, { socket, head, leftover }: Arrival, timeouts: Timeouts, started: number): Promise<CaseResult> {
  const { problems, key } = checkRequest(head);
  if (key === undefined) {
    socket.destroy();
    return failed(c, started, ['the client sent no Sec-WebSocket-Key', ...problems], 'no handshake');
  }
  let response = c.response(key);
  if (c.earlyFrame === true) response = Buffer.concat([response, encodeFrame(text('Hello'), 'server')]);
  await writeAll(socket, response, c.dribble);
  const session = new Session(socket, 'server', { deflate: false }, timeouts, leftover);
  if (c.expect === 'refuse') {
    await session.send(text('Hello'));
    await session.expectFailure([], []);
    session.finish();
    const { verdict, notes } = judgeRefusal(session.log);
    return { ...failed(c, started, notes, 'refused', verdict), ending: session.log.some((e) => e.kind === 'tcp-end') ? 'tcp closed' : 'open' };
  }
  const proof = helloEcho(c);
  const result = await runScript(proof, session, timeouts, started);
  if (c.checkRequest === true && problems.length > 0) {
    return { ...result, verdict: 'FAILED', notes: [...problems.map((p) => `request: ${p}`), ...result.notes] };
  }
  return result;
}
