/**
 * Memory under attack: 20 clients each send 1,000,000 empty frames to an echo server and never
 * read. Every frame asks for an echo; a server that keeps echoing into sockets nobody reads holds
 * the echoes (ws), one that stops reading while its writes wait (ours: lib/session/inbox.ts)
 * holds little and lets TCP push back on the peers.
 *
 * Each server (bench/servers.ts: ours echoes with `ws.send(data, isBinary)`, ws with
 * `ws.send(data, { binary })`) runs in a child with `--expose-gc`. The clients are raw TCP
 * sockets through a real handshake that write their frames (masked, 6 bytes each) and never read.
 * The parent waits until the server's CPU time stops growing (it has read all it will read) or
 * a time limit passes, then the child collects twice and reports heap and RSS over its baseline.
 * ws keeps reading and echoing, so its figure is what 20 million echoes cost it; ours is what a
 * server holds when it stopped reading each attacker.
 */
import type { Socket } from 'node:net';
import { rawConnect } from './floor';
import { MiB, type Row, selected, type Settings, sleep, standalone } from './harness';
import { type ServerKind, spawnServer } from './servers';

const CLIENTS = 20;
const FRAMES = 1_000_000;
/** An empty binary frame, masked as clients must (RFC 6455 §5.3): 0x82, mask bit and length 0, key. */
const EMPTY_FRAME = Buffer.from([0x82, 0x80, 0x12, 0x34, 0x56, 0x78]);
/** Quiet: the server used less CPU than this over one poll. */
const QUIET_CPU_US = 20_000;
const POLL_MS = 500;
const LIMIT_MS = 120_000;
const TITLE = `attack: ${CLIENTS} clients x ${FRAMES.toLocaleString('en-US')} empty frames, never reading: server heap after GC`;
/** The aim: tens of MiB, not GiB. */
const AIM_BYTES = 64 * MiB;

interface Measured { heap: number; rss: number; seconds: number }

async function attack(kind: ServerKind, burst: Buffer): Promise<Measured> {
  const server = await spawnServer(kind, { execArgv: ['--expose-gc'] });
  const sockets: Socket[] = [];
  try {
    const base = await server.request('memory');
    for (let i = 0; i < CLIENTS; i++) {
      const socket = await rawConnect(server.port);
      // Never read: the socket stays paused, and errors (the server closing us) are expected.
      socket.on('error', () => undefined);
      sockets.push(socket);
    }
    const started = Date.now();
    for (const socket of sockets) socket.write(burst);
    let last = await server.request('cpu');
    for (;;) {
      await sleep(POLL_MS);
      const now = await server.request('cpu');
      const quiet = now - last < QUIET_CPU_US;
      last = now;
      if (quiet || Date.now() - started > LIMIT_MS) break;
    }
    const seconds = (Date.now() - started) / 1000;
    const after = await server.request('memory');
    return { heap: after.heapUsed - base.heapUsed, rss: after.rss - base.rss, seconds };
  } finally {
    for (const socket of sockets) socket.destroy();
    await server.stop();
  }
}

export async function benchAttack(settings: Settings): Promise<Row[]> {
  if (!selected(settings, TITLE)) return [];
  process.stderr.write(`  ${TITLE} ...`);
  const burst = Buffer.alloc(EMPTY_FRAME.length * FRAMES);
  for (let at = 0; at < burst.length; at += EMPTY_FRAME.length) EMPTY_FRAME.copy(burst, at);
  const kinds: ServerKind[] = settings.side === 'both' ? ['ours', 'ws'] : [settings.side];
  const results = new Map<ServerKind, Measured>();
  try {
    for (const kind of kinds) results.set(kind, await attack(kind, burst));
  } catch (err) {
    process.stderr.write(' error\n');
    return [{ group: 'memory', title: TITLE, status: 'error', note: (err as Error).message }];
  }
  const ours = results.get('ours');
  const ws = results.get('ws');
  const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
  const describe = (m: Measured | undefined): string => (m === undefined ? '—' : `heap +${mib(m.heap)}, RSS +${mib(m.rss)} after ${m.seconds.toFixed(1)} s`);
  const status = ours === undefined ? 'info' : ours.heap <= AIM_BYTES ? 'pass' : 'miss';
  process.stderr.write(` ${status}\n`);
  return [{
    group: 'memory',
    title: TITLE,
    ...(ours === undefined ? {} : { ours: { value: ours.heap / MiB, unit: 'MiB heap', secondary: { value: ours.rss / MiB, unit: 'MiB RSS' } } }),
    ...(ws === undefined ? {} : { ws: { value: ws.heap / MiB, unit: 'MiB heap', secondary: { value: ws.rss / MiB, unit: 'MiB RSS' } } }),
    targetText: `ours <= ${AIM_BYTES / MiB} MiB heap`,
    status,
    note: `ours: ${describe(ours)}; ws: ${describe(ws)} (over each server's baseline, after two full GCs, once its CPU went quiet)`,
  }];
}

if (require.main === module) standalone(benchAttack);
