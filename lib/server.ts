/**
 * Accepts WebSocket upgrades from node:http and node:https servers (attached, with path routing),
 * from a standalone server of its own, or from the application's own 'upgrade' listener
 * (`noServer`). The handshake rules live in handshake/; this module is only the glue between
 * Node's 'upgrade' event and a {@link WebSocket}.
 */
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import type * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { CloseCode, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HEADER_SIZE, MAX_TIMER_DELAY } from './constants';
import { WebSocketProtocolError, WebSocketUsageError } from './errors';
import type { EventEmitMethod, EventListenerMethod } from './events';
import { type ByteStream, WebSocket } from './connection/websocket';
import { PerMessageDeflate } from './extensions/permessage-deflate';
import { checkHeader, FIELD_VALUE_PATTERN } from './handshake/headers';
import { negotiateDeflate } from './handshake/permessage-deflate';
import {
  acceptResponse, checkOrigin, rejectionFor, rejectResponse, selectSubprotocol, validateUpgradeRequest,
} from './handshake/server';
import { booleanOption, functionOption, numberOption, objectOption } from './options';
import { type Broker, LocalBroker } from './pubsub/broker';
import { type PubsubStats, type SlowSubscriberPolicy, Topics } from './pubsub/topics';
import { type ConnectionOptions, resolveConnectionOptions, type SessionConfig } from './session/config';

/** What a verifyClient hook sees. */
export interface VerifyInfo {
  req: http.IncomingMessage;
  origin: string | undefined;
  /** True over TLS. */
  secure: boolean;
  /** Subprotocols the client offered. */
  protocols: readonly string[];
}

/** ws's verifyClient callback: `result` true accepts; false refuses with `code` (default 401), `message` and `headers`. */
export type VerifyCallback = (result: boolean, code?: number, message?: string, headers?: Record<string, string>) => void;

/** true accepts; false refuses with 403; an object refuses with its own status. */
export type VerifyResult = boolean | { status: number; message?: string; headers?: Record<string, string> };

export interface WebSocketServerOptions extends ConnectionOptions {
  /** Attach to this http/https server instead of creating one. */
  server?: http.Server | https.Server;
  /** Standalone mode: listen on this port (0 picks a free one). */
  port?: number;
  /** Standalone mode: address to bind. Default '127.0.0.1'. */
  host?: string;
  /**
   * No http server at all: the application's own 'upgrade' listener calls
   * {@link WebSocketServer.handleUpgrade} (ws's option of the same name).
   */
  noServer?: boolean;
  /** Only upgrades to this path (or one of these) are handled. Default: every path. */
  path?: string | readonly string[];
  /**
   * Subprotocols this application speaks, in order of preference, or a function choosing one of
   * the offered ones. A protocol the application does not speak is never agreed to.
   */
  protocols?: readonly string[] | ((offered: readonly string[]) => string | undefined);
  /**
   * ws's hook: chooses a subprotocol from the offered ones, seeing the request. Returns the chosen
   * one, or false for none. An answer the client did not offer is not agreed to.
   */
  handleProtocols?: (protocols: Set<string>, request: http.IncomingMessage) => string | false | undefined;
  /** Browser origins allowed to connect (exact match); others get 403. Default: any origin. */
  allowedOrigins?: readonly string[];
  /**
   * Last say on each upgrade, e.g. for authentication: returns the verdict (or a Promise of it).
   * ws's two-argument form `(info, callback)` is accepted too: `callback(result, code?, message?,
   * headers?)`.
   */
  verifyClient?: (info: VerifyInfo, callback: VerifyCallback) => VerifyResult | Promise<VerifyResult> | void;
  /**
   * Milliseconds allowed for the handshake: the request head in standalone mode (a client
   * dribbling its headers is cut off) and the verifyClient hook. Default 10000.
   */
  handshakeTimeout?: number;
  /** Standalone mode: largest request head in bytes (431 above it). Default 16 KiB. */
  maxHeaderSize?: number;
  /**
   * Extra headers for the 101 response, or a function giving them per request. The `'headers'`
   * event (ws's) can also change the response's lines.
   */
  headers?: Record<string, string> | ((request: http.IncomingMessage) => Record<string, string> | undefined);
  /** Track open connections in {@link WebSocketServer.clients}. Default true. */
  clientTracking?: boolean;
  /**
   * Carries {@link WebSocketServer.publish} to the servers of other processes and theirs to this
   * one's subscribers, e.g. a `RedisBroker` from `wsframe/redis`. Default: a `LocalBroker` (this
   * process only). One broker serves one server; the server never closes it.
   */
  broker?: Broker;
  /**
   * Bytes of memory that may wait for one subscriber (queued, and held by its socket) before
   * published messages stop being queued for it. Default 1 MiB.
   */
  maxSubscriberBuffer?: number;
  /**
   * What happens to a subscriber past `maxSubscriberBuffer`: `'close'` (1008, the default),
   * `'drop'` (the message is skipped and counted), or your function, called instead of queuing
   * (what it throws is emitted as the server's `'error'`).
   */
  slowSubscriber?: SlowSubscriberPolicy<WebSocket>;
}

