/**
 * Long differential fuzzing runs against ws, outside the test suite:
 *
 *   npm run fuzz -- --cases 200000 [--seed N]     run and print a summary
 *   npm run fuzz -- --replay <hex> [--max-payload N] [--cuts a,b,c]   judge one input
 *                   [--streaming-threshold N] [--streaming]
 *   npm run fuzz -- --table                        the differences table as markdown (README)
 *   npm run fuzz -- --deflate --cases 100000 [--seed N]   permessage-deflate streams against a
 *                   persistent zlib inflater (deflate-cli.ts, which lists its options)
 *
 * Exits 1 when a disagreement is not explained by spec/fuzz/differences.ts.
 */
import fc from 'fast-check';
import { DEFLATE_USAGE, deflateMain } from './deflate-cli';
import { DIFFERENCES, differencesMarkdown } from './differences';
import { fuzzCase } from './generators';
import { describeDivergence, judge, type Verdict } from './judge';
import type { FuzzCase } from './parsers';

interface Options {
  cases: number;
  seed: number;
  table: boolean;
  replay: string | undefined;
  maxPayload: number;
  cuts: number[];
  streamingThreshold: number | undefined;
  streaming: boolean;
  /** How many unexplained disagreements to print. */
  show: number;
  /** Print one example per documented difference too. */
  examples: boolean;
}

const USAGE = `usage: node build/spec/fuzz/cli.js [--cases N] [--seed N] [--show N] [--examples]
       node build/spec/fuzz/cli.js --replay <hex> [--max-payload N] [--cuts a,b,c]
                                   [--streaming-threshold N] [--streaming]
       node build/spec/fuzz/cli.js --table
${DEFLATE_USAGE}`;

function parseArguments(argv: readonly string[]): Options {
  const options: Options = {
    cases: 10_000, seed: Date.now() % 0x7fffffff, table: false, replay: undefined,
    maxPayload: 64 * 1024 * 1024, cuts: [], streamingThreshold: undefined, streaming: false, show: 5, examples: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${argv[i - 1]} needs a value\n${USAGE}`);
      return next;
    };
    const integer = (): number => {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${argv[i - 1]} needs a non-negative integer\n${USAGE}`);
      return n;
    };
    switch (argv[i]) {
      case '--cases': options.cases = integer(); break;
      case '--seed': options.seed = integer(); break;
      case '--show': options.show = integer(); break;
      case '--examples': options.examples = true; break;
      case '--table': options.table = true; break;
      case '--replay': {
        const hex = value().replace(/\s+/g, '');
        if (!/^([0-9a-f]{2})*$/i.test(hex)) throw new Error(`--replay needs hex bytes\n${USAGE}`);
        options.replay = hex;
        break;
      }
      case '--max-payload': options.maxPayload = integer(); break;
      case '--cuts': options.cuts = value().split(',').filter((c) => c !== '').map(Number); break;
      case '--streaming-threshold': options.streamingThreshold = integer(); break;
      case '--streaming': options.streaming = true; break;
      case '--help': case '-h': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${argv[i]}\n${USAGE}`);
    }
  }
  return options;
}

function replay(options: Options, hex: string): number {
  const input: FuzzCase = {
    bytes: Buffer.from(hex, 'hex'), cuts: options.cuts, maxPayload: options.maxPayload,
    streamingThreshold: options.streamingThreshold, streaming: options.streaming,
  };
  const verdict = judge(input);
  if (verdict.kind === 'agree') {
    console.log('agree: both parsers deliver the same messages and stop the same way');
    return 0;
  }
  console.log(verdict.kind === 'documented' ? `documented difference: ${verdict.id}` : 'UNEXPLAINED disagreement');
  console.log(describeDivergence(verdict.divergence));
  return verdict.kind === 'documented' ? 0 : 1;
}

function run(options: Options): number {
  const byRule = new Map<string, number>(DIFFERENCES.map((d) => [d.id, 0]));
  const firstExample = new Map<string, string>();
  const unexplained: string[] = [];
  let agreements = 0;
  let unexplainedCount = 0;
  let done = 0;
  const started = Date.now();
  let lastProgress = started;

  const record = (verdict: Verdict): void => {
    done++;
    if (verdict.kind === 'agree') {
      agreements++;
    } else if (verdict.kind === 'documented') {
      byRule.set(verdict.id, (byRule.get(verdict.id) ?? 0) + 1);
      if (options.examples && !firstExample.has(verdict.id)) firstExample.set(verdict.id, describeDivergence(verdict.divergence));
    } else {
      unexplainedCount++;
      if (unexplained.length < options.show) unexplained.push(describeDivergence(verdict.divergence));
    }
    const now = Date.now();
    if (now - lastProgress > 10_000) {
      lastProgress = now;
      process.stderr.write(`  ... ${done} cases, ${unexplainedCount} unexplained (${((now - started) / 1000).toFixed(0)} s)\n`);
    }
  };

  console.log(`differential fuzzing, wsframe vs ws ${wsVersion()}: seed ${options.seed}, ${options.cases} cases`);
  // fast-check drives generation (the same arbitraries as the spec); the property never fails so
  // the run goes on past a disagreement and counts them all.
  fc.check(fc.property(fuzzCase, (input) => { record(judge(input)); }), { seed: options.seed, numRuns: options.cases });

  const seconds = (Date.now() - started) / 1000;
  const documented = done - agreements - unexplainedCount;
  const pct = (n: number): string => `${((100 * n) / Math.max(1, done)).toFixed(1)}%`;
  console.log(`\n${done} cases in ${seconds.toFixed(1)} s (seed ${options.seed})`);
  console.log(`  agreements                  ${String(agreements).padStart(8)}  ${pct(agreements)}`);
  console.log(`  documented differences      ${String(documented).padStart(8)}  ${pct(documented)}`);
  for (const [id, count] of byRule) console.log(`    ${id.padEnd(26)}${String(count).padStart(8)}`);
  console.log(`  unexplained disagreements   ${String(unexplainedCount).padStart(8)}`);
  for (const [id, text] of firstExample) console.log(`\nexample of ${id}:\n${text}`);
  for (const text of unexplained) console.log(`\nUNEXPLAINED:\n${text}`);
  if (unexplainedCount > unexplained.length) console.log(`\n(${unexplainedCount - unexplained.length} more unexplained; --show N prints more)`);
  return unexplainedCount === 0 ? 0 : 1;
}

function wsVersion(): string {
  return (require('ws/package.json') as { version: string }).version;
}

function main(): void {
  if (process.argv.includes('--deflate')) {
    deflateMain(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
      console.error(err);
      process.exitCode = 2;
    });
    return;
  }
  let options: Options;
  try {
    options = parseArguments(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  if (options.table) {
    console.log(differencesMarkdown());
    return;
  }
  process.exitCode = options.replay !== undefined ? replay(options, options.replay) : run(options);
}

if (require.main === module) main();
