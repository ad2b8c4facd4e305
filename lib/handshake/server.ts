/**
 * The server side of the opening handshake (RFC 6455 §4.2), as pure functions: validate the
 * upgrade request, pick a subprotocol, build the 101 or the error response. No sockets, no http
 * objects: lib/server.ts does the I/O.
 */
import { STATUS_CODES } from 'node:http';
import { PROTOCOL_VERSION } from '../constants';
import { ERRORS, WebSocketProtocolError } from '../errors';
import {
  appendHeaders, asciiLower, checkExtensionsArgument, type ExtensionOffer, fail, fieldValues,
  type HeaderRecord, hasToken, HTTP_SWITCHING_PROTOCOLS, isToken, misuse, parseExtensions, parseTokenList,
  subprotocolProblem,
} from './headers';
import { acceptKey, isValidKey } from './keys';

const HTTP_VERSION_PATTERN = /^(\d{1,3})\.(\d{1,3})$/;

const HTTP_BAD_REQUEST = 400;
const HTTP_METHOD_NOT_ALLOWED = 405;
const HTTP_UPGRADE_REQUIRED = 426;
const HTTP_INTERNAL_ERROR = 500;
/** rejectResponse answers with redirects and errors only: 1xx and 2xx do not reject anything. */
const MIN_REJECT_STATUS = 300;
const MAX_REJECT_STATUS = 599;


/** What validateUpgradeRequest needs from an incoming request. */
export interface UpgradeRequestInfo {
  /** Optional so node's IncomingMessage fits as is; a missing method fails like any non-GET. */
  method?: string | undefined;
  /** As node reports it: '1.1', '2.0'. */
  httpVersion: string;
  headers: HeaderRecord;
}

/** The parts of a valid opening handshake request a server decides on. */
export interface ValidatedUpgrade {
  key: string;
  /** Offered subprotocols in the client's order: unique tokens. */
  protocols: string[];
  extensions: ExtensionOffer[];
  /** The Origin header as sent (several joined with ", ", which matches no origin). */
  origin: string | undefined;
  version: number;
}

/**
 * Checks an upgrade request against RFC 6455 §4.2.1, in this order: method, HTTP version, Host,
 * Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version, Sec-WebSocket-Protocol,
 * Sec-WebSocket-Extensions. The first failure is thrown; answer it with {@link rejectionFor}.
 * @throws {WebSocketProtocolError} with `status`: `WS_ERR_HANDSHAKE_METHOD` (405),
 *   `WS_ERR_HANDSHAKE_HTTP_VERSION`, `WS_ERR_HANDSHAKE_HOST`, `WS_ERR_HANDSHAKE_UPGRADE`,
 *   `WS_ERR_HANDSHAKE_CONNECTION`, `WS_ERR_HANDSHAKE_KEY`, `WS_ERR_HANDSHAKE_SUBPROTOCOL`,
 *   `WS_ERR_HANDSHAKE_EXTENSION` (400), `WS_ERR_HANDSHAKE_VERSION` (426).
 */