/** Events of a {@link WebSocketServer}, with their arguments. */
export interface WebSocketServerEvents {
  /** A connection opened (unless `handleUpgrade` was given a callback). */
  connection: [ws: WebSocket, request: http.IncomingMessage];
  /** Standalone mode: the server is listening. */
  listening: [];
  /**
   * The 101 response is about to be written: `headers` are its lines (status line first), which a
   * listener may change or add to (ws's event). Lines with CR or LF are refused.
   */
  headers: [headers: string[], request: http.IncomingMessage];
  /** A handshake was refused (with the HTTP status in `error.status`). */
  rejected: [error: Error, request: http.IncomingMessage];
  /**
   * The standalone http server failed, a `'connection'` listener threw (the connection is then
   * closed with 1011), or a `slowSubscriber` function threw. Without a listener, the error is
   * thrown, as Node's own servers do.
   */
  error: [error: Error];
  close: [];
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

/** Server options that are not connection options, checked once. */
interface ServerConfig {
  paths: readonly string[] | undefined;
  handshakeTimeout: number;
  maxHeaderSize: number;
  clientTracking: boolean;
}

function resolveServerOptions(options: WebSocketServerOptions): ServerConfig {
  const sources = [options.server !== undefined, options.port !== undefined, options.noServer === true].filter(Boolean).length;
  if (sources !== 1) {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'give exactly one of server, port or noServer: true');
  }
  booleanOption('noServer', options.noServer, false);
  if (options.port !== undefined) numberOption('port', options.port, 0, { integer: true, max: 65535 });
  if (options.host !== undefined && typeof options.host !== 'string') {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'host must be a string');
  }
  const path: unknown = options.path;
  const paths = path === undefined ? undefined : typeof path === 'string' ? [path] : path;
  if (paths !== undefined && (!Array.isArray(paths) || paths.some((p) => typeof p !== 'string'))) {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'path must be a string or an array of strings');
  }
  const protocols: unknown = options.protocols;
  if (protocols !== undefined && typeof protocols !== 'function' &&
    (!Array.isArray(protocols) || protocols.some((p) => typeof p !== 'string'))) {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'protocols must be an array of strings or a function');
  }
  functionOption('handleProtocols', options.handleProtocols);
  functionOption('verifyClient', options.verifyClient);
  const origins: unknown = options.allowedOrigins;
  if (origins !== undefined && (!Array.isArray(origins) || origins.some((o) => typeof o !== 'string'))) {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'allowedOrigins must be an array of strings');
  }
  if (typeof options.headers !== 'function') {
    const headers = objectOption<Record<string, unknown>>('headers', options.headers);
    // Checked now, as the 101 would check them: a bad header fails here, not at each handshake.
    for (const [name, value] of Object.entries(headers ?? {})) checkHeader(name, value);
  }
  return {
    paths,
    handshakeTimeout: numberOption('handshakeTimeout', options.handshakeTimeout, DEFAULT_HANDSHAKE_TIMEOUT, { min: 1, max: MAX_TIMER_DELAY, infinity: false }),
    maxHeaderSize: numberOption('maxHeaderSize', options.maxHeaderSize, DEFAULT_MAX_HEADER_SIZE, { integer: true, min: 1, infinity: false }),
    clientTracking: booleanOption('clientTracking', options.clientTracking, true),
  };
}

