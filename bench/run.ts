/**
 * `npm run bench`: every hot path, ours next to ws in the same run on the same inputs, as one
 * table; the figures go to bench/results/latest.json and the ratios to a bar chart
 * (bench/results/ratios.svg, and bench/ratios.svg for the README after a full run).
 *
 *   node build/bench/run.js                 full run, about 12 minutes (7 of them pub/sub: 10,000 clients)
 *   node build/bench/run.js --quick         about 3 minutes, noisier
 *   node build/bench/run.js --only 'fan-out|latency|stopped reader'   the pub/sub rows
 *   node build/bench/run.js --only 'idle|floor|deflate'   memory per connection, echo CPU against raw TCP, compression
 *   node build/bench/run.js --only decode   rows whose title matches a regular expression
 *   node build/bench/run.js --side ours     ours only (for node --cpu-prof)
 *   node build/bench/run.js --echo-client per-message   echo load with one send per echo
 */
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unmaskImplementation } from '../lib/frame/mask';
import { benchAttack } from './attack';
import { benchCompression } from './compression';
import { benchDecode } from './decode';
import { benchEcho } from './echo';
import { benchEncode } from './encode';
import { benchFloor } from './floor';
import { benchIdle } from './idle';
import { benchMemory } from './memory';
import { benchPubsub } from './pubsub';
import { benchUnmask } from './unmask';
import {
  formatFigure, formatTable, parseSettings, ratioSpread, ratioText, type Row, type Settings, targetText,
} from './harness';

/** bench/ in the source tree (this file runs from build/bench/ or another output folder). */
const BENCH_DIR = join(__dirname, '..', '..', 'bench');
const RESULTS_DIR = join(BENCH_DIR, 'results');

const SECTIONS: ReadonlyArray<[string, (settings: Settings) => Promise<Row[]>]> = [
  ['decode', benchDecode],
  ['encode', benchEncode],
  ['unmask', benchUnmask],
  ['memory', benchMemory],
  ['echo', benchEcho],
  ['floor', benchFloor],
  ['idle', benchIdle],
  ['attack', benchAttack],
  ['compression', benchCompression],
  ['pubsub', benchPubsub],
];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLORS = { pass: '#2e7d32', miss: '#c62828', info: '#78909c' } as const;

/**
 * A horizontal bar per row that has a ratio, on a linear scale from 0, with the 1.0 line (parity
 * with ws) and each row's target as a tick; rows without a ratio (memory) are listed underneath.
 */
