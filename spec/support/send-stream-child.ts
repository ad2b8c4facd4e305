/**
 * Run as a child process by the WebSocket spec: sends 1 GiB through `sendStream` from a client to
 * a server of ours over loopback (the server reads it as a streamed message and checks every
 * byte), sampling this process's RSS, and prints one JSON line with the result. Run with
 * --expose-gc and a small young generation, so the baseline and the samples measure the
 * transfer, not V8's semi-space sizing.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { connect, WebSocketServer, type WebSocket } from '../../lib/index';

const TOTAL = 1024 * 1024 * 1024;
const CHUNK = 64 * 1024;

/** Byte `i` of the message: a pattern the receiver checks without storing it. */
function byteAt(i: number): number {
  return (i * 7 + (i >>> 16)) & 0xff;
}

async function* source(): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < TOTAL; offset += CHUNK) {
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (let i = 0; i < CHUNK; i += 4096) chunk.fill(byteAt(offset + i), i, i + 4096);
    yield chunk;
  }
}

async function main(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', streamMessages: true, maxMessageSize: Infinity });
  await once(wss, 'listening');
  const received = new Promise<{ bytes: number; ok: boolean }>((resolve) => {
    wss.once('connection', (ws: WebSocket) => {
      ws.once('stream', (stream: Readable) => {
        let bytes = 0;
        let ok = true;
        stream.on('data', (part: Buffer) => {
          // Spot-check one byte per 4 KiB block (each block is filled with one value).
          for (let i = 0; i < part.length; i++) {
            const at = bytes + i;
            if ((at & 4095) === 0 && part[i] !== byteAt(at)) ok = false;
          }
          bytes += part.length;
        });
        stream.on('end', () => { resolve({ bytes, ok }); });
      });
    });
  });
  const ws = await connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
  gc?.();
  gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  await ws.sendStream(source(), true);
  const result = await received;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  ws.close();
  await wss.close();
  process.stdout.write(`${JSON.stringify({ ...result, peakGrowth: peak - base })}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
