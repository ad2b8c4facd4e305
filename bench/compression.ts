/**
 * permessage-deflate (RFC 7692) end to end: what compression costs a server, what it saves on the
 * wire, and how long one large message may hold up everything else.
 *
 * The messages are JSON documents like a chat or a dashboard sends, different every time: a seeded
 * generator draws ids, users out of a set of 500, timestamps, short texts from a vocabulary and
 * numbers, at about 256 B, 16 KiB and 1 MiB. Each size has a pool of distinct documents several
 * times the 32 KiB window, so a document never finds its own earlier copy in the history, which
 * would compress better than any real traffic.
 *
 * The servers are ours and ws, `perMessageDeflate: true` (context takeover both ways), each in a
 * child process of its own (bench/servers.ts), echoing what they get. The load is ws clients
 * offering `perMessageDeflate: true`, each keeping a window of messages in flight, sent as text.
 * For each size:
 * - server CPU per echo, read inside the server process (process.cpuUsage, which covers the
 *   threadpool where large messages are compressed);
 * - bytes on the wire per echo from the server to the client: each client parses the frame
 *   headers of what it reads (a tap on its socket beside ws's own reader), so the count is exact.
 * Then the stall: the longest event-loop delay inside the server (perf_hooks'
 * monitorEventLoopDelay, 1 ms resolution) while one client echoes one 8 MiB message.
 *
 * Rounds alternate ours/ws on fresh connections; figures are medians, ratios ws/ours (less is
 * better for all three, so higher is better as elsewhere) are medians of the per-round ratios.
 */
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { KiB, median, MiB, Prng, type Row, selected, type Settings, sizeName, sleep, standalone, statusFor } from './harness';
import { nextMessage, type ServerHandle, spawnServer } from './servers';

interface CompressionCase {
  size: number;
  /** Distinct documents sent round robin: several times the 32 KiB window in all. */
  pool: number;
  clients: number;
  window: number;
}

const CASES: readonly CompressionCase[] = [
  { size: 256, pool: 1024, clients: 16, window: 8 },
  { size: 16 * KiB, pool: 32, clients: 4, window: 4 },
  { size: 1 * MiB, pool: 4, clients: 2, window: 1 },
];
const STALL_BYTES = 8 * MiB;

/** Targets: CPU no more than ws's; bytes within 10% of ws's; the stall at most twice ws's. */
const CPU_TARGET = 1;
const BYTES_TARGET = 0.91;
const STALL_TARGET = 0.5;

const CONNECT_TIMEOUT_MS = 10_000;
const ECHO_TIMEOUT_MS = 30_000;

// --- The documents ---------------------------------------------------------------------------

const WORDS = (
  'the a to and of in is it you that for on was with he as at be this have from or one had by ' +
  'deploy build test release branch merge review ticket status green red failed passed queue ' +
  'server client latency error warning info debug cache database index query request response ' +
  'user team channel room meeting lunch today tomorrow yesterday morning afternoon evening week ' +
  'please thanks sure okay great looks good ship it later check again done working blocked ' +
  'dashboard chart metric alert threshold spike drop traffic region cluster node pod restart ' +
  'coffee weekend holiday project roadmap design spec draft final version update fix bug issue'
).split(' ');
const ROOMS = ['general', 'random', 'dev', 'ops', 'alerts', 'design', 'support', 'sales'];
const HOSTS = 40;
const USERS = 500;
const STATUSES = ['online', 'away', 'busy', 'offline'];

/** Seeded JSON documents of chat messages, presence changes and dashboard metrics. */
export class Documents {
  private readonly prng: Prng;
  private id = 1_000;
  private ts = 1_735_000_000_000;

  constructor(seed: number) {
    this.prng = new Prng(seed);
  }

  private pick<T>(values: readonly T[]): T {
    return values[this.prng.next() % values.length];
  }

  private int(below: number): number {
    return this.prng.next() % below;
  }

  private text(minWords: number, maxWords: number): string {
    const count = minWords + this.int(maxWords - minWords + 1);
    return Array.from({ length: count }, () => this.pick(WORDS)).join(' ');
  }

  private user(): { id: number; name: string } {
    const id = this.int(USERS);
    return { id, name: `user${id}` };
  }

