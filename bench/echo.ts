/**
 * End to end: echo over loopback. Our demo server's `/echo` (examples/demo-server.ts) and a ws
 * echo server each run in a child process of their own, so the server and the client load sit on
 * different cores; the load is the same `ws` client for both. Each client keeps a window of
 * messages in flight and sends the next one when one comes back; the figure is echoes received
 * per second over a fixed window, after a warm-up on the same connections. Measurements alternate
 * ours/ws with fresh connections each time; as elsewhere, figures are medians of the rounds and
 * the ratio is the median of the per-round ratios.
 *
 * The load generator is one Node process using ws. Answering every echo with its own `send` costs
 * the client one write syscall per message, and profiles showed that client saturated (server 50%
 * idle) at a third of the rate the servers can take: the rows then measured ws's client, not the
 * servers. So by default a client answers all the echoes of one read together, corked into one
 * socket write (`--echo-client per-message` restores one send per echo). The window of messages
 * in flight per client is the same either way.
 *
 * Throughput is only the servers' own speed when the servers are the bottleneck; with larger
 * messages the load generator and the kernel's loopback copies often are. So each echo row is
 * followed by the servers' CPU time per echo, read from each server child (process.cpuUsage):
 * the work a server does per message whoever sets the pace. Its ratio is ws/ours, so higher is
 * still better for us.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { WebSocket } from 'ws';
import { KiB, median, MiB, Prng, type Row, selected, type Settings, sizeName, sleep, standalone, statusFor } from './harness';
import { DEMO_MODULE, type ServerHandle, spawnServer } from './servers';

type Kind = 'ours' | 'ws';

interface EchoCase { size: number; clients: number; window: number; target: number }

const CASES: readonly EchoCase[] = [
  { size: 64, clients: 32, window: 16, target: 1.2 },
  { size: 16 * KiB, clients: 8, window: 16, target: 1.2 },
  { size: 1 * MiB, clients: 2, window: 2, target: 1.2 },
];

const CONNECT_TIMEOUT_MS = 10_000;

/** What one measurement gives: echoes per second, and the server's CPU microseconds per echo. */
interface Measured { rate: number; cpuPerEcho: number }

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`connect to ${url} timed out`)); }, CONNECT_TIMEOUT_MS);
    ws.once('open', () => { clearTimeout(timer); resolve(ws); });
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

/** One measurement: fresh connections, warm-up, then echoes counted for `measureMs`. */
async function load(server: ServerHandle, c: EchoCase, warmMs: number, measureMs: number, batched: boolean): Promise<Measured> {
  const url = `ws://127.0.0.1:${server.port}/echo`;
  const payload = new Prng(0xec40 + c.size).bytes(c.size);
  const clients = await Promise.all(Array.from({ length: c.clients }, () => connect(url)));
  let running = true;
  let counted = 0;
  let counting = false;
  let failure: Error | undefined;
  for (const ws of clients) {
    // Replies owed to the server, sent together once the current batch of input is handled: one
    // socket write per batch instead of one per message, so the client is cheap per message and
    // the servers, not the load generator, set the pace. (ws has no public cork; its socket is
    // the documented-internal `_socket`.)
    const socket = (ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    let owed = 0;
    const flush = (): void => {
      const count = owed;
      owed = 0;
      if (!running) return;
      socket.cork();
      for (let i = 0; i < count; i++) ws.send(payload, { binary: true });
      socket.uncork();
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length !== c.size || data[0] !== payload[0] || data[c.size - 1] !== payload[c.size - 1]) {
        failure ??= new Error(`bad echo: ${data.length} bytes, binary ${String(isBinary)}`);
      }
      if (counting) counted++;
      if (!batched) {
        if (running) ws.send(payload, { binary: true });
      } else if (owed++ === 0) {
        setImmediate(flush);
      }
    });
    ws.on('error', (err) => { failure ??= err; });
    for (let i = 0; i < c.window; i++) ws.send(payload, { binary: true });
  }
  await sleep(warmMs);
  const cpuBefore = await server.request('cpu');
  counting = true;
  const start = process.hrtime.bigint();
  await sleep(measureMs);
  const received = counted;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuAfter = await server.request('cpu');
  running = false;
  counting = false;
  await Promise.all(clients.map(async (ws) => {
    const closed = once(ws, 'close');
    ws.close();
    const timer = setTimeout(() => { ws.terminate(); }, 2_000);
    await closed;
    clearTimeout(timer);
  }));
  if (failure !== undefined) throw failure;
  if (received === 0) throw new Error('no echo came back');
  return { rate: received / seconds, cpuPerEcho: (cpuAfter - cpuBefore) / received };
}

