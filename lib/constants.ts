/**
 * Protocol constants and default limits. Every number here is named once, with the rule it comes
 * from, so no other module needs a bare magic number.
 */

/** Frame opcodes, RFC 6455 §5.2 and §11.8. 3-7 and 11-15 are reserved. */
export enum Opcode {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xa,
}

/** Close status codes, RFC 6455 §7.4.1 and the IANA registry (§11.7). */
export enum CloseCode {
  Normal = 1000,
  GoingAway = 1001,
  ProtocolError = 1002,
  UnsupportedData = 1003,
  /** Reserved: never sent in a close frame (§7.4.1). */
  NoStatus = 1005,
  /** Reserved: never sent; reports a connection that ended without a close frame (§7.4.1). */
  Abnormal = 1006,
  InvalidPayload = 1007,
  PolicyViolation = 1008,
  MessageTooBig = 1009,
  MandatoryExtension = 1010,
  InternalError = 1011,
  ServiceRestart = 1012,
  TryAgainLater = 1013,
  BadGateway = 1014,
  /** Reserved: TLS handshake failure, never sent (§7.4.1). */
  TlsHandshake = 1015,
}

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing. */
export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** RFC 6455 §4.1: the only protocol version this library speaks. */
export const PROTOCOL_VERSION = 13;

// --- Frame layout, RFC 6455 §5.2 -----------------------------------------------------------

export const FIN_BIT = 0x80;
export const RSV1_BIT = 0x40;
export const RSV2_BIT = 0x20;
export const RSV3_BIT = 0x10;
export const OPCODE_MASK = 0x0f;
export const MASK_BIT = 0x80;
export const LENGTH_MASK = 0x7f;

/** Largest length that fits the 7-bit field. */
export const MAX_7BIT_LENGTH = 125;
/** 7-bit length value announcing a 16-bit extended length. */
export const LENGTH_16_MARKER = 126;
/** 7-bit length value announcing a 64-bit extended length. */
export const LENGTH_64_MARKER = 127;
export const MAX_16BIT_LENGTH = 0xffff;
/** Size of the masking key, §5.3. */
export const MASK_KEY_LENGTH = 4;
/** Largest possible header: 2 + 8 (64-bit length) + 4 (mask). */
export const MAX_HEADER_LENGTH = 14;
/** RFC 6455 §5.5: control frames carry at most 125 payload bytes. */
export const MAX_CONTROL_PAYLOAD = 125;
/** JavaScript numbers are exact up to 2^53 - 1; longer frames cannot even be counted. */
export const MAX_SAFE_PAYLOAD = Number.MAX_SAFE_INTEGER;

// --- Default limits --------------------------------------------------------------------------

/**
 * Default largest frame payload the decoder accepts (1009 above it). 64 MiB holds the largest
 * messages browsers commonly send in one frame while keeping a hostile peer's claim bounded.
 */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;

/** Default largest reassembled message (1009 above it); same reasoning as DEFAULT_MAX_PAYLOAD. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

/**
 * Default largest number of frames in one message. Memory is bounded by bytes, not fragments, so
 * this only stops a peer that never finishes a message: 1 Mi fragments is 16x Autobahn's
 * 4 MiB-in-64-byte-fragments case.
 */
export const DEFAULT_MAX_FRAGMENTS = 1024 * 1024;

/**
 * Default largest opening-handshake request or response head, in bytes (431 above it). A real
 * browser handshake with cookies is 1-4 KiB; 16 KiB is Node's own HTTP default and leaves room
 * for large cookies without letting a client make us buffer an endless head.
 */
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;

/**
 * Default time allowed for the opening handshake, in milliseconds. Long enough for a slow mobile
 * link to send a few KiB; short enough that clients dribbling their headers (slow-loris) cannot
 * hold sockets for long.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/**
 * Default time to wait for the peer's close frame and TCP close, in milliseconds (§7.1.1: the
 * server closes TCP first; a client should wait for it). A responsive peer answers in one round
 * trip; 5 s covers slow links and then frees the socket from a peer that never answers.
 */
export const DEFAULT_CLOSE_TIMEOUT = 5_000;

/**
 * Default number of received messages held for a consumer that has not taken them yet (an async
 * iterator lagging behind, or no listener yet) before the socket is paused; reading resumes at a
 * quarter of it. Enough to absorb bursts without a pause per message; small enough that the
 * queue stays bounded (with maxMessageSize, at most 64 x 64 MiB in the worst case, typically a
 * few KiB).
 */
export const DEFAULT_MAX_QUEUED_MESSAGES = 64;

/**
 * Default outgoing memory (queued frames plus what the socket holds) above which a further send
 * fails the connection with 1008. `send()` returns false far earlier (at the write high-water
 * mark); this limit only stops an application that ignores that signal from exhausting memory on
 * one slow peer. A single message is always accepted below it, so one maximal message fits.
 */
export const DEFAULT_MAX_BUFFERED_AMOUNT = 64 * 1024 * 1024;

/**
 * Default milliseconds between liveness checks of a connection (python-websockets' keepalive
 * interval). A peer silent for a whole interval is pinged; a busy one never is. Without it, a
 * peer whose machine vanished, or that stalls halfway through a frame, holds its connection open
 * forever.
 */
export const DEFAULT_HEARTBEAT_INTERVAL = 20_000;

/**
 * Default milliseconds a pinged peer has to send anything back before the connection is dropped
 * with 1006 (python-websockets' ping timeout). Long enough for a congested mobile link.
 */
export const DEFAULT_HEARTBEAT_TIMEOUT = 20_000;

/**
 * Default outgoing bytes (queued plus held by the socket) above which `send()` returns false:
 * Node's own stream high-water mark, so one message in flight per socket buffer.
 */
export const DEFAULT_WRITE_HIGH_WATER_MARK = 16 * 1024;

/** setTimeout's largest delay (2^31 - 1 ms; Node turns anything above it into 1 ms): the bound of every timeout option. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** A string of n UTF-16 units encodes to at most 3n bytes of UTF-8. */
export const MAX_UTF8_PER_UNIT = 3;
