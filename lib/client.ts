/**
 * Opens WebSocket connections to ws:// and wss:// URLs (RFC 6455 §4.1): the HTTP upgrade through
 * node:http / node:https, the response checked by handshake.ts, then a {@link WebSocket}.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as tls from 'node:tls';
import { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HEADER_SIZE } from './constants';
import { WebSocketProtocolError, WebSocketUsageError } from './errors';
import { type ByteStream, WebSocket } from './connection/websocket';
import { PERMESSAGE_DEFLATE, PerMessageDeflate } from './extensions/permessage-deflate';
import { clientRequestHeaders, validateUpgradeResponse } from './handshake/client';
import { formatExtension } from './handshake/headers';
import { generateKey } from './handshake/keys';
import { acceptDeflateResponse, deflateOffer } from './handshake/permessage-deflate';
import { type ConnectionOptions, resolveConnectionOptions } from './session/config';

export interface ClientOptions extends ConnectionOptions {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string | readonly string[];
  /** Extra request headers (they cannot override the WebSocket ones). */
  headers?: Record<string, string>;
  /** Origin header to send (browsers always send one; other clients usually do not). */
  origin?: string;
  /** Milliseconds allowed from the TCP connect to the 101 response. Default 10000. */
  handshakeTimeout?: number;
  /** Largest response head accepted, in bytes. Default 16 KiB. */
  maxHeaderSize?: number;
  /** TLS settings for wss:// (ca, rejectUnauthorized, servername, ...). */
  tls?: tls.ConnectionOptions;
  /** Abort the connection attempt. */
  signal?: AbortSignal;
}

/** Parses and checks a ws:// or wss:// URL. @throws {WebSocketUsageError} */
export function parseWebSocketUrl(url: string | URL): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `invalid URL: ${String(url)}`);
  }
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `URL scheme must be ws: or wss:, not ${parsed.protocol}`);
  }
  // RFC 6455 §3: fragment identifiers are meaningless in WebSocket URIs and MUST NOT be used.
  if (parsed.hash !== '') {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'a WebSocket URL must not have a fragment');
  }
  return parsed;
}

/**
 * Connects to a WebSocket server. Resolves once the connection is OPEN.
 *
 * @throws {WebSocketUsageError} (rejects) for a bad URL or options.
 * @throws {WebSocketProtocolError} (rejects) when the server refuses or answers wrongly: `code`
 *   tells which check failed (`WS_ERR_HANDSHAKE_STATUS` carries the status in its message).
 */
export function connect(url: string | URL, options: ClientOptions = {}): Promise<WebSocket> {
  return new Promise<WebSocket>((resolve, reject) => {
    const target = parseWebSocketUrl(url);
    const protocols = typeof options.protocols === 'string' ? [options.protocols] : options.protocols ?? [];
    const key = generateKey();
    const config = resolveConnectionOptions(options, 'client');
    const ws = new WebSocket('client', undefined, config);
    const deflateOptions = config.deflateOptions;
    const extensions = deflateOptions === undefined ? undefined : deflateOffer(deflateOptions);
    const headers = clientRequestHeaders({ key, protocols, origin: options.origin, headers: options.headers, extensions });
    const secure = target.protocol === 'wss:';
    const request = (secure ? https.request : http.request)({
      ...(secure ? options.tls : undefined),
      host: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
      port: target.port === '' ? (secure ? 443 : 80) : Number(target.port),
      path: `${target.pathname}${target.search}`,
      method: 'GET',
      headers,
      maxHeaderSize: options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
      agent: false,
      signal: options.signal,
    });
    const timer = setTimeout(() => {
      request.destroy(new WebSocketProtocolError('WS_ERR_HANDSHAKE_TIMEOUT'));
    }, options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT);
    const settle = (): void => { clearTimeout(timer); };

    request.on('upgrade', (response: http.IncomingMessage, socket: ByteStream & { destroy(): void }, head: Buffer) => {
      settle();
      let agreed;
      let deflate;
      try {
        agreed = validateUpgradeResponse(response, { key, protocols, extensions: extensions === undefined ? [] : [PERMESSAGE_DEFLATE] });
        // RFC 7692 §7.1: an invalid acceptance fails the connection (WS_ERR_HANDSHAKE_EXTENSION).
        const params = deflateOptions === undefined ? undefined : acceptDeflateResponse(agreed.extensions, deflateOptions);
        deflate = params === undefined ? undefined : new PerMessageDeflate(params, 'client', deflateOptions);
      } catch (err) {
        socket.destroy();
        reject(err);
        return;
      }
      ws.attach(socket, head, { protocol: agreed.protocol, extensions: agreed.extensions.map(formatExtension).join(', '), extension: deflate });
      resolve(ws);
    });
    request.on('response', (response: http.IncomingMessage) => {
      settle();
      // Not an upgrade: nothing more to read from this server, so do not keep its socket open.
      response.destroy();
      request.destroy();
      reject(new WebSocketProtocolError('WS_ERR_HANDSHAKE_STATUS', `status ${String(response.statusCode)}`));
    });
    request.on('error', (err: Error & { code?: string }) => {
      settle();
      // Node's HTTP parser refuses malformed responses (HPE_* codes): a handshake failure too.
      const malformed = typeof err.code === 'string' && err.code.startsWith('HPE_');
      reject(malformed ? new WebSocketProtocolError('WS_ERR_HANDSHAKE_RESPONSE', err.message) : err);
    });
    request.end();
  });
}
