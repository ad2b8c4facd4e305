/**
 * Runs one case through both parsers and judges the result: agreement, a documented difference
 * (a rule of differences.ts explains the first point where the traces part), or an unexplained
 * disagreement (a bug in one of them, or a difference nobody has written down yet).
 */
import { DIFFERENCES, type Divergence } from './differences';
import { type FuzzCase, type Observation, runOurs, runWs } from './parsers';
import { openMessageBefore, type WalkedFrame, walkFrames } from './wire';

export type Verdict =
  | { kind: 'agree' }
  | { kind: 'documented'; id: string; divergence: Divergence }
  | { kind: 'unexplained'; divergence: Divergence };

/** Two observations are the same event; rejections are compared by close code only. */
function sameObservation(a: Observation | undefined, b: Observation | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if (a.kind === 'crash' || b.kind === 'crash') return false;
  if (a.kind === 'error' && b.kind === 'error') return a.frame === b.frame && a.closeCode === b.closeCode;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The two sides of the comparison; replaceable so the spec can check that a broken side shows. */
export interface Runners {
  ours(input: FuzzCase, frames: readonly WalkedFrame[]): Observation[];
  ws(input: FuzzCase, frames: readonly WalkedFrame[]): Observation[];
}

export const RUNNERS: Runners = { ours: runOurs, ws: runWs };

/** Where two traces first part, with everything the rules may look at. */
export function findDivergence(input: FuzzCase, runners: Runners = RUNNERS): Divergence | undefined {
  const frames = walkFrames(input.bytes);
  const ours = runners.ours(input, frames);
  const ws = runners.ws(input, frames);
  const length = Math.max(ours.length, ws.length);
  for (let i = 0; i < length; i++) {
    if (sameObservation(ours[i], ws[i])) continue;
    const index = Math.min(ours[i]?.frame ?? Infinity, ws[i]?.frame ?? Infinity);
    return {
      input,
      frames,
      index,
      frame: frames[index],
      open: openMessageBefore(frames, index),
      ours: ours.filter((o) => o.frame === index),
      ws: ws.filter((o) => o.frame === index),
      oursTrace: ours,
      wsTrace: ws,
    };
  }
  return undefined;
}

export function judge(input: FuzzCase, runners: Runners = RUNNERS): Verdict {
  const divergence = findDivergence(input, runners);
  if (divergence === undefined) return { kind: 'agree' };
  // A crash is never a documented behaviour.
  const crashed = [...divergence.oursTrace, ...divergence.wsTrace].some((o) => o.kind === 'crash');
  if (!crashed) {
    for (const rule of DIFFERENCES) {
      if (rule.predicate(divergence)) return { kind: 'documented', id: rule.id, divergence };
    }
  }
  return { kind: 'unexplained', divergence };
}

function clip(text: string, max = 160): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length / 2} bytes)`;
}

function showObservation(o: Observation): string {
  switch (o.kind) {
    case 'text':
    case 'binary':
    case 'ping':
    case 'pong':
      return `#${o.frame} ${o.kind} ${clip(o.data) || '(empty)'}`;
    case 'close':
      return `#${o.frame} close ${o.code} ${clip(o.reason)}`;
    case 'error':
      return `#${o.frame} error ${o.closeCode} ${o.code}`;
    case 'end':
      return `#${o.frame} end${o.midFrame ? ' mid-frame' : ''}${o.openMessage ? ' mid-message' : ''}`;
    case 'crash':
      return `#${o.frame} CRASH ${o.message}`;
  }
}

/** Inputs up to this many bytes are printed whole; longer ones are cut (replay them by seed). */
const PRINTED_BYTES = 4096;

/** The CLI arguments that replay a case (the hex is cut for very long inputs). */
export function replayArguments(input: FuzzCase): string {
  const cuts = input.cuts.length > 0 ? ` --cuts ${input.cuts.join(',')}` : '';
  const hex = input.bytes.length <= PRINTED_BYTES
    ? input.bytes.toString('hex')
    : `${input.bytes.subarray(0, 64).toString('hex')}... (${input.bytes.length} bytes, cut; replay with the seed)`;
  const threshold = input.streamingThreshold === undefined ? '' : ` --streaming-threshold ${input.streamingThreshold}`;
  const streaming = input.streaming === true ? ' --streaming' : '';
  return `--max-payload ${input.maxPayload}${cuts}${threshold}${streaming} --replay ${hex}`;
}

/** A trace around frame `index`: long runs of agreed messages before it are summarized. */
function shortTrace(trace: readonly Observation[], index: number): string {
  const before = trace.filter((o) => o.frame < index);
  const shown = trace.filter((o) => o.frame >= index).map(showObservation);
  if (before.length > 4) shown.unshift(`(${before.length - 2} earlier observations)`, ...before.slice(-2).map(showObservation));
  else shown.unshift(...before.map(showObservation));
  return shown.join(' | ');
}

/** A disagreement as text: the case (enough to replay it) and both traces. */
export function describeDivergence(d: Divergence): string {
  const { input } = d;
  const frame = d.frame;
  const lines = [
    `case: ${replayArguments(input)}`,
    `first disagreement at frame #${d.index}${frame === undefined ? ' (after the last frame)' :
      ` (offset ${frame.start}, opcode ${frame.opcode}, fin ${String(frame.fin)}, rsv ${frame.rsv}, masked ${String(frame.masked)}, length ${frame.length}${frame.truncated ? ', truncated' : ''})`}`,
    `  ours: ${shortTrace(d.oursTrace, d.index)}`,
    `  ws:   ${shortTrace(d.wsTrace, d.index)}`,
  ];
  return lines.join('\n');
}