  /** One event, 100-300 bytes of JSON. */
  item(): object {
    this.id += 1 + this.int(3);
    this.ts += this.int(5_000);
    const kind = this.int(10);
    if (kind < 6) {
      return {
        type: 'chat', id: this.id, ts: this.ts, room: this.pick(ROOMS), user: this.user(),
        text: this.text(3, 24), ...(this.int(4) === 0 ? { replyTo: this.id - 1 - this.int(50) } : {}),
      };
    }
    if (kind < 8) {
      return {
        type: 'metric', id: this.id, ts: this.ts, host: `web-${this.int(HOSTS)}`,
        cpu: this.int(10_000) / 100, mem: 512 + this.int(15_000), rps: this.int(5_000),
        p99: this.int(900_000) / 1_000, series: Array.from({ length: 6 }, () => this.int(1_000)),
      };
    }
    return { type: 'presence', id: this.id, ts: this.ts, user: this.user(), status: this.pick(STATUSES), typing: this.int(2) === 0 };
  }

  /**
   * A document of about `size` bytes (within half an event of it): a batch of events behind a
   * small envelope, one or two of them at 256 B.
   */
  document(size: number): Buffer {
    const head = `{"type":"batch","seq":${this.id},"ts":${this.ts},"items":[`;
    const items: string[] = [];
    let length = head.length + 2;
    for (;;) {
      const item = JSON.stringify(this.item());
      // The size nearest `size`: an event that would overshoot by more than it fills is left out.
      if (items.length > 0 && length + item.length + 1 - size > size - length) break;
      items.push(item);
      length += item.length + 1;
    }
    return Buffer.from(`${head}${items.join(',')}]}`);
  }
}

// --- Counting frames on the wire -------------------------------------------------------------

/**
 * Reads the RFC 6455 §5.2 headers of server-to-client frames (unmasked) as they arrive, and
 * counts the bytes of every data frame whose end has passed: header plus payload, what the server
 * put on the wire for its messages.
 */
class WireCounter {
  bytes = 0;
  messages = 0;
  /** Payload bytes of the current frame still to come, or -1 while reading a header. */
  private remaining = -1;
  private header = Buffer.alloc(0);
  private frameBytes = 0;
  private fin = false;
  private control = false;

  take(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining < 0) {
        const needed = this.headerLength();
        const take = Math.min(chunk.length - at, Math.max(needed, 2) - this.header.length);
        this.header = Buffer.concat([this.header, chunk.subarray(at, at + take)]);
        at += take;
        if (this.header.length < 2 || this.header.length < this.headerLength()) continue;
        this.startFrame();
      } else {
        const take = Math.min(chunk.length - at, this.remaining);
        this.remaining -= take;
        at += take;
      }
      if (this.remaining === 0) this.endFrame();
    }
  }

  /** Header length once its first two bytes are known (no mask: server frames, §5.1). */
  private headerLength(): number {
    if (this.header.length < 2) return 2;
    const length7 = this.header[1] & 0x7f;
    return length7 === 126 ? 4 : length7 === 127 ? 10 : 2;
  }

  private startFrame(): void {
    const length7 = this.header[1] & 0x7f;
    const length = length7 === 126 ? this.header.readUInt16BE(2) : length7 === 127 ? Number(this.header.readBigUInt64BE(2)) : length7;
    this.fin = (this.header[0] & 0x80) !== 0;
    this.control = (this.header[0] & 0x08) !== 0;
    this.frameBytes = this.header.length + length;
    this.remaining = length;
    this.header = Buffer.alloc(0);
  }

  private endFrame(): void {
    if (!this.control) {
      this.bytes += this.frameBytes;
      if (this.fin) this.messages++;
    }
    this.remaining = -1;
  }
}

// --- The load --------------------------------------------------------------------------------

interface Client { ws: WebSocket; wire: WireCounter }

async function connect(port: number): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
  const timer = setTimeout(() => { ws.terminate(); }, CONNECT_TIMEOUT_MS);
  try {
    await once(ws, 'open');
  } finally {
    clearTimeout(timer);
  }
  if (!ws.extensions.includes('permessage-deflate')) {
    ws.terminate();
    throw new Error('permessage-deflate was not agreed');
  }
  const wire = new WireCounter();
  // ws reads its socket with its own 'data' listener; this one sees the same chunks after it.
  const socket = (ws as unknown as { _socket: NodeJS.EventEmitter })._socket;
  socket.on('data', (chunk: Buffer) => { wire.take(chunk); });
  return { ws, wire };
}

async function closeAll(sockets: readonly WebSocket[]): Promise<void> {
  await Promise.all(sockets.map(async (ws) => {
    if (ws.readyState === WebSocket.CLOSED) return;
    const closed = once(ws, 'close');
    ws.close();
    const timer = setTimeout(() => { ws.terminate(); }, 2_000);
    await closed;
    clearTimeout(timer);
  }));
}

/** What one measurement gives, per echo: the server's CPU µs and its bytes on the wire. */
interface Measured { cpu: number; bytes: number }

