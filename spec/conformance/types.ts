/**
 * The vocabulary of the conformance runner: what a case is, what the runner observes on the wire,
 * what a case expects, and the verdict it gets. Verdicts keep Autobahn|Testsuite's meaning so
 * scores can be read the same way:
 *
 * - `OK`: the peer did exactly what RFC 6455 requires.
 * - `NON-STRICT`: acceptable but not exact: it failed the connection late (after the whole
 *   message instead of at the fragment that broke a rule), used an acceptable but not the expected
 *   close code, or skipped a SHOULD.
 * - `FAILED`: a MUST was broken: a wrong echo, an echo of data sent after a violation, an invalid
 *   frame from the peer, no close handshake, an accepted invalid handshake.
 * - `INFORMATIONAL`: the RFC leaves the behaviour open; the result only records what happened.
 * - `UNIMPLEMENTED`: an optional feature (permessage-deflate) the peer does not offer.
 */

export type Verdict = 'OK' | 'NON-STRICT' | 'FAILED' | 'INFORMATIONAL' | 'UNIMPLEMENTED';

/** Every verdict, best first: the order of the score line and of `worse()`. */
export const VERDICTS: readonly Verdict[] = ['OK', 'NON-STRICT', 'INFORMATIONAL', 'UNIMPLEMENTED', 'FAILED'];

/** The runner's own role on the connection: `'client'` tests a server, `'server'` tests a client. */
export type Role = 'client' | 'server';

/** One case's outcome. */
export interface CaseResult {
  id: string;
  description: string;
  verdict: Verdict;
  /** Close code of the peer's close frame; `null` if it sent none or an empty one. */
  closeCode: number | null;
  /** How the connection ended, e.g. `close 1002 + tcp` or `tcp only` or `timeout`. */
  ending: string;
  /** Why the verdict is not OK, or what an informational case saw. */
  notes: string[];
  durationMs: number;
}

/** What the runner saw or did, in wire order. The judge reads only this log. */
export type Observed =
  /** A complete message from the peer, reassembled from `frames` frames. */
  | { kind: 'message'; binary: boolean; data: Buffer; frames: number }
  | { kind: 'ping'; data: Buffer }
  | { kind: 'pong'; data: Buffer }
  /** The peer's close frame. `code` null: empty payload. */
  | { kind: 'close'; code: number | null; reason: string }
  /** The peer broke a rule in what it sent: a FAILED verdict whatever else happened. */
  | { kind: 'violation'; detail: string }
  /** A point in the runner's script, e.g. "the last fragment was sent now". */
  | { kind: 'mark'; name: string }
  /** The runner sent a close frame. */
  | { kind: 'sent-close'; code: number | null }
  /** The peer closed the TCP connection (FIN or reset). */
  | { kind: 'tcp-end'; reset: boolean }
  /** The runner gave up waiting and destroyed the socket itself. */
  | { kind: 'dropped'; reason: string };

/** A reply the peer must send: a message (type and exact bytes) or a pong (exact payload). */
export type Expected =
  | { kind: 'message'; binary: boolean; data: Buffer }
  | { kind: 'pong'; data: Buffer };

/** How the connection must end. */
export type Ending =
  /**
   * The runner closes with a close frame once the replies arrived; the peer must answer with a
   * close frame whose code is one of `codes` (`null`: an empty close frame; an empty answer not
   * listed is NON-STRICT) and then (a server)
   * close TCP, RFC 6455 §5.5.1 / §7.1.1.
   */
  | { by: 'runner'; codes: readonly (number | null)[] }
  /**
   * The peer must _Fail the WebSocket Connection_ (RFC 6455 §7.1.7): a close frame with one of
   * `codes`, or just a dropped TCP connection. Another failure code is NON-STRICT.
   * `before`: the failure must be seen before this mark, else NON-STRICT (late detection).
   */
  | { by: 'peer'; codes: readonly number[]; before?: string };

export interface Expectation {
  /** Replies that must arrive, in this order, before the close. */
  replies: readonly Expected[];
  /** Other reply sequences accepted as NON-STRICT, each with the reason. */
  nonStrict?: readonly { replies: readonly Expected[]; note: string }[];
  ending: Ending;
  /**
   * The RFC leaves the peer free here: any answer is accepted as INFORMATIONAL, except invalid
   * frames. Used when the peer may either accept or reject the input.
   */
  informational?: boolean;
  /**
   * Replies that make the case NON-STRICT whatever the ending, e.g. echoing a frame with a
   * non-minimal length: tolerated, but the strict answer is to fail.
   */
  tolerated?: { replies: readonly Expected[]; note: string };
  /** A remark added to the result whatever the verdict, e.g. a measured round-trip time. */
  note?: string;
}

