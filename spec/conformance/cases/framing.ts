/**
 * 1 Framing. 1.1/1.2 follow Autobahn: every payload length at the edges of the 7-bit, 16-bit and
 * 64-bit length forms (RFC 6455 §5.2). 1.3 and 1.4 are ours: how the length and mask are encoded.
 */
import { binary, ping, text, close } from '../craft';
import { binaryReply, pongReply, textReply, type CaseDef } from '../types';
import { echoCase, failCase, MESSAGE_TOO_BIG, NORMAL, PROTOCOL_ERROR } from './helpers';

/** Payload lengths around the 125 / 126 / 65535 / 65536 boundaries of the length field. */
const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

/** Autobahn's 1.1.8/1.2.8 chop size: an odd number, so chops never align with the header. */
const CHOP = 997;

const textPayload = (n: number): Buffer => Buffer.alloc(n, '*');
const binaryPayload = (n: number): Buffer => Buffer.alloc(n, 0xfe);

const NON_MINIMAL = 'accepted a non-minimal length (RFC 6455 §5.2: the minimal form MUST be used)';

export function framingCases(): CaseDef[] {
  return [
    ...LENGTHS.map((n, i) => echoCase(`1.1.${i + 1}`, `Send a text message with a payload of ${n} bytes`,
      [text(textPayload(n))], [textReply(textPayload(n))])),
    echoCase('1.1.8', `Send a text message of 65536 bytes in chops of ${CHOP} bytes`,
      [text(textPayload(65536))], [textReply(textPayload(65536))], { chop: CHOP }),
    ...LENGTHS.map((n, i) => echoCase(`1.2.${i + 1}`, `Send a binary message with a payload of ${n} bytes`,
      [binary(binaryPayload(n))], [binaryReply(binaryPayload(n))])),
    echoCase('1.2.8', `Send a binary message of 65536 bytes in chops of ${CHOP} bytes`,
      [binary(binaryPayload(65536))], [binaryReply(binaryPayload(65536))], { chop: CHOP }),

    // 1.3 (ours) Length encoding, RFC 6455 §5.2.
    failCase('1.3.1', 'Send a 5-byte text frame with a non-minimal 16-bit length: fail 1002 (strict) or echo (NON-STRICT)',
      [text('Hello', { length: '16' })], [], [PROTOCOL_ERROR], { tolerated: { replies: [textReply('Hello')], note: NON_MINIMAL } }),
    failCase('1.3.2', 'Send a 5-byte text frame with a non-minimal 64-bit length: fail 1002 (strict) or echo (NON-STRICT)',
      [text('Hello', { length: '64' })], [], [PROTOCOL_ERROR], { tolerated: { replies: [textReply('Hello')], note: NON_MINIMAL } }),
    failCase('1.3.3', 'Send a 300-byte binary frame with a non-minimal 64-bit length: fail 1002 (strict) or echo (NON-STRICT)',
      [binary(binaryPayload(300), { length: '64' })], [], [PROTOCOL_ERROR],
      { tolerated: { replies: [binaryReply(binaryPayload(300))], note: NON_MINIMAL } }),
    failCase('1.3.4', 'Send a ping with a non-minimal 16-bit length: fail 1002 (strict) or pong (NON-STRICT)',
      [ping('ping', { length: '16' })], [], [PROTOCOL_ERROR], { tolerated: { replies: [pongReply('ping')], note: NON_MINIMAL } }),
    failCase('1.3.5', 'Send a text frame whose 64-bit length has the most significant bit set: fail 1002',
      [text('Hello', { length: '64-msb' })], [], [PROTOCOL_ERROR]),
    failCase('1.3.6', 'Send a binary frame announcing 2^40 bytes (then 16 bytes): fail 1009 at once, without waiting for the payload',
      [binary(binaryPayload(16), { announcedLength: 2 ** 40 })], [], [MESSAGE_TOO_BIG]),

    // 1.4 (ours) Masking, RFC 6455 §5.1: client frames masked, server frames not.
    failCase('1.4.1', 'Send a text frame with the wrong masking for the sender\'s role: fail 1002',
      [text('Hello', { masking: 'wrong' })], [], [PROTOCOL_ERROR]),
    failCase('1.4.2', 'Send a valid text message, then one with the wrong masking: echo the first, then fail 1002',
      [text('Hello'), text('World', { masking: 'wrong' })], [textReply('Hello')], [PROTOCOL_ERROR],
      { chop: 'frame', nonStrict: [{ replies: [], note: 'the valid message before the violation was not echoed' }] }),
    failCase('1.4.3', 'Send a ping with the wrong masking: fail 1002, no pong',
      [ping('Hello', { masking: 'wrong' })], [], [PROTOCOL_ERROR]),
    failCase('1.4.4', 'Send a close frame (1000) with the wrong masking: fail 1002',
      [close(NORMAL, '', { masking: 'wrong' })], [], [PROTOCOL_ERROR]),
  ];
}
