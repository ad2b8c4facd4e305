/**
 * The opening handshake on raw bytes (RFC 6455 §4), both sides, independent of lib/handshake.ts:
 * request and response heads are built and parsed here by hand, because several cases send heads
 * that no HTTP library would produce.
 */
import { createHash, randomBytes } from 'node:crypto';
import { GUID } from '../../lib/constants';

const CRLF = '\r\n';
const HEAD_END = Buffer.from('\r\n\r\n');

/** Largest head the runner reads before giving up on the peer. */
export const MAX_HEAD = 64 * 1024;

/** RFC 6455 §4.2.2: base64(SHA-1(key + GUID)). */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** RFC 6455 §4.1: a fresh nonce, 16 random bytes in base64. */
export function newKey(): string {
  return randomBytes(16).toString('base64');
}

/** A parsed request or response head. Header names are lower-cased; repeats are kept in order. */
export interface Head {
  /** `GET /path HTTP/1.1` or `HTTP/1.1 101 Switching Protocols`, split on spaces. */
  startLine: string[];
  headers: Map<string, string[]>;
}

/** Where a head ends in `bytes` (index after the blank line), or -1 if it is not complete yet. */
export function headLength(bytes: Buffer): number {
  const index = bytes.indexOf(HEAD_END);
  return index === -1 ? -1 : index + HEAD_END.length;
}

export function parseHead(bytes: Buffer): Head {
  const lines = bytes.toString('latin1').split(CRLF);
  const startLine = lines[0].split(' ');
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const values = headers.get(name);
    if (values === undefined) headers.set(name, [value]);
    else values.push(value);
  }
  return { startLine, headers };
}

/** All values of a header, comma lists split into trimmed tokens. */
export function tokens(head: Head, name: string): string[] {
  return (head.headers.get(name) ?? []).flatMap((value) => value.split(',')).map((t) => t.trim()).filter((t) => t !== '');
}

/** The single value of a header, or undefined when absent (repeats joined as HTTP does). */
export function header(head: Head, name: string): string | undefined {
  return head.headers.get(name)?.join(', ');
}

export interface RequestOptions {
  host: string;
  path: string;
  key: string;
  protocols?: string[];
  extensions?: string;
}

/** A valid client handshake request (RFC 6455 §4.1). */
export function buildRequest(options: RequestOptions): Buffer {
  const lines = [
    `GET ${options.path} HTTP/1.1`,
    `Host: ${options.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${options.key}`,
    'Sec-WebSocket-Version: 13',
  ];
  if (options.protocols !== undefined) lines.push(`Sec-WebSocket-Protocol: ${options.protocols.join(', ')}`);
  if (options.extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${options.extensions}`);
  return Buffer.from(lines.join(CRLF) + CRLF + CRLF, 'latin1');
}

/** What the client offered, to judge the server's answer against. */
export interface Offer {
  key: string;
  protocols?: string[];
  deflate?: boolean;
}

/** The deflate offer the runner makes: no context takeover either way, so messages inflate alone. */
export const DEFLATE_OFFER = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';

/**
 * Checks a server's response head against RFC 6455 §4.1 (the client's checks, steps 1-6).
 * Returns the problems (empty: a valid 101) and whether permessage-deflate was agreed.
 */
export function checkResponse(head: Head, offer: Offer): { problems: string[]; deflate: boolean } {
  const problems: string[] = [];
  const [version, status] = head.startLine;
  if (version !== 'HTTP/1.1') problems.push(`status line version ${JSON.stringify(version)}`);
  if (status !== '101') return { problems: [`status ${status ?? '(none)'}, expected 101`], deflate: false };
  const upgrade = header(head, 'upgrade');
  if (upgrade?.toLowerCase() !== 'websocket') problems.push(`Upgrade: ${upgrade ?? '(missing)'}`);
  if (!tokens(head, 'connection').some((t) => t.toLowerCase() === 'upgrade')) {
    problems.push(`Connection: ${header(head, 'connection') ?? '(missing)'}`);
  }
  const accept = header(head, 'sec-websocket-accept');
  if (accept !== acceptFor(offer.key)) problems.push(`Sec-WebSocket-Accept: ${accept ?? '(missing)'}`);
  // §4.1 step 6: a subprotocol the client did not offer fails the connection.
  const protocol = header(head, 'sec-websocket-protocol');
  if (protocol !== undefined && !(offer.protocols ?? []).includes(protocol)) {
    problems.push(`Sec-WebSocket-Protocol: ${protocol} was not offered`);
  }
  // §4.1 step 5: an extension the client did not offer fails the connection.
  let deflate = false;
  const extensions = tokens(head, 'sec-websocket-extensions');
  for (const extension of extensions) {
    const params = extension.split(';').map((p) => p.trim().toLowerCase());
    if (params[0] === 'permessage-deflate' && offer.deflate === true && !deflate) {
      // We asked for no context takeover both ways; RFC 7692 §7.1.1.1 has the server confirm it.
      if (!params.includes('server_no_context_takeover')) problems.push('permessage-deflate without server_no_context_takeover');
      deflate = true;
    } else {
      problems.push(`Sec-WebSocket-Extensions: ${extension} was not offered`);
    }
  }
  return { problems, deflate };
}

/**
 * Checks a client's request head against RFC 6455 §4.1 (what a client MUST send), for the
 * client fuzzer. Returns the problems (empty: valid) and the key.
 */
export function checkRequest(head: Head): { problems: string[]; key: string | undefined; offersDeflate: boolean } {
  const problems: string[] = [];
  const [method, , version] = head.startLine;
  if (method !== 'GET') problems.push(`method ${method}`);
  if (version !== 'HTTP/1.1') problems.push(`request line version ${JSON.stringify(version)}`);
  if (head.headers.get('host')?.length !== 1) problems.push('Host header missing or repeated');
  if (header(head, 'upgrade')?.toLowerCase() !== 'websocket') problems.push(`Upgrade: ${header(head, 'upgrade') ?? '(missing)'}`);
  if (!tokens(head, 'connection').some((t) => t.toLowerCase() === 'upgrade')) {
    problems.push(`Connection: ${header(head, 'connection') ?? '(missing)'}`);
  }
  const key = header(head, 'sec-websocket-key');
  if (key === undefined || !/^[A-Za-z0-9+/]{22}==$/.test(key)) problems.push(`Sec-WebSocket-Key: ${key ?? '(missing)'}`);
  if (header(head, 'sec-websocket-version') !== '13') problems.push(`Sec-WebSocket-Version: ${header(head, 'sec-websocket-version') ?? '(missing)'}`);
  const offersDeflate = tokens(head, 'sec-websocket-extensions').some((t) => t.split(';')[0].trim().toLowerCase() === 'permessage-deflate');
  return { problems, key, offersDeflate };
}

/** A server's 101 answer, with optional extra header lines and a replaced Accept value. */
export function buildResponse(key: string, extraLines: string[] = [], accept: string | null = acceptFor(key)): Buffer {
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade'];
  if (accept !== null) lines.push(`Sec-WebSocket-Accept: ${accept}`);
  return Buffer.from([...lines, ...extraLines].join(CRLF) + CRLF + CRLF, 'latin1');
}
