/**
 * The demo behind `npm start`: GET / serves an echo test page, /echo echoes every message with
 * its type, /chat broadcasts every message to every connected client.
 *
 *   PORT=8080 HOST=127.0.0.1 npm start
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloseCode, ReadyState, type WebSocket, WebSocketServer } from '../lib/index';
import { DEMO_PAGE } from './demo-page';

export interface DemoOptions {
  port?: number;
  host?: string;
  /**
   * Bytes a chat client may have queued (sent to it, not yet taken by its socket) before it is
   * closed with 1008: one stuck reader never stalls or bloats the rest. Default 1 MiB.
   */
  chatQueueLimit?: number;
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
  close(): Promise<void>;
}

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

function chat(wss: WebSocketServer, queueLimit: number): (ws: WebSocket) => void {
  return (ws) => {
    ws.on('message', (data: string | Buffer, isBinary: boolean) => {
      const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      for (const client of wss.clients) {
        if (client.readyState !== ReadyState.OPEN) continue;
        // The queue bound counts the message about to join it, so it is never exceeded.
        if (client.bufferedAmount + size > queueLimit) {
          client.close(CloseCode.PolicyViolation, 'too slow: message queue overflowed');
          continue;
        }
        client.send(data, isBinary);
      }
    });
  };
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
  const chatServer = new WebSocketServer({ server, path: '/chat', maxMessageSize: 256 * 1024 });
  chatServer.on('connection', chat(chatServer, options.chatQueueLimit ?? 1024 * 1024));

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      server.removeListener('error', reject);
      const { port, address } = server.address() as AddressInfo;
      const host = address.includes(':') ? `[${address}]` : address;
      resolve({
        url: `http://${host}:${port}/`,
        port,
        server,
        echoServer,
        chatServer,
        close: async () => {
          await Promise.all([echoServer.close(), chatServer.close()]);
          await new Promise<void>((done) => { server.close(() => { done(); }); server.closeAllConnections(); });
        },
      });
    });
  });
}

if (require.main === module) {
  const port = Number(process.env.PORT ?? 8080);
  const host = process.env.HOST ?? '127.0.0.1';
  startDemoServer({ port, host }).then((demo) => {
    console.log(`wsframe demo listening on ${demo.url}  (echo: ${demo.url.replace('http', 'ws')}echo, chat: ${demo.url.replace('http', 'ws')}chat)`);
    const stop = (): void => { void demo.close().then(() => process.exit(0)); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }, (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
