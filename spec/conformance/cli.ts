/**
 * Command line: run the server conformance suite against a ws:// URL.
 *
 *   node build/spec/conformance/cli.js ws://127.0.0.1:8080/echo [--cases 1.*,5.*] [--exclude 9.*]
 *     [--report FILE.md] [--json FILE] [--compare ws://127.0.0.1:9001/] [--labels ours,ws]
 *     [--concurrency 8] [--timeout 3000] [--quiet]
 *
 * Prints a table (case, description, verdict, close code observed) and the score line; exits 1 if
 * a case of the first target FAILED, 2 on bad arguments.
 */
import { writeFileSync } from 'node:fs';
import { renderJson, renderMarkdown, renderTable, summarize, type Run } from './report';
import { runConformance } from './runner';

interface Args {
  urls: string[];
  labels: string[];
  cases: string[];
  exclude: string[];
  report?: string;
  json?: string;
  concurrency?: number;
  timeout?: number;
  quiet: boolean;
}

const USAGE = 'usage: cli.js ws://host:port/path [--cases 1.*,5.*] [--exclude 9.*] [--report FILE.md] [--json FILE] '
  + '[--compare ws://other] [--labels a,b] [--concurrency N] [--timeout MS] [--quiet]';

const list = (value: string): string[] => value.split(',').map((s) => s.trim()).filter((s) => s !== '');

export function parseArgs(argv: readonly string[]): Args {
  const args: Args = { urls: [], labels: [], cases: [], exclude: [], quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--cases': args.cases.push(...list(value())); break;
      case '--exclude': args.exclude.push(...list(value())); break;
      case '--report': args.report = value(); break;
      case '--json': args.json = value(); break;
      case '--compare': args.urls.push(value()); break;
      case '--labels': args.labels = list(value()); break;
      case '--concurrency': args.concurrency = Number(value()); break;
      case '--timeout': args.timeout = Number(value()); break;
      case '--quiet': args.quiet = true; break;
      case '--help': case '-h': throw new Error(USAGE);
      default:
        if (arg.startsWith('--')) throw new Error(`unknown option ${arg}\n${USAGE}`);
        args.urls.unshift(arg);
    }
  }
  if (args.urls.length === 0) throw new Error(USAGE);
  return args;
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const runs: Run[] = [];
  for (const [i, url] of args.urls.entries()) {
    const label = args.labels[i] ?? url;
    const started = Date.now();
    let done = 0;
    const results = await runConformance(url, {
      cases: args.cases,
      exclude: args.exclude,
      concurrency: args.concurrency,
      timeouts: args.timeout === undefined ? undefined : { replyMs: args.timeout },
      onResult: () => {
        done++;
        if (!args.quiet && process.stderr.isTTY) process.stderr.write(`\r${label}: ${done} cases`);
      },
    });
    if (!args.quiet && process.stderr.isTTY) process.stderr.write('\n');
    runs.push({ label, url, results });
    if (!args.quiet) console.log(`\n${label} (${url})\n${renderTable(results)}`);
    console.log(`${label}: ${summarize(results).line} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  if (args.report !== undefined) writeFileSync(args.report, renderMarkdown(runs));
  if (args.json !== undefined) writeFileSync(args.json, renderJson(runs));
  return runs[0].results.some((r) => r.verdict === 'FAILED') ? 1 : 0;
}

if (require.main === module) {
  main().then((code) => { process.exitCode = code; }, (error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  });
}
