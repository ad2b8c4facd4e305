/**
 * The shared vector tables of the frame codec. Each frame vector pairs a frame with its exact wire
 * bytes and drives decode, encode (encodeFrame and FrameEncoder) and round-trip tests; each error
 * vector pairs bad input with the error it must produce.
 *
 * Expected bytes are written out by hand (masked payloads through the byte-wise reference in
 * support/frames.ts), never produced by the code under test.
 */
import { CloseCode, Opcode } from '../lib/constants';
import type { DecoderRole } from '../lib/frame/frame';
import type { FrameDecoderOptions } from '../lib/frame/decoder';
import type { ErrorCode } from '../lib/errors';
import type { Frame } from '../lib/frame/frame';
import { hex, keyBytes, maskBytes, pattern } from './support/frames';

export interface FrameVector {
  name: string;
  /**
   * Who sends these bytes. `'client'` frames are masked with `maskKey` and are decoded with role
   * `'server'`; `'server'` frames are unmasked and are decoded with role `'client'` (§5.1).
   */
  role: 'client' | 'server';
  frame: Frame;
  bytes: Buffer;
  maskKey?: number;
  /** Decoder options the frame needs, e.g. an extension's RSV bit. */
  options?: FrameDecoderOptions;
}

/** The decoder role that receives a vector: the other side of the connection. */
export function receiverRole(vector: FrameVector): 'server' | 'client' {
  return vector.role === 'client' ? 'server' : 'client';
}

/** Header length of a vector: its bytes minus the payload. */
export function headerSize(vector: FrameVector): number {
  return vector.bytes.length - vector.frame.payload.length;
}

/** RFC 6455 §5.7 uses this key for both masked examples. */
export const RFC_KEY = 0x37fa213d;

function frame(opcode: number, payload: Buffer, masked: boolean, fin = true, rsv = [false, false, false]): Frame {
  return { fin, rsv1: rsv[0], rsv2: rsv[1], rsv3: rsv[2], opcode, masked, payload };
}

/** An unmasked (server-sent) vector: header bytes then the payload as is. */
function fromServer(name: string, head: string, payload: Buffer, opcode: number, fin = true): FrameVector {
  return { name, role: 'server', frame: frame(opcode, payload, false, fin), bytes: Buffer.concat([hex(head), payload]) };
}

/** A masked (client-sent) vector: header bytes, key, then the payload masked by the reference. */
function fromClient(name: string, head: string, payload: Buffer, opcode: number, key: number, fin = true): FrameVector {
  return {
    name, role: 'client', maskKey: key, frame: frame(opcode, payload, true, fin),
    bytes: Buffer.concat([hex(head), keyBytes(key), maskBytes(payload, key)]),
  };
}

const hello = Buffer.from('Hello');
const KEY = 0xa1b2c3d4;