export function validateUpgradeRequest(req: UpgradeRequestInfo): ValidatedUpgrade {
  const { headers } = req;
  // §4.1 item 2 / §4.2.1 item 1: "An HTTP/1.1 or higher GET request". Methods are case-sensitive.
  if (req.method !== 'GET') fail('WS_ERR_HANDSHAKE_METHOD');
  if (!isHttp11OrLater(req.httpVersion)) fail('WS_ERR_HANDSHAKE_HTTP_VERSION');

  // §4.2.1 item 2; RFC 7230 §5.4: no Host, or more than one, is a 400.
  const host = fieldValues(headers, 'host');
  if (host.length !== 1 || host[0] === '') fail('WS_ERR_HANDSHAKE_HOST');

  // §4.2.1 items 3-4. Both are lists: Firefox sends "Connection: keep-alive, Upgrade", and
  // "Upgrade: WebSocket" is common, so compare tokens case-insensitively (§4.1 items 5-6).
  if (!hasToken(fieldValues(headers, 'upgrade'), 'websocket')) fail('WS_ERR_HANDSHAKE_UPGRADE');
  if (!hasToken(fieldValues(headers, 'connection'), 'upgrade')) fail('WS_ERR_HANDSHAKE_CONNECTION');

  // §4.2.1 item 5. A repeated header reaches us joined ("k1, k2") or as an array: both fail.
  const keys = fieldValues(headers, 'sec-websocket-key');
  const key = keys.length === 1 ? keys[0] : undefined;
  if (key === undefined || !isValidKey(key)) fail('WS_ERR_HANDSHAKE_KEY');

  // §4.2.1 item 6 and §4.4: anything but exactly "13" gets 426 with Sec-WebSocket-Version: 13.
  const versions = fieldValues(headers, 'sec-websocket-version');
  if (versions.length !== 1 || versions[0] !== String(PROTOCOL_VERSION)) fail('WS_ERR_HANDSHAKE_VERSION');

  const protocols = parseTokenList(fieldValues(headers, 'sec-websocket-protocol'));
  const problem = subprotocolProblem(protocols);
  if (problem !== undefined) fail('WS_ERR_HANDSHAKE_SUBPROTOCOL', problem);

  const extensions = parseExtensions(fieldValues(headers, 'sec-websocket-extensions'));
  const origins = fieldValues(headers, 'origin');
  return {
    key,
    protocols,
    extensions,
    origin: origins.length === 0 ? undefined : origins.join(', '),
    version: PROTOCOL_VERSION,
  };
}

/**
 * Picks the subprotocol to answer with (RFC 6455 §4.2.2 item 5.4). With a list, the first
 * supported protocol the client offered wins: server preference order. With a function, its
 * answer is used only if the client offered it. The result is always one the client offered, or
 * undefined (no Sec-WebSocket-Protocol in the response). The function is not called when the
 * client offered nothing, since nothing could be chosen.
 * @throws whatever the handler function throws.
 */
export function selectSubprotocol(
  offered: readonly string[],
  supported: readonly string[] | ((offered: readonly string[]) => string | undefined),
): string | undefined {
  if (offered.length === 0) return undefined;
  if (typeof supported === 'function') {
    // A copy: the handler cannot change the list its answer is checked against.
    const choice = supported([...offered]);
    return typeof choice === 'string' && offered.includes(choice) ? choice : undefined;
  }
  return supported.find((protocol) => offered.includes(protocol));
}

/** Options for the 101 response. */
export interface AcceptOptions {
  /** The chosen subprotocol: a token the client offered (see {@link selectSubprotocol}). */
  protocol?: string;
  /** The Sec-WebSocket-Extensions value, e.g. from {@link formatExtensions}. */
  extensions?: string;
  /** Extra headers. Ones this response owns (Upgrade, Connection, Sec-WebSocket-*) are ignored. */
  headers?: Record<string, string | string[]>;
}

/** Headers acceptResponse writes itself; a 101 has no body, so no framing headers either. */
const ACCEPT_OWNED = new Set([
  'upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol',
  'sec-websocket-extensions', 'content-length', 'transfer-encoding',
]);

/**
 * The complete `HTTP/1.1 101 Switching Protocols` head for a validated request (RFC 6455 §4.2.2
 * item 5), ending in CRLF CRLF. Write it as is; nothing may follow before the first frame.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for an invalid key, a protocol that is
 *   not a token, malformed extensions, or a header name that is not a token or a value with CR,
 *   LF or another control character (header injection).
 */
