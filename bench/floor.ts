/**
 * Echo CPU against a raw TCP floor: how much of a WebSocket server's CPU per echo is WebSocket at
 * all. Three servers, each in its own child (bench/servers.ts): ours, ws, and the floor, a raw
 * echo behind a canned 101 that makes the same syscalls and copies with no framing, unmasking or
 * message layer. The figure is the server's CPU time (user + system, read inside the server
 * process with process.cpuUsage) per echo, at 64 B, 16 KiB and 1 MiB.
 *
 * A WebSocket client cannot talk to a server that echoes its masked frames back, so the load is
 * raw TCP for all three: each client does a real opening handshake, then keeps a window of
 * pre-built masked client frames in flight and counts echoed bytes. A WebSocket server echoes an
 * unmasked frame (4 bytes shorter); the floor echoes the masked frame as it is; each echo is
 * counted against its kind's echo length, and the first echo of every connection is compared
 * byte for byte. As in bench/echo.ts, a client answers all the echoes of one read with one
 * corked write, so the load stays cheap per message.
 *
 * Rows per size: CPU per echo for ours and ws, with ws/ours (higher is better: ours no more than
 * ws is the target), then each over the floor (ours/floor and ws/floor; about 1.1x the floor is
 * the aim). Kinds alternate in each round with fresh connections; figures are medians of the
 * rounds, ratios medians of the per-round ratios.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { KiB, median, MiB, Prng, type Row, selected, type Settings, sizeName, sleep, standalone, statusFor, wireFrame } from './harness';
import { type ServerHandle, type ServerKind, spawnServer } from './servers';

interface FloorCase { size: number; clients: number; window: number }

/** The same sizes, clients and windows as the echo rows. */
const CASES: readonly FloorCase[] = [
  { size: 64, clients: 32, window: 16 },
  { size: 16 * KiB, clients: 8, window: 16 },
  { size: 1 * MiB, clients: 2, window: 2 },
];

const CONNECT_TIMEOUT_MS = 10_000;
const DRAIN_TIMEOUT_MS = 2_000;
/** Aim: each WebSocket server at most this many times the floor's CPU per echo. */
const FLOOR_AIM = 1.1;

