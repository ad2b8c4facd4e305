/**
 * The RFC 6455 §4 opening handshake as pure functions. Server side: validate the upgrade request,
 * pick a subprotocol, build the 101 or the error response. Client side: build the request headers,
 * validate the server's answer. Strings and header records in, strings and records out: no
 * sockets, no http objects, no timers, so every rule is testable with vectors; server.ts and
 * client.ts do the I/O.
 *
 * Header records are read as node's `IncomingHttpHeaders` delivers them: field values with the
 * surrounding whitespace already removed (RFC 7230 §3.2.4), a repeated field joined with ", " or
 * given as an array. Names are matched case-insensitively, whatever the record's casing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { GUID, PROTOCOL_VERSION } from './constants';
import { ERRORS, type ErrorCode, WebSocketProtocolError, WebSocketUsageError } from './errors';

/** One header field value as an HTTP parser hands it over. */
export type HeaderValue = string | string[] | undefined;
/** Request or response headers, like node's `IncomingHttpHeaders` (lower-case names). */
export type HeaderRecord = Record<string, HeaderValue>;

/** One element of Sec-WebSocket-Extensions (RFC 6455 §9.1): a name and its parameters. */
export interface ExtensionOffer {
  name: string;
  /** Parameter values; `true` for a parameter given without `=value`. */
  params: Record<string, string | true>;
  /**
   * Parameters named more than once (their first value is in `params`). The syntax allows it; the
   * extension decides: RFC 7692 §7 has a server decline such an offer and a client fail on such a
   * response.
   */
  duplicateParams?: string[];
}

// --- Grammar ---------------------------------------------------------------------------------

/** RFC 6455 §4.1: the nonce is 16 random bytes, base64-encoded. */
const KEY_BYTES = 16;
/**
 * base64 of 16 bytes is 22 significant characters and "==" (RFC 4648 §4). Nothing else decodes
 * to exactly 16 bytes. Non-zero pad bits in the 22nd character still decode to 16 bytes, so they
 * pass: the server only hashes the string, and §4.2.1 asks for the decoded length alone.
 */
const KEY_PATTERN = /^[A-Za-z0-9+/]{22}==$/;
/** RFC 7230 §3.2.6 token: 1*tchar. RFC 6455 §4.1 subprotocols and §9.1 extensions use it. */
const TOKEN_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * Header values we write: visible ASCII, SP and HTAB. No CR or LF (header injection), no other
 * control characters, and nothing above 0x7e, because a string head has no single byte encoding
 * for it (RFC 7230 §3.2.4 deprecates obs-text anyway).
 */
const FIELD_VALUE_PATTERN = /^[\t\x20-\x7e]*$/;
const HTTP_VERSION_PATTERN = /^(\d{1,3})\.(\d{1,3})$/;

const SP = 0x20;
const HTAB = 0x09;
const HTTP_SWITCHING_PROTOCOLS = 101;
const HTTP_BAD_REQUEST = 400;
const HTTP_METHOD_NOT_ALLOWED = 405;
const HTTP_UPGRADE_REQUIRED = 426;
const HTTP_INTERNAL_ERROR = 500;
/** rejectResponse answers with redirects and errors only: 1xx and 2xx do not reject anything. */
const MIN_REJECT_STATUS = 300;
const MAX_REJECT_STATUS = 599;

/** True when `value` is an RFC 7230 token (what subprotocol and extension names must be). */
export function isToken(value: string): boolean {
  return typeof value === 'string' && TOKEN_PATTERN.test(value);
}

// --- Keys ------------------------------------------------------------------------------------

/**
 * The Sec-WebSocket-Accept value for a key: base64(SHA-1(key + GUID)), RFC 6455 §4.2.2 item 5.4.
 * Exactly 28 characters, never a trailing newline.
 */
export function acceptKey(key: string): string {
  // latin1: one byte per character, the bytes the key had on the wire (node decodes heads so).
  return createHash('sha1').update(key + GUID, 'latin1').digest('base64');
}