/** One measurement: fresh connections, warm-up, then echoes, CPU and wire bytes counted. */
async function load(server: ServerHandle, c: CompressionCase, docs: readonly Buffer[], warmMs: number, measureMs: number): Promise<Measured> {
  const clients = await Promise.all(Array.from({ length: c.clients }, () => connect(server.port)));
  let running = true;
  let counting = false;
  let counted = 0;
  let failure: Error | undefined;
  clients.forEach(({ ws }, index) => {
    // Clients start at different documents, then each goes round the pool.
    let next = (index * 7) % docs.length;
    const sent: number[] = [];
    let checked = false;
    const send = (): void => {
      sent.push(next);
      ws.send(docs[next], { binary: false });
      next = (next + 1) % docs.length;
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const doc = docs[sent.shift() ?? -1];
      if (isBinary || doc === undefined || data.length !== doc.length || (!checked && !data.equals(doc))) {
        failure ??= new Error(`${server.kind}: the echo differs from the message sent`);
      }
      checked = true;
      if (counting) counted++;
      if (running) send();
    });
    ws.on('error', (err) => { failure ??= err; });
    for (let i = 0; i < c.window; i++) send();
  });
  try {
    await sleep(warmMs);
    const wireBefore = clients.reduce((sum, { wire }) => sum + wire.bytes, 0);
    const messagesBefore = clients.reduce((sum, { wire }) => sum + wire.messages, 0);
    const cpuBefore = await server.request('cpu');
    counting = true;
    await sleep(measureMs);
    counting = false;
    const cpuAfter = await server.request('cpu');
    const received = counted;
    const wireBytes = clients.reduce((sum, { wire }) => sum + wire.bytes, 0) - wireBefore;
    const wireMessages = clients.reduce((sum, { wire }) => sum + wire.messages, 0) - messagesBefore;
    if (failure !== undefined) throw failure;
    if (received === 0 || wireMessages === 0) throw new Error(`${server.kind}: no echo came back`);
    // Frames counted whole as they end; messages delivered by ws lag the frames by its inflate.
    return { cpu: (cpuAfter - cpuBefore) / received, bytes: wireBytes / wireMessages };
  } finally {
    running = false;
    await closeAll(clients.map(({ ws }) => ws));
  }
}

/** The longest event-loop delay in the server, in ms, while one client echoes `doc`. */
async function stall(server: ServerHandle, doc: Buffer, binary: boolean): Promise<number> {
  const { ws } = await connect(server.port);
  try {
    await server.request('loop-start');
    const echoed = nextMessage(ws, ECHO_TIMEOUT_MS);
    ws.send(doc, { binary });
    const data = await echoed;
    const max = await server.request('loop-stop');
    if (!data.equals(doc)) throw new Error(`${server.kind}: the 8 MiB echo differs from the message`);
    return max;
  } finally {
    await closeAll([ws]);
  }
}

// --- The rows --------------------------------------------------------------------------------

function cpuTitle(c: CompressionCase): string {
  return `deflate echo ~${sizeName(c.size)} JSON x ${c.clients} clients (window ${c.window}): server CPU per echo`;
}

function bytesTitle(c: CompressionCase): string {
  return `  deflate bytes on the wire per echo, ~${sizeName(c.size)} JSON`;
}

const STALL_TITLE = `deflate: worst event-loop stall echoing one ${sizeName(STALL_BYTES)} JSON message`;
const BINARY_STALL_TITLE = '  the same document sent as a binary message';

type Kind = 'ours' | 'ws';

/** A row comparing per-round figures where less is better: ratio ws/ours. */
function lessIsBetter(title: string, unit: string, values: Record<Kind, number[]>, target: number, targetText: string, note?: string): Row {
  const ratios = values.ours.length === 0 || values.ws.length === 0 ? [] : values.ours.map((v, i) => values.ws[i] / v);
  const ratio = ratios.length > 0 ? median(ratios) : undefined;
  const figure = (v: number[]): Row['ours'] => v.length === 0 ? undefined : { value: median(v), unit };
  return {
    group: 'compression',
    title,
    ours: figure(values.ours),
    ws: figure(values.ws),
    ratio,
    target,
    targetText,
    status: statusFor(ratio, target),
    note,
    samples: { ours: values.ours, ws: values.ws, ratios },
  };
}

