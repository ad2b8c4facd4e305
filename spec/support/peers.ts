/**
 * Test peers on loopback: a standalone server of ours, and a raw TCP client that performs the
 * upgrade by hand and then reads and writes frames exactly as the test dictates.
 */
import * as net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { FrameDecoder } from '../../lib/frame/decoder';
import { encodeFrame } from '../../lib/frame/serializer';
import type { Frame, FrameInput } from '../../lib/frame/frame';
import { WebSocketServer, type WebSocketServerOptions } from '../../lib/server';
import type { WebSocket } from '../../lib/connection/websocket';

/** A standalone server on an ephemeral loopback port. */
export async function listen(options: Omit<WebSocketServerOptions, 'port'> = {}): Promise<{ wss: WebSocketServer; port: number; url: string }> {
  const wss = new WebSocketServer({ ...options, port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const { port } = wss.address() as AddressInfo;
  return { wss, port, url: `ws://127.0.0.1:${port}/` };
}

/** Resolves with the next server-side connection. */
export function nextConnection(wss: WebSocketServer): Promise<WebSocket> {
  return new Promise((resolve) => { wss.once('connection', (ws: WebSocket) => { resolve(ws); }); });
}

/** Resolves with the 'close' event's (code, reason), or rejects after `ms`. */
export function closed(ws: WebSocket, ms = 5000): Promise<{ code: number; reason: string }> {
  return withTimeout(new Promise((resolve) => {
    ws.once('close', (code: number, reason: string) => { resolve({ code, reason }); });
  }), ms, 'close event');
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`timed out waiting for ${what}`)); }, ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
  });
}

export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** The request head of a valid upgrade. */
export function upgradeRequest(path = '/', extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/**
 * A raw client: sends `bytes` right after the upgrade request (in the same write when `head` is
 * given), collects the response head, then decodes whatever frames the server sends.
 */
export class RawClient {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  response = '';
  ended = false;
  private readonly decoder = new FrameDecoder({ role: 'client' });
  private headDone = false;
  private pending = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => { this.onData(chunk); });
    socket.on('end', () => { this.ended = true; this.wake(); });
    socket.on('close', () => { this.ended = true; this.wake(); });
    socket.on('error', () => { /* resets are part of some tests */ });
    this.decoder.on('data', (frame: Frame) => { this.frames.push(frame); this.wake(); });
    this.decoder.on('error', () => { /* surfaced by assertions on frames */ });
  }

  static async connect(port: number, request = upgradeRequest(), head?: Buffer): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const client = new RawClient(socket);
    socket.write(head === undefined ? Buffer.from(request) : Buffer.concat([Buffer.from(request), head]));
    await client.until(() => client.headDone, 'response head');
    return client;
  }

  /** Sends a frame masked with a fixed key, as a client must. */
  send(frame: FrameInput, maskKey = 0x11223344): void {
    this.socket.write(encodeFrame(frame, maskKey));
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits until `predicate` holds (re-checked on every frame and on TCP close). */
  until(predicate: () => boolean, what: string, ms = 5000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => {
      const check = (): void => {
        if (predicate()) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    }), ms, what);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  private onData(chunk: Buffer): void {
    if (this.headDone) {
      this.decoder.write(chunk);
      return;
    }
    this.pending = Buffer.concat([this.pending, chunk]);
    const end = this.pending.indexOf('\r\n\r\n');
    if (end === -1) return;
    this.response = this.pending.subarray(0, end + 4).toString('latin1');
    this.headDone = true;
    const rest = this.pending.subarray(end + 4);
    this.pending = Buffer.alloc(0);
    this.wake();
    if (rest.length > 0) this.decoder.write(rest);
  }
}