/** A raw TCP connection through a real RFC 6455 §4.1 opening handshake; resolves at the 101. */
export async function rawConnect(port: number): Promise<Socket> {
  const socket = netConnect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const timer = setTimeout(() => { socket.destroy(new Error('handshake timed out')); }, CONNECT_TIMEOUT_MS);
  try {
    await once(socket, 'connect');
    const key = randomBytes(16).toString('base64');
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    let head = Buffer.alloc(0);
    for (;;) {
      const [chunk] = await once(socket, 'data') as [Buffer];
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) continue;
      socket.pause();
      if (!head.subarray(0, 12).equals(Buffer.from('HTTP/1.1 101'))) throw new Error(`no 101: ${head.subarray(0, 40).toString()}`);
      // Nothing follows the 101 before the client speaks; if something did, it goes back.
      if (end + 4 < head.length) socket.unshift(head.subarray(end + 4));
      return socket;
    }
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** What one measurement gives: the server's CPU µs per echo, and the echoes counted. */
interface Measured { cpuPerEcho: number; echoes: number }

/** One measurement: fresh connections, warm-up, echoes and server CPU counted for `measureMs`. */
async function load(server: ServerHandle, c: FloorCase, warmMs: number, measureMs: number): Promise<Measured> {
  const prng = new Prng(0xf100 + c.size);
  const payload = prng.bytes(c.size);
  // Built once: every send writes the same bytes (the servers unmask their own copy).
  const frame = wireFrame(payload, prng.maskKey());
  // The floor echoes the frame as it is; a WebSocket server sends it back unmasked.
  const expected = server.kind === 'floor' ? frame : wireFrame(payload, undefined);
  const sockets = await Promise.all(Array.from({ length: c.clients }, () => rawConnect(server.port)));
  let running = true;
  let counting = false;
  let counted = 0;
  let inFlight = 0;
  let failure: Error | undefined;
  for (const socket of sockets) {
    let partial = 0;
    let owed = 0;
    // The first echo, checked byte for byte.
    let first: Buffer | undefined = Buffer.alloc(0);
    const flush = (): void => {
      const count = owed;
      owed = 0;
      if (!running) return;
      socket.cork();
      for (let i = 0; i < count; i++) socket.write(frame);
      socket.uncork();
      inFlight += count;
    };
    socket.on('data', (chunk: Buffer) => {
      if (first !== undefined) {
        first = Buffer.concat([first, chunk.subarray(0, expected.length - first.length)]);
        if (first.length === expected.length) {
          if (!first.equals(expected)) failure ??= new Error(`${server.kind}: the echo differs from the expected frame`);
          first = undefined;
        }
      }
      partial += chunk.length;
      let echoes = 0;
      while (partial >= expected.length) {
        partial -= expected.length;
        echoes++;
      }
      if (echoes === 0) return;
      inFlight -= echoes;
      if (counting) counted += echoes;
      if (owed === 0) setImmediate(flush);
      owed += echoes;
    });
    socket.on('error', (err) => { failure ??= err; });
    socket.resume();
    socket.cork();
    for (let i = 0; i < c.window; i++) socket.write(frame);
    socket.uncork();
    inFlight += c.window;
  }
  try {
    await sleep(warmMs);
    const cpuBefore = await server.request('cpu');
    counting = true;
    await sleep(measureMs);
    const received = counted;
    const cpuAfter = await server.request('cpu');
    counting = false;
    running = false;
    if (failure !== undefined) throw failure;
    if (received === 0) throw new Error(`${server.kind}: no echo came back`);
    return { cpuPerEcho: (cpuAfter - cpuBefore) / received, echoes: received };
  } finally {
    running = false;
    // Let the echoes in flight arrive, so the servers see a clean end rather than a reset.
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (inFlight > 0 && Date.now() < deadline) await sleep(5);
    for (const socket of sockets) socket.end();
    await sleep(20);
    for (const socket of sockets) socket.destroy();
  }
}

function titleFor(c: FloorCase): string {
  return `echo CPU vs raw TCP floor, ${sizeName(c.size)} x ${c.clients} clients (window ${c.window})`;
}

function overTitle(c: FloorCase): string {
  return `  CPU over the floor, ${sizeName(c.size)}`;
}

export async function benchFloor(settings: Settings): Promise<Row[]> {
  const cases = CASES.filter((c) => selected(settings, titleFor(c)) || selected(settings, overTitle(c)));
  if (cases.length === 0) return [];
  // Many short rounds rather than a few long ones: the load on a shared machine swings within
  // seconds, and the ratios pair rounds that ran next to each other.
  const rounds = settings.quick ? 2 : 4;
  const warmMs = 200;
  const measureMs = settings.quick ? 700 : 1_000;
  const sides: Array<'ours' | 'ws'> = settings.side === 'both' ? ['ours', 'ws'] : [settings.side];
  const kinds: ServerKind[] = [...sides, 'floor'];
  const servers: ServerHandle[] = [];
  try {
    for (const kind of kinds) servers.push(await spawnServer(kind));
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop()));
    return cases.map((c) => ({ group: 'floor', title: titleFor(c), status: 'error', note: `server failed to start: ${(err as Error).message}` }));
  }
  const rows: Row[] = [];
  try {
    for (const c of cases) {
      process.stderr.write(`  ${titleFor(c)} ...`);
      const cpu: Record<ServerKind, number[]> = { ours: [], ws: [], floor: [] };
      try {
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? servers : [...servers].reverse();
          for (const server of order) cpu[server.kind].push((await load(server, c, warmMs, measureMs)).cpuPerEcho);
        }
      } catch (err) {
        process.stderr.write(' error\n');
        rows.push({ group: 'floor', title: titleFor(c), status: 'error', note: (err as Error).message });
        continue;
      }
      const paired = (a: number[], b: number[]): number[] => (a.length === 0 || b.length === 0 ? [] : a.map((v, i) => v / b[i]));
      const medianOf = (values: number[]): number | undefined => (values.length === 0 ? undefined : median(values));
      const figure = (values: number[], unit: string): Row['ours'] => values.length === 0 ? undefined : { value: median(values), unit };
      // Less CPU is better: ws/ours keeps "higher is better".
      const wsOverOurs = paired(cpu.ws, cpu.ours);
      const ratio = medianOf(wsOverOurs);
      const oursOverFloor = paired(cpu.ours, cpu.floor);
      const wsOverFloor = paired(cpu.ws, cpu.floor);
      rows.push({
        group: 'floor',
        title: titleFor(c),
        ours: figure(cpu.ours, 'µs CPU/echo'),
        ws: figure(cpu.ws, 'µs CPU/echo'),
        ratio,
        target: 1,
        targetText: 'ours <= ws (ws/ours >= 1.0)',
        status: statusFor(ratio, 1),
        note: `floor (raw TCP echo) ${median(cpu.floor).toPrecision(3)} µs CPU/echo; server CPU time per echo (user + system, threadpool included), raw TCP load`,
        samples: { ours: cpu.ours, ws: cpu.ws, ratios: wsOverOurs },
      });
      const over = medianOf(oursOverFloor);
      rows.push({
        group: 'floor',
        title: overTitle(c),
        ours: figure(oursOverFloor, 'x floor'),
        ws: figure(wsOverFloor, 'x floor'),
        targetText: `aim ~${FLOOR_AIM}x`,
        status: 'info',
        note: `server CPU per echo over the raw TCP floor's, median of per-round ratios${over === undefined ? '' : `; ours ${over <= FLOOR_AIM ? 'meets' : 'is above'} the ${FLOOR_AIM}x aim`}`,
        samples: { ours: oursOverFloor, ws: wsOverFloor, ratios: [] },
      });
      process.stderr.write(` ${ratio === undefined ? '—' : `${ratio.toFixed(2)}x`}\n`);
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
  return rows;
}

if (require.main === module) standalone(benchFloor);
