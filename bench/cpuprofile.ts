/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`) as the functions with the most self time, so a
 * bench run can be profiled without opening DevTools:
 *
 *   node --cpu-prof --cpu-prof-dir=prof build/bench/decode.js --only "16 B masked, 64 KiB" --side ours
 *   node build/bench/cpuprofile.js prof/*.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface SelfTime { name: string; where: string; micros: number; share: number }

/** Self time per function (same name and source position), largest first. */
export function selfTimes(profile: Profile): SelfTime[] {
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const totals = new Map<string, SelfTime>();
  let all = 0;
  // timeDeltas[i] is the time before sample i; attributing it to sample i is V8's convention.
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const delta = profile.timeDeltas[i] ?? 0;
    if (node === undefined) continue;
    all += delta;
    const frame = node.callFrame;
    const file = frame.url === '' ? '' : relative(process.cwd(), frame.url.replace(/^file:\/\//, ''));
    const where = file === '' ? '' : `${file}:${frame.lineNumber + 1}`;
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const key = `${name}@${where}`;
    const entry = totals.get(key) ?? { name, where, micros: 0, share: 0 };
    entry.micros += delta;
    totals.set(key, entry);
  }
  const list = [...totals.values()].sort((a, b) => b.micros - a.micros);
  for (const entry of list) entry.share = all === 0 ? 0 : entry.micros / all;
  return list;
}

function main(argv: string[]): void {
  const at = argv.indexOf('--top');
  const top = at >= 0 ? Number(argv[at + 1]) : 20;
  const files = argv.filter((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1));
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    process.stdout.write(`${file}: ${((profile.endTime - profile.startTime) / 1e6).toFixed(2)} s\n`);
    process.stdout.write('  self %   self ms  function (location)\n');
    for (const entry of selfTimes(profile).slice(0, top)) {
      const pct = (entry.share * 100).toFixed(1).padStart(6);
      const ms = (entry.micros / 1000).toFixed(0).padStart(8);
      process.stdout.write(`  ${pct}  ${ms}  ${entry.name}${entry.where === '' ? '' : ` (${entry.where})`}\n`);
    }
  }
}

if (require.main === module) main(process.argv.slice(2));
