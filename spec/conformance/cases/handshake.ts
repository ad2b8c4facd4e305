/**
 * 0 Opening handshake of a server (ours; Autobahn has no such category). Each case is a raw
 * request head and what RFC 6455 §4.2 requires of the answer: a valid 101 (then a quick echo to
 * prove the connection works), or a refusal with an HTTP error and never a 101.
 */

/** What the runner knows when it builds a request. */
export interface RequestContext {
  host: string;
  path: string;
  /** A fresh valid key; the 101's Accept is checked against it. */
  key: string;
}

export interface ServerHandshakeCase {
  kind: 'server-handshake';
  id: string;
  description: string;
  request(ctx: RequestContext): Buffer;
  /** Write the request one byte per write. */
  dribble?: boolean;
  /**
   * `upgrade`: a valid 101 is required. `refuse`: an HTTP error is required. `either`: a valid
   * 101 (judged against what was offered) or an error are both fine.
   */
  expect: 'upgrade' | 'refuse' | 'either';
  /** For refusals: statuses scored OK; any other 4xx/5xx is NON-STRICT. Default: any 4xx. */
  statuses?: number[];
  /** For refusals: a header the error response must carry, else NON-STRICT. */
  requireHeader?: { name: string; test: (value: string) => boolean; what: string };
  /** For refusals: closing the connection without any response is OK too. */
  dropIsOk?: boolean;
  /** Subprotocols the server may select in its 101 (default none: it speaks none of them). */
  protocols?: string[];
  /** A masked text frame "Hello" rides in the same write as the request; its echo is expected. */
  earlyFrame?: boolean;
}

const CRLF = '\r\n';

interface HeadParts {
  requestLine?: string;
  host?: string | null;
  upgrade?: string | null;
  connection?: string | null;
  key?: string | null;
  version?: string | null;
  extra?: string[];
}

/**
 * A request head: the valid handshake with some lines replaced or removed (`null` removes).
 */
function head(ctx: RequestContext, parts: HeadParts = {}): Buffer {
  const line = (name: string, value: string | null | undefined, fallback: string): string[] => {
    const v = value === undefined ? fallback : value;
    return v === null ? [] : [`${name}: ${v}`];
  };
  const lines = [
    parts.requestLine ?? `GET ${ctx.path} HTTP/1.1`,
    ...line('Host', parts.host, ctx.host),
    ...line('Upgrade', parts.upgrade, 'websocket'),
    ...line('Connection', parts.connection, 'Upgrade'),
    ...line('Sec-WebSocket-Key', parts.key, ctx.key),
    ...line('Sec-WebSocket-Version', parts.version, '13'),
    ...(parts.extra ?? []),
  ];
  return Buffer.from(lines.join(CRLF) + CRLF + CRLF, 'latin1');
}

const hasVersion13 = { name: 'sec-websocket-version', test: (v: string) => v.split(',').some((t) => t.trim() === '13'), what: 'Sec-WebSocket-Version listing 13' };

/** Base64 of `n` bytes. */
const keyOf = (n: number): string => Buffer.alloc(n, 0x5a).toString('base64');

const upgrade = (id: string, description: string, parts: HeadParts, extra: Partial<ServerHandshakeCase> = {}): ServerHandshakeCase =>
  ({ kind: 'server-handshake', id, description, request: (ctx) => head(ctx, parts), expect: 'upgrade', ...extra });

const refuse = (id: string, description: string, parts: HeadParts, extra: Partial<ServerHandshakeCase> = {}): ServerHandshakeCase =>
  ({ kind: 'server-handshake', id, description, request: (ctx) => head(ctx, parts), expect: 'refuse', ...extra });

/** 64 KiB of header lines: far beyond any sane limit on a request head. */
const HUGE_HEADERS = Array.from({ length: 64 }, (_, i) => `X-Padding-${i}: ${'p'.repeat(1000)}`);

