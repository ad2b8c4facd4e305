/**
 * Opens WebSocket connections (RFC 6455 §4.1) to ws://, wss://, ws+unix: and wss+unix: URLs: the
 * HTTP upgrade through node:http / node:https (over the caller's agent or socket when given),
 * redirects followed when asked, the answer checked by the handshake module, then a WebSocket.
 * Option names and meanings follow the ws package's client wherever the concept is the same, so
 * code written for ws (proxy agents, unix sockets, redirects) moves over unchanged.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { unescape as percentDecode } from 'node:querystring';
import type * as stream from 'node:stream';
import type * as tls from 'node:tls';
import { type ByteStream, WebSocket } from './connection/websocket';
import { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HEADER_SIZE, MAX_TIMER_DELAY } from './constants';
import { WebSocketProtocolError } from './errors';
import { PERMESSAGE_DEFLATE, PerMessageDeflate } from './extensions/permessage-deflate';
import { clientRequestHeaders, validateUpgradeResponse } from './handshake/client';
import { formatExtensions, misuse } from './handshake/headers';
import { generateKey } from './handshake/keys';
import { acceptDeflateResponse, deflateOffer } from './handshake/permessage-deflate';
import { type ConnectionOptions, resolveConnectionOptions } from './session/config';

/** Redirects followed at most when `followRedirects` is on (ws's default). */
export const DEFAULT_MAX_REDIRECTS = 10;
/**
 * Bytes of a refused handshake's body kept on the error (`err.body`): enough for an error page or
 * a JSON reason, never a download.
 */
export const UNEXPECTED_RESPONSE_BODY_LIMIT = 4096;
/**
 * Milliseconds spent reading that body (at most `handshakeTimeout`): a server that never ends its
 * body cannot hold `connect()` open.
 */
export const UNEXPECTED_RESPONSE_BODY_TIMEOUT = 1000;

/** RFC 9110 §15.4: the statuses whose Location is the resource's new address (fetch's "redirect status"). */
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Headers meant for the server the caller named, dropped when a redirect leads elsewhere. */
const ORIGIN_BOUND_HEADERS: ReadonlySet<string> = new Set(['authorization', 'cookie', 'host']);

/** RFC 3986 §3.1: a URL that starts with a scheme is absolute. */
const ABSOLUTE_URL = /^[a-z][a-z\d+.-]*:/i;

/** ws's flat TLS option names, accepted beside `tls`. */
type FlatTlsOptionName = 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'rejectUnauthorized' | 'servername'
  | 'checkServerIdentity' | 'ciphers' | 'minVersion' | 'maxVersion';

const TLS_VERSIONS: ReadonlySet<unknown> = new Set(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);

export interface ClientOptions extends ConnectionOptions, Pick<tls.ConnectionOptions, FlatTlsOptionName> {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string | readonly string[];
  /** Extra request headers (they cannot override the WebSocket ones). */
  headers?: Record<string, string>;
  /** Origin header to send (browsers always send one; other clients usually do not). */
  origin?: string;
  /**
   * Milliseconds allowed for the whole opening handshake, redirects and proxy tunnel included,
   * up to the 101 response. Default 10000.
   */
  handshakeTimeout?: number;
  /** Largest response head accepted, in bytes. Default 16 KiB. */
  maxHeaderSize?: number;
  /**
   * TLS settings for wss: (ca, rejectUnauthorized, servername, ...). ws's flat names (`ca`,
   * `rejectUnauthorized`, ... at the top level) work too; these win over them.
   */
  tls?: tls.ConnectionOptions;
  /** Abort the connection attempt. */
  signal?: AbortSignal;
  /**
   * The http.Agent / https.Agent that makes the socket, e.g. a proxy agent (`https-proxy-agent`
   * tunnels through HTTP CONNECT). Default: none, a fresh socket per connection.
   */
  agent?: http.Agent | false;
  /**
   * Makes the socket instead (node:http's option): `(options, callback) => socket`, a TLS socket
   * for wss:. Not together with `agent`.
   */
  createConnection?: (options: http.ClientRequestArgs, callback: (err: Error | null, socket: stream.Duplex) => void) => stream.Duplex | null | undefined;
  /** Follow 301, 302, 303, 307 and 308 answers to their Location. Default false. */
  followRedirects?: boolean;
  /** Redirects followed at most, then `WS_ERR_HANDSHAKE_REDIRECTS`. Default 10. */
  maxRedirects?: number;
  /** `'user:password'` for Basic authentication; credentials in the URL and an Authorization header win. */
  auth?: string;
  /**
   * Called with a non-101 answer (one that is not a followed redirect) so the application can
   * read all of it; the application then owns the response and must consume or destroy it.
   * `connect()` still rejects with `WS_ERR_HANDSHAKE_STATUS`, whose `body` is then undefined.
   */
  onUnexpectedResponse?: (response: http.IncomingMessage, request: http.ClientRequest) => void;
}

