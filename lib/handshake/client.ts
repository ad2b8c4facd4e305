/**
 * The client side of the opening handshake (RFC 6455 §4.1), as pure functions: the request
 * headers, and the checks the server's answer must pass. lib/client.ts does the I/O.
 */
import { PROTOCOL_VERSION } from '../constants';
import {
  asciiLower, checkExtensionsArgument, checkHeader, fail, FIELD_VALUE_PATTERN, fieldValues, hasToken,
  HTTP_SWITCHING_PROTOCOLS, misuse, parseExtensions, setOwn, subprotocolProblem, type ExtensionOffer,
  type HeaderRecord,
} from './headers';
import { acceptKey, isValidKey } from './keys';


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