export const frameVectors: readonly FrameVector[] = [
  // RFC 6455 §5.7, in the order the RFC lists them.
  {
    name: 'the RFC 6455 §5.7 single-frame unmasked text "Hello"', role: 'server',
    frame: frame(Opcode.Text, hello, false), bytes: hex('81 05 48 65 6c 6c 6f'),
  },
  {
    name: 'the RFC 6455 §5.7 single-frame masked text "Hello"', role: 'client', maskKey: RFC_KEY,
    frame: frame(Opcode.Text, hello, true), bytes: hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'),
  },
  {
    name: 'the RFC 6455 §5.7 first fragment "Hel"', role: 'server',
    frame: frame(Opcode.Text, Buffer.from('Hel'), false, false), bytes: hex('01 03 48 65 6c'),
  },
  {
    name: 'the RFC 6455 §5.7 final continuation fragment "lo"', role: 'server',
    frame: frame(Opcode.Continuation, Buffer.from('lo'), false), bytes: hex('80 02 6c 6f'),
  },
  {
    name: 'the RFC 6455 §5.7 unmasked ping "Hello"', role: 'server',
    frame: frame(Opcode.Ping, hello, false), bytes: hex('89 05 48 65 6c 6c 6f'),
  },
  {
    name: 'the RFC 6455 §5.7 masked pong "Hello"', role: 'client', maskKey: RFC_KEY,
    frame: frame(Opcode.Pong, hello, true), bytes: hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'),
  },
  fromServer('the RFC 6455 §5.7 256-byte unmasked binary frame', '82 7e 01 00', pattern(256), Opcode.Binary),
  fromServer('the RFC 6455 §5.7 64 KiB unmasked binary frame', '82 7f 00 00 00 00 00 01 00 00', pattern(65536), Opcode.Binary),

  // Length edges: the last 7-bit length, the first and last 16-bit ones, the first 64-bit one.
  fromServer('an empty unmasked binary frame', '82 00', Buffer.alloc(0), Opcode.Binary),
  fromClient('an empty masked binary frame', '82 80', Buffer.alloc(0), Opcode.Binary, KEY),
  fromServer('a 125-byte unmasked frame (largest 7-bit length)', '82 7d', pattern(125, 1), Opcode.Binary),
  fromClient('a 125-byte masked frame', '82 fd', pattern(125, 2), Opcode.Binary, KEY),
  fromServer('a 126-byte unmasked frame (smallest 16-bit length)', '82 7e 00 7e', pattern(126, 3), Opcode.Binary),
  fromClient('a 126-byte masked frame', '82 fe 00 7e', pattern(126, 4), Opcode.Binary, KEY),
  fromServer('a 65535-byte unmasked frame (largest 16-bit length)', '82 7e ff ff', pattern(65535, 5), Opcode.Binary),
  fromClient('a 65535-byte masked frame', '82 fe ff ff', pattern(65535, 6), Opcode.Binary, KEY),
  fromServer('a 65536-byte unmasked frame (smallest 64-bit length)', '82 7f 00 00 00 00 00 01 00 00', pattern(65536, 7), Opcode.Binary),
  fromClient('a 65536-byte masked frame', '82 ff 00 00 00 00 00 01 00 00', pattern(65536, 8), Opcode.Binary, KEY),
  fromClient('a masked frame whose key is all zero bits', '82 83', hex('01 02 03'), Opcode.Binary, 0),
  fromClient('a masked frame whose key is all one bits', '81 83', Buffer.from('abc'), Opcode.Text, 0xffffffff),

  // Control frames: empty, largest allowed, close with and without a status.
  fromServer('an empty unmasked ping', '89 00', Buffer.alloc(0), Opcode.Ping),
  fromClient('an empty masked ping', '89 80', Buffer.alloc(0), Opcode.Ping, KEY),
  fromServer('an empty unmasked pong', '8a 00', Buffer.alloc(0), Opcode.Pong),
  fromClient('an empty masked pong', '8a 80', Buffer.alloc(0), Opcode.Pong, KEY),
  fromServer('an empty unmasked close', '88 00', Buffer.alloc(0), Opcode.Close),
  fromClient('an empty masked close', '88 80', Buffer.alloc(0), Opcode.Close, KEY),
  fromServer('a ping with the largest control payload, 125 bytes', '89 7d', pattern(125, 9), Opcode.Ping),
  fromClient('a masked pong with 125 bytes', '8a fd', pattern(125, 10), Opcode.Pong, KEY),
  fromServer('an unmasked close with status 1000', '88 02', hex('03 e8'), Opcode.Close),
  fromServer('an unmasked close with status 1001 and reason "bye"', '88 05', Buffer.concat([hex('03 e9'), Buffer.from('bye')]), Opcode.Close),
  fromClient('a masked close with status 1000 and reason "done"', '88 86', Buffer.concat([hex('03 e8'), Buffer.from('done')]), Opcode.Close, RFC_KEY),

  // Fragments and multi-byte text.
  fromClient('a masked non-final binary fragment', '02 84', hex('de ad be ef'), Opcode.Binary, KEY, false),
  fromClient('a masked non-final continuation fragment', '00 82', hex('ca fe'), Opcode.Continuation, KEY, false),
  fromServer('an unmasked text frame of multi-byte UTF-8', '81 0a', Buffer.from('h€llo✓', 'utf8'), Opcode.Text),

  // Reserved bits, once an extension has enabled them (RFC 6455 §5.2).
  {
    name: 'an RSV1 text frame with allowRsv1 (as permessage-deflate sends)', role: 'server',
    frame: frame(Opcode.Text, hello, false, true, [true, false, false]),
    bytes: hex('c1 05 48 65 6c 6c 6f'), options: { allowRsv1: true },
  },
  {
    name: 'a masked frame with all three RSV bits enabled', role: 'client', maskKey: KEY,
    frame: frame(Opcode.Binary, hex('01'), true, true, [true, true, true]),
    bytes: Buffer.concat([hex('f2 81'), keyBytes(KEY), maskBytes(hex('01'), KEY)]),
    options: { allowRsv1: true, allowRsv2: true, allowRsv3: true },
  },
];

