/**
 * Memory per idle connection: what a server holds for each open connection doing nothing, the
 * figure that decides how many clients one process can keep (chat, dashboards, notifications).
 *
 * Each measurement runs a fresh server child (bench/servers.ts) started with
 * `node --expose-gc --max-semi-space-size=1`. The child reports its port; the parent, whose
 * clients are `ws` WebSockets opened in batches of 100, first opens and closes a few warm-up
 * connections (so code compiled on first use and lazily made singletons are outside the
 * baseline), then the child takes its baseline (two full GCs, then heapUsed and RSS), the parent
 * opens the connections, each with a 'message' listener on the server side, waits half a second,
 * and the child collects twice again and reports. The figures are the deltas divided by the
 * connections. The small young generation (1 MiB semi-spaces) matters for RSS: V8 sizes its
 * semi-spaces by the allocation rate (up to 16 MiB each by default), opening thousands of
 * connections allocates at varying rates, and with the default the RSS delta measured V8's
 * sizing decision as much as the connections. heapUsed after a full GC is not affected.
 *
 * Rows: heap and RSS per connection (ours, ws; ws/ours so higher is better; ours must be no
 * worse than ws, and 2 KiB of heap is the aim), and RSS per connection once permessage-deflate
 * was agreed and one message went each way. A floor is reported beside them: the same clients
 * against a bare http upgrade that keeps the socket (what Node itself costs per connection).
 * Ours and ws alternate, a fresh child each time; figures are medians, ratios paired medians.
 * The parent and the child each hold one socket per connection: `ulimit -n` must allow about
 * 5,100 open files (an EMFILE shows up as the row's error).
 */
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { KiB, median, type Row, selected, type Settings, sleep, standalone, statusFor } from './harness';
import { nextMessage, type ServerHandle, type ServerKind, spawnServer } from './servers';

const CHILD_FLAGS = ['--expose-gc', '--max-semi-space-size=1'];
const BATCH = 100;
const WARMUP_CONNECTIONS = 50;
const SETTLE_MS = 500;
const CONNECT_TIMEOUT_MS = 10_000;
/** Aim for our heap per idle connection. */
const HEAP_AIM_BYTES = 2 * KiB;

interface IdleCase {
  /** permessage-deflate agreed, and one message each way before the measurement. */
  deflate: boolean;
  connections: number;
}

/** Per-connection figures from one measurement, in bytes. */
interface Measured { heap: number; rss: number }

/**
 * The client's one message in the compression case: ~256 B of JSON, compressible as real
 * messages are. With context takeover both ws and ours compress messages of any size (ws applies
 * its 1 KiB threshold only without it), so each side's compressor and decompressor have run once.
 */
const MESSAGE = Buffer.from(JSON.stringify({
  type: 'chat',
  id: 48213,
  user: { id: 377, name: 'user377', status: 'online' },
  ts: 1_735_000_000_000,
  room: 'general',
  text: 'the deploy finished and the dashboard shows the new build with all checks green, ship it',
  tags: ['deploy', 'status'],
  reactions: { thumbsup: 3, eyes: 1 },
}));