/** One frame to craft. Everything not said is a valid default for the runner's role. */
export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  /** Default true. */
  fin?: boolean;
  /** The three reserved bits as one number 0-7, RSV1 most significant (Autobahn's `rsv`). */
  rsv?: number;
  /** Default: masked if the runner is the client (RFC 6455 §5.1); `'wrong'` inverts that. */
  masking?: 'role' | 'wrong';
  /** Length field form. Default the minimal one; others build non-minimal or invalid lengths. */
  length?: 'minimal' | '16' | '64' | '64-msb';
  /** Announce this payload length instead of the real one (to claim a huge frame). */
  announcedLength?: number;
}

/** What a case script sends: a crafted frame or raw bytes sent as they are. */
export type Sendable = FrameSpec | Buffer;

export interface SendOptions {
  /**
   * Split the bytes into writes of this many bytes (`1`: octet-wise), or one write per frame
   * (`'frame'`), each write waiting for the previous one to be flushed. Default one write.
   */
  chop?: number | 'frame';
  /** Pause between chops, in milliseconds. Default none. */
  delayMs?: number;
}

/** Parameters negotiated by the opening handshake. */
export interface Negotiated {
  /** permessage-deflate (RFC 7692) was agreed, with no context takeover in either direction. */
  deflate: boolean;
}

/**
 * The script's handle on one connection. The final call of every script is one of the `expect*`
 * methods: they finish the connection the way the expectation says and return it for the judge.
 */
export interface Trial {
  readonly role: Role;
  readonly negotiated: Negotiated;
  /** Sends frames or bytes; resolves when they were handed to the kernel. */
  send(items: Sendable | readonly Sendable[], options?: SendOptions): Promise<void>;
  /** Sends a well-formed close frame (no payload when `code` is undefined). */
  sendClose(code?: number, reason?: string | Buffer): Promise<void>;
  /** Records a point in the script, for `Ending.before`. */
  mark(name: string): void;
  /** Waits `ms`, or less if the connection ends meanwhile. */
  pause(ms: number): Promise<void>;
  /** Waits until `count` replies (messages and pongs) arrived, the connection ends or timeout. */
  waitForReplies(count: number, timeoutMs?: number): Promise<void>;
  /** Waits until the peer closes or fails the connection, or the fail-fast window passes. */
  waitForFailure(): Promise<void>;
  /** The replies seen so far. */
  replies(): readonly Observed[];
  /** Expect `replies`, then a clean close the runner starts. */
  expectEcho(replies: readonly Expected[], options?: Partial<Expectation> & { closeCodes?: readonly (number | null)[] }): Promise<Expectation>;
  /** Expect `replies`, then the peer failing the connection with one of `codes`. */
  expectFailure(replies: readonly Expected[], codes: readonly number[], options?: Partial<Expectation> & { before?: string }): Promise<Expectation>;
}

/** A case: an id in Autobahn's numbering, a one-line description and a script. */
export interface CaseDef {
  /** Tells frame cases from the opening-handshake cases in a suite. */
  kind?: 'frames';
  id: string;
  description: string;
  /** Seconds-scale cases (large payloads) run with less concurrency and a longer timeout. */
  heavy?: boolean;
  /** Extension offer for the opening handshake, e.g. permessage-deflate for the 12.x cases. */
  offerDeflate?: boolean;
  /**
   * If set, the case needs this negotiated and is UNIMPLEMENTED when the peer declines, like
   * Autobahn's compression cases.
   */
  requires?: keyof Negotiated;
  run(trial: Trial): Promise<Expectation>;
}

/** Builders for expected replies, so case tables read like the RFC. */
export function textReply(data: Buffer | string): Expected {
  return { kind: 'message', binary: false, data: typeof data === 'string' ? Buffer.from(data) : data };
}

export function binaryReply(data: Buffer): Expected {
  return { kind: 'message', binary: true, data };
}

export function pongReply(data: Buffer | string = Buffer.alloc(0)): Expected {
  return { kind: 'pong', data: typeof data === 'string' ? Buffer.from(data) : data };
}

/** The worse of two verdicts, in the order of {@link VERDICTS}. */
export function worse(a: Verdict, b: Verdict): Verdict {
  return VERDICTS.indexOf(a) >= VERDICTS.indexOf(b) ? a : b;
}
