/**
 * Shared pieces of the interop and demo specs: waits that always end, payloads of exact byte
 * lengths, and a raw TCP WebSocket client for the cases a well-behaved library will not produce
 * (a reader that never reads, hand-written frames). The raw client is written from RFC 6455
 * directly, independent of lib/, so it checks our code rather than agreeing with it.
 */
import { randomBytes, createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** How long any single wait in these specs may take before the test fails. */
export const WAIT_MS = 20_000;

/** Resolves like `promise`, or rejects after `ms` saying what was awaited. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms waiting for ${what}`)); }, ms);
    // A wait abandoned by a failed test must not keep the process alive.
    timer.unref();
    promise.then(
      (value) => { clearTimeout(timer); resolve(value); },
      (err: unknown) => { clearTimeout(timer); reject(err); },
    );
  });
}

/** The arguments of the next `event` from `emitter`, with a time limit. */
export function next(emitter: EventEmitter, event: string, ms = WAIT_MS): Promise<unknown[]> {
  return within(new Promise<unknown[]>((resolve) => {
    emitter.once(event, (...args: unknown[]) => { resolve(args); });
  }), `'${event}'`, ms);
}

/** Polls `check` every 50 ms until it is true, failing after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => { setTimeout(resolve, 50); });
  }
}

/** A string of exactly `bytes` UTF-8 bytes with 1-, 2-, 3- and 4-byte characters throughout. */
export function textOfBytes(bytes: number): string {
  const pieces = ['a', 'é', '€', '𝄞', ' ', 'Z'];
  // Whole cycles at once (12 bytes each), then piece by piece: megabytes build quickly.
  const cycle = pieces.join('');
  const cycles = Math.floor(bytes / Buffer.byteLength(cycle));
  let out = cycle.repeat(cycles);
  let length = cycles * Buffer.byteLength(cycle);
  for (let i = 0; ; i++) {
    const piece = pieces[i % pieces.length];
    const size = Buffer.byteLength(piece);
    if (length + size > bytes) break;
    out += piece;
    length += size;
  }
  // Pad with ASCII to the exact length.
  return out + 'x'.repeat(bytes - length);
}

/** `bytes` bytes of a pattern that is not valid UTF-8, so a text/binary mix-up shows. */
export function binaryOfBytes(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 31 + 0x80) & 0xff;
  return out;
}

/** The boundary lengths of RFC 6455 §5.2: 7-bit, 16-bit and 64-bit length fields. */
export const BOUNDARY_LENGTHS = [0, 125, 126, 65535, 65536, 1024 * 1024] as const;

/** The repository root (where package.json is), wherever the compiled spec lives. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) || !fs.existsSync(path.join(dir, 'spec', 'interop'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no repository root above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

// --- A raw WebSocket client over a plain TCP socket --------------------------------------------

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A frame as a server sends it (never masked). */
export interface RawFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Incremental parser for unmasked frames, as many per chunk as there are, split anywhere. */
export class RawFrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns every frame completed by them. */
  push(chunk: Buffer): RawFrame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: RawFrame[] = [];
    for (;;) {
      const b = this.buffered;
      if (b.length < 2) break;
      if ((b[1] & 0x80) !== 0) throw new Error('a server frame arrived masked');
      let length = b[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) break;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) break;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) break;
      frames.push({ fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f, payload: b.subarray(offset, offset + length) });
      this.buffered = b.subarray(offset + length);
    }
    return frames;
  }
}

/** One masked client frame (RFC 6455 §5.2, §5.3). */
export function maskedFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const key = randomBytes(4);
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + 4);
  header[0] = (fin ? 0x80 : 0) | opcode;
  if (lengthBytes === 0) header[1] = 0x80 | length;
  else if (lengthBytes === 2) { header[1] = 0x80 | 126; header.writeUInt16BE(length, 2); }
  else { header[1] = 0x80 | 127; header.writeBigUInt64BE(BigInt(length), 2); }
  key.copy(header, 2 + lengthBytes);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] ^= key[i % 4];
  return Buffer.concat([header, masked]);
}

/** A close frame payload: 2-byte code then the UTF-8 reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

export interface RawConnection {
  socket: net.Socket;
  /** Bytes that arrived after the 101 response head. */
  rest: Buffer;
}

/**
 * Opens a TCP connection to 127.0.0.1:`port` and completes the opening handshake for `path` by
 * hand, checking the 101 status and Sec-WebSocket-Accept. The socket is returned paused, with no
 * data listener: nothing is read until the caller asks. `headers` are added to the request (an
 * extension offer, say).
 */
export function rawConnect(port: number, path: string, headers: Record<string, string> = {}): Promise<RawConnection> {
  return within(new Promise<RawConnection>((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const expected = createHash('sha1').update(key + GUID).digest('base64');
    const socket = net.connect({ port, host: '127.0.0.1' });
    let head: Buffer = Buffer.alloc(0);
    const fail = (err: Error): void => { socket.destroy(); reject(err); };
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`
        + Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('') + '\r\n');
    });
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.removeListener('data', onData);
      socket.removeListener('error', fail);
      socket.pause();
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const accept = lines.find((line) => /^sec-websocket-accept:/i.test(line))?.split(':')[1]?.trim();
      if (!/^HTTP\/1\.1 101 /.test(lines[0]) || accept !== expected) {
        fail(new Error(`handshake refused: ${lines.join(' | ')}`));
        return;
      }
      resolve({ socket, rest: head.subarray(end + 4) });
    };
    socket.on('data', onData);
  }), `a raw handshake to ${path}`);
}

/** Sends a raw HTTP request head and resolves to the status line of the answer. */
export function rawRequestStatus(port: number, request: string): Promise<string> {
  return within(new Promise<string>((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => { socket.write(request); });
    let head = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      head += chunk;
      const end = head.indexOf('\r\n');
      if (end !== -1) {
        socket.destroy();
        resolve(head.slice(0, end));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => { reject(new Error(`connection closed before a status line: ${JSON.stringify(head)}`)); });
  }), 'an HTTP status line');
}