async function openClient(port: number, c: IdleCase): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: c.deflate });
  const timer = setTimeout(() => { ws.terminate(); }, CONNECT_TIMEOUT_MS);
  try {
    // once() rejects on an 'error' before 'open'; later errors are the server going away.
    await once(ws, 'open');
    ws.on('error', () => { ws.terminate(); });
    if (c.deflate) {
      if (!ws.extensions.includes('permessage-deflate')) throw new Error('permessage-deflate was not agreed');
      const echoed = nextMessage(ws, CONNECT_TIMEOUT_MS);
      ws.send(MESSAGE, { binary: false });
      const data = await echoed;
      if (!data.equals(MESSAGE)) throw new Error('the echo differs from the message');
    }
    return ws;
  } catch (err) {
    ws.terminate();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Opens `count` clients, `BATCH` at a time. */
async function openClients(port: number, c: IdleCase, count: number): Promise<WebSocket[]> {
  const clients: WebSocket[] = [];
  try {
    for (let opened = 0; opened < count; opened += BATCH) {
      const batch = Math.min(BATCH, count - opened);
      clients.push(...await Promise.all(Array.from({ length: batch }, () => openClient(port, c))));
    }
  } catch (err) {
    for (const ws of clients) ws.terminate();
    throw err;
  }
  return clients;
}

async function untilConnections(server: ServerHandle, count: number, what: string): Promise<void> {
  const deadline = Date.now() + CONNECT_TIMEOUT_MS;
  for (;;) {
    const connections = await server.request('connections');
    if (connections === count) return;
    if (Date.now() > deadline) throw new Error(`${server.kind} server has ${connections} connections, expected ${count} ${what}`);
    await sleep(20);
  }
}

/** One measurement in a fresh server child. */
async function measure(kind: ServerKind, c: IdleCase): Promise<Measured> {
  const server = await spawnServer(kind, { deflate: c.deflate, execArgv: CHILD_FLAGS });
  let clients: WebSocket[] = [];
  try {
    const warm = await openClients(server.port, c, WARMUP_CONNECTIONS);
    // The floor would echo a close frame back as it is (masked), so its clients just go.
    for (const ws of warm) if (kind === 'floor') ws.terminate(); else ws.close();
    await untilConnections(server, 0, 'after the warm-up');
    await sleep(50);
    const before = await server.request('memory');
    clients = await openClients(server.port, c, c.connections);
    await untilConnections(server, c.connections, 'after opening');
    await sleep(SETTLE_MS);
    const after = await server.request('memory');
    if (after.connections !== c.connections) throw new Error(`${kind} server lost connections: ${after.connections}`);
    return {
      heap: (after.heapUsed - before.heapUsed) / c.connections,
      rss: (after.rss - before.rss) / c.connections,
    };
  } finally {
    for (const ws of clients) ws.terminate();
    await server.stop();
  }
}

function title(c: IdleCase, what: 'heap' | 'RSS'): string {
  const count = c.connections.toLocaleString('en-US');
  return c.deflate
    ? `idle ${what} per connection, permessage-deflate agreed, one message each way (${count})`
    : `idle ${what} per connection (${count} connections)`;
}

function kib(bytes: number): string {
  return `${(bytes / KiB).toFixed(2)} KiB`;
}

export async function benchIdle(settings: Settings): Promise<Row[]> {
  const cases: Array<{ c: IdleCase; wanted: Array<'heap' | 'RSS'>; target: number; targetText: string }> = [
    { c: { deflate: false, connections: settings.quick ? 2_000 : 5_000 }, wanted: ['heap', 'RSS'], target: 1, targetText: 'ours <= ws (ws/ours >= 1.0)' },
    { c: { deflate: true, connections: 2_000 }, wanted: ['RSS'], target: 4, targetText: 'ours <= ws/4 (ws/ours >= 4.0)' },
  ];
  const rounds = settings.quick ? 1 : 2;
  const kinds: Array<'ours' | 'ws'> = settings.side === 'both' ? ['ours', 'ws'] : [settings.side];
  const rows: Row[] = [];
  for (const { c, wanted, target, targetText } of cases) {
    const titles = wanted.filter((what) => selected(settings, title(c, what)));
    if (titles.length === 0) continue;
    process.stderr.write(`  ${title(c, titles[0])} ...`);
    const results: Record<'ours' | 'ws', Measured[]> = { ours: [], ws: [] };
    let floor: Measured | undefined;
    try {
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? kinds : [...kinds].reverse();
        for (const kind of order) results[kind].push(await measure(kind, c));
      }
      if (!c.deflate) floor = await measure('floor', c);
    } catch (err) {
      process.stderr.write(' error\n');
      for (const what of titles) rows.push({ group: 'idle', title: title(c, what), status: 'error', note: (err as Error).message, targetText });
      continue;
    }
    for (const what of titles) {
      const pick = (m: Measured): number => (what === 'heap' ? m.heap : m.rss);
      const ours = results.ours.map(pick);
      const ws = results.ws.map(pick);
      // Less memory is better: ws/ours keeps "higher is better".
      const ratios = ws.length === 0 ? [] : ours.map((v, i) => ws[i] / v);
      const ratio = ratios.length > 0 ? median(ratios) : undefined;
      const unit = `KiB ${what}/conn`;
      const figure = (values: number[]): Row['ours'] => values.length === 0 ? undefined : { value: median(values) / KiB, unit };
      const notes: string[] = [];
      if (floor !== undefined) notes.push(`floor (bare upgraded socket): ${kib(pick(floor))}`);
      if (what === 'heap' && ours.length > 0) notes.push(`aim: ours <= ${kib(HEAP_AIM_BYTES)} (${median(ours) <= HEAP_AIM_BYTES ? 'met' : 'not yet'})`);
      if (c.deflate && what === 'RSS') {
        notes.push(`heap per connection: ours ${ours.length > 0 ? kib(median(results.ours.map((m) => m.heap))) : '—'}, ws ${ws.length > 0 ? kib(median(results.ws.map((m) => m.heap))) : '—'}`);
      }
      notes.push(`server child: ${CHILD_FLAGS.join(' ')}; ${rounds} round${rounds > 1 ? 's' : ''}`);
      rows.push({
        group: 'idle',
        title: title(c, what),
        ours: figure(ours),
        ws: figure(ws),
        ratio,
        target,
        targetText,
        status: statusFor(ratio, target),
        note: notes.join('; '),
        samples: { ours, ws, ratios },
      });
    }
    process.stderr.write(` ${rows[rows.length - 1].ratio?.toFixed(2) ?? '—'}x\n`);
  }
  return rows;
}

if (require.main === module) standalone(benchIdle);