/** Where one handshake request goes: the parts of a WebSocket URL that http.request needs. */
interface Target {
  readonly url: URL;
  readonly secure: boolean;
  /** The unix domain socket of a ws+unix: / wss+unix: URL. */
  readonly socketPath: string | undefined;
  readonly host: string;
  readonly port: number;
  /** The request target: path and query, never the userinfo. */
  readonly path: string;
  /** `user:password` from the URL's userinfo, percent-decoded. */
  readonly credentials: string | undefined;
}

function isUnix(url: URL): boolean {
  return url.protocol === 'ws+unix:' || url.protocol === 'wss+unix:';
}

/**
 * Splits a ws+unix: pathname in ws's form, `/path/to/socket.sock:/request/path`: the socket path
 * ends at the first colon. The socket path comes back percent-encoded as in the URL.
 */
function splitUnixPath(pathname: string): { socket: string; request: string } {
  const colon = pathname.indexOf(':');
  if (colon === -1) return { socket: pathname, request: '/' };
  const request = pathname.slice(colon + 1);
  return { socket: pathname.slice(0, colon), request: request.startsWith('/') ? request : `/${request}` };
}

/**
 * Parses and checks a WebSocket URL: ws:, wss: (http: and https: are mapped to them, as ws
 * does), and ws+unix: / wss+unix: in ws's form `ws+unix:/path/to/socket.sock:/request/path?query`.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for an unparsable URL, another scheme,
 *   a fragment, or a unix URL without a socket path.
 */
export function parseWebSocketUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    misuse(`invalid URL: ${String(url)}`);
  }
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:' && !isUnix(parsed)) {
    misuse(`URL scheme must be ws:, wss:, ws+unix: or wss+unix:, not ${parsed.protocol}`);
  }
  // RFC 6455 §3: fragment identifiers are meaningless in WebSocket URIs and MUST NOT be used.
  if (parsed.hash !== '') misuse('a WebSocket URL must not have a fragment');
  if (isUnix(parsed)) {
    const { socket } = splitUnixPath(parsed.pathname);
    if (socket === '') misuse(`${parsed.protocol} URL has no socket path`);
    try {
      decodeURIComponent(socket);
    } catch {
      misuse(`${parsed.protocol} socket path is not valid percent-encoding`);
    }
  }
  return parsed;
}

/** The request a checked WebSocket URL (from parseWebSocketUrl) stands for. */
function targetOf(url: URL): Target {
  const secure = url.protocol === 'wss:' || url.protocol === 'wss+unix:';
  const credentials = url.username === '' && url.password === ''
    ? undefined
    : `${percentDecode(url.username)}:${percentDecode(url.password)}`;
  const port = secure ? 443 : 80;
  if (isUnix(url)) {
    const { socket, request } = splitUnixPath(url.pathname);
    // The URL parser percent-encoded the socket path (a space becomes %20); the file system
    // wants it as written. Host is what node sends for a socket: localhost.
    return { url, secure, socketPath: decodeURIComponent(socket), host: 'localhost', port, path: `${request}${url.search}`, credentials };
  }
  return {
    url,
    secure,
    socketPath: undefined,
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === '' ? port : Number(url.port),
    path: `${url.pathname}${url.search}`,
    credentials,
  };
}

/**
 * Where a redirect leads: Location resolved against the current URL, http(s): mapped to ws(s):.
 * @throws {WebSocketProtocolError} `WS_ERR_HANDSHAKE_RESPONSE` for a Location that is no
 *   WebSocket URL, or one that moves a TCP connection onto a local unix socket.
 */
function redirectTarget(current: Target, location: string): Target {
  let next: URL;
  try {
    const resolved = current.socketPath === undefined ? new URL(location, current.url) : resolveOnSocket(current, location);
    // A fragment is the client's business (RFC 9110 §10.2.2 lets Location carry one); §3 of
    // RFC 6455 forbids it in a WebSocket URI, so it is dropped rather than sent.
    resolved.hash = '';
    next = parseWebSocketUrl(resolved);
  } catch {
    throw new WebSocketProtocolError('WS_ERR_HANDSHAKE_RESPONSE', `cannot follow a redirect to ${JSON.stringify(location)}`);
  }
  // A remote server must not steer us to a socket on this machine; only the caller picks one.
  if (current.socketPath === undefined && isUnix(next)) {
    throw new WebSocketProtocolError('WS_ERR_HANDSHAKE_RESPONSE', 'a redirect may not lead from TCP to a unix socket');
  }
  return targetOf(next);
}