/** A fresh Sec-WebSocket-Key: 16 bytes from the CSPRNG, base64-encoded (RFC 6455 §4.1). */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** True when `key` is 24 base64 characters decoding to exactly 16 bytes (§4.1, §11.3.1). */
export function isValidKey(key: string): boolean {
  return typeof key === 'string' && KEY_PATTERN.test(key);
}

// --- Header lists ----------------------------------------------------------------------------

/**
 * Splits a comma-separated header list (RFC 7230 §7): items trimmed of SP/HTAB, empty items
 * dropped, array values joined first. Items are not checked for token syntax.
 */
export function parseTokenList(value: HeaderValue): string[] {
  const items: string[] = [];
  for (const part of joinValues(value).split(',')) {
    const item = trimOws(part);
    if (item !== '') items.push(item);
  }
  return items;
}

/**
 * Parses Sec-WebSocket-Extensions by the RFC 6455 §9.1 grammar:
 * `extension *( "," extension )`, `extension = token *( ";" token [ "=" ( token / quoted-string ) ] )`.
 * A quoted value must unescape to a token. Whitespace around delimiters and empty list elements
 * (RFC 7230 §7) are accepted.
 * A parameter named twice is syntactically fine: it is listed in `duplicateParams` for the
 * extension to judge.
 * @throws {WebSocketProtocolError} `WS_ERR_HANDSHAKE_EXTENSION` (status 400) on any syntax error.
 */
export function parseExtensions(value: HeaderValue): ExtensionOffer[] {
  return new ExtensionParser(joinValues(value)).parse();
}

/**
 * Serializes one extension offer or response element, the inverse of {@link parseExtensions}.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` when the name, a parameter name or a
 *   parameter value is not a token (§9.1 allows nothing else, even quoted).
 */
export function formatExtension(offer: ExtensionOffer): string {
  if (!isToken(offer.name)) misuse(`extension name ${JSON.stringify(offer.name)} is not a token`);
  let out = offer.name;
  for (const [name, value] of Object.entries(offer.params)) {
    if (!isToken(name)) misuse(`extension parameter ${JSON.stringify(name)} is not a token`);
    if (value === true) out += `; ${name}`;
    else if (isToken(value)) out += `; ${name}=${value}`;
    else misuse(`value of extension parameter ${name} must be a token or true`);
  }
  return out;
}

/**
 * Serializes a list of extensions for a Sec-WebSocket-Extensions header.
 * @throws {WebSocketUsageError} as {@link formatExtension}.
 */
export function formatExtensions(offers: readonly ExtensionOffer[]): string {
  return offers.map(formatExtension).join(', ');
}

// --- Server side -----------------------------------------------------------------------------

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

// --- Client side -----------------------------------------------------------------------------

/** What the client offers in its opening handshake (RFC 6455 §4.1). */
export interface ClientRequestOptions {
  /** From {@link generateKey}. */
  key: string;
  /** Subprotocols in preference order: unique tokens. */
  protocols?: readonly string[];
  /** The Sec-WebSocket-Extensions offer, e.g. from {@link formatExtensions}. */
  extensions?: string;
  origin?: string;
  /** Extra headers; they may add to the WebSocket headers, never replace them. */
  headers?: Record<string, string>;
}

/** Headers clientRequestHeaders owns; a user header of the same name (any case) is ignored. */
const CLIENT_OWNED = new Set([
  'connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol',
  'sec-websocket-extensions',
]);
const CLIENT_OWNED_WITH_ORIGIN = new Set([...CLIENT_OWNED, 'origin']);

/**
 * The headers of a client's upgrade request (RFC 6455 §4.1 items 5-11), for http.request. Host
 * and the request line are the caller's.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for an invalid key, a subprotocol that
 *   is not a token or is listed twice (§4.1 item 10), malformed extensions, or a header name that
 *   is not a token or a value with control characters.
 */