export function ratiosSvg(rows: readonly Row[], subtitle: string): string {
  const bars = rows.filter((r) => r.ratio !== undefined);
  const others = rows.filter((r) => r.ratio === undefined && r.status !== 'info');
  const labelWidth = 470;
  const plotWidth = 380;
  const rowHeight = 24;
  const top = 64;
  const max = Math.max(2.5, Math.ceil(Math.max(...bars.map((r) => Math.max(r.ratio ?? 0, r.target ?? 0))) * 2) / 2);
  const scale = Math.min(max, 6);
  const x = (ratio: number): number => labelWidth + (Math.min(ratio, scale) / scale) * plotWidth;
  // A small gap between groups (decode, encode, ...).
  const groupGap = 8;
  const ys: number[] = [];
  let yCursor = top;
  bars.forEach((r, i) => {
    if (i > 0 && r.group !== bars[i - 1].group) yCursor += groupGap;
    ys.push(yCursor);
    yCursor += rowHeight;
  });
  const plotBottom = yCursor;
  const height = plotBottom + 56 + others.length * 18;
  const width = labelWidth + plotWidth + 90;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="12" y="22" font-size="15" font-weight="bold">wsframe vs ws: throughput ratio ours/ws (higher is better)</text>`);
  out.push(`<text x="12" y="40" fill="#555">${escapeXml(subtitle)}</text>`);
  // Grid every 0.5.
  for (let v = 0; v <= scale + 1e-9; v += 0.5) {
    const gx = x(v).toFixed(1);
    out.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${plotBottom}" stroke="#eeeeee"/>`);
    out.push(`<text x="${gx}" y="${plotBottom + 14}" text-anchor="middle" fill="#777">${v.toFixed(1)}</text>`);
  }
  bars.forEach((r, i) => {
    const y = ys[i];
    const ratio = r.ratio ?? 0;
    const color = r.status === 'pass' ? COLORS.pass : r.status === 'miss' ? COLORS.miss : COLORS.info;
    out.push(`<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(r.title)}</text>`);
    out.push(`<rect x="${labelWidth}" y="${y + 4}" width="${(x(ratio) - labelWidth).toFixed(1)}" height="${rowHeight - 8}" fill="${color}" rx="2"/>`);
    const spread = ratioSpread(r);
    if (spread !== undefined) {
      const mid = y + rowHeight / 2;
      out.push(`<line x1="${x(spread[0]).toFixed(1)}" y1="${mid}" x2="${x(spread[1]).toFixed(1)}" y2="${mid}" stroke="#212121" stroke-width="1.5" opacity="0.6"><title>middle half of per-round ratios</title></line>`);
    }
    if (r.target !== undefined) {
      const tx = x(r.target).toFixed(1);
      out.push(`<line x1="${tx}" y1="${y + 1}" x2="${tx}" y2="${y + rowHeight - 1}" stroke="#000000" stroke-width="2"><title>target ${r.target.toFixed(1)}</title></line>`);
    }
    const clipped = ratio > scale ? ' (off scale)' : '';
    // The value goes right of whatever ends furthest right: bar, spread or target tick.
    const labelX = Math.max(x(ratio), r.target === undefined ? 0 : x(r.target), spread === undefined ? 0 : x(spread[1])) + 5;
    out.push(`<text x="${labelX.toFixed(1)}" y="${y + 15}" fill="#333">${ratioText(r)}${clipped}</text>`);
  });
  const one = x(1).toFixed(1);
  out.push(`<line x1="${one}" y1="${top - 10}" x2="${one}" y2="${plotBottom}" stroke="#333333" stroke-dasharray="4 3"/>`);
  out.push(`<text x="${one}" y="${top - 14}" text-anchor="middle" fill="#333">1.0 = ws</text>`);
  const legendY = plotBottom + 34;
  out.push(`<rect x="12" y="${legendY - 9}" width="10" height="10" fill="${COLORS.pass}"/><text x="26" y="${legendY}">meets target</text>`);
  out.push(`<rect x="120" y="${legendY - 9}" width="10" height="10" fill="${COLORS.miss}"/><text x="134" y="${legendY}">below target</text>`);
  out.push(`<rect x="228" y="${legendY - 9}" width="10" height="10" fill="${COLORS.info}"/><text x="242" y="${legendY}">no target</text>`);
  out.push(`<line x1="330" y1="${legendY - 10}" x2="330" y2="${legendY + 1}" stroke="#000000" stroke-width="2"/><text x="338" y="${legendY}">target</text>`);
  out.push(`<line x1="392" y1="${legendY - 4}" x2="412" y2="${legendY - 4}" stroke="#212121" stroke-width="1.5" opacity="0.6"/><text x="418" y="${legendY}">middle half of the per-round ratios</text>`);
  others.forEach((r, i) => {
    const text = `${r.title}: ${r.ours === undefined ? r.status : formatFigure(r.ours)} (target ${targetText(r)}) ${r.status}`;
    out.push(`<text x="12" y="${legendY + 20 + i * 18}" fill="${r.status === 'pass' ? COLORS.pass : r.status === 'miss' ? COLORS.miss : '#555'}">${escapeXml(text)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const started = Date.now();
  const rows: Row[] = [];
  for (const [name, bench] of SECTIONS) {
    process.stderr.write(`${name}\n`);
    rows.push(...await bench(settings));
  }
  const seconds = (Date.now() - started) / 1000;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const date = new Date().toISOString();
  const subtitle = `${date.slice(0, 10)} · Node ${process.version} · ${cpu} x${cpus().length} · unmask: ${unmaskImplementation}${settings.quick ? ' · --quick' : ''}`;

  process.stdout.write(`\n${formatTable(rows)}\n\n`);
  const counts = { pass: 0, miss: 0, pending: 0, error: 0 };
  for (const r of rows) if (r.status in counts) counts[r.status as keyof typeof counts]++;
  process.stdout.write(`${counts.pass} pass, ${counts.miss} miss, ${counts.pending} pending, ${counts.error} error · ${subtitle} · ${seconds.toFixed(0)} s\n`);
  process.stdout.write([
    'ours, ws: median of alternating rounds. ours/ws: median of the per-round ratios (each round of ours over the',
    'adjacent ws round), in brackets their 25th-75th percentile. Absolute numbers depend on machine load; compare ratios.',
  ].map((line) => `${line}\n`).join(''));

  mkdirSync(RESULTS_DIR, { recursive: true });
  const json = {
    date,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu,
    cpus: cpus().length,
    unmaskImplementation,
    settings: { ...settings, only: settings.only?.source },
    seconds,
    rows,
  };
  writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  const svg = ratiosSvg(rows, subtitle);
  writeFileSync(join(RESULTS_DIR, 'ratios.svg'), svg);
  // The committed chart only ever shows a complete, full-length run.
  const complete = !settings.quick && settings.only === undefined && settings.side === 'both' &&
    settings.echoClient === 'batched';
  if (complete) writeFileSync(join(BENCH_DIR, 'ratios.svg'), svg);
  process.stdout.write(`wrote bench/results/latest.json, bench/results/ratios.svg${complete ? ', bench/ratios.svg' : ' (bench/ratios.svg only after a full run)'}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
