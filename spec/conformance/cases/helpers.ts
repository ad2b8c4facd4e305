/**
 * Builders for the two shapes most cases have, so case tables stay one line per case:
 * send something and expect it echoed, or send something broken and expect the connection failed.
 */
import { text } from '../craft';
import { type CaseDef, type Expectation, type Expected, type Sendable, type SendOptions, textReply } from '../types';

/** RFC 6455 §7.4.1 codes the cases expect. */
export const PROTOCOL_ERROR = 1002;
export const INVALID_PAYLOAD = 1007;
export const MESSAGE_TOO_BIG = 1009;
export const NORMAL = 1000;

export interface CaseOptions extends SendOptions {
  heavy?: boolean;
  /** For failure cases: reply sequences accepted as NON-STRICT. */
  nonStrict?: Expectation['nonStrict'];
  /** For failure cases: replies that make the case NON-STRICT (a lenient peer). */
  tolerated?: Expectation['tolerated'];
  /** For echo cases: the close codes accepted in answer to the runner's close. Default 1000. */
  closeCodes?: readonly (number | null)[];
}

/** Sends `items`, expects `replies` exactly, then a clean close the runner starts. */
export function echoCase(id: string, description: string, items: readonly Sendable[], replies: readonly Expected[], options: CaseOptions = {}): CaseDef {
  const { heavy, nonStrict, tolerated, closeCodes, ...send } = options;
  return {
    id,
    description,
    heavy,
    async run(t) {
      await t.send(items, send);
      return t.expectEcho(replies, { nonStrict, tolerated, closeCodes });
    },
  };
}

/**
 * Sends `items` (the last of which breaks a rule), expects `replies` to what came before the
 * violation, then the peer failing the connection with one of `codes`.
 */
export function failCase(
  id: string, description: string, items: readonly Sendable[], replies: readonly Expected[], codes: readonly number[], options: CaseOptions = {},
): CaseDef {
  const { heavy, nonStrict, tolerated, closeCodes: _unused, ...send } = options;
  return {
    id,
    description,
    heavy,
    async run(t) {
      await t.send(items, send);
      return t.expectFailure(replies, codes, { nonStrict, tolerated });
    },
  };
}

/** The RFC 6455 §5.6-valid text payload of exactly `size` bytes, mixing 1- to 4-byte characters. */
export function textOfSize(size: number): Buffer {
  const unit = Buffer.from('Hello, κόσμε! €𐍈 ');
  const bytes = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += unit.length) unit.copy(bytes, offset, 0, Math.min(unit.length, size - offset));
  // Don't end inside a character: replace a cut one with '*'.
  let last = size - 1;
  while (last > 0 && (bytes[last] & 0xc0) === 0x80) last--;
  if (size > 0 && last + utf8Length(bytes[last]) > size) bytes.fill(0x2a, last);
  return bytes;
}

/** Length of the UTF-8 sequence a lead byte starts (1 for ASCII or a non-lead byte). */
function utf8Length(lead: number | undefined): number {
  if (lead === undefined || lead < 0xc0) return 1;
  return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
}

/** A deterministic binary payload of `size` bytes covering every byte value. */
export function binaryOfSize(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >>> 8)) & 0xff;
  return bytes;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** `64 KiB`, `4 MiB`, `100 B` for descriptions. */
export function size(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

/**
 * The proof that a connection works after its handshake: a text "Hello" echoed back, then a
 * clean close. With `earlyFrame` the peer was already sent the "Hello" together with the
 * handshake, so only the echo is awaited.
 */
export function helloEcho(c: { id: string; description: string; earlyFrame?: boolean }): CaseDef {
  return {
    id: c.id,
    description: c.description,
    async run(t) {
      if (c.earlyFrame !== true) await t.send(text('Hello'));
      return t.expectEcho([textReply('Hello')]);
    },
  };
}
