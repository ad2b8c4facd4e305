/**
 * One table of every error this library raises. Each entry has a stable string code, the close
 * code the connection sends because of it (RFC 6455 §7.4.1) and, for opening-handshake failures,
 * the HTTP status the server answers with. Errors are built from this table only, so a code,
 * its close code and its message can never drift apart.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { CloseCode } from './constants';

interface ErrorSpec {
  readonly closeCode: number;
  readonly message: string;
  /** HTTP status for a rejected opening handshake. */
  readonly status?: number;
}

function spec(closeCode: number, message: string, status?: number): ErrorSpec {
  return status === undefined ? { closeCode, message } : { closeCode, message, status };
}

const P = CloseCode.ProtocolError;

export const ERRORS = {
  // Frame layer, RFC 6455 §5.2 / §5.5.
  WS_ERR_UNEXPECTED_RSV_1: spec(P, 'RSV1 is set but no extension negotiated it'),
  WS_ERR_UNEXPECTED_RSV_2: spec(P, 'RSV2 is set but no extension negotiated it'),
  WS_ERR_UNEXPECTED_RSV_3: spec(P, 'RSV3 is set but no extension negotiated it'),
  WS_ERR_INVALID_OPCODE: spec(P, 'reserved or unknown opcode'),
  WS_ERR_EXPECTED_FIN: spec(P, 'control frames must not be fragmented'),
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: spec(P, 'control frame payload longer than 125 bytes'),
  WS_ERR_EXPECTED_MASK: spec(P, 'frames from a client must be masked'),
  WS_ERR_UNEXPECTED_MASK: spec(P, 'frames from a server must not be masked'),
  WS_ERR_INVALID_PAYLOAD_LENGTH: spec(P, 'the most significant bit of a 64-bit length must be 0'),
  WS_ERR_NON_MINIMAL_LENGTH: spec(P, 'payload length not encoded in the minimal number of bytes'),
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: spec(CloseCode.MessageTooBig, 'payload length above 2^53 - 1'),
  WS_ERR_PAYLOAD_TOO_BIG: spec(CloseCode.MessageTooBig, 'frame payload larger than maxPayload'),
  WS_ERR_TRUNCATED_FRAME: spec(CloseCode.Abnormal, 'the stream ended in the middle of a frame'),

  // Message layer, RFC 6455 §5.4 / §5.6 / §5.5.1 / §7.4.
  WS_ERR_UNEXPECTED_CONTINUATION: spec(P, 'continuation frame with no message to continue'),
  WS_ERR_EXPECTED_CONTINUATION: spec(P, 'new data frame while a fragmented message is open'),
  WS_ERR_INVALID_UTF8: spec(CloseCode.InvalidPayload, 'invalid UTF-8 in a text message or close reason'),
  WS_ERR_INVALID_CLOSE_PAYLOAD: spec(P, 'a close payload of 1 byte cannot hold a status code'),
  WS_ERR_INVALID_CLOSE_CODE: spec(P, 'close code not allowed on the wire'),
  WS_ERR_MESSAGE_TOO_BIG: spec(CloseCode.MessageTooBig, 'message larger than maxMessageSize'),
  WS_ERR_TOO_MANY_FRAGMENTS: spec(CloseCode.MessageTooBig, 'message split into more than maxFragments frames'),
  WS_ERR_INVALID_COMPRESSED_DATA: spec(CloseCode.InvalidPayload, 'compressed payload could not be inflated'),

  // Connection layer.
  WS_ERR_SLOW_CONSUMER: spec(CloseCode.PolicyViolation, 'outgoing queue overflowed'),
  WS_ERR_PEER_UNRESPONSIVE: spec(CloseCode.Abnormal, 'no pong from the peer within the heartbeat interval'),
  WS_ERR_CLOSE_TIMEOUT: spec(CloseCode.Abnormal, 'the closing handshake did not finish in time'),
  WS_ERR_CONNECTION_LOST: spec(CloseCode.Abnormal, 'the connection closed without a close frame'),
  // The closeCode of this one is the code the connection actually closed with (see ConnectionClosedError).
  WS_ERR_CONNECTION_CLOSED: spec(CloseCode.Abnormal, 'the connection closed with an error code'),
  WS_ERR_INTERNAL: spec(CloseCode.InternalError, 'internal error'),

  // Opening handshake, RFC 6455 §4. Close code 1002: the connection never opened.
  WS_ERR_HANDSHAKE_METHOD: spec(P, 'the opening handshake must be a GET request', 405),
  // §4.2.1: "such as 400 Bad Request" for any request that is not a valid handshake.
  WS_ERR_HANDSHAKE_HTTP_VERSION: spec(P, 'the opening handshake needs HTTP/1.1 or later', 400),
  WS_ERR_HANDSHAKE_HOST: spec(P, 'the opening handshake needs exactly one Host header', 400),
  WS_ERR_HANDSHAKE_UPGRADE: spec(P, 'missing or invalid Upgrade: websocket header', 400),
  WS_ERR_HANDSHAKE_CONNECTION: spec(P, 'the Connection header must contain the Upgrade token', 400),
  WS_ERR_HANDSHAKE_KEY: spec(P, 'Sec-WebSocket-Key must be 16 bytes in base64', 400),
  WS_ERR_HANDSHAKE_VERSION: spec(P, 'unsupported Sec-WebSocket-Version (13 is required)', 426),
  WS_ERR_HANDSHAKE_SUBPROTOCOL: spec(P, 'Sec-WebSocket-Protocol must list unique tokens', 400),
  WS_ERR_HANDSHAKE_HEADER_TOO_LARGE: spec(P, 'the handshake head is larger than maxHeaderSize', 431),
  WS_ERR_HANDSHAKE_FORBIDDEN: spec(CloseCode.PolicyViolation, 'the server refused the connection', 403),
  WS_ERR_HANDSHAKE_NOT_FOUND: spec(P, 'no WebSocket endpoint at this path', 404),
  WS_ERR_HANDSHAKE_EXTENSION: spec(P, 'invalid Sec-WebSocket-Extensions header', 400),
  WS_ERR_HANDSHAKE_TIMEOUT: spec(P, 'the opening handshake did not finish in time', 408),
  WS_ERR_HANDSHAKE_UNAVAILABLE: spec(CloseCode.GoingAway, 'the server is shutting down', 503),
  WS_ERR_HANDSHAKE_STATUS: spec(P, 'the server did not answer 101 Switching Protocols'),
  WS_ERR_HANDSHAKE_REDIRECTS: spec(P, 'the server redirected more than maxRedirects times'),
  WS_ERR_HANDSHAKE_ACCEPT: spec(P, 'Sec-WebSocket-Accept does not match the key'),
  WS_ERR_HANDSHAKE_PROTOCOL: spec(P, 'the server chose a subprotocol the client did not offer'),
  WS_ERR_HANDSHAKE_RESPONSE: spec(P, 'invalid handshake response'),

  // Local misuse: programming errors on this side, never the peer's fault.
  WS_ERR_INVALID_ARGUMENT: spec(CloseCode.InternalError, 'invalid argument'),
  WS_ERR_INVALID_STATE: spec(CloseCode.InternalError, 'operation not allowed in the current state'),
  WS_ERR_INVALID_CLOSE_REASON: spec(CloseCode.InternalError, 'close reason longer than 123 bytes of UTF-8, or given without a status code'),
} as const satisfies Record<string, ErrorSpec>;

