/**
 * Long runs of the permessage-deflate differential fuzzer, outside the test suite (cli.ts hands
 * over to it when `--deflate` is given):
 *
 *   npm run fuzz -- --deflate --cases 100000 [--seed N] [--show N]     run and print a summary
 *   npm run fuzz -- --deflate --replay <messages> [--window N] [--no-takeover] [--max-size N]
 *
 * `<messages>` is what a failure prints: each message's compressed payload in hex, pieces joined
 * by '.', messages by '/'. Exits 1 when our codec and the persistent inflater disagree on any
 * stream.
 */
import fc from 'fast-check';
import { DEFAULT_MAX_SIZE, type DeflateCase, parseMessages } from './deflate-case';
import { DeflaterPool, deflatePlan, materialize } from './deflate-generators';
import { type DeflateDivergence, describeDeflateDivergence, judgeDeflate, minimizeDeflate } from './deflate-judge';

interface Options {
  cases: number;
  seed: number;
  show: number;
  replay: string | undefined;
  windowBits: number;
  noContextTakeover: boolean;
  maxSize: number;
}

export const DEFLATE_USAGE = `usage: node build/spec/fuzz/cli.js --deflate [--cases N] [--seed N] [--show N]
       node build/spec/fuzz/cli.js --deflate --replay <hex pieces '.', messages '/'>
                                   [--window 8-15] [--no-takeover] [--max-size N]`;

function parseArguments(argv: readonly string[]): Options {
  const options: Options = {
    cases: 10_000, seed: Date.now() % 0x7fffffff, show: 3, replay: undefined,
    windowBits: 15, noContextTakeover: false, maxSize: DEFAULT_MAX_SIZE,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${argv[i - 1]} needs a value\n${DEFLATE_USAGE}`);
      return next;
    };
    const integer = (min = 0, max = Number.MAX_SAFE_INTEGER): number => {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${argv[i - 1]} needs an integer from ${min} to ${max}\n${DEFLATE_USAGE}`);
      return n;
    };
    switch (argv[i]) {
      case '--deflate': break;
      case '--cases': options.cases = integer(); break;
      case '--seed': options.seed = integer(); break;
      case '--show': options.show = integer(); break;
      case '--replay': options.replay = value().replace(/^''$/, ''); break;
      case '--window': options.windowBits = integer(8, 15); break;
      case '--no-takeover': options.noContextTakeover = true; break;
      case '--max-size': options.maxSize = integer(); break;
      case '--help': case '-h': throw new Error(DEFLATE_USAGE);
      default: throw new Error(`unknown argument ${argv[i]}\n${DEFLATE_USAGE}`);
    }
  }
  return options;
}

async function replay(options: Options, text: string): Promise<number> {
  const input: DeflateCase = {
    messages: parseMessages(text), maxSize: options.maxSize, windowBits: options.windowBits, noContextTakeover: options.noContextTakeover,
  };
  const verdict = await judgeDeflate(input);
  if (verdict.kind === 'agree') {
    const { trace } = verdict;
    console.log(`agree: ${trace.messages.length} message(s) inflated the same, then ${trace.ending.kind === 'accepted'
      ? 'both accepted the stream' : `both stopped at message #${trace.ending.index} (${trace.ending.kind === 'rejected' ? trace.ending.closeCode : 'crash'})`}`);
    return 0;
  }
  console.log(describeDeflateDivergence(verdict.divergence));
  return 1;
}

async function run(options: Options): Promise<number> {
  console.log(`permessage-deflate differential fuzzing, PerMessageDeflate vs a persistent zlib inflater: seed ${options.seed}, ${options.cases} streams`);
  const started = Date.now();
  let lastProgress = started;
  const counts = { accepted: 0, rejected1007: 0, rejected1009: 0, disagreements: 0 };
  const found: DeflateDivergence[] = [];
  const pool = new DeflaterPool();
  try {
    // fast-check drives generation (the same arbitraries as the spec); the property never fails,
    // so the run goes on past a disagreement and counts them all.
    await fc.check(fc.asyncProperty(deflatePlan, async (plan) => {
      const verdict = await judgeDeflate(await materialize(plan, pool));
      if (verdict.kind === 'disagree') {
        counts.disagreements++;
        if (found.length < options.show) found.push(verdict.divergence);
      } else if (verdict.trace.ending.kind === 'accepted') {
        counts.accepted++;
      } else if (verdict.trace.ending.kind === 'rejected') {
        if (verdict.trace.ending.closeCode === 1009) counts.rejected1009++;
        else counts.rejected1007++;
      }
      const now = Date.now();
      if (now - lastProgress > 10_000) {
        lastProgress = now;
        const done = counts.accepted + counts.rejected1007 + counts.rejected1009 + counts.disagreements;
        process.stderr.write(`  ... ${done} streams, ${counts.disagreements} disagreements (${((now - started) / 1000).toFixed(0)} s)\n`);
      }
    }), { seed: options.seed, numRuns: options.cases });
  } finally {
    pool.close();
  }

  const done = counts.accepted + counts.rejected1007 + counts.rejected1009 + counts.disagreements;
  const pct = (n: number): string => `${((100 * n) / Math.max(1, done)).toFixed(1)}%`;
  console.log(`\n${done} streams in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${options.seed})`);
  console.log(`  both accepted               ${String(counts.accepted).padStart(8)}  ${pct(counts.accepted)}`);
  console.log(`  both rejected, 1007         ${String(counts.rejected1007).padStart(8)}  ${pct(counts.rejected1007)}`);
  console.log(`  both rejected, 1009         ${String(counts.rejected1009).padStart(8)}  ${pct(counts.rejected1009)}`);
  console.log(`  disagreements               ${String(counts.disagreements).padStart(8)}  ${pct(counts.disagreements)}`);
  for (const divergence of found) {
    console.log(`\nDISAGREEMENT (minimized):\n${describeDeflateDivergence(await minimizeDeflate(divergence))}`);
  }
  if (counts.disagreements > found.length) console.log(`\n(${counts.disagreements - found.length} more; --show N prints more)`);
  return counts.disagreements === 0 ? 0 : 1;
}

/** Runs the deflate mode with the command line's arguments; resolves to the exit code. */
export async function deflateMain(argv: readonly string[]): Promise<number> {
  let options: Options;
  try {
    options = parseArguments(argv);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  try {
    return options.replay !== undefined ? await replay(options, options.replay) : await run(options);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
}