export async function benchCompression(settings: Settings): Promise<Row[]> {
  const cases = CASES.filter((c) => selected(settings, cpuTitle(c)) || selected(settings, bytesTitle(c)));
  const stallWanted = selected(settings, STALL_TITLE);
  if (cases.length === 0 && !stallWanted) return [];
  const rounds = settings.quick ? 2 : 3;
  const stallRounds = settings.quick ? 3 : 7;
  const warmMs = settings.quick ? 200 : 300;
  const measureMs = settings.quick ? 700 : 1_500;
  const kinds: Kind[] = settings.side === 'both' ? ['ours', 'ws'] : [settings.side];
  const servers: ServerHandle[] = [];
  try {
    for (const kind of kinds) servers.push(await spawnServer(kind, { deflate: true }));
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    return [{ group: 'compression', title: 'compression', status: 'error', note: `server failed to start: ${(err as Error).message}` }];
  }
  const rows: Row[] = [];
  try {
    for (const c of cases) {
      process.stderr.write(`  ${cpuTitle(c)} ...`);
      const generator = new Documents(0xdef1 + c.size);
      const docs = Array.from({ length: c.pool }, () => generator.document(c.size));
      const average = docs.reduce((sum, d) => sum + d.length, 0) / docs.length;
      const cpu: Record<Kind, number[]> = { ours: [], ws: [] };
      const bytes: Record<Kind, number[]> = { ours: [], ws: [] };
      try {
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? servers : [...servers].reverse();
          for (const server of order) {
            const measured = await load(server, c, docs, warmMs, measureMs);
            cpu[server.kind as Kind].push(measured.cpu);
            bytes[server.kind as Kind].push(measured.bytes);
          }
        }
      } catch (err) {
        process.stderr.write(' error\n');
        rows.push({ group: 'compression', title: cpuTitle(c), status: 'error', note: (err as Error).message });
        continue;
      }
      const cpuRow = lessIsBetter(cpuTitle(c), 'µs CPU/echo', cpu, CPU_TARGET, 'ours <= ws (ws/ours >= 1.0)',
        'server CPU time per echo (user + system, threadpool included), ws clients with permessage-deflate');
      const share = (v: number[]): string => (v.length === 0 ? '—' : `${((median(v) / average) * 100).toFixed(1)}%`);
      const bytesRow = lessIsBetter(bytesTitle(c), 'B/echo', bytes, BYTES_TARGET, 'within 10% of ws (ws/ours >= 0.91)',
        `server-to-client frame bytes per echo; documents average ${average.toFixed(0)} B; on the wire: ours ${share(bytes.ours)}, ws ${share(bytes.ws)} of that`);
      if (selected(settings, cpuTitle(c))) rows.push(cpuRow);
      if (selected(settings, bytesTitle(c))) rows.push(bytesRow);
      process.stderr.write(` ${cpuRow.ratio === undefined ? '—' : `${cpuRow.ratio.toFixed(2)}x`}\n`);
    }
    if (stallWanted) {
      process.stderr.write(`  ${STALL_TITLE} ...`);
      const doc = new Documents(0x57a11).document(STALL_BYTES);
      const stalls: Record<Kind, number[]> = { ours: [], ws: [] };
      const binaryStalls: Record<Kind, number[]> = { ours: [], ws: [] };
      let row: Row;
      let binaryRow: Row | undefined;
      try {
        // A first echo each, unmeasured: code compiled on first use is not a stall of the server.
        for (const server of servers) await stall(server, doc, false);
        // A stall is one long task, and whether its memory is fresh (page faults) or reused from
        // the last message varies from round to round: more rounds than the CPU rows take.
        for (let round = 0; round < stallRounds; round++) {
          const order = round % 2 === 0 ? servers : [...servers].reverse();
          for (const server of order) {
            stalls[server.kind as Kind].push(await stall(server, doc, false));
            binaryStalls[server.kind as Kind].push(await stall(server, doc, true));
          }
        }
        row = lessIsBetter(STALL_TITLE, 'ms', stalls, STALL_TARGET, 'ours <= 2x ws (ws/ours >= 0.5)',
          'longest event-loop delay inside the server while it inflates, reads, compresses and sends the echo of a text message (monitorEventLoopDelay, 1 ms resolution); ours hands the text over as a string, ws as a Buffer');
        binaryRow = { ...lessIsBetter(BINARY_STALL_TITLE, 'ms', binaryStalls, STALL_TARGET, '—',
          'a Buffer on both sides'), status: 'info', target: undefined };
      } catch (err) {
        row = { group: 'compression', title: STALL_TITLE, status: 'error', note: (err as Error).message };
      }
      process.stderr.write(` ${row.ratio === undefined ? row.status : `${row.ratio.toFixed(2)}x`}\n`);
      rows.push(row);
      if (binaryRow !== undefined) rows.push(binaryRow);
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
  return rows;
}

if (require.main === module) standalone(benchCompression);