/** Every stable error code. */
export type ErrorCode = keyof typeof ERRORS;

/**
 * The peer broke the protocol (RFC 6455 §7.1.7 "Fail the WebSocket Connection"): the connection
 * must be closed with {@link closeCode}.
 */
export class WebSocketProtocolError extends Error {
  /** Stable machine-readable code, e.g. `'WS_ERR_INVALID_OPCODE'`. */
  readonly code: ErrorCode;
  /** Close code to send (or, for 1006, to report) because of this error. */
  readonly closeCode: number;
  /** Byte offset in the stream where the problem was detected, when known. */
  readonly offset: number | undefined;
  /**
   * HTTP status to answer a rejected opening handshake with, when it is one; on a client whose
   * handshake was refused, the status the server answered with.
   */
  readonly status: number | undefined;
  /** Client side: the headers of the server's non-101 answer. */
  readonly headers?: IncomingHttpHeaders;
  /** Client side: the first bytes of that answer's body (bounded); undefined when not read here. */
  readonly body?: Buffer;

  /**
   * @param response Client side: what the server answered instead of 101. Its `status` wins over
   *   the table's.
   */
  constructor(code: ErrorCode, detail?: string, offset?: number,
    response?: { status: number; headers: IncomingHttpHeaders; body?: Buffer }) {
    const entry: ErrorSpec = ERRORS[code];
    super(detail === undefined ? entry.message : `${entry.message}: ${detail}`);
    this.name = 'WebSocketProtocolError';
    this.code = code;
    this.closeCode = entry.closeCode;
    this.offset = offset;
    this.status = response?.status ?? entry.status;
    if (response !== undefined) {
      this.headers = response.headers;
      this.body = response.body;
    }
  }
}

/**
 * This side misused the API (a bad argument, sending after close, an invalid frame handed to the
 * encoder). Distinct from {@link WebSocketProtocolError} so callers can tell a bug in their code
 * from a misbehaving peer.
 */
export class WebSocketUsageError extends TypeError {
  readonly code: ErrorCode;
  readonly closeCode: number;

  constructor(code: ErrorCode, detail?: string) {
    const entry: ErrorSpec = ERRORS[code];
    super(detail === undefined ? entry.message : `${entry.message}: ${detail}`);
    this.name = 'WebSocketUsageError';
    this.code = code;
    this.closeCode = entry.closeCode;
  }
}

/** 1000, 1001 and 1005 (RFC 6455 §7.4.1): a close after which reading ends quietly; any other code is an error. */
export function isNormalClose(code: number): boolean {
  return code === CloseCode.Normal || code === CloseCode.GoingAway || code === CloseCode.NoStatus;
}

/**
 * The connection closed with a code other than 1000, 1001 or 1005: the peer closed with an error
 * code (4000, 1011...), we failed the connection (1002, 1007, 1009...), or it was lost (1006). An
 * async iterator over the connection ends by throwing it; a normal close ends it quietly.
 */
export class ConnectionClosedError extends Error {
  readonly code: 'WS_ERR_CONNECTION_CLOSED' = 'WS_ERR_CONNECTION_CLOSED';
  /** The code the connection closed with, as the 'close' event reports it. */
  readonly closeCode: number;
  /** The peer's close reason ('' when there was none). */
  readonly reason: string;
  /** Why it failed on our side, when it did: the protocol error, the lost connection... */
  override readonly cause: Error | undefined;

  constructor(closeCode: number, reason: string, cause?: Error) {
    super(`${ERRORS.WS_ERR_CONNECTION_CLOSED.message}: ${closeCode}${reason === '' ? '' : ` ${reason}`}`);
    this.name = 'ConnectionClosedError';
    this.closeCode = closeCode;
    this.reason = reason;
    this.cause = cause;
  }
}

/** True for errors raised by this library (any of its classes). */
export function isWebSocketError(err: unknown): err is WebSocketProtocolError | WebSocketUsageError | ConnectionClosedError {
  return err instanceof WebSocketProtocolError || err instanceof WebSocketUsageError || err instanceof ConnectionClosedError;
}