// Typed events over the inherited methods: declarations only, nothing changes at run time.
export interface WebSocketServer {
  on: EventListenerMethod<WebSocketServerEvents, this>;
  once: EventListenerMethod<WebSocketServerEvents, this>;
  off: EventListenerMethod<WebSocketServerEvents, this>;
  addListener: EventListenerMethod<WebSocketServerEvents, this>;
  removeListener: EventListenerMethod<WebSocketServerEvents, this>;
  prependListener: EventListenerMethod<WebSocketServerEvents, this>;
  prependOnceListener: EventListenerMethod<WebSocketServerEvents, this>;
  emit: EventEmitMethod<WebSocketServerEvents>;
}

/**
 * Accepts WebSocket connections. Events: see {@link WebSocketServerEvents}. Every option is
 * checked in the constructor (a `WebSocketUsageError` there), and every connection shares the
 * resolved settings.
 */
export class WebSocketServer extends EventEmitter {
  /** Open connections (empty with `clientTracking: false`). */
  readonly clients = new Set<WebSocket>();
  private readonly options: WebSocketServerOptions;
  private readonly server: ServerConfig;
  /** The connection settings every accepted connection shares. */
  private readonly config: SessionConfig;
  private readonly httpServer: http.Server | https.Server | undefined;
  private readonly standalone: boolean;
  private closed = false;
  /** Publish/subscribe among this server's connections (and, through the broker, other processes'). */
  private readonly topics: Topics<WebSocket>;
  private readonly broker: Broker;

  /** @throws {WebSocketUsageError} for any invalid option. */
  constructor(options: WebSocketServerOptions) {
    super();
    if (options === null || typeof options !== 'object') {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'options must be an object');
    }
    this.server = resolveServerOptions(options);
    this.config = resolveConnectionOptions(options, 'server');
    this.options = options;
    // Topics checks the broker.
    this.broker = options.broker ?? new LocalBroker();
    this.topics = new Topics<WebSocket>({
      broker: this.broker,
      fragmentSize: this.config.fragmentSize,
      maxSubscriberBuffer: options.maxSubscriberBuffer,
      slowSubscriber: options.slowSubscriber,
      onError: (error) => { this.emit('error', error); },
    });
    // Last: it throws when the broker already serves another server.
    this.broker.onMessage((topic, payload, isBinary) => { this.topics.deliver(topic, payload, isBinary); });
    if (options.server !== undefined) {
      this.httpServer = options.server;
      this.standalone = false;
    } else if (options.port !== undefined) {
      const timeout = this.server.handshakeTimeout;
      this.httpServer = http.createServer({
        maxHeaderSize: this.server.maxHeaderSize,
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
      this.httpServer = undefined;
      this.standalone = false;
    }
    if (this.httpServer !== undefined) this.attach(this.httpServer);
  }

  /** The bound address (standalone mode, once listening); null without an http server of its own. */
  address(): ReturnType<http.Server['address']> {
    return this.httpServer === undefined ? null : this.httpServer.address();
  }

  /**
   * Sends a message to every connection subscribed to `topic` (`ws.subscribe(topic)`) here, and
   * through the broker to the subscribers of every other process. The frame is serialized (and,
   * for subscribers that share a compression setting, compressed) once for all of them; only OPEN
   * connections get it, and a subscriber past `maxSubscriberBuffer` is handled by the
   * `slowSubscriber` policy instead. `isBinary` defaults to true for bytes, false for a string.
   * Returns the number of local subscribers it was queued for. Do not modify a Buffer after
   * publishing it: every queue shares it.
   *
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for a topic that is not a string,
   *   data that is not a string or bytes, or text given as bytes that are not valid UTF-8.
   */
  publish(topic: string, data: string | Buffer | Uint8Array, isBinary: boolean = typeof data !== 'string'): number {
    return this.topics.publish(topic, data, isBinary === true);
  }

  /** Local connections subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.topics.subscriberCount(topic);
  }

  /** Publish/subscribe counters since the server was created (see {@link PubsubStats}). */
  get pubsubStats(): PubsubStats {
    return this.topics.stats;
  }

  /** Whether this server handles upgrades to `url`. */
  handles(url: string | undefined): boolean {
    return this.server.paths === undefined || this.server.paths.includes(pathOf(url));
  }

  /**
   * Completes (or refuses) the opening handshake for one upgrade request. On success the
   * connection goes to `callback` when given (ws's signature: the application emits
   * `'connection'` itself if it wants), else to the `'connection'` event. Call it from your own
   * 'upgrade' listener (`noServer`), or let an attached server route requests here. Resolves to
   * the connection, or undefined when refused.
   *
   * Once the 101 is written, no HTTP byte ever follows on that socket: an exception thrown by the
   * `'connection'` listener or the callback closes the connection with 1011 and is emitted as the
   * server's `'error'` (thrown when nobody listens, as Node's servers do).
   */
  async handleUpgrade(
    req: http.IncomingMessage, socket: Duplex, head: Buffer,
    callback?: (ws: WebSocket, request: http.IncomingMessage) => void,
  ): Promise<WebSocket | undefined> {
    if (callback !== undefined && typeof callback !== 'function') {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'the callback must be a function');
    }
    const ws = await this.accept(req, socket, head);
    if (ws === undefined) return undefined;
    try {
      if (callback !== undefined) callback(ws, req);
      else this.emit('connection', ws, req);
    } catch (error) {
      // The application's own exception: never HTTP bytes into an open WebSocket, never swallowed.
      if (ws.readyState === WebSocket.OPEN) ws.close(CloseCode.InternalError);
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
    }
    return ws;
  }