export function clientRequestHeaders(options: ClientRequestOptions): Record<string, string> {
  if (!isValidKey(options.key)) misuse('key is not 16 base64-encoded bytes');
  const headers: Record<string, string> = {};
  setOwn(headers, 'Connection', 'Upgrade');
  setOwn(headers, 'Upgrade', 'websocket');
  setOwn(headers, 'Sec-WebSocket-Key', options.key);
  setOwn(headers, 'Sec-WebSocket-Version', String(PROTOCOL_VERSION));

  const protocols = options.protocols ?? [];
  const problem = subprotocolProblem(protocols);
  if (problem !== undefined) misuse(problem);
  if (protocols.length > 0) setOwn(headers, 'Sec-WebSocket-Protocol', protocols.join(', '));

  if (options.extensions !== undefined && options.extensions !== '') {
    checkExtensionsArgument(options.extensions);
    setOwn(headers, 'Sec-WebSocket-Extensions', options.extensions);
  }
  if (options.origin !== undefined) {
    if (!FIELD_VALUE_PATTERN.test(options.origin)) misuse('origin contains control characters');
    setOwn(headers, 'Origin', options.origin);
  }
  const owned = options.origin === undefined ? CLIENT_OWNED : CLIENT_OWNED_WITH_ORIGIN;
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    checkHeader(name, value);
    if (!owned.has(asciiLower(name))) setOwn(headers, name, value);
  }
  return headers;
}

/** What validateUpgradeResponse needs from the server's answer. */
export interface UpgradeResponseInfo {
  /** Optional so node's IncomingMessage fits as is. */
  statusCode?: number | undefined;
  headers: HeaderRecord;
}

/** What the server agreed to. */
export interface ValidatedResponse {
  /** The server's subprotocol, one the client offered; undefined when it chose none. */
  protocol: string | undefined;
  extensions: ExtensionOffer[];
}

/**
 * Checks the server's answer to our upgrade request (RFC 6455 §4.1, "the client MUST validate the
 * server's response"). A server may choose no subprotocol even when some were offered (§4.1 item
 * 6 only forbids one that was not offered): the result is then `protocol: undefined`.
 * @throws {WebSocketProtocolError} `WS_ERR_HANDSHAKE_STATUS` (not 101), `WS_ERR_HANDSHAKE_RESPONSE`
 *   (Upgrade/Connection), `WS_ERR_HANDSHAKE_ACCEPT`, `WS_ERR_HANDSHAKE_PROTOCOL`,
 *   `WS_ERR_HANDSHAKE_EXTENSION` (malformed, not offered, or accepted twice).
 */
export function validateUpgradeResponse(
  res: UpgradeResponseInfo,
  expected: { key: string; protocols?: readonly string[]; extensions?: readonly string[] },
): ValidatedResponse {
  const { headers } = res;
  // §4.1: "If the status code received from the server is not 101, the client handles the
  // response per HTTP procedures" - for us, the connection fails.
  if (res.statusCode !== HTTP_SWITCHING_PROTOCOLS) fail('WS_ERR_HANDSHAKE_STATUS', String(res.statusCode));
  // §4.1 items 2-3 of the response checks, case-insensitive tokens.
  if (!hasToken(fieldValues(headers, 'upgrade'), 'websocket')) fail('WS_ERR_HANDSHAKE_RESPONSE', 'Upgrade is not websocket');
  if (!hasToken(fieldValues(headers, 'connection'), 'upgrade')) fail('WS_ERR_HANDSHAKE_RESPONSE', 'Connection lacks upgrade');

  // §4.1 item 4: compared exactly, so a value with a trailing newline or space is a mismatch.
  const accepts = fieldValues(headers, 'sec-websocket-accept');
  if (accepts.length !== 1 || accepts[0] !== acceptKey(expected.key)) fail('WS_ERR_HANDSHAKE_ACCEPT');

  // §4.1 item 6: one protocol, one we offered. Several (joined "a, b" or an array) is invalid.
  const offeredProtocols = expected.protocols ?? [];
  const chosen = fieldValues(headers, 'sec-websocket-protocol');
  let protocol: string | undefined;
  if (chosen.length > 0) {
    protocol = chosen[0];
    if (chosen.length > 1 || !offeredProtocols.includes(protocol)) fail('WS_ERR_HANDSHAKE_PROTOCOL');
  }

  // §4.1 item 5: every extension in use must have been offered, and each at most once.
  const extensions = parseExtensions(fieldValues(headers, 'sec-websocket-extensions'));
  const offered = new Set(expected.extensions ?? []);
  const seen = new Set<string>();
  for (const extension of extensions) {
    if (!offered.has(extension.name)) fail('WS_ERR_HANDSHAKE_EXTENSION', `${JSON.stringify(extension.name)} was not offered`);
    if (seen.has(extension.name)) fail('WS_ERR_HANDSHAKE_EXTENSION', `${JSON.stringify(extension.name)} accepted twice`);
    seen.add(extension.name);
  }
  return { protocol, extensions };
}