export function serverHandshakeCases(): ServerHandshakeCase[] {
  return [
    upgrade('0.1.1', 'A minimal valid opening handshake: 101 with the right Sec-WebSocket-Accept, then an echo', {}),
    upgrade('0.1.2', 'A valid handshake written one byte at a time', {}, { dribble: true }),
    upgrade('0.1.3', 'Connection: keep-alive, Upgrade (a token list, RFC 6455 §4.2.1 item 4)', { connection: 'keep-alive, Upgrade' }),
    upgrade('0.1.4', 'Upgrade: WebSocket and connection: upgrade (tokens are case-insensitive)', { upgrade: 'WebSocket', connection: 'upgrade' }),
    upgrade('0.1.5', 'A valid handshake with Origin, User-Agent and unknown headers',
      { extra: ['Origin: http://127.0.0.1', 'User-Agent: wsframe-conformance', 'X-Unknown: 1'] }),
    upgrade('0.1.6', 'A valid handshake with a text frame in the same TCP write: the frame is echoed after the 101', {}, { earlyFrame: true }),
    {
      kind: 'server-handshake',
      id: '0.2.1',
      description: 'Offer only a subprotocol the server does not speak: a 101 without Sec-WebSocket-Protocol, or a refusal',
      request: (ctx) => head(ctx, { extra: ['Sec-WebSocket-Protocol: x-wsframe-unknown-protocol'] }),
      expect: 'either',
    },
    refuse('0.3.1', 'Sec-WebSocket-Version: 14 (unknown): 426 with Sec-WebSocket-Version: 13 (RFC 6455 §4.2.2)', { version: '14' },
      { statuses: [426], requireHeader: hasVersion13 }),
    refuse('0.3.2', 'Sec-WebSocket-Version: 7 (an old draft): 426 with Sec-WebSocket-Version: 13', { version: '7' },
      { statuses: [426], requireHeader: hasVersion13 }),
    refuse('0.3.3', 'No Sec-WebSocket-Version: 400 or 426', { version: null }, { statuses: [400, 426] }),
    refuse('0.3.4', 'Sec-WebSocket-Version: abc: 400 or 426', { version: 'abc' }, { statuses: [400, 426] }),
    refuse('0.4.1', 'No Sec-WebSocket-Key: 400', { key: null }, { statuses: [400] }),
    refuse('0.4.2', 'A Sec-WebSocket-Key of 15 bytes: 400', { key: keyOf(15) }, { statuses: [400] }),
    refuse('0.4.3', 'A Sec-WebSocket-Key of 17 bytes: 400', { key: keyOf(17) }, { statuses: [400] }),
    refuse('0.4.4', 'A Sec-WebSocket-Key that is not base64: 400', { key: 'this is not base64 !!!!!' }, { statuses: [400] }),
    refuse('0.4.5', 'Two Sec-WebSocket-Key headers: 400', {},
      { statuses: [400], request: (ctx) => head(ctx, { extra: [`Sec-WebSocket-Key: ${keyOf(16)}`] }) }),
    refuse('0.5.1', 'A POST request: 405 or another 4xx (RFC 6455 §4.1: the method MUST be GET)', {}, {
      request: (ctx) => head(ctx, { requestLine: `POST ${ctx.path} HTTP/1.1`, extra: ['Content-Length: 0'] }),
    }),
    refuse('0.5.2', 'An HTTP/1.0 request: 4xx (RFC 6455 §4.1: HTTP/1.1 or later)', {},
      { request: (ctx) => head(ctx, { requestLine: `GET ${ctx.path} HTTP/1.0` }) }),
    refuse('0.5.3', 'No Upgrade header: 4xx', { upgrade: null }),
    refuse('0.5.4', 'Upgrade: h2c instead of websocket: 4xx', { upgrade: 'h2c' }),
    refuse('0.5.5', 'No Connection header: 4xx', { connection: null }),
    refuse('0.5.6', 'Connection: keep-alive without the Upgrade token: 4xx', { connection: 'keep-alive' }),
    refuse('0.5.7', 'No Host header: 400 (RFC 6455 §4.1 item 4, RFC 7230 §5.4)', { host: null }, { statuses: [400] }),
    refuse('0.6.1', '64 KiB of request headers: 431 or another 4xx, or the connection closed; never a 101', { extra: HUGE_HEADERS },
      { dropIsOk: true }),
  ];
}