  /**
   * Stops accepting upgrades and closes every connection with `code` (default 1001 "going away").
   * A standalone server also stops listening. Resolves once all connections are closed; ws's
   * callback form is accepted too.
   */
  async close(code: number | ((error?: Error) => void) = CloseCode.GoingAway, reason = ''): Promise<void> {
    const done = typeof code === 'function' ? code : undefined;
    const closeCode = typeof code === 'function' ? CloseCode.GoingAway : code;
    this.closed = true;
    // The broker stays the application's (it may serve a new server); it stops calling us.
    this.broker.onMessage(undefined);
    const target = this.httpServer as (RoutedServer & (http.Server | https.Server)) | undefined;
    const routes = target?.[kRoutes];
    routes?.servers.delete(this);
    if (target !== undefined && routes !== undefined && routes.servers.size === 0) {
      target.removeListener('upgrade', routes.listener);
      delete target[kRoutes];
    }
    const pending = [...this.clients].map((ws) => new Promise<void>((resolve) => {
      ws.once('close', () => { resolve(); });
      ws.close(closeCode, reason);
    }));
    if (this.standalone && this.httpServer !== undefined) {
      const server = this.httpServer;
      pending.push(new Promise<void>((resolve) => { server.close(() => { resolve(); }); }));
    }
    await Promise.all(pending);
    this.emit('close');
    done?.();
  }

