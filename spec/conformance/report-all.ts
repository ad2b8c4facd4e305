/**
 * `npm run conformance:report`: starts our demo server and a `ws` echo server (both accepting
 * permessage-deflate), runs the server suite against each and the client suite against our
 * client and ws's, and writes the side-by-side report (default spec/conformance/REPORT.md). The
 * report is produced by the runner, never edited by hand.
 *
 *   node build/spec/conformance/report-all.js [FILE.md]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startDemoServer } from '../../examples/demo-server';
import { runClientConformance } from './client-fuzzer';
import { oursConnectAndEcho } from './ours';
import { startWsEchoServer, wsConnectAndEcho } from './reference';
import { renderMarkdown, type Run, summarize } from './report';
import { runConformance } from './runner';

const HOST = '127.0.0.1';

function wsVersion(): string {
  const manifest = join(dirname(require.resolve('ws')), 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  const target = process.argv[2] ?? join(__dirname, '..', '..', '..', 'spec', 'conformance', 'REPORT.md');
  const ws = `ws ${wsVersion()}`;
  const demo = await startDemoServer({ port: 0, host: HOST });
  const reference = await startWsEchoServer({ perMessageDeflate: true });
  const servers: Run[] = [];
  try {
    const ours = `ws://${HOST}:${demo.port}/echo`;
    servers.push({ label: 'wsframe server', url: ours, results: await runConformance(ours) });
    servers.push({ label: `${ws} server`, url: reference.url, results: await runConformance(reference.url) });
  } finally {
    await demo.close();
    await reference.close();
  }
  const clients: Run[] = [
    { label: 'wsframe client', url: 'client fuzzer', results: await runClientConformance(oursConnectAndEcho) },
    { label: `${ws} client`, url: 'client fuzzer', results: await runClientConformance(wsConnectAndEcho) },
  ];
  const text = [
    renderMarkdown(servers, 'Conformance: servers'),
    '',
    renderMarkdown(clients, 'Conformance: clients'),
    '',
  ].join('\n');
  writeFileSync(target, text);
  for (const run of [...servers, ...clients]) console.log(`${run.label}: ${summarize(run.results).line}`);
  console.log(`wrote ${target}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