/** Input the decoder must reject, and exactly how. */
export interface ErrorVector {
  name: string;
  /** The decoder's role. */
  role: DecoderRole;
  options?: FrameDecoderOptions;
  bytes: Buffer;
  code: ErrorCode;
  closeCode: number;
  /**
   * Stream offset the error reports: the frame's first byte for a first-byte problem, +1 for a
   * second-byte problem, +2 for an extended-length problem, the end of input for truncation.
   */
  offset: number;
  /** Valid frames in `bytes` before the bad one; they must come out before the error. */
  framesBefore?: number;
}

const P = CloseCode.ProtocolError;
const TOO_BIG = CloseCode.MessageTooBig;
const ABNORMAL = CloseCode.Abnormal;

/** An unmasked "Hello" frame, 7 bytes, as a valid prefix. */
const HELLO = '81 05 48 65 6c 6c 6f';

function reservedOpcodeVectors(): ErrorVector[] {
  const out: ErrorVector[] = [];
  for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    out.push({
      name: `a frame with reserved opcode ${opcode}`, role: 'client',
      bytes: Buffer.from([0x80 | opcode, 0x00]), code: 'WS_ERR_INVALID_OPCODE', closeCode: P, offset: 0,
    });
  }
  return out;
}

export const errorVectors: readonly ErrorVector[] = [
  // RFC 6455 §5.2: reserved bits MUST be 0 unless an extension defines them.
  { name: 'RSV1 without an extension', role: 'client', bytes: hex('c1 00'), code: 'WS_ERR_UNEXPECTED_RSV_1', closeCode: P, offset: 0 },
  { name: 'RSV2 without an extension', role: 'client', bytes: hex('a1 00'), code: 'WS_ERR_UNEXPECTED_RSV_2', closeCode: P, offset: 0 },
  { name: 'RSV3 without an extension', role: 'client', bytes: hex('91 00'), code: 'WS_ERR_UNEXPECTED_RSV_3', closeCode: P, offset: 0 },
  {
    name: 'RSV2 when only RSV1 is enabled', role: 'client', options: { allowRsv1: true },
    bytes: hex('e1 00'), code: 'WS_ERR_UNEXPECTED_RSV_2', closeCode: P, offset: 0,
  },
  {
    name: 'RSV1 when only RSV2 and RSV3 are enabled', role: 'client', options: { allowRsv2: true, allowRsv3: true },
    bytes: hex('c1 00'), code: 'WS_ERR_UNEXPECTED_RSV_1', closeCode: P, offset: 0,
  },
  {
    name: 'RSV3 when only RSV1 and RSV2 are enabled', role: 'client', options: { allowRsv1: true, allowRsv2: true },
    bytes: hex('f1 00'), code: 'WS_ERR_UNEXPECTED_RSV_3', closeCode: P, offset: 0,
  },

  // RFC 6455 §5.2: opcodes 3-7 and 11-15 are reserved.
  ...reservedOpcodeVectors(),
  {
    name: 'a reserved opcode without FIN', role: 'client',
    bytes: hex('03 00'), code: 'WS_ERR_INVALID_OPCODE', closeCode: P, offset: 0,
  },

  // RFC 6455 §5.5: control frames MUST NOT be fragmented and carry at most 125 bytes.
  { name: 'a ping without FIN', role: 'client', bytes: hex('09 00'), code: 'WS_ERR_EXPECTED_FIN', closeCode: P, offset: 0 },
  { name: 'a pong without FIN', role: 'client', bytes: hex('0a 00'), code: 'WS_ERR_EXPECTED_FIN', closeCode: P, offset: 0 },
  { name: 'a close without FIN', role: 'server', bytes: hex('08 80 00 00 00 00'), code: 'WS_ERR_EXPECTED_FIN', closeCode: P, offset: 0 },
  {
    name: 'a ping with a 126-byte payload', role: 'client',
    bytes: Buffer.concat([hex('89 7e 00 7e'), pattern(126)]), code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', closeCode: P, offset: 1,
  },
  {
    name: 'a close with the 64-bit length marker', role: 'client',
    bytes: hex('88 7f 00 00 00 00 00 00 00 02 03 e8'), code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', closeCode: P, offset: 1,
  },
  {
    name: 'a masked pong with the 16-bit length marker', role: 'server',
    bytes: hex('8a fe 00 80'), code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', closeCode: P, offset: 1,
  },
  {
    name: 'a ping with a short payload in a non-minimal 16-bit length, even when those are allowed', role: 'client',
    options: { allowNonMinimalLength: true },
    bytes: hex('89 7e 00 01 00'), code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', closeCode: P, offset: 1,
  },

  // RFC 6455 §5.1: a server MUST close on an unmasked frame, a client on a masked one.
  {
    name: 'an unmasked frame sent to a server', role: 'server',
    bytes: hex(HELLO), code: 'WS_ERR_EXPECTED_MASK', closeCode: P, offset: 1,
  },
  {
    name: 'an unmasked empty ping sent to a server', role: 'server',
    bytes: hex('89 00'), code: 'WS_ERR_EXPECTED_MASK', closeCode: P, offset: 1,
  },
  {
    name: 'a masked frame sent to a client', role: 'client',
    bytes: hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), code: 'WS_ERR_UNEXPECTED_MASK', closeCode: P, offset: 1,
  },

  // RFC 6455 §5.2: 64-bit lengths have their most significant bit clear; beyond 2^53 - 1 a
  // JavaScript number cannot count the bytes.
  {
    name: 'a 64-bit length with the most significant bit set', role: 'client', options: { maxPayload: Infinity },
    bytes: hex('82 7f 80 00 00 00 00 00 00 00'), code: 'WS_ERR_INVALID_PAYLOAD_LENGTH', closeCode: P, offset: 2,
  },
  {
    name: 'a 64-bit length of 2^64 - 1', role: 'client',
    bytes: hex('82 7f ff ff ff ff ff ff ff ff'), code: 'WS_ERR_INVALID_PAYLOAD_LENGTH', closeCode: P, offset: 2,
  },
  {
    name: 'a 64-bit length of 2^53', role: 'client', options: { maxPayload: Infinity },
    bytes: hex('82 7f 00 20 00 00 00 00 00 00'), code: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', closeCode: TOO_BIG, offset: 2,
  },
  {
    name: 'a 64-bit length of 2^63 - 1', role: 'client', options: { maxPayload: Infinity },
    bytes: hex('82 7f 7f ff ff ff ff ff ff ff'), code: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', closeCode: TOO_BIG, offset: 2,
  },

  // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
  {
    name: 'a 16-bit length of 125', role: 'client',
    bytes: Buffer.concat([hex('82 7e 00 7d'), pattern(125)]), code: 'WS_ERR_NON_MINIMAL_LENGTH', closeCode: P, offset: 2,
  },
  { name: 'a 16-bit length of 0', role: 'client', bytes: hex('82 7e 00 00'), code: 'WS_ERR_NON_MINIMAL_LENGTH', closeCode: P, offset: 2 },
  {
    name: 'a 64-bit length of 65535', role: 'client',
    bytes: hex('82 7f 00 00 00 00 00 00 ff ff'), code: 'WS_ERR_NON_MINIMAL_LENGTH', closeCode: P, offset: 2,
  },
  {
    name: 'a 64-bit length of 5', role: 'server',
    bytes: hex('82 ff 00 00 00 00 00 00 00 05'), code: 'WS_ERR_NON_MINIMAL_LENGTH', closeCode: P, offset: 2,
  },

  // maxPayload: 1009 as soon as the length is known.
  {
    name: 'a 7-bit length above maxPayload', role: 'client', options: { maxPayload: 10 },
    bytes: hex('82 0b'), code: 'WS_ERR_PAYLOAD_TOO_BIG', closeCode: TOO_BIG, offset: 1,
  },
  {
    name: 'a 16-bit length above maxPayload', role: 'server', options: { maxPayload: 1000 },
    bytes: hex('82 fe 03 e9'), code: 'WS_ERR_PAYLOAD_TOO_BIG', closeCode: TOO_BIG, offset: 2,
  },
  {
    name: 'a 64-bit length above maxPayload', role: 'client', options: { maxPayload: 65536 },
    bytes: hex('82 7f 00 00 00 00 00 01 00 01'), code: 'WS_ERR_PAYLOAD_TOO_BIG', closeCode: TOO_BIG, offset: 2,
  },
  {
    name: 'a length one above the default maxPayload of 64 MiB', role: 'client',
    bytes: hex('82 7f 00 00 00 00 04 00 00 01'), code: 'WS_ERR_PAYLOAD_TOO_BIG', closeCode: TOO_BIG, offset: 2,
  },
  {
    name: 'any payload at all with maxPayload 0', role: 'client', options: { maxPayload: 0 },
    bytes: hex('89 01'), code: 'WS_ERR_PAYLOAD_TOO_BIG', closeCode: TOO_BIG, offset: 1,
  },

  // The stream ended inside a frame: 1006, at the end of input.
  { name: 'input ending after the first header byte', role: 'client', bytes: hex('81'), code: 'WS_ERR_TRUNCATED_FRAME', closeCode: ABNORMAL, offset: 1 },
  { name: 'input ending inside a 16-bit length', role: 'client', bytes: hex('82 7e 01'), code: 'WS_ERR_TRUNCATED_FRAME', closeCode: ABNORMAL, offset: 3 },
  {
    name: 'input ending inside a 64-bit length', role: 'client',
    bytes: hex('82 7f 00 00 00 00 00'), code: 'WS_ERR_TRUNCATED_FRAME', closeCode: ABNORMAL, offset: 7,
  },
  { name: 'input ending inside the masking key', role: 'server', bytes: hex('81 85 37 fa'), code: 'WS_ERR_TRUNCATED_FRAME', closeCode: ABNORMAL, offset: 4 },
  { name: 'input ending right after the masking key', role: 'server', bytes: hex('81 85 37 fa 21 3d'), code: 'WS_ERR_TRUNCATED_FRAME', closeCode: ABNORMAL, offset: 6 },
  { name: 'input ending inside the payload', role: 'client', bytes: hex('81 05 48 65'), code: 'WS_ERR_TRUNCATED_FRAME', closeCode: ABNORMAL, offset: 4 },
  {
    name: 'input ending inside the payload of a second frame', role: 'client', framesBefore: 1,
    bytes: hex(`${HELLO} 82 7e 01 00 00 01 02`), code: 'WS_ERR_TRUNCATED_FRAME', closeCode: ABNORMAL, offset: 14,
  },

  // Offsets count from the start of the stream, not of the frame.
  {
    name: 'RSV1 in the frame after a valid one', role: 'client', framesBefore: 1,
    bytes: hex(`${HELLO} c1 00`), code: 'WS_ERR_UNEXPECTED_RSV_1', closeCode: P, offset: 7,
  },
  {
    name: 'a masked frame after two valid ones sent to a client', role: 'client', framesBefore: 2,
    bytes: hex(`${HELLO} 89 00 81 80 00 00 00 00`), code: 'WS_ERR_UNEXPECTED_MASK', closeCode: P, offset: 10,
  },
  {
    name: 'a non-minimal 64-bit length after a valid frame', role: 'client', framesBefore: 1,
    bytes: hex(`${HELLO} 82 7f 00 00 00 00 00 00 00 00`), code: 'WS_ERR_NON_MINIMAL_LENGTH', closeCode: P, offset: 9,
  },
  {
    name: 'a 16-bit length above maxPayload after a valid frame', role: 'client', framesBefore: 1, options: { maxPayload: 200 },
    bytes: hex(`${HELLO} 82 7e 00 c9`), code: 'WS_ERR_PAYLOAD_TOO_BIG', closeCode: TOO_BIG, offset: 9,
  },
];

