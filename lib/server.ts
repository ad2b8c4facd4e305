/**
 * Accepts WebSocket upgrades from node:http and node:https servers (attached, with path routing)
 * or from a standalone server of its own. The handshake rules live in handshake.ts; this module is
 * only the glue between Node's 'upgrade' event and a {@link WebSocket}.
 */
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import type * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { CloseCode, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HEADER_SIZE } from './constants';
import { WebSocketProtocolError, WebSocketUsageError } from './errors';
import { type ByteStream, type ConnectionOptions, deflateOptionsOf, WebSocket } from './connection';
import { negotiateDeflate, PerMessageDeflate } from './deflate';
import {
  acceptResponse, checkOrigin, rejectionFor, rejectResponse, selectSubprotocol, validateUpgradeRequest,
} from './handshake';

/** What a verifyClient hook sees. */
export interface VerifyInfo {
  req: http.IncomingMessage;
  origin: string | undefined;
  /** True over TLS. */
  secure: boolean;
  /** Subprotocols the client offered. */
  protocols: readonly string[];
}

/** true accepts; false refuses with 403; an object refuses with its own status. */
export type VerifyResult = boolean | { status: number; message?: string; headers?: Record<string, string> };

export interface WebSocketServerOptions extends ConnectionOptions {
  /** Attach to this http/https server instead of creating one. */
  server?: http.Server | https.Server;
  /** Standalone mode: listen on this port (0 picks a free one). */
  port?: number;
  /** Standalone mode: address to bind. Default '127.0.0.1'. */
  host?: string;
  /** Only upgrades to this path (or one of these) are handled. Default: every path. */
  path?: string | readonly string[];
  /**
   * Subprotocols this application speaks, in order of preference, or a function choosing one of
   * the offered ones. A protocol the application does not speak is never agreed to.
   */
  protocols?: readonly string[] | ((offered: readonly string[]) => string | undefined);
  /** Browser origins allowed to connect (exact match); others get 403. Default: any origin. */
  allowedOrigins?: readonly string[];
  /** Last say on each upgrade, e.g. for authentication. May be async. */
  verifyClient?: (info: VerifyInfo) => VerifyResult | Promise<VerifyResult>;
  /**
   * Milliseconds allowed for the handshake: the request head in standalone mode (a client
   * dribbling its headers is cut off) and the verifyClient hook. Default 10000.
   */
  handshakeTimeout?: number;
  /** Standalone mode: largest request head in bytes (431 above it). Default 16 KiB. */
  maxHeaderSize?: number;
  /** Extra headers for the 101 response. */
  headers?: Record<string, string>;
}

const kRoutes = Symbol('wsframe.routes');

interface RoutedServer {
  [kRoutes]?: { servers: Set<WebSocketServer>; listener: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void };
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

/**
 * Accepts WebSocket connections. Events: `'connection'` (ws: WebSocket, req), `'listening'`
 * (standalone), `'rejected'` (error, req) for refused handshakes, `'error'`.
 */
export class WebSocketServer extends EventEmitter {
  /** Open connections. */
  readonly clients = new Set<WebSocket>();
  private readonly options: WebSocketServerOptions;
  private readonly paths: readonly string[] | undefined;
  private readonly httpServer: http.Server | https.Server;
  private readonly standalone: boolean;
  private closed = false;

  /** @throws {WebSocketUsageError} when neither `server` nor `port` is given. */
  constructor(options: WebSocketServerOptions) {
    super();
    this.options = options;
    this.paths = options.path === undefined ? undefined : typeof options.path === 'string' ? [options.path] : options.path;
    if (options.server !== undefined) {
      this.httpServer = options.server;
      this.standalone = false;
    } else if (options.port !== undefined) {
      const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
      this.httpServer = http.createServer({
        maxHeaderSize: options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
        headersTimeout: timeout,
        requestTimeout: timeout,
        // Check the timeouts often, so a client dribbling its handshake is cut off on time.
        connectionsCheckingInterval: Math.min(1000, timeout),
      }, (_req, res) => {
        // Plain HTTP to a WebSocket-only server: RFC 6455 §4.2.2 suggests 426.
        res.writeHead(426, { 'Content-Type': 'text/plain', 'Sec-WebSocket-Version': '13', Connection: 'close' });
        res.end('WebSocket endpoint: upgrade required\n');
      });
      this.standalone = true;
      this.httpServer.on('error', (err) => { this.emit('error', err); });
      this.httpServer.listen(options.port, options.host ?? '127.0.0.1', () => { this.emit('listening'); });
    } else {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'give either server or port');
    }
    this.attach();
  }

  /** The bound address (standalone mode, once listening). */
  address(): ReturnType<http.Server['address']> {
    return this.httpServer.address();
  }

  /** Whether this server handles upgrades to `url`. */
  handles(url: string | undefined): boolean {
    return this.paths === undefined || this.paths.includes(pathOf(url));
  }