// --- The rows ----------------------------------------------------------------------------------

function titleFor(c: EchoCase, settings: Settings): string {
  const client = settings.echoClient === 'batched' ? '' : ', per-message client';
  return `echo ${sizeName(c.size)} x ${c.clients} clients (window ${c.window}${client})`;
}

export async function benchEcho(settings: Settings): Promise<Row[]> {
  const cases = CASES.filter((c) => selected(settings, titleFor(c, settings)));
  if (cases.length === 0) return [];
  const pending = (c: EchoCase, note: string, status: Row['status'] = 'pending'): Row =>
    ({ group: 'echo', title: titleFor(c, settings), status, target: c.target, note });
  if (!existsSync(DEMO_MODULE) && settings.side !== 'ws') {
    return cases.map((c) => pending(c, 'examples/demo-server.ts not built yet'));
  }
  const rounds = settings.quick ? 2 : 3;
  const warmMs = settings.quick ? 300 : 500;
  const measureMs = settings.quick ? 1_000 : 3_000;
  const kinds: Kind[] = settings.side === 'both' ? ['ours', 'ws'] : [settings.side];

  const servers: ServerHandle[] = [];
  try {
    for (const kind of kinds) servers.push(await spawnServer(kind, { demo: true }));
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    return cases.map((c) => pending(c, `server failed to start: ${(err as Error).message}`, 'error'));
  }

  const rows: Row[] = [];
  try {
    for (const c of cases) {
      process.stderr.write(`  ${titleFor(c, settings)} ...`);
      const rates: Record<Kind, number[]> = { ours: [], ws: [] };
      const cpu: Record<Kind, number[]> = { ours: [], ws: [] };
      let row: Row;
      let cpuRow: Row | undefined;
      try {
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? servers : [...servers].reverse();
          for (const server of order) {
            const measured = await load(server, c, warmMs, measureMs, settings.echoClient === 'batched');
            rates[server.kind as Kind].push(measured.rate);
            cpu[server.kind as Kind].push(measured.cpuPerEcho);
          }
        }
        const cpuFigure = (values: number[]): Row['ours'] => values.length === 0 ? undefined : { value: median(values), unit: 'µs CPU/echo' };
        // Less CPU is better: ws/ours keeps "higher is better".
        const cpuRatios = cpu.ws.length === 0 ? [] : cpu.ours.map((v, i) => cpu.ws[i] / v);
        cpuRow = {
          group: 'echo',
          title: `  server CPU per echo, ${sizeName(c.size)} x ${c.clients}`,
          ours: cpuFigure(cpu.ours),
          ws: cpuFigure(cpu.ws),
          ratio: cpuRatios.length > 0 ? median(cpuRatios) : undefined,
          status: 'info',
          samples: { ours: cpu.ours, ws: cpu.ws, ratios: cpuRatios },
          note: c.size === CASES[0].size ? 'server CPU time per echo (user + system), ratio ws/ours: higher means our server works less per message' : undefined,
        };
        const figure = (values: number[]): Row['ours'] => values.length === 0 ? undefined : {
          value: median(values),
          unit: 'msg/s',
          secondary: { value: (median(values) * c.size) / 1e6, unit: 'MB/s' },
        };
        // Round i of ours ran right before or after round i of ws.
        const ratios = rates.ws.length === 0 ? [] : rates.ours.map((r, i) => r / rates.ws[i]);
        const ratio = ratios.length > 0 ? median(ratios) : undefined;
        row = {
          group: 'echo',
          title: titleFor(c, settings),
          ours: figure(rates.ours),
          ws: figure(rates.ws),
          ratio,
          target: c.target,
          status: statusFor(ratio, c.target),
          samples: { ours: rates.ours, ws: rates.ws, ratios },
        };
      } catch (err) {
        row = pending(c, (err as Error).message, 'error');
      }
      process.stderr.write(` ${row.ratio === undefined ? row.status : `${row.ratio.toFixed(2)}x`}\n`);
      rows.push(row);
      if (cpuRow !== undefined) rows.push(cpuRow);
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
  return rows;
}

if (require.main === module) standalone(benchEcho);
