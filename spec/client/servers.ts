/**
 * Peers for the client specs, all on loopback or on a unix socket in a temp folder: an echo
 * server of ours that records every upgrade request and can answer chosen paths with a raw
 * response, an HTTP CONNECT proxy, a test certificate, and small promise helpers.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer, type WebSocketServerOptions } from '../../lib/index';
import { closed, withTimeout } from '../support/peers';

/** One upgrade request as the server saw it. */
export interface SeenRequest {
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface EchoServer {
  /** `ws://127.0.0.1:PORT` (or `wss://`), no trailing slash; undefined on a unix socket. */
  readonly origin: string;
  readonly port: number;
  /** Every upgrade request, in arrival order, whatever its path. */
  readonly seen: SeenRequest[];
  /**
   * Answers upgrades to exactly `url` (path and query) with these raw bytes, then closes; or
   * hands the socket to a function that answers however it likes.
   */
  answer(url: string, response: string | ((socket: Duplex, req: http.IncomingMessage) => void)): void;
  close(): Promise<void>;
}

export interface EchoServerOptions {
  /** Listen on this unix socket instead of a loopback port. */
  socketPath?: string;
  /** Serve TLS with this key and certificate. */
  tls?: { key: Buffer; cert: Buffer };
  /** Our WebSocketServer's options; `path` defaults to '/ws'. */
  wss?: Omit<WebSocketServerOptions, 'server'>;
}

/** An http(s) server with our WebSocketServer echoing every message at '/ws'. */
export async function startEchoServer(options: EchoServerOptions = {}): Promise<EchoServer> {
  const server: http.Server = options.tls === undefined ? http.createServer() : https.createServer(options.tls);
  const sockets = new Set<Duplex>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => { sockets.delete(socket); });
  });
  const wss = new WebSocketServer({ path: '/ws', ...options.wss, server });
  wss.on('connection', (ws: WebSocket) => { ws.on('message', (data, isBinary) => ws.send(data, isBinary)); });
  const seen: SeenRequest[] = [];
  const answers = new Map<string, string | ((socket: Duplex, req: http.IncomingMessage) => void)>();
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const answer = answers.get(req.url ?? '');
    if (answer === undefined) return;
    socket.on('error', () => { socket.destroy(); });
    if (typeof answer === 'string') socket.end(answer);
    else answer(socket, req);
  });
  if (options.socketPath === undefined) server.listen(0, '127.0.0.1');
  else server.listen(options.socketPath);
  await once(server, 'listening');
  const port = options.socketPath === undefined ? (server.address() as AddressInfo).port : 0;
  return {
    origin: `${options.tls === undefined ? 'ws' : 'wss'}://127.0.0.1:${String(port)}`,
    port,
    seen,
    answer: (url, response) => { answers.set(url, response); },
    close: async () => {
      await wss.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
    },
  };
}

/** A raw redirect answer. */
export function redirect(status: number, location: string): string {
  return `HTTP/1.1 ${String(status)} ${http.STATUS_CODES[status] ?? ''}\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
}

/** Sends `text`, resolves with the echo, then closes the connection cleanly. */
export async function echoOnce(ws: WebSocket, text: string): Promise<string | Buffer> {
  const echoed = withTimeout(once(ws, 'message'), 5000, 'echo');
  ws.send(text);
  const [data] = await echoed as [string | Buffer];
  ws.close(1000);
  await closed(ws);
  return data;
}

export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** An HTTP CONNECT proxy on loopback that tunnels to loopback targets only. */
export interface Proxy {
  readonly url: string;
  readonly port: number;
  /** The authority of every CONNECT request, in order. */
  readonly tunnels: string[];
  close(): Promise<void>;
}

export async function startProxy(): Promise<Proxy> {
  const server = http.createServer((_req, res) => { res.writeHead(405).end(); });
  const sockets = new Set<Duplex>();
  const tunnels: string[] = [];
  const track = (socket: Duplex): void => {
    sockets.add(socket);
    socket.on('error', () => { socket.destroy(); });
    socket.once('close', () => { sockets.delete(socket); });
  };
  server.on('connection', track);
  server.on('connect', (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const target = new URL(`http://${req.url ?? ''}`);
    if (target.hostname !== '127.0.0.1' && target.hostname !== 'localhost') {
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(target.port), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
    upstream.once('close', () => { client.destroy(); });
    client.once('close', () => { upstream.destroy(); });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    port,
    tunnels,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
    },
  };
}

/** A fresh temp folder, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => { fs.rmSync(dir, { recursive: true, force: true }); } };
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl. */
export function testCertificate(): { key: Buffer; cert: Buffer } {
  const { dir, remove } = tempDir('wsframe-tls-');
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile,
        '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    } catch {
      throw new Error('openssl is needed to make a test certificate (apt-get install openssl)');
    }
    return { key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) };
  } finally {
    remove();
  }
}
