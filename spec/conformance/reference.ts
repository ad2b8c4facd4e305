/**
 * The `ws` package as the reference peer: an echo server and an echo client to run the suites
 * against, and helpers to print and compare scores. Kept apart from ours.ts so the runner's own
 * spec does not load our server and client.
 */
import { WebSocket as WsClient, WebSocketServer as WsServer } from 'ws';
import type { ConnectAndEcho } from './client-fuzzer';
import { renderTable, summarize } from './report';
import { VERDICTS, type CaseResult } from './types';

const HOST = '127.0.0.1';

/** The `ws` client as the reference: the same echo loop. */
export const wsConnectAndEcho: ConnectAndEcho = (url) => new Promise<void>((resolve) => {
  const ws = new WsClient(url);
  ws.on('message', (data, isBinary) => { ws.send(data, { binary: isBinary }); });
  ws.on('error', () => undefined);
  ws.on('close', () => { resolve(); });
});

/**
 * A `ws` echo server on a loopback port, the reference for "no worse than ws". With
 * `perMessageDeflate` it accepts compression (off by default, as in ws itself).
 */
export function startWsEchoServer(options: { perMessageDeflate?: boolean } = {}): Promise<{ url: string; close(): Promise<void> }> {
  return new Promise((resolve) => {
    const wss = new WsServer({ port: 0, host: HOST, perMessageDeflate: options.perMessageDeflate === true });
    wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => { ws.send(data, { binary: isBinary }); });
      ws.on('error', () => undefined);
    });
    wss.on('listening', () => {
      const address = wss.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({
        url: `ws://${HOST}:${port}/`,
        close: () => new Promise<void>((done) => {
          for (const client of wss.clients) client.terminate();
          wss.close(() => { done(); });
        }),
      });
    });
  });
}

/**
 * Cases where `ours` scored worse than `reference`, as `id: ours vs reference` lines.
 * UNIMPLEMENTED (an optional extension not offered) is a missing feature, not a correctness
 * regression, so it is left out of the comparison.
 */
export function worseThan(ours: readonly CaseResult[], reference: readonly CaseResult[]): string[] {
  const rank = (r: CaseResult | undefined): number => (r === undefined ? -1 : VERDICTS.indexOf(r.verdict));
  const byId = new Map(reference.map((r) => [r.id, r]));
  return ours
    .filter((r) => r.verdict !== 'UNIMPLEMENTED' && rank(r) > rank(byId.get(r.id)))
    .map((r) => `${r.id}: ${r.verdict} vs ${byId.get(r.id)?.verdict ?? 'not run'} (${[r.ending, ...r.notes].join('; ')})`);
}

/** Prints the score line and the cases that are neither OK nor UNIMPLEMENTED, indented. */
export function printResults(label: string, results: readonly CaseResult[]): void {
  const notable = results.filter((r) => r.verdict !== 'OK' && r.verdict !== 'UNIMPLEMENTED');
  console.log(`      ${label}: ${summarize(results).line}`);
  if (notable.length > 0) console.log(renderTable(notable).replace(/^/gm, '        '));
}
