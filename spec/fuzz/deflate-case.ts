/**
 * What the permessage-deflate differential fuzzer compares (RFC 7692 §7.2.2): one direction of a
 * connection as a stream of compressed messages, each the payload of a message whose first frame
 * had RSV1, cut into the pieces it arrives in (frames, or parts of frames). Both inflaters read the
 * whole stream in order and are reduced to a {@link Trace}: the messages they delivered, then
 * whether they accepted the stream or rejected it at some message, with which close code.
 *
 * A case is plain data, so it prints as a command line that replays it (see {@link replayArguments}).
 */

/** One direction of a connection, as the receiving side sees it. */
export interface DeflateCase {
  /** Each message's compressed payload (RFC 7692 §7.2.1: the tail 00 00 ff ff removed), as its pieces. */
  messages: Buffer[][];
  /** Largest inflated message, in bytes; more is 1009. */
  maxSize: number;
  /** The sender's agreed LZ77 window, 8-15 (`client_max_window_bits`, RFC 7692 §7.1.2.2). */
  windowBits: number;
  /** `client_no_context_takeover` agreed: every message starts from an empty window (§7.1.1.2). */
  noContextTakeover: boolean;
}

/** How an inflater stopped. `index` is the message at which it did. */
export type Ending =
  | { kind: 'accepted' }
  | { kind: 'rejected'; index: number; closeCode: number; detail: string }
  /** Threw something other than a protocol error, or broke the extension contract: always a bug. */
  | { kind: 'crash'; index: number; detail: string };

export interface Trace {
  /** The inflated messages, in order, up to the ending. */
  messages: Buffer[];
  ending: Ending;
}

/** The default limit of both sides (our maxMessageSize, lib/constants.ts), repeated here. */
export const DEFAULT_MAX_SIZE = 64 * 1024 * 1024;

/** The whole compressed payload of message `index`. */
export function payloadOf(input: DeflateCase, index: number): Buffer {
  return Buffer.concat(input.messages[index]);
}

/** Message pieces are written `aa.bb` (pieces joined by '.'), messages joined by '/'. */
export function formatMessages(messages: readonly (readonly Buffer[])[]): string {
  return messages.map((pieces) => pieces.map((piece) => piece.toString('hex')).join('.')).join('/');
}

/**
 * Reads what {@link formatMessages} wrote. `''` is one empty message in one piece.
 * @throws {Error} for anything but hex digit pairs, '.' and '/'.
 */
export function parseMessages(text: string): Buffer[][] {
  const compact = text.replace(/\s+/g, '');
  if (!/^[0-9a-f./]*$/i.test(compact)) throw new Error('messages are hex pieces joined by "." and messages joined by "/"');
  return compact.split('/').map((message) => message.split('.').map((piece) => {
    if (piece.length % 2 !== 0) throw new Error(`odd number of hex digits in ${piece}`);
    return Buffer.from(piece, 'hex');
  }));
}

/** The CLI arguments that replay a case: `npm run fuzz -- --deflate <these>`. */
export function replayArguments(input: DeflateCase): string {
  const options = [`--window ${input.windowBits}`];
  if (input.noContextTakeover) options.push('--no-takeover');
  if (input.maxSize !== DEFAULT_MAX_SIZE) options.push(`--max-size ${input.maxSize}`);
  return `${options.join(' ')} --replay ${formatMessages(input.messages) || "''"}`;
}