  /**
   * Completes (or refuses) the opening handshake for one upgrade request and, on success, emits
   * `'connection'`. Call it yourself from a custom 'upgrade' listener if you route requests your
   * own way. Resolves to the connection, or undefined when refused.
   */
  async handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<WebSocket | undefined> {
    // A reset during the handshake must not crash the process.
    const onError = (): void => { socket.destroy(); };
    socket.on('error', onError);
    try {
      if (this.closed) throw new WebSocketProtocolError('WS_ERR_HANDSHAKE_UNAVAILABLE');
      const upgrade = validateUpgradeRequest(req);
      const { allowedOrigins, verifyClient } = this.options;
      if (allowedOrigins !== undefined && !checkOrigin(upgrade.origin, allowedOrigins)) {
        throw new WebSocketProtocolError('WS_ERR_HANDSHAKE_FORBIDDEN', `origin ${String(upgrade.origin)}`);
      }
      if (verifyClient !== undefined) {
        const verdict = await this.withTimeout(verifyClient({
          req, origin: upgrade.origin, secure: 'encrypted' in socket && socket.encrypted === true, protocols: upgrade.protocols,
        }));
        if (verdict !== true) {
          this.refuse(socket, req, typeof verdict === 'object' ? verdict : { status: 403 });
          return undefined;
        }
      }
      if (socket.destroyed) return undefined;
      const supported = this.options.protocols;
      const protocol = supported === undefined ? undefined : selectSubprotocol(upgrade.protocols, supported);
      // RFC 7692 §7.1: the first acceptable offer, or none (the connection runs uncompressed).
      const deflateOptions = deflateOptionsOf(this.options);
      const deflate = deflateOptions === undefined ? undefined : negotiateDeflate(upgrade.extensions, deflateOptions);
      socket.write(acceptResponse(upgrade.key, { protocol, extensions: deflate?.response, headers: this.options.headers }));
      socket.removeListener('error', onError);
      const ws = new WebSocket('server', this.options);
      ws.attach(socket as ByteStream, head, {
        protocol,
        extensions: deflate?.response,
        deflate: deflate === undefined ? undefined : new PerMessageDeflate(deflate.params, 'server', deflateOptions),
      });
      this.clients.add(ws);
      ws.once('close', () => { this.clients.delete(ws); });
      this.emit('connection', ws, req);
      return ws;
    } catch (err) {
      if (!socket.destroyed) socket.end(rejectionFor(err));
      this.emit('rejected', err, req);
      return undefined;
    }
  }

  /**
   * Stops accepting upgrades and closes every connection with `code` (default 1001 "going away").
   * A standalone server also stops listening. Resolves once all connections are closed.
   */
  async close(code: number = CloseCode.GoingAway, reason = ''): Promise<void> {
    this.closed = true;
    const routes = (this.httpServer as RoutedServer)[kRoutes];
    routes?.servers.delete(this);
    if (routes !== undefined && routes.servers.size === 0) {
      this.httpServer.removeListener('upgrade', routes.listener);
      delete (this.httpServer as RoutedServer)[kRoutes];
    }
    const pending = [...this.clients].map((ws) => new Promise<void>((resolve) => {
      ws.once('close', () => { resolve(); });
      ws.close(code, reason);
    }));
    if (this.standalone) {
      pending.push(new Promise<void>((resolve) => { this.httpServer.close(() => { resolve(); }); }));
    }
    await Promise.all(pending);
  }

  /** Registers this server with the one upgrade dispatcher of its http server. */
  private attach(): void {
    const target = this.httpServer as RoutedServer;
    let routes = target[kRoutes];
    if (routes === undefined) {
      const servers = new Set<WebSocketServer>();
      const listener = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
        for (const wss of servers) {
          if (wss.handles(req.url)) {
            void wss.handleUpgrade(req, socket, head);
            return;
          }
        }
        // Nobody here serves this path. If the application has its own 'upgrade' listener, the
        // request is theirs; otherwise answer rather than leave the socket hanging.
        if (this.httpServer.listenerCount('upgrade') === 1) {
          socket.on('error', () => { socket.destroy(); });
          socket.end(rejectResponse(404, { message: 'no WebSocket endpoint at this path' }));
        }
      };
      routes = { servers, listener };
      target[kRoutes] = routes;
      this.httpServer.on('upgrade', listener);
    }
    routes.servers.add(this);
  }

  private refuse(socket: Duplex, req: http.IncomingMessage, verdict: { status: number; message?: string; headers?: Record<string, string> }): void {
    if (!socket.destroyed) socket.end(rejectResponse(verdict.status, { message: verdict.message, headers: verdict.headers }));
    this.emit('rejected', new WebSocketProtocolError('WS_ERR_HANDSHAKE_FORBIDDEN', `status ${verdict.status}`), req);
  }

  private withTimeout<T>(value: T | Promise<T>): Promise<T> {
    const timeout = this.options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new WebSocketProtocolError('WS_ERR_HANDSHAKE_TIMEOUT')); }, timeout);
      Promise.resolve(value).then(
        (result) => { clearTimeout(timer); resolve(result); },
        (err: unknown) => { clearTimeout(timer); reject(err); },
      );
    });
  }
}
