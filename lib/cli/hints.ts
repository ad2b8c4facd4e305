/**
 * Plain-language explanations of protocol errors for `wsframe inspect`: what the rule is, where the
 * RFC states it, and the usual mistake in hand-written encoders that breaks it. The error's own
 * message says what was found; the hint says what to change.
 */
import type { ErrorCode } from '../index';

const HINTS: Partial<Record<ErrorCode, string>> = {
  WS_ERR_UNEXPECTED_RSV_1:
    'RSV1 marks a permessage-deflate message and is only allowed when the handshake agreed to it (RFC 7692 §6); ' +
    'inspect with --deflate if it did.',
  WS_ERR_UNEXPECTED_RSV_2: 'no standard extension uses RSV2 (RFC 6455 §5.2): the first byte should be 0x8X or 0x0X.',
  WS_ERR_UNEXPECTED_RSV_3: 'no standard extension uses RSV3 (RFC 6455 §5.2): the first byte should be 0x8X or 0x0X.',
  WS_ERR_INVALID_OPCODE:
    'opcodes 3-7 and 11-15 are reserved (RFC 6455 §5.2). If the bytes are not meant to start a frame here, ' +
    'a previous frame announced the wrong length.',
  WS_ERR_EXPECTED_FIN: 'control frames (close, ping, pong) must have FIN set (RFC 6455 §5.5).',
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 'control frames carry at most 125 bytes and always use the 7-bit length (RFC 6455 §5.5).',
  WS_ERR_EXPECTED_MASK:
    'a client must mask every frame it sends: MASK bit (0x80 of the second byte) set, then a 4-byte key (RFC 6455 §5.1). ' +
    'A server closes the connection with 1002 on an unmasked frame.',
  WS_ERR_UNEXPECTED_MASK:
    'a server must not mask its frames (RFC 6455 §5.1); browsers close the connection on a masked one. ' +
    'Writing a length of 126-255 into the 7-bit field sets the MASK bit by accident: lengths 126-65535 ' +
    'are written as 126 followed by 2 bytes, larger ones as 127 followed by 8 bytes (RFC 6455 §5.2).',
  WS_ERR_INVALID_PAYLOAD_LENGTH: 'the 64-bit length must have its most significant bit clear (RFC 6455 §5.2).',
  WS_ERR_NON_MINIMAL_LENGTH:
    'lengths up to 125 go in the 7-bit field and up to 65535 in the 16-bit form (RFC 6455 §5.2: the minimal ' +
    'number of bytes MUST be used); --allow-non-minimal accepts it anyway.',
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 'a payload over 2^53 - 1 bytes cannot be counted exactly; the length bytes are probably wrong.',
  WS_ERR_PAYLOAD_TOO_BIG:
    'the frame announces more than --max-payload bytes (default 64 MiB). If it is not meant to be that large, ' +
    'the length bytes are wrong (16-bit and 64-bit lengths are big-endian, RFC 6455 §5.2).',
  WS_ERR_TRUNCATED_FRAME:
    'the input ends before the frame does. If the whole message was captured, the header announces more ' +
    'payload than was sent: check the length encoding (RFC 6455 §5.2).',
  WS_ERR_UNEXPECTED_CONTINUATION: 'a continuation frame (opcode 0) must follow a text or binary frame without FIN (RFC 6455 §5.4).',
  WS_ERR_EXPECTED_CONTINUATION:
    'a fragmented message is still open: its next frames must be continuations (opcode 0), the last with FIN ' +
    '(RFC 6455 §5.4). A single-frame message needs FIN set (first byte 0x81 for text, 0x82 for binary).',
  WS_ERR_INVALID_UTF8:
    'text messages and close reasons must be valid UTF-8 (RFC 6455 §8.1); a browser closes with 1007. ' +
    'Send other bytes as a binary message (opcode 2).',
  WS_ERR_INVALID_CLOSE_PAYLOAD: 'a close payload is empty or starts with a 2-byte status code (RFC 6455 §5.5.1).',
  WS_ERR_INVALID_CLOSE_CODE:
    'close codes on the wire are 1000-1003, 1007-1014 or 3000-4999 (RFC 6455 §7.4); 1005 and 1006 are only ' +
    'reported locally, never sent.',
  WS_ERR_MESSAGE_TOO_BIG: 'the message is larger than --max-message (default 64 MiB, the limit of wsframe connections).',
  WS_ERR_TOO_MANY_FRAGMENTS: 'the message has more fragments than wsframe connections accept (1,048,576).',
  WS_ERR_INVALID_COMPRESSED_DATA:
    'the payload is not a raw deflate stream as RFC 7692 §7.2 describes (the trailing 00 00 ff ff removed), ' +
    'or the capture does not start at the beginning of the connection (context takeover needs every earlier message).',
  WS_ERR_HANDSHAKE_HEADER_TOO_LARGE: 'no blank line (CRLF CRLF) ends the HTTP head within 16 KiB.',
};

/** What to change to fix `code`, or undefined when the error message says it all. */
export function hintFor(code: ErrorCode): string | undefined {
  return HINTS[code];
}

/** Shown when the raw bytes of a failing input are hex digits: the user meant --hex. */
export const HEX_TEXT_HINT = 'the input looks like hex text: add --hex to read it as hex digits.';