  /** The handshake: validated, negotiated and answered, or refused with an HTTP status. */
  private async accept(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<WebSocket | undefined> {
    // A reset during the handshake must not crash the process.
    const onError = (): void => { socket.destroy(); };
    socket.on('error', onError);
    let response: string;
    let protocol: string | undefined;
    let deflate: PerMessageDeflate | undefined;
    let extensions: string | undefined;
    try {
      if (this.closed) throw new WebSocketProtocolError('WS_ERR_HANDSHAKE_UNAVAILABLE');
      const upgrade = validateUpgradeRequest(req);
      const { allowedOrigins, verifyClient } = this.options;
      if (allowedOrigins !== undefined && !checkOrigin(upgrade.origin, allowedOrigins)) {
        throw new WebSocketProtocolError('WS_ERR_HANDSHAKE_FORBIDDEN', `origin ${String(upgrade.origin)}`);
      }
      if (verifyClient !== undefined) {
        const info: VerifyInfo = {
          req, origin: upgrade.origin, secure: 'encrypted' in socket && socket.encrypted === true, protocols: upgrade.protocols,
        };
        const verdict = await this.withTimeout(verifyClient.length >= 2
          // ws's callback form: a refusal without a code is 401, as in ws.
          ? new Promise<VerifyResult>((resolve) => {
            verifyClient(info, (result, code, message, headers) => {
              resolve(result === true ? true : { status: code ?? 401, message, headers });
            });
          })
          : verifyClient(info, () => undefined) as VerifyResult | Promise<VerifyResult>);
        if (verdict !== true) {
          this.refuse(socket, req, typeof verdict === 'object' && verdict !== null ? verdict : { status: 403 });
          return undefined;
        }
      }
      if (socket.destroyed) return undefined;
      protocol = this.chooseProtocol(upgrade.protocols, req);
      // RFC 7692 §7.1: the first acceptable offer, or none (the connection runs uncompressed).
      const deflateConfig = this.config.deflate;
      const negotiated = deflateConfig === undefined ? undefined : negotiateDeflate(upgrade.extensions, deflateConfig);
      extensions = negotiated?.response;
      deflate = negotiated === undefined ? undefined : new PerMessageDeflate(negotiated.params, 'server', deflateConfig);
      const extra = typeof this.options.headers === 'function' ? this.options.headers(req) : this.options.headers;
      response = this.finalHeaders(acceptResponse(upgrade.key, { protocol, extensions, headers: extra }), req);
    } catch (err) {
      deflate?.close();
      if (!socket.destroyed) socket.end(rejectionFor(err));
      this.emit('rejected', err instanceof Error ? err : new Error(String(err)), req);
      return undefined;
    }
    // From here on the connection is accepted: nothing below may answer with HTTP.
    socket.write(response);
    socket.removeListener('error', onError);
    const ws = new WebSocket('server', undefined, this.config);
    ws.topicHost = this.topics;
    ws.attach(socket as unknown as ByteStream, head, { protocol, extensions, extension: deflate });
    if (this.server.clientTracking) ws.track(this.clients);
    return ws;
  }

  /** The subprotocol to agree on: one the client offered and the application speaks, or none. */
  private chooseProtocol(offered: readonly string[], req: http.IncomingMessage): string | undefined {
    const handler = this.options.handleProtocols;
    if (handler !== undefined) {
      return selectSubprotocol(offered, (list) => {
        const choice = handler(new Set(list), req);
        return typeof choice === 'string' ? choice : undefined;
      });
    }
    const supported = this.options.protocols;
    return supported === undefined ? undefined : selectSubprotocol(offered, supported);
  }

  /** Lets `'headers'` listeners change the 101's lines; refuses lines that would inject headers. */
  private finalHeaders(response: string, req: http.IncomingMessage): string {
    if (this.listenerCount('headers') === 0) return response;
    const lines = response.slice(0, -4).split('\r\n');
    this.emit('headers', lines, req);
    for (const line of lines) {
      if (typeof line !== 'string' || !FIELD_VALUE_PATTERN.test(line)) {
        throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'a header line from a headers listener has control characters');
      }
    }
    return `${lines.join('\r\n')}\r\n\r\n`;
  }

  /** Registers this server with the one upgrade dispatcher of its http server. */
  private attach(httpServer: http.Server | https.Server): void {
    const target = httpServer as RoutedServer;
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
        if (httpServer.listenerCount('upgrade') === 1) {
          socket.on('error', () => { socket.destroy(); });
          socket.end(rejectionFor(new WebSocketProtocolError('WS_ERR_HANDSHAKE_NOT_FOUND')));
        }
      };
      routes = { servers, listener };
      target[kRoutes] = routes;
      httpServer.on('upgrade', listener);
    }
    routes.servers.add(this);
  }

  private refuse(socket: Duplex, req: http.IncomingMessage, verdict: { status: number; message?: string; headers?: Record<string, string> }): void {
    let response: string;
    try {
      response = rejectResponse(verdict.status, { message: verdict.message, headers: verdict.headers });
    } catch {
      // The application's verdict is unusable (a status outside 300-599, a bad header): still refuse.
      response = rejectResponse(403);
    }
    if (!socket.destroyed) socket.end(response);
    const error = new WebSocketProtocolError('WS_ERR_HANDSHAKE_FORBIDDEN', `status ${verdict.status}`);
    this.emit('rejected', error, req);
  }

  private withTimeout<T>(value: T | Promise<T>): Promise<T> {
    const timeout = this.server.handshakeTimeout;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new WebSocketProtocolError('WS_ERR_HANDSHAKE_TIMEOUT')); }, timeout);
      Promise.resolve(value).then(
        (result) => { clearTimeout(timer); resolve(result); },
        (err: unknown) => { clearTimeout(timer); reject(err); },
      );
    });
  }
}