/**
 * Resolves a Location from a server on a unix socket. Those URLs have no authority, so a relative
 * Location is a path on the same socket (plain URL resolution would take it for the socket path).
 */
function resolveOnSocket(current: Target, location: string): URL {
  if (ABSOLUTE_URL.test(location)) return new URL(location);
  const resolved = new URL(location, `http://localhost${current.path}`);
  if (resolved.host !== 'localhost') {
    // A network-path reference ("//host/path") leaves the socket for that host.
    if (current.secure) resolved.protocol = 'https:';
    return resolved;
  }
  const { socket } = splitUnixPath(current.url.pathname);
  return new URL(`${current.url.protocol}${socket}:${resolved.pathname}${resolved.search}`);
}

/**
 * Whether a hop may carry the caller's credentials: curl's and ws's rule, the same host (or
 * socket) as the URL the caller gave, and no downgrade from wss to ws.
 */
function trusted(first: Target, hop: Target): boolean {
  const sameServer = first.socketPath !== undefined || hop.socketPath !== undefined
    ? first.socketPath === hop.socketPath
    : first.url.host === hop.url.host;
  return sameServer && (hop.secure || !first.secure);
}

/** The headers of one hop's upgrade request, with Basic credentials when they may go there. */
function requestHeaders(options: ClientOptions, first: Target, hop: Target, key: string, extensions: string | undefined): Record<string, string> {
  const mayCarryCredentials = trusted(first, hop);
  const extra: Record<string, string> = {};
  let hasAuthorization = false;
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const lower = name.toLowerCase();
    if (!mayCarryCredentials && ORIGIN_BOUND_HEADERS.has(lower)) continue;
    if (lower === 'authorization') hasAuthorization = true;
    extra[name] = value;
  }
  // ws's precedence: an Authorization header, then the caller's URL, then `auth`, then a
  // redirect's own userinfo. RFC 7617 §2: Basic is base64 of "user:password" in UTF-8.
  const credentials = first.credentials ?? options.auth ?? hop.credentials;
  if (mayCarryCredentials && !hasAuthorization && credentials !== undefined) {
    extra.Authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }
  return clientRequestHeaders({ key, protocols: protocolList(options), origin: options.origin, headers: extra, extensions });
}

function protocolList(options: ClientOptions): readonly string[] {
  return typeof options.protocols === 'string' ? [options.protocols] : options.protocols ?? [];
}

const FLAT_TLS_OPTIONS: readonly FlatTlsOptionName[] = [
  'ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername', 'checkServerIdentity', 'ciphers',
  'minVersion', 'maxVersion',
];

/** The TLS options of a wss hop: ws's flat names, then `tls`. */
function tlsOptionsOf(options: ClientOptions): tls.ConnectionOptions {
  const picked: Record<string, unknown> = {};
  for (const name of FLAT_TLS_OPTIONS) if (options[name] !== undefined) picked[name] = options[name];
  return { ...picked, ...options.tls };
}