/** Input that is valid only because of an option; decode-only (the encoder never produces it). */
export interface AcceptedVector {
  name: string;
  role: DecoderRole;
  options: FrameDecoderOptions;
  bytes: Buffer;
  frames: Frame[];
}

export const acceptedVectors: readonly AcceptedVector[] = [
  {
    name: 'a masked frame with role "any"', role: 'any', options: {},
    bytes: hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), frames: [frame(Opcode.Text, hello, true)],
  },
  {
    name: 'an unmasked frame with role "any"', role: 'any', options: {},
    bytes: hex(HELLO), frames: [frame(Opcode.Text, hello, false)],
  },
  {
    name: 'masked and unmasked frames mixed on one stream with role "any"', role: 'any', options: {},
    bytes: hex(`${HELLO} 8a 85 37 fa 21 3d 7f 9f 4d 51 58 89 00`),
    frames: [frame(Opcode.Text, hello, false), frame(Opcode.Pong, hello, true), frame(Opcode.Ping, Buffer.alloc(0), false)],
  },
  {
    name: 'RSV1 with allowRsv1', role: 'client', options: { allowRsv1: true },
    bytes: hex('c2 01 ff'), frames: [frame(Opcode.Binary, hex('ff'), false, true, [true, false, false])],
  },
  {
    name: 'RSV2 with allowRsv2', role: 'client', options: { allowRsv2: true },
    bytes: hex('a2 00'), frames: [frame(Opcode.Binary, Buffer.alloc(0), false, true, [false, true, false])],
  },
  {
    name: 'RSV3 with allowRsv3', role: 'client', options: { allowRsv3: true },
    bytes: hex('92 00'), frames: [frame(Opcode.Binary, Buffer.alloc(0), false, true, [false, false, true])],
  },
  {
    name: 'a 16-bit length of 5 with allowNonMinimalLength', role: 'client', options: { allowNonMinimalLength: true },
    bytes: hex('81 7e 00 05 48 65 6c 6c 6f'), frames: [frame(Opcode.Text, hello, false)],
  },
  {
    name: 'a 64-bit length of 5 with allowNonMinimalLength', role: 'server', options: { allowNonMinimalLength: true },
    bytes: hex('81 ff 00 00 00 00 00 00 00 05 37 fa 21 3d 7f 9f 4d 51 58'), frames: [frame(Opcode.Text, hello, true)],
  },
  {
    name: 'a 64-bit length of 126 with allowNonMinimalLength', role: 'client', options: { allowNonMinimalLength: true },
    bytes: Buffer.concat([hex('82 7f 00 00 00 00 00 00 00 7e'), pattern(126)]), frames: [frame(Opcode.Binary, pattern(126), false)],
  },
  {
    name: 'a payload of exactly maxPayload bytes', role: 'client', options: { maxPayload: 3 },
    bytes: hex('82 03 01 02 03'), frames: [frame(Opcode.Binary, hex('01 02 03'), false)],
  },
  {
    name: 'an empty frame with maxPayload 0', role: 'client', options: { maxPayload: 0 },
    bytes: hex('89 00'), frames: [frame(Opcode.Ping, Buffer.alloc(0), false)],
  },
];
