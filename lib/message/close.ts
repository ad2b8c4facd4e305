/**
 * Close frame payloads (RFC 6455 §5.5.1, §7.1.5, §7.4): which status codes may be sent, and the
 * code + UTF-8 reason layout in both directions.
 */
import { CloseCode, MAX_CONTROL_PAYLOAD } from '../constants';
import { type ErrorCode, WebSocketProtocolError, WebSocketUsageError } from '../errors';
import { decodeUtf8 } from './utf8';

/** The status code takes the first 2 bytes of a close payload (§5.5.1). */
const CLOSE_CODE_LENGTH = 2;
/** §5.5: 125 control payload bytes minus the 2-byte code leave 123 for the reason. */
export const MAX_CLOSE_REASON_LENGTH = MAX_CONTROL_PAYLOAD - CLOSE_CODE_LENGTH;
/** §7.4.2: 3000-3999 are registered with IANA for libraries and frameworks. */
const REGISTERED_CLOSE_CODE_MIN = 3000;
/** §7.4.2: 4000-4999 are for private use. */
const PRIVATE_CLOSE_CODE_MAX = 4999;

/**
 * True for a close code that may appear on the wire: 1000-1003 and 1007-1014 (RFC 6455 §7.4.1 and
 * the IANA registry), 3000-4999 (§7.4.2). 1004 is reserved, 1005, 1006 and 1015 must never be
 * sent, 1016-2999 are reserved for future RFCs, 0-999 and 5000+ are not used.
 */
export function isValidCloseCode(code: number): boolean {
  return Number.isInteger(code) && (
    (code >= CloseCode.Normal && code <= CloseCode.UnsupportedData) ||
    (code >= CloseCode.InvalidPayload && code <= CloseCode.BadGateway) ||
    (code >= REGISTERED_CLOSE_CODE_MIN && code <= PRIVATE_CLOSE_CODE_MAX)
  );
}

/** Parses a close payload; returns the error code of the rule it breaks instead of throwing. */
export function readClosePayload(payload: Buffer): { code: number; reason: string } | ErrorCode {
  // §7.1.5: a close frame without a status code is reported as 1005.
  if (payload.length === 0) return { code: CloseCode.NoStatus, reason: '' };
  // §5.5.1: if there is a body, its first two bytes are the status code.
  if (payload.length < CLOSE_CODE_LENGTH) return 'WS_ERR_INVALID_CLOSE_PAYLOAD';
  const code = payload.readUInt16BE(0);
  if (!isValidCloseCode(code)) return 'WS_ERR_INVALID_CLOSE_CODE';
  const reason = payload.subarray(CLOSE_CODE_LENGTH);
  // §5.5.1: the reason is UTF-8; §8.1: invalid UTF-8 fails the connection (1007).
  const text = decodeUtf8(reason);
  if (text === undefined) return 'WS_ERR_INVALID_UTF8';
  return { code, reason: text };
}

/**
 * Reads the status code and reason of a received close frame (RFC 6455 §5.5.1). An empty payload
 * gives code 1005 and reason `''` (§7.1.5).
 *
 * @throws {WebSocketProtocolError} `WS_ERR_INVALID_CLOSE_PAYLOAD` (1002) for a 1-byte payload,
 *   `WS_ERR_INVALID_CLOSE_CODE` (1002) for a code not allowed on the wire,
 *   `WS_ERR_INVALID_UTF8` (1007) for a reason that is not valid UTF-8.
 */
export function parseClosePayload(payload: Buffer): { code: number; reason: string } {
  const result = readClosePayload(payload);
  if (typeof result === 'string') throw new WebSocketProtocolError(result);
  return result;
}

/**
 * Builds a close payload (RFC 6455 §5.5.1): empty without a code, else the big-endian code
 * followed by the UTF-8 reason.
 *
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_CLOSE_CODE` for a code that may not be sent
 *   ({@link isValidCloseCode}); `WS_ERR_INVALID_CLOSE_REASON` for a reason longer than 123 bytes
 *   (§5.5) or a non-empty reason without a code; `WS_ERR_INVALID_ARGUMENT` for a reason that is
 *   not a string.
 */
export function encodeClosePayload(code?: number, reason?: string): Buffer {
  if (reason !== undefined && typeof reason !== 'string') {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'the close reason must be a string');
  }
  if (code === undefined) {
    // The reason lives after the code: there is no way to send one without the other.
    if (reason !== undefined && reason.length > 0) {
      throw new WebSocketUsageError('WS_ERR_INVALID_CLOSE_REASON', 'a reason needs a status code');
    }
    return Buffer.alloc(0);
  }
  if (typeof code !== 'number' || !isValidCloseCode(code)) {
    throw new WebSocketUsageError('WS_ERR_INVALID_CLOSE_CODE', String(code));
  }
  const reasonLength = reason === undefined ? 0 : Buffer.byteLength(reason);
  if (reasonLength > MAX_CLOSE_REASON_LENGTH) {
    throw new WebSocketUsageError('WS_ERR_INVALID_CLOSE_REASON', `${reasonLength} bytes`);
  }
  const payload = Buffer.allocUnsafe(CLOSE_CODE_LENGTH + reasonLength);
  payload.writeUInt16BE(code, 0);
  if (reasonLength > 0) payload.write(reason as string, CLOSE_CODE_LENGTH, 'utf8');
  return payload;
}