/** Starts one hop's upgrade request (not yet ended). */
function send(target: Target, headers: Record<string, string>, options: ClientOptions): http.ClientRequest {
  const request = target.secure ? https.request : http.request;
  return request({
    ...(target.secure ? tlsOptionsOf(options) : undefined),
    ...(target.socketPath === undefined ? { host: target.host, port: target.port } : { socketPath: target.socketPath }),
    // Node leaves the default port out of Host only when it knows it (RFC 6455 §4.1 item 4);
    // without an agent (createConnection) it would not.
    defaultPort: target.secure ? 443 : 80,
    path: target.path,
    method: 'GET',
    headers,
    maxHeaderSize: options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
    // No pooling unless the caller brings an agent: an upgraded socket leaves the pool anyway and
    // a refused one is destroyed. node ignores createConnection when an agent is set.
    agent: options.agent ?? (options.createConnection === undefined ? false : undefined),
    createConnection: options.createConnection,
    signal: options.signal,
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCertificateData(value: unknown, objectsToo: boolean): boolean {
  const one = (item: unknown): boolean => typeof item === 'string' || Buffer.isBuffer(item) || (objectsToo && isRecord(item));
  return Array.isArray(value) ? value.every(one) : one(value);
}

/** Each client option with a test of its value and what the value must be. */
const OPTION_CHECKS: ReadonlyArray<readonly [keyof ClientOptions, (value: unknown) => boolean, string]> = [
  ['protocols', (v) => typeof v === 'string' || (Array.isArray(v) && v.every((p) => typeof p === 'string')), 'a string or an array of strings'],
  ['headers', isRecord, 'an object of header names to strings'],
  ['origin', (v) => typeof v === 'string', 'a string'],
  ['handshakeTimeout', (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_TIMER_DELAY, `a whole number of milliseconds from 1 to ${String(MAX_TIMER_DELAY)}`],
  ['maxHeaderSize', (v) => Number.isInteger(v) && (v as number) >= 1, 'a positive whole number of bytes'],
  ['tls', isRecord, 'an object of tls.connect options'],
  ['signal', (v) => v instanceof AbortSignal, 'an AbortSignal'],
  ['agent', (v) => v === false || (isRecord(v) && typeof v.addRequest === 'function'), 'an http.Agent, or false'],
  ['createConnection', (v) => typeof v === 'function', 'a function'],
  ['followRedirects', (v) => typeof v === 'boolean', 'a boolean'],
  ['maxRedirects', (v) => Number.isInteger(v) && (v as number) >= 0, 'a whole number, 0 or more'],
  ['auth', (v) => typeof v === 'string', "a 'user:password' string"],
  ['onUnexpectedResponse', (v) => typeof v === 'function', 'a function'],
  ['ca', (v) => isCertificateData(v, false), 'a string, a Buffer or an array of them'],
  ['cert', (v) => isCertificateData(v, false), 'a string, a Buffer or an array of them'],
  ['key', (v) => isCertificateData(v, true), 'a string, a Buffer, a { pem, passphrase } object or an array of them'],
  ['pfx', (v) => isCertificateData(v, true), 'a string, a Buffer, a { buf, passphrase } object or an array of them'],
  ['passphrase', (v) => typeof v === 'string', 'a string'],
  ['rejectUnauthorized', (v) => typeof v === 'boolean', 'a boolean'],
  ['servername', (v) => typeof v === 'string', 'a string'],
  ['checkServerIdentity', (v) => typeof v === 'function', 'a function'],
  ['ciphers', (v) => typeof v === 'string', 'a string'],
  ['minVersion', (v) => TLS_VERSIONS.has(v), "one of 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'"],
  ['maxVersion', (v) => TLS_VERSIONS.has(v), "one of 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'"],
];

/** Checks the client's own options (the connection options are the WebSocket's to check). */
function checkClientOptions(options: unknown): asserts options is ClientOptions {
  if (!isRecord(options)) misuse('options must be an object');
  for (const [name, test, what] of OPTION_CHECKS) {
    if (options[name] !== undefined && !test(options[name])) misuse(`${name} must be ${what}`);
  }
  if (isRecord(options.agent) && options.createConnection !== undefined) {
    misuse('give agent or createConnection, not both (node would ignore createConnection)');
  }
}

/** Node's HTTP parser refuses malformed responses (HPE_* codes): a handshake failure too. */
function asHandshakeError(err: Error & { code?: unknown }): Error {
  const malformed = typeof err.code === 'string' && err.code.startsWith('HPE_');
  return malformed ? new WebSocketProtocolError('WS_ERR_HANDSHAKE_RESPONSE', err.message) : err;
}

function statusError(response: http.IncomingMessage, body: Buffer | undefined): WebSocketProtocolError {
  const status = response.statusCode ?? 0;
  return new WebSocketProtocolError('WS_ERR_HANDSHAKE_STATUS', `status ${String(status)}`, undefined, { status, headers: response.headers, body });
}

/**
 * Reads the start of a refused handshake's body: at most `limit` bytes, until the body ends or
 * `ms` milliseconds pass, whichever comes first. Never rejects.
 */
function readBodyStart(response: http.IncomingMessage, limit: number, ms: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      clearTimeout(timer);
      response.off('data', onData);
      // concat copies, so the kept bytes pin none of the socket's chunks.
      resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      const piece = chunk.subarray(0, limit - size);
      chunks.push(piece);
      size += piece.length;
      if (size >= limit) done();
    };
    const timer = setTimeout(done, ms);
    response.on('data', onData);
    response.once('end', done);
    response.once('close', done);
  });
}

/** Drops a request whose answer we are done with (its socket is never reused). */
function discard(request: http.ClientRequest, response: http.IncomingMessage): void {
  response.destroy();
  request.destroy();
}

/**
 * Connects to a WebSocket server. Resolves once the connection is OPEN.
 *
 * Every option is checked before anything goes on the network.
 *
 * @throws {WebSocketUsageError} (rejects) `WS_ERR_INVALID_ARGUMENT` for a bad URL or option.
 * @throws {WebSocketProtocolError} (rejects) when the server refuses or answers wrongly: `code`
 *   tells which check failed. `WS_ERR_HANDSHAKE_STATUS` (a non-101 answer) carries the answer's
 *   `status`, `headers` and the first {@link UNEXPECTED_RESPONSE_BODY_LIMIT} bytes of its `body`;
 *   `WS_ERR_HANDSHAKE_REDIRECTS` means more than `maxRedirects` redirects;
 *   `WS_ERR_HANDSHAKE_TIMEOUT` that `handshakeTimeout` passed.
 * @throws {Error} (rejects) node's own errors for the network (ECONNREFUSED, TLS failures,
 *   AbortError) and whatever `onUnexpectedResponse` throws.
 */
export function connect(url: string | URL, options: ClientOptions = {}): Promise<WebSocket> {
  return new Promise<WebSocket>((resolve, reject) => {
    checkClientOptions(options);
    const config = resolveConnectionOptions(options, 'client');
    const first = targetOf(parseWebSocketUrl(url));
    const deflateConfig = config.deflate;
    const extensions = deflateConfig === undefined ? undefined : deflateOffer(deflateConfig);
    const ws = new WebSocket('client', undefined, config);
    // Builds (so checks) the headers before anything is sent; redirects send subsets of them.
    let key = generateKey();
    let headers = requestHeaders(options, first, first, key, extensions);
    const handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;

    /** The request whose answer is awaited; undefined once an answer is final. */
    let current: http.ClientRequest | undefined;
    const timer = setTimeout(() => {
      current?.destroy(new WebSocketProtocolError('WS_ERR_HANDSHAKE_TIMEOUT'));
    }, handshakeTimeout);
    const fail = (err: unknown): void => {
      current = undefined;
      clearTimeout(timer);
      reject(err);
    };

    const start = (target: Target, redirects: number): void => {
      let request: http.ClientRequest;
      try {
        request = send(target, headers, options);
      } catch (err) {
        // node checks some TLS and socket options only when it makes the socket.
        fail(err);
        return;
      }
      current = request;
      request.on('error', (err: Error) => {
        if (request === current) fail(asHandshakeError(err));
      });

      request.on('upgrade', (response: http.IncomingMessage, socket: ByteStream & { destroy(): void }, head: Buffer) => {
        current = undefined;
        clearTimeout(timer);
        let agreed;
        let deflate;
        try {
          agreed = validateUpgradeResponse(response, { key, protocols: protocolList(options), extensions: extensions === undefined ? [] : [PERMESSAGE_DEFLATE] });
          // RFC 7692 §7.1: an invalid acceptance fails the connection (WS_ERR_HANDSHAKE_EXTENSION).
          const params = deflateConfig === undefined ? undefined : acceptDeflateResponse(agreed.extensions, deflateConfig);
          deflate = params === undefined ? undefined : new PerMessageDeflate(params, 'client', deflateConfig);
        } catch (err) {
          socket.destroy();
          reject(err);
          return;
        }
        ws.attach(socket, head, { protocol: agreed.protocol, extensions: formatExtensions(agreed.extensions), extension: deflate });
        resolve(ws);
      });

      request.on('response', (response: http.IncomingMessage) => {
        // The body is best effort; the status error says what matters.
        response.on('error', () => { /* reported through the status error */ });
        const status = response.statusCode ?? 0;
        const location = response.headers.location;
        if (options.followRedirects === true && REDIRECT_STATUSES.has(status) && location !== undefined) {
          discard(request, response);
          if (redirects >= maxRedirects) {
            fail(new WebSocketProtocolError('WS_ERR_HANDSHAKE_REDIRECTS', `limit ${String(maxRedirects)}`, undefined, { status, headers: response.headers }));
            return;
          }
          try {
            const next = redirectTarget(target, location);
            key = generateKey();
            headers = requestHeaders(options, first, next, key, extensions);
            start(next, redirects + 1);
          } catch (err) {
            fail(err);
          }
          return;
        }
        current = undefined;
        clearTimeout(timer);
        if (options.onUnexpectedResponse !== undefined) {
          try {
            options.onUnexpectedResponse(response, request);
          } catch (err) {
            discard(request, response);
            fail(err);
            return;
          }
          fail(statusError(response, undefined));
          return;
        }
        void readBodyStart(response, UNEXPECTED_RESPONSE_BODY_LIMIT, Math.min(UNEXPECTED_RESPONSE_BODY_TIMEOUT, handshakeTimeout))
          .then((body) => {
            // Nothing more to read from this server, so do not keep its socket open.
            discard(request, response);
            fail(statusError(response, body));
          });
      });
      request.end();
    };
    start(first, 0);
  });
}
