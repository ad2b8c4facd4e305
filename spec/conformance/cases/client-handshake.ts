/**
 * 0 Opening handshake of a client (ours), run by the client fuzzer. The fuzzer checks the client's
 * request (RFC 6455 §4.1) and answers with a response that is valid (the client must open and
 * echo) or broken (RFC 6455 §4.1: the client MUST _Fail the WebSocket Connection_: send no frame,
 * echo nothing, close TCP).
 */
import { acceptFor } from '../http';

export interface ClientHandshakeCase {
  kind: 'client-handshake';
  id: string;
  description: string;
  /** The raw response head to the client's request with key `key`. */
  response(key: string): Buffer;
  /** Write the response one byte per write. */
  dribble?: boolean;
  /** Send a text frame "Hello" in the same write as the response. */
  earlyFrame?: boolean;
  /** `open`: the client must accept and echo; `refuse`: it must fail the connection. */
  expect: 'open' | 'refuse';
  /** Also score the client's request head (RFC 6455 §4.1 requirements). */
  checkRequest?: boolean;
}

const CRLF = '\r\n';

function response(lines: string[]): Buffer {
  return Buffer.from(lines.join(CRLF) + CRLF + CRLF, 'latin1');
}

/** The valid 101, with lines replaced (`name: null` removes a line) or added. */
function valid(key: string, replace: Record<string, string | null> = {}, statusLine = 'HTTP/1.1 101 Switching Protocols'): Buffer {
  const base: [string, string][] = [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Accept', acceptFor(key)]];
  const lines = [statusLine];
  for (const [name, value] of base) {
    const replaced = replace[name];
    if (replaced === null) continue;
    lines.push(`${name}: ${replaced ?? value}`);
  }
  for (const [name, value] of Object.entries(replace)) {
    if (value !== null && !base.some(([n]) => n === name)) lines.push(`${name}: ${value}`);
  }
  return response(lines);
}

const open = (id: string, description: string, build: (key: string) => Buffer, extra: Partial<ClientHandshakeCase> = {}): ClientHandshakeCase =>
  ({ kind: 'client-handshake', id, description, response: build, expect: 'open', ...extra });

const refuse = (id: string, description: string, build: (key: string) => Buffer): ClientHandshakeCase =>
  ({ kind: 'client-handshake', id, description, response: build, expect: 'refuse' });

export function clientHandshakeCases(): ClientHandshakeCase[] {
  return [
    open('0.1.1', 'The client\'s request is a valid handshake (GET, HTTP/1.1, Host, Upgrade, Connection, a 16-byte key, version 13)',
      (key) => valid(key), { checkRequest: true }),
    open('0.1.2', 'The 101 response arrives one byte at a time: the client opens', (key) => valid(key), { dribble: true }),
    open('0.1.3', 'The 101 and a text frame arrive in one TCP write: the client opens and echoes the frame', (key) => valid(key), { earlyFrame: true }),
    open('0.1.4', 'The 101 says Upgrade: WebSocket and Connection: upgrade (case-insensitive tokens)',
      (key) => valid(key, { Upgrade: 'WebSocket', Connection: 'upgrade' })),
    refuse('0.2.1', 'A 101 with a wrong Sec-WebSocket-Accept: the client fails', (key) => valid(key, { 'Sec-WebSocket-Accept': acceptFor(key + 'x') })),
    refuse('0.2.2', 'A 101 without Sec-WebSocket-Accept: the client fails', (key) => valid(key, { 'Sec-WebSocket-Accept': null })),
    refuse('0.2.3', 'A 101 without Upgrade: the client fails', (key) => valid(key, { Upgrade: null })),
    refuse('0.2.4', 'A 101 without Connection: the client fails', (key) => valid(key, { Connection: null })),
    refuse('0.2.5', 'A 200 OK with otherwise valid headers: the client fails', (key) => valid(key, {}, 'HTTP/1.1 200 OK')),
    refuse('0.2.6', 'A 101 choosing a subprotocol the client did not offer: the client fails',
      (key) => valid(key, { 'Sec-WebSocket-Protocol': 'x-wsframe-never-offered' })),
    refuse('0.2.7', 'A 101 with an extension the client did not offer: the client fails',
      (key) => valid(key, { 'Sec-WebSocket-Extensions': 'x-wsframe-never-offered' })),
  ];
}