// --- Helpers ---------------------------------------------------------------------------------

function fail(code: ErrorCode, detail?: string): never {
  throw new WebSocketProtocolError(code, detail);
}

function misuse(detail: string): never {
  throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', detail);
}

/** Every value of a header field, whatever the casing of its name or the shape of its value. */
function fieldValues(headers: HeaderRecord, name: string): string[] {
  const values: string[] = [];
  for (const key of Object.keys(headers)) {
    if (asciiLower(key) !== name) continue;
    const value = headers[key];
    if (typeof value === 'string') values.push(value);
    else if (Array.isArray(value)) for (const item of value) if (typeof item === 'string') values.push(item);
  }
  return values;
}

function joinValues(value: HeaderValue): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : value.join(',');
}

/** Whether a header list holds `token` (given in lower case), ignoring ASCII case. */
function hasToken(values: string[], token: string): boolean {
  return parseTokenList(values).some((item) => asciiLower(item) === token);
}

/**
 * ASCII-only lower case. String#toLowerCase folds some non-ASCII letters into ASCII (the Kelvin
 * sign U+212A becomes "k"), which would let "websoc\u212Aet" pass as "websocket".
 */
function asciiLower(value: string): string {
  return value.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}

/** Trims RFC 7230 OWS (SP and HTAB only; String#trim also strips Unicode spaces). */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

function isOws(code: number): boolean {
  return code === SP || code === HTAB;
}

function isHttp11OrLater(version: string): boolean {
  const match = HTTP_VERSION_PATTERN.exec(typeof version === 'string' ? version : '');
  if (match === null) return false;
  const major = Number(match[1]);
  return major > 1 || (major === 1 && Number(match[2]) >= 1);
}

/** RFC 6455 §4.1 item 10: subprotocols are tokens, each listed once. */
function subprotocolProblem(protocols: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) return `subprotocol ${JSON.stringify(protocol)} is not a token`;
    if (seen.has(protocol)) return `subprotocol ${JSON.stringify(protocol)} is listed twice`;
    seen.add(protocol);
  }
  return undefined;
}

/** Our own extensions header must be one we could parse back: same grammar, no injection. */
function checkExtensionsArgument(extensions: string): void {
  if (typeof extensions !== 'string' || !FIELD_VALUE_PATTERN.test(extensions)) {
    misuse('extensions must be a header value without control characters');
  }
  try {
    parseExtensions(extensions);
  } catch {
    misuse('extensions do not follow the RFC 6455 §9.1 grammar');
  }
}

function checkHeader(name: string, value: unknown): void {
  if (!isToken(name)) misuse(`header name ${JSON.stringify(name)} is not a token`);
  const values = Array.isArray(value) ? value : [value];
  for (const item of values) {
    if (typeof item !== 'string' || !FIELD_VALUE_PATTERN.test(item)) {
      misuse(`value of header ${name} must be a string without CR, LF or other control characters`);
    }
  }
}

