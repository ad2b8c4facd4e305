/**
 * The demo behind `npm start`: GET / serves an echo test page, /echo echoes every message with
 * its type, /chat publishes every message to every chat client (a topic), across processes when
 * they share a Redis.
 *
 *   PORT=8080 HOST=127.0.0.1 npm start
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=8081 npm start     several processes, one chat room
 *   REDIS_URL=redis://127.0.0.1:6379 WORKERS=4 npm start     one process per worker on one port (examples/cluster.ts)
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalBroker, type WebSocket, WebSocketServer } from '../lib/index';
import type { RedisBroker } from '../lib/pubsub/redis';
import { DEMO_PAGE } from './demo-page';

export interface DemoOptions {
  port?: number;
  host?: string;
  /**
   * Bytes of memory a chat client may have queued (published to it, not yet written to it)
   * before it is closed with 1008: one stuck reader never stalls or bloats the rest. Default 1 MiB
   * (the server's `maxSubscriberBuffer`).
   */
  chatQueueLimit?: number;
  /**
   * Share /chat with every other demo process on this Redis (`RedisBroker`, which needs the
   * `redis` package). Default: none, the chat is this process's alone.
   */
  redisUrl?: string;
  /** Accept permessage-deflate on /echo. Default true. */
  perMessageDeflate?: boolean;
}

export interface DemoServer {
  url: string;
  port: number;
  server: http.Server;
  /** The WebSocket endpoints, e.g. to watch their connections. */
  echoServer: WebSocketServer;
  chatServer: WebSocketServer;
  /** What carries /chat to other processes: a RedisBroker with `redisUrl`, else a LocalBroker. */
  chatBroker: LocalBroker | RedisBroker;
  close(): Promise<void>;
}

/** The topic every /chat connection subscribes to. */
export const CHAT_TOPIC = 'chat';

/**
 * Echoes a client's messages are allowed to queue up before we stop reading from it: a client
 * that does not read its echoes then feels TCP backpressure instead of growing our memory. Well
 * above the socket's 16 KiB high-water mark, so a normal client never pauses for one large echo.
 */
const ECHO_QUEUE_LIMIT = 1024 * 1024;

/** Echo with backpressure: stop reading from a client that does not read its echoes. */
function echo(ws: WebSocket): void {
  let paused = false;
  ws.on('message', (data: string | Buffer, isBinary: boolean) => {
    ws.send(data, isBinary);
    if (!paused && ws.bufferedAmount > ECHO_QUEUE_LIMIT) {
      paused = true;
      ws.pause();
      ws.once('drain', () => {
        paused = false;
        ws.resume();
      });
    }
  });
}

/** Chat: every connection subscribes to the room's topic; every message is published to it. */
function chat(wss: WebSocketServer): (ws: WebSocket) => void {
  return (ws) => {
    ws.subscribe(CHAT_TOPIC);
    ws.on('message', (data: string | Buffer, isBinary: boolean) => { wss.publish(CHAT_TOPIC, data, isBinary); });
  };
}

/**
 * The broker for /chat. `wsframe/redis` is loaded only when asked for, so the demo runs without
 * the `redis` package installed.
 */
function chatBroker(redisUrl: string | undefined): LocalBroker | RedisBroker {
  if (redisUrl === undefined || redisUrl === '') return new LocalBroker();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { RedisBroker: Redis } = require('../lib/pubsub/redis') as typeof import('../lib/pubsub/redis');
  const broker = new Redis({ url: redisUrl });
  // Reported, never fatal: while Redis is down the chat carries on within this process.
  broker.on('status', (connected) => { console.error(`redis ${redisUrl}: ${connected ? 'connected' : 'disconnected'}`); });
  broker.on('error', () => { /* each failed reconnection attempt; 'status' says enough */ });
  return broker;
}

/** Starts the demo; resolves once it listens. */
export function startDemoServer(options: DemoOptions = {}): Promise<DemoServer> {
  const server = http.createServer({
    // Cut off clients that dribble their request head (slow-loris), and check often.
    headersTimeout: 10_000,
    requestTimeout: 30_000,
    connectionsCheckingInterval: 1_000,
  }, (req, res) => {
    if (req.method === 'GET' && (req.url === '/' || req.url === '/index.html')) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(DEMO_PAGE);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  });
  // Browsers offer permessage-deflate; the echo endpoint accepts it (RFC 7692), so the page's
  // traffic is compressed. Off by default in the library: see the README on compression.
  const echoServer = new WebSocketServer({ server, path: '/echo', perMessageDeflate: options.perMessageDeflate ?? true });
  echoServer.on('connection', echo);
  // Chat messages are small; a cap well under the queue limit keeps one message from filling it.
  // A client that stops reading is closed with 1008 once 1 MiB waits for it (slowSubscriber).
  const broker = chatBroker(options.redisUrl);
  const chatServer = new WebSocketServer({
    server, path: '/chat', maxMessageSize: 256 * 1024, broker, maxSubscriberBuffer: options.chatQueueLimit,
  });
  chatServer.on('connection', chat(chatServer));

  return new Promise((resolve, reject) => {
    const failed = (err: Error): void => {
      void broker.close();
      reject(err);
    };
    server.once('error', failed);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      server.removeListener('error', failed);
      const { port, address } = server.address() as AddressInfo;
      const host = address.includes(':') ? `[${address}]` : address;
      resolve({
        url: `http://${host}:${port}/`,
        port,
        server,
        echoServer,
        chatServer,
        chatBroker: broker,
        close: async () => {
          await Promise.all([echoServer.close(), chatServer.close()]);
          await new Promise<void>((done) => { server.close(() => { done(); }); server.closeAllConnections(); });
          await broker.close();
        },
      });
    });
  });
}

/** `npm start`: one demo process, or with WORKERS a cluster of them (examples/cluster.ts). */
function main(): void {
  const port = Number(process.env.PORT ?? 8080);
  const host = process.env.HOST ?? '127.0.0.1';
  const redisUrl = process.env.REDIS_URL;
  if (process.env.WORKERS !== undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('./cluster') as typeof import('./cluster')).runCluster({ port, host, redisUrl, workers: Number(process.env.WORKERS) });
    return;
  }
  startDemoServer({ port, host, redisUrl }).then((demo) => {
    const chatNote = redisUrl === undefined ? '' : ` (shared through ${redisUrl})`;
    console.log(`wsframe demo listening on ${demo.url}  (echo: ${demo.url.replace('http', 'ws')}echo, chat: ${demo.url.replace('http', 'ws')}chat${chatNote})`);
    const stop = (): void => { void demo.close().then(() => process.exit(0)); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }, (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

if (require.main === module) main();