export function acceptResponse(key: string, options: AcceptOptions = {}): string {
  if (!isValidKey(key)) misuse('key is not a valid Sec-WebSocket-Key');
  const lines = [
    `HTTP/1.1 ${HTTP_SWITCHING_PROTOCOLS} ${STATUS_CODES[HTTP_SWITCHING_PROTOCOLS]}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptKey(key)}`,
  ];
  if (options.protocol !== undefined) {
    if (!isToken(options.protocol)) misuse('protocol is not a token');
    lines.push(`Sec-WebSocket-Protocol: ${options.protocol}`);
  }
  if (options.extensions !== undefined && options.extensions !== '') {
    checkExtensionsArgument(options.extensions);
    lines.push(`Sec-WebSocket-Extensions: ${options.extensions}`);
  }
  appendHeaders(lines, options.headers, ACCEPT_OWNED);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Options for an error response. */
export interface RejectOptions {
  /** Plain-text body; defaults to the reason phrase. */
  message?: string;
  /** Extra headers. Framing headers and, on a 426, the upgrade headers are ours and ignored. */
  headers?: Record<string, string | string[]>;
}

/** Headers every rejection writes itself: the body is ours and the connection closes. */
const REJECT_OWNED = new Set(['connection', 'content-type', 'content-length', 'transfer-encoding']);
const REJECT_426_OWNED = new Set([...REJECT_OWNED, 'upgrade', 'sec-websocket-version']);

/**
 * A complete HTTP/1.1 error response (head and body) refusing an upgrade. The connection is
 * closed after it (`Connection: close`), so the client never waits on a half-read body.
 * - 426 carries `Sec-WebSocket-Version: 13` (RFC 6455 §4.4) and `Upgrade: websocket`, which
 *   RFC 9110 §15.5.22 requires in a 426 (and §7.8 then requires "upgrade" in Connection).
 * - 405 carries `Allow: GET` (RFC 9110 §15.5.6 requires Allow) unless `headers` sets Allow.
 * The body is UTF-8; write the string as UTF-8 (node's default), which Content-Length counts.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for a status outside 300-599, a
 *   non-string message, or an invalid extra header (see {@link acceptResponse}).
 */
export function rejectResponse(status: number, options: RejectOptions = {}): string {
  if (!Number.isInteger(status) || status < MIN_REJECT_STATUS || status > MAX_REJECT_STATUS) {
    misuse(`status ${status} is not an integer in ${MIN_REJECT_STATUS}-${MAX_REJECT_STATUS}`);
  }
  const reason = STATUS_CODES[status] ?? '';
  const body = options.message ?? reason;
  if (typeof body !== 'string') misuse('message must be a string');
  const upgradeRequired = status === HTTP_UPGRADE_REQUIRED;
  const lines = [
    // RFC 7230 §3.1.2: the SP before the reason phrase stays even when the phrase is empty.
    `HTTP/1.1 ${status} ${reason}`,
    upgradeRequired ? 'Connection: close, Upgrade' : 'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body, 'utf8')}`,
  ];
  if (upgradeRequired) lines.push('Upgrade: websocket', `Sec-WebSocket-Version: ${PROTOCOL_VERSION}`);
  const headers = options.headers ?? {};
  if (status === HTTP_METHOD_NOT_ALLOWED && !Object.keys(headers).some((name) => asciiLower(name) === 'allow')) {
    lines.push('Allow: GET');
  }
  appendHeaders(lines, headers, upgradeRequired ? REJECT_426_OWNED : REJECT_OWNED);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * The response for an error thrown while handling an upgrade: a handshake error's `status` (400
 * when it has none) with the error table's message, never the detail, which may quote the peer.
 * Anything else (a bug, an internal error) is a 500 that reveals nothing.
 */
export function rejectionFor(error: unknown): string {
  if (error instanceof WebSocketProtocolError && error.code !== 'WS_ERR_INTERNAL') {
    return rejectResponse(error.status ?? HTTP_BAD_REQUEST, { message: ERRORS[error.code].message });
  }
  return rejectResponse(HTTP_INTERNAL_ERROR);
}

/**
 * Whether an Origin header names one of the allowed origins. Exact match on the serialized
 * origin (RFC 6454 §6.2: `scheme "://" host [ ":" port ]`), ignoring ASCII case, which only
 * scheme and host have. `"https://a.example/"` (a trailing slash) is not a serialized origin and
 * matches nothing. A missing Origin (a non-browser client) returns false; decide on it apart.
 */
export function checkOrigin(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return false;
  const wanted = asciiLower(origin);
  return allowed.some((entry) => asciiLower(entry) === wanted);
}

function isHttp11OrLater(version: string): boolean {
  const match = HTTP_VERSION_PATTERN.exec(typeof version === 'string' ? version : '');
  if (match === null) return false;
  const major = Number(match[1]);
  return major > 1 || (major === 1 && Number(match[2]) >= 1);
}