/** Validates extra headers, then appends the ones the response does not own, one line per value. */
function appendHeaders(
  lines: string[],
  headers: Record<string, string | string[]> | undefined,
  owned: ReadonlySet<string>,
): void {
  for (const [name, value] of Object.entries(headers ?? {})) {
    checkHeader(name, value);
    if (owned.has(asciiLower(name))) continue;
    for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${item}`);
  }
}

/** Assigns an own property even for names like "__proto__", which plain assignment would not. */
function setOwn<T>(target: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}

const enum Char {
  Comma = 0x2c,
  Semicolon = 0x3b,
  Equals = 0x3d,
  Quote = 0x22,
  Backslash = 0x5c,
}

/**
 * A single-pass scanner for the RFC 6455 §9.1 grammar. No regular expressions over the whole
 * header, so hostile input costs linear time.
 */
class ExtensionParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parse(): ExtensionOffer[] {
    const offers: ExtensionOffer[] = [];
    for (;;) {
      this.skipOws();
      if (this.atEnd()) return offers;
      // RFC 7230 §7: empty list elements are ignored.
      if (this.peek() === Char.Comma) {
        this.pos++;
        continue;
      }
      offers.push(this.extension());
      this.skipOws();
      if (this.atEnd()) return offers;
      if (this.peek() !== Char.Comma) this.fail('expected "," or ";"');
      this.pos++;
    }
  }

  private extension(): ExtensionOffer {
    const name = this.token('extension name');
    const params: Record<string, string | true> = {};
    let duplicates: string[] | undefined;
    this.skipOws();
    while (this.peek() === Char.Semicolon) {
      this.pos++;
      this.skipOws();
      const param = this.token('parameter name');
      const repeated = Object.hasOwn(params, param);
      if (repeated) (duplicates ??= []).push(param);
      this.skipOws();
      let value: string | true = true;
      if (this.peek() === Char.Equals) {
        this.pos++;
        this.skipOws();
        value = this.peek() === Char.Quote ? this.quotedToken() : this.token('parameter value');
        this.skipOws();
      }
      if (!repeated) setOwn(params, param, value);
    }
    return duplicates === undefined ? { name, params } : { name, params, duplicateParams: duplicates };
  }

  private token(what: string): string {
    const start = this.pos;
    while (!this.atEnd() && isTchar(this.text.charCodeAt(this.pos))) this.pos++;
    if (this.pos === start) this.fail(`expected ${what}`);
    return this.text.slice(start, this.pos);
  }

  /** §9.1: a quoted-string value "MUST conform to the 'token' ABNF" once unescaped. */
  private quotedToken(): string {
    this.pos++;
    let value = '';
    for (;;) {
      if (this.atEnd()) this.fail('unterminated quoted-string');
      const code = this.text.charCodeAt(this.pos++);
      if (code === Char.Quote) break;
      if (code === Char.Backslash) {
        if (this.atEnd()) this.fail('unterminated quoted-pair');
        value += this.text[this.pos++];
      } else {
        value += String.fromCharCode(code);
      }
    }
    if (!isToken(value)) this.fail('quoted parameter value is not a token');
    return value;
  }

  private skipOws(): void {
    while (!this.atEnd() && isOws(this.text.charCodeAt(this.pos))) this.pos++;
  }

  private peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  private atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private fail(detail: string): never {
    // The position, not the text: the detail must not quote the peer's header back.
    fail('WS_ERR_HANDSHAKE_EXTENSION', `${detail} at offset ${this.pos}`);
  }
}

/** RFC 7230 §3.2.6 tchar, by code unit. */
function isTchar(code: number): boolean {
  return code < 0x80 && TCHAR_TABLE[code] === 1;
}

const TCHAR_TABLE = (() => {
  const table = new Uint8Array(0x80);
  for (const char of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
    table[char.charCodeAt(0)] = 1;
  }
  return table;
})();
