import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import fc from 'fast-check';
import { pipeline } from 'readable-stream';
import { CloseCode, DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE, Opcode } from '../../lib/constants';
import { FrameDecoder, type FrameDecoderOptions } from '../../lib/frame/decoder';
import type { TransformCallback } from '../../lib/frame/sync-transform';
import { FrameEncoder } from '../../lib/frame/encoder';
import { type ErrorCode, WebSocketProtocolError, WebSocketUsageError } from '../../lib/errors';
import type { Frame, FrameInput, FramePiece } from '../../lib/frame/frame';
import { encodeClosePayload, isValidCloseCode, MAX_CLOSE_REASON_LENGTH, parseClosePayload } from '../../lib/message/close';
import { fragmentMessage, type MessageInput } from '../../lib/message/serializer';
import { type Message, MessageDecoder, type MessageDecoderOptions, type StreamingMessage } from '../../lib/message/decoder';
import { MessageEncoder, type MessageEncoderOptions } from '../../lib/message/encoder';
import { MessageParser, type MessageParserOptions, type WholeMessage } from '../../lib/message/parser';
import { type DeflateParams, PerMessageDeflate } from '../../lib/extensions/permessage-deflate';
import { Readable, Transform } from '../../lib/streams';

// --- Fixtures ------------------------------------------------------------------------------------

/** Bytes from hex text; spaces are ignored. */
const h = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** Deterministic, non-constant bytes. */
function pattern(length: number, seed = 0): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff;
  return out;
}

function bytesOf(payload: Buffer | string): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
}

function frame(opcode: number, payload: Buffer | string = '', fin = true, rsv1 = false): Frame {
  return { fin, rsv1, rsv2: false, rsv3: false, opcode, masked: false, payload: bytesOf(payload) };
}
const text = (payload: Buffer | string, fin = true): Frame => frame(Opcode.Text, payload, fin);
const binary = (payload: Buffer | string, fin = true): Frame => frame(Opcode.Binary, payload, fin);
const cont = (payload: Buffer | string, fin = true): Frame => frame(Opcode.Continuation, payload, fin);
const ping = (payload: Buffer | string = ''): Frame => frame(Opcode.Ping, payload);
const pong = (payload: Buffer | string = ''): Frame => frame(Opcode.Pong, payload);
const close = (payload: Buffer | string = ''): Frame => frame(Opcode.Close, payload);
/** A close payload: the code big-endian, then the reason. */
function closeBody(code: number, reason: Buffer | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, bytesOf(reason)]);
}

/** Cuts a frame into pieces at the given payload offsets, as FrameDecoder's streaming mode does. */
function piecesOf(whole: Frame, cuts: readonly number[]): Frame[] {
  const length = whole.payload.length;
  if (length === 0) return [whole];
  const points = [...new Set(cuts.filter((c) => c > 0 && c < length))].sort((a, b) => a - b);
  const pieces: FramePiece[] = [];
  let start = 0;
  for (const end of [...points, length]) {
    pieces.push({ ...whole, payload: whole.payload.subarray(start, end), offset: start, totalLength: length, last: end === length });
    start = end;
  }
  return pieces;
}

/** Every frame cut into 1-byte pieces. */
const bytewisePieces = (frames: readonly Frame[]): Frame[] =>
  frames.flatMap((f) => piecesOf(f, Array.from({ length: f.payload.length }, (_, i) => i)));

/** Sorted, distinct cut points inside [1, length - 1]. */
function cutsFor(length: number, raw: readonly number[]): number[] {
  if (length < 2) return [];
  return [...new Set(raw.map((c) => 1 + (c % (length - 1))))].sort((a, b) => a - b);
}

/** Splits bytes at the cut points. */
function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (const end of [...cuts, bytes.length]) {
    parts.push(bytes.subarray(start, end));
    start = end;
  }
  return parts;
}

/** The frames of one data message cut at the given byte offsets. */
function fragmentsOf(opcode: number, bytes: Buffer, cuts: readonly number[]): Frame[] {
  const parts = splitAt(bytes, cuts);
  return parts.map((part, i) => frame(i === 0 ? opcode : Opcode.Continuation, part, i === parts.length - 1));
}

/** A message as plain data, for readable deep-equality diffs. */
type Shown =
  | { type: 'text'; data: string }
  | { type: 'binary' | 'ping' | 'pong'; data: string }
  | { type: 'close'; code: number; reason: string }
  | { type: 'text-stream' | 'binary-stream' };

function show(message: Message): Shown {
  switch (message.type) {
    case 'text':
      return { type: 'text', data: message.data };
    case 'binary':
    case 'ping':
    case 'pong':
      return { type: message.type, data: message.data.toString('hex') };
    case 'close':
      return { type: 'close', code: message.code, reason: message.reason };
    default:
      return { type: message.type };
  }
}

const T = (data: string): Shown => ({ type: 'text', data });
const BIN = (hex: string): Shown => ({ type: 'binary', data: hex });
const PING = (hex = ''): Shown => ({ type: 'ping', data: hex });
const PONG = (hex = ''): Shown => ({ type: 'pong', data: hex });
const CLOSE = (code: number, reason = ''): Shown => ({ type: 'close', code, reason });

interface ExpectedError { code: ErrorCode; closeCode: number }

function expectError(error: unknown, expected: ExpectedError, kind: 'protocol' | 'usage' = 'protocol'): void {
  expect(error, 'an error').to.be.instanceOf(kind === 'protocol' ? WebSocketProtocolError : WebSocketUsageError);
  const { code, closeCode } = error as WebSocketProtocolError;
  expect({ code, closeCode }).to.deep.equal(expected);
}

function expectThrows(fn: () => unknown, expected: ExpectedError, kind: 'protocol' | 'usage'): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expectError(thrown, expected, kind);
}

const err = (code: ErrorCode, closeCode: number): ExpectedError => ({ code, closeCode });
const PROTOCOL = CloseCode.ProtocolError;
const INVALID_UTF8 = err('WS_ERR_INVALID_UTF8', CloseCode.InvalidPayload);
const TOO_BIG = err('WS_ERR_MESSAGE_TOO_BIG', CloseCode.MessageTooBig);

// --- Drivers -------------------------------------------------------------------------------------

interface Parsed {
  messages: Shown[];
  error: Error | undefined;
  /** Index of the input whose write returned the error, or -1. */
  errorAt: number;
}

/** Feeds frames to a MessageParser (whole mode) synchronously. */
function parse(frames: readonly Frame[], options: MessageParserOptions = {}): Parsed {
  const messages: Shown[] = [];
  const parser = new MessageParser(options, {
    message: (m) => { messages.push(show(m)); },
    streamStart: () => { throw new Error('whole mode never streams'); },
    streamData: () => { throw new Error('whole mode never streams'); },
    streamEnd: () => { throw new Error('whole mode never streams'); },
  });
  for (let i = 0; i < frames.length; i++) {
    const error = parser.write(frames[i]);
    if (error !== undefined) return { messages, error, errorAt: i };
  }
  return { messages, error: undefined, errorAt: -1 };
}

interface Decoded {
  messages: Message[];
  error: Error | undefined;
}

/** Collects a readable side in flowing mode until it closes. */
function collect<T>(stream: Readable): Promise<{ items: T[]; error: Error | undefined }> {
  return new Promise((resolve) => {
    const items: T[] = [];
    let error: Error | undefined;
    stream.on('data', (item: T) => { items.push(item); });
    stream.on('error', (e: Error) => { error = e; });
    stream.on('close', () => { resolve({ items, error }); });
  });
}

/** Writes frames to a MessageDecoder, ends it, and collects what comes out. */
async function decode(frames: readonly Frame[], options: MessageDecoderOptions = {}): Promise<Decoded> {
  const decoder = new MessageDecoder(options);
  const done = collect<Message>(decoder);
  for (const f of frames) {
    if (decoder.destroyed) break;
    decoder.write(f);
  }
  if (!decoder.destroyed) decoder.end();
  const { items, error } = await done;
  return { messages: items, error };
}

/**
 * Connects streams with readable-stream's pipeline, so an error anywhere destroys them all and
 * reaches the last one. Typed loosely: its typings are Node's, which expect Node's own classes.
 */
function connect(...streams: Array<Readable | Transform>): void {
  (pipeline as unknown as (...args: unknown[]) => void)(...streams, () => { /* seen on the last stream */ });
}

/** Splits every chunk into pieces of the given sizes, in turn, to exercise any chunking. */
class Rechunk extends Transform {
  private turn = 0;
  constructor(private readonly sizes: readonly number[]) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let pos = 0;
    while (pos < chunk.length) {
      const size = this.sizes.length === 0 ? chunk.length : Math.max(1, this.sizes[this.turn++ % this.sizes.length]);
      this.push(chunk.subarray(pos, pos + size));
      pos += size;
    }
    callback();
  }
}

/**
 * The real stack: FrameEncoder (client, masking) -> bytes rechunked -> FrameDecoder (server)
 * -> MessageDecoder. Frames go in as FrameInputs.
 */
async function overTheWire(
  frames: readonly FrameInput[], options: MessageDecoderOptions = {}, frameOptions: FrameDecoderOptions = {},
  chunkSizes: readonly number[] = [],
): Promise<Decoded> {
  const encoder = new FrameEncoder({ role: 'client' });
  const decoder = new MessageDecoder(options);
  const done = collect<Message>(decoder);
  connect(encoder, new Rechunk(chunkSizes), new FrameDecoder({ role: 'server', ...frameOptions }), decoder);
  for (const f of frames) encoder.write(f);
  encoder.end();
  const { items, error } = await done;
  return { messages: items, error };
}

/** Reads a message stream to its end (or error): the bytes, or the strings for text. */
async function readStream(stream: Readable): Promise<{ chunks: Array<Buffer | string>; error: Error | undefined }> {
  const { items, error } = await collect<Buffer | string>(stream);
  return { chunks: items, error };
}

/** Streamed and whole messages side by side, streams read to the end. */
interface StreamDecoded {
  /** Control messages, in order. */
  controls: Shown[];
  /** Data messages whose stream ended, as whole messages. */
  data: Shown[];
  /** Errors of streams that did not end. */
  aborted: Error[];
  error: Error | undefined;
  chunkTypes: string[];
}

async function decodeStreaming(frames: readonly Frame[], options: MessageDecoderOptions = {}): Promise<StreamDecoded> {
  const decoder = new MessageDecoder({ ...options, streaming: true });
  const controls: Shown[] = [];
  const reads: Array<Promise<void>> = [];
  const data: Array<Shown | undefined> = [];
  const aborted: Error[] = [];
  const chunkTypes = new Set<string>();
  decoder.on('data', (message: Message) => {
    if (message.type !== 'text-stream' && message.type !== 'binary-stream') {
      controls.push(show(message));
      return;
    }
    const slot = data.length;
    data.push(undefined);
    reads.push(readStream(message.stream).then(({ chunks, error }) => {
      for (const chunk of chunks) chunkTypes.add(`${message.type}:${typeof chunk}`);
      if (error !== undefined) {
        aborted.push(error);
      } else if (message.type === 'text-stream') {
        data[slot] = T(chunks.join(''));
      } else {
        data[slot] = BIN(Buffer.concat(chunks as Buffer[]).toString('hex'));
      }
    }));
  });
  const closed = new Promise<Error | undefined>((resolve) => {
    let error: Error | undefined;
    decoder.on('error', (e: Error) => { error = e; });
    decoder.on('close', () => { resolve(error); });
  });
  for (const f of frames) {
    if (decoder.destroyed) break;
    decoder.write(f);
  }
  if (!decoder.destroyed) decoder.end();
  const error = await closed;
  await Promise.all(reads);
  return {
    controls, data: data.filter((d): d is Shown => d !== undefined), aborted, error, chunkTypes: [...chunkTypes],
  };
}

/** Converts test frames to encoder input. */
const asInput = (f: Frame): FrameInput => ({ opcode: f.opcode, payload: f.payload, fin: f.fin });

// --- Decoding vectors ----------------------------------------------------------------------------

interface DecodeVector {
  name: string;
  frames: Frame[];
  options?: MessageParserOptions;
  /** Messages out, in order (whole mode: a data message comes out at its last frame). */
  messages: Shown[];
  error?: ExpectedError;
  /** Index of the frame that must produce the error. */
  errorAt?: number;
}

const INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

const DECODE_VECTORS: DecodeVector[] = [
  // RFC 6455 §5.7 examples and plain messages.
  { name: 'a single-frame unmasked text message "Hello" (§5.7)', frames: [text('Hello')], messages: [T('Hello')] },
  { name: 'a fragmented text message "Hel" + "lo" (§5.7)', frames: [text('Hel', false), cont('lo')], messages: [T('Hello')] },
  { name: 'an unmasked ping "Hello" (§5.7)', frames: [ping('Hello')], messages: [PING('48656c6c6f')] },
  { name: 'a pong "Hello" (§5.7)', frames: [pong('Hello')], messages: [PONG('48656c6c6f')] },
  { name: 'a single-frame binary message', frames: [binary(h('0001ff80'))], messages: [BIN('0001ff80')] },
  { name: 'a binary message in three fragments', frames: [binary(h('00'), false), cont(h('0102'), false), cont(h('ff'))], messages: [BIN('000102ff')] },
  { name: 'an empty text message', frames: [text('')], messages: [T('')] },
  { name: 'an empty binary message', frames: [binary('')], messages: [BIN('')] },
  { name: 'a message made of empty fragments only', frames: [text('', false), cont('', false), cont('')], messages: [T('')] },
  { name: 'a message with empty fragments between its data', frames: [binary(h('01'), false), cont('', false), cont(h('02'), false), cont('')], messages: [BIN('0102')] },
  { name: 'messages one after another', frames: [text('a'), binary(h('02')), text('b', false), cont('c')], messages: [T('a'), BIN('02'), T('bc')] },
  { name: 'an empty ping and an empty pong', frames: [ping(), pong()], messages: [PING(), PONG()] },

  // §5.4: control frames between fragments are delivered at once.
  { name: 'a ping between two fragments, delivered before the message', frames: [text('Hel', false), ping('x'), cont('lo')], messages: [PING('78'), T('Hello')] },
  { name: 'pings and pongs between every fragment', frames: [binary(h('01'), false), pong('a'), cont(h('02'), false), ping('b'), ping('c'), cont(h('03'))], messages: [PONG('61'), PING('62'), PING('63'), BIN('010203')] },
  { name: 'a close between fragments, delivered at once while the message stays open', frames: [text('a', false), close(closeBody(1000)), cont('b')], messages: [CLOSE(1000), T('ab')] },

  // Close payloads, §5.5.1 / §7.1.5 / §7.4.
  { name: 'a close with an empty payload (code 1005)', frames: [close()], messages: [CLOSE(CloseCode.NoStatus)] },
  { name: 'a close with code 1000 and no reason', frames: [close(closeBody(1000))], messages: [CLOSE(1000)] },
  { name: 'a close with code 1001 and a UTF-8 reason', frames: [close(closeBody(1001, 'au revoir ✓'))], messages: [CLOSE(1001, 'au revoir ✓')] },
  { name: 'a close with a 123-byte reason', frames: [close(closeBody(4999, 'r'.repeat(123)))], messages: [CLOSE(4999, 'r'.repeat(123))] },
  ...[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999].map((code): DecodeVector => (
    { name: `a close with valid code ${code}`, frames: [close(closeBody(code))], messages: [CLOSE(code)] })),
  ...INVALID_CLOSE_CODES.map((code): DecodeVector => ({
    name: `a close with code ${code}, which may not be sent (1002)`, frames: [close(closeBody(code))], messages: [],
    error: err('WS_ERR_INVALID_CLOSE_CODE', PROTOCOL), errorAt: 0,
  })),
  { name: 'a close with a 1-byte payload (1002)', frames: [close(h('03'))], messages: [], error: err('WS_ERR_INVALID_CLOSE_PAYLOAD', PROTOCOL), errorAt: 0 },
  { name: 'a close whose reason is not UTF-8 (1007)', frames: [close(closeBody(1000, h('ff')))], messages: [], error: INVALID_UTF8, errorAt: 0 },
  { name: 'a close whose reason ends inside a character (1007)', frames: [close(closeBody(1000, h('41e282')))], messages: [], error: INVALID_UTF8, errorAt: 0 },
  { name: 'a close whose reason holds a surrogate (1007)', frames: [close(closeBody(1000, h('eda080')))], messages: [], error: INVALID_UTF8, errorAt: 0 },

  // §5.4: fragment sequencing.
  { name: 'a continuation frame with nothing to continue (1002)', frames: [cont('x')], messages: [], error: err('WS_ERR_UNEXPECTED_CONTINUATION', PROTOCOL), errorAt: 0 },
  { name: 'a continuation frame after a complete message (1002)', frames: [text('a', false), cont('b'), cont('c')], messages: [T('ab')], error: err('WS_ERR_UNEXPECTED_CONTINUATION', PROTOCOL), errorAt: 2 },
  { name: 'a final continuation frame with nothing to continue (1002)', frames: [text('ok'), cont('', true)], messages: [T('ok')], error: err('WS_ERR_UNEXPECTED_CONTINUATION', PROTOCOL), errorAt: 1 },
  { name: 'a text frame while a text message is open (1002)', frames: [text('a', false), text('b')], messages: [], error: err('WS_ERR_EXPECTED_CONTINUATION', PROTOCOL), errorAt: 1 },
  { name: 'a binary frame while a text message is open (1002)', frames: [text('a', false), ping('p'), binary('b')], messages: [PING('70')], error: err('WS_ERR_EXPECTED_CONTINUATION', PROTOCOL), errorAt: 2 },
  { name: 'a text frame while a binary message is open (1002)', frames: [binary('a', false), cont('b', false), text('c', false)], messages: [], error: err('WS_ERR_EXPECTED_CONTINUATION', PROTOCOL), errorAt: 2 },

  // §8.1: UTF-8, validated as it arrives.
  { name: 'a text message keeps its leading byte-order mark', frames: [text(h('efbbbf41'))], messages: [T('\ufeffA')] },
  { name: 'a fragmented text message keeps a byte-order mark split across fragments', frames: [text(h('ef'), false), cont(h('bbbf41'))], messages: [T('\ufeffA')] },
  { name: 'a 3-byte character split over three fragments', frames: [text(h('e2'), false), cont(h('82'), false), cont(h('ac'))], messages: [T('€')] },
  { name: 'a 4-byte character split over four fragments with pings between', frames: [text(h('f0'), false), ping(), cont(h('9f'), false), cont(h('98'), false), ping(), cont(h('80'))], messages: [PING(), PING(), T('😀')] },
  { name: 'U+10FFFF and U+FFFF, the largest characters', frames: [text(h('f48fbfbf efbfbf'))], messages: [T('\u{10ffff}\uffff')] },
  { name: 'a single text frame that is not UTF-8 (1007)', frames: [text(h('48ff'))], messages: [], error: INVALID_UTF8, errorAt: 0 },
  { name: 'a single text frame ending inside a character (1007)', frames: [text(h('41e282'))], messages: [], error: INVALID_UTF8, errorAt: 0 },
  { name: 'a surrogate in a single text frame (1007)', frames: [text(h('eda080'))], messages: [], error: INVALID_UTF8, errorAt: 0 },
  { name: 'an overlong "/" in a single text frame (1007)', frames: [text(h('c0af'))], messages: [], error: INVALID_UTF8, errorAt: 0 },
  { name: 'a code point above U+10FFFF in a single text frame (1007)', frames: [text(h('f4908080'))], messages: [], error: INVALID_UTF8, errorAt: 0 },
  { name: 'an invalid byte in the first fragment fails at that fragment (1007)', frames: [text(h('41ff'), false), cont('a', false), cont('b')], messages: [], error: INVALID_UTF8, errorAt: 0 },
  { name: 'a surrogate split across fragments fails at the fragment with the bad byte (1007)', frames: [text(h('61ed'), false), cont(h('a080'), false), cont('b')], messages: [], error: INVALID_UTF8, errorAt: 1 },
  { name: 'an overlong sequence split across fragments fails at its second byte (1007)', frames: [text(h('e0'), false), cont(h('80'), false), cont(h('af'))], messages: [], error: INVALID_UTF8, errorAt: 1 },
  { name: 'a lone continuation byte in a middle fragment (1007)', frames: [text('ok', false), cont(h('80'), false), cont('b')], messages: [], error: INVALID_UTF8, errorAt: 1 },
  { name: 'a message ending inside a character fails at its final fragment (1007)', frames: [text(h('41e2'), false), cont(h('82'), false), ping(), cont('', true)], messages: [PING()], error: INVALID_UTF8, errorAt: 3 },
  { name: 'binary messages are not UTF-8 checked', frames: [binary(h('ff'), false), cont(h('eda080'))], messages: [BIN('ffeda080')] },
  { name: 'an invalid text message after valid ones loses none of them', frames: [text('a'), ping('p'), binary(h('01')), text(h('ff'))], messages: [T('a'), PING('70'), BIN('01')], error: INVALID_UTF8, errorAt: 3 },

  // Limits.
  { name: 'a message of exactly maxMessageSize bytes', options: { maxMessageSize: 5 }, frames: [text('123', false), cont('45')], messages: [T('12345')] },
  { name: 'a single frame over maxMessageSize (1009)', options: { maxMessageSize: 5 }, frames: [binary('123456')], messages: [], error: TOO_BIG, errorAt: 0 },
  { name: 'fragments that together pass maxMessageSize fail at the fragment that passes it (1009)', options: { maxMessageSize: 5 }, frames: [text('12', false), cont('34', false), cont('56', false), cont('7')], messages: [], error: TOO_BIG, errorAt: 2 },
  { name: 'maxMessageSize counts one message at a time', options: { maxMessageSize: 3 }, frames: [text('abc'), binary('de', false), cont('f')], messages: [T('abc'), BIN('646566')] },
  { name: 'a message of exactly maxFragments frames', options: { maxFragments: 3 }, frames: [binary('a', false), cont('b', false), cont('c')], messages: [BIN('616263')] },
  { name: 'a message of more than maxFragments frames (1009)', options: { maxFragments: 3 }, frames: [binary('a', false), cont('', false), cont('', false), cont('d')], messages: [], error: err('WS_ERR_TOO_MANY_FRAGMENTS', CloseCode.MessageTooBig), errorAt: 3 },
  { name: 'control frames do not count as fragments', options: { maxFragments: 2 }, frames: [binary('a', false), ping(), ping(), cont('b')], messages: [PING(), PING(), BIN('6162')] },

];

describe('message', () => {
  describe('isValidCloseCode', () => {
    it('accepts exactly 1000-1003, 1007-1014 and 3000-4999 among all 16-bit codes', () => {
      const allowed: number[] = [];
      for (let code = 0; code <= 0xffff; code++) if (isValidCloseCode(code)) allowed.push(code);
      const expected = [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
        ...Array.from({ length: 2000 }, (_, i) => 3000 + i),
      ];
      expect(allowed).to.deep.equal(expected);
    });

    it('rejects non-integers', () => {
      for (const code of [1000.5, Number.NaN, Infinity, -1000]) expect(isValidCloseCode(code), String(code)).to.equal(false);
    });
  });

  describe('parseClosePayload', () => {
    const cases: Array<{ name: string; payload: Buffer; result?: { code: number; reason: string }; error?: ExpectedError }> = [
      { name: 'an empty payload as code 1005 with no reason (§7.1.5)', payload: h(''), result: { code: 1005, reason: '' } },
      { name: 'a bare code', payload: h('03e8'), result: { code: 1000, reason: '' } },
      { name: 'a code and reason', payload: closeBody(4000, 'bye'), result: { code: 4000, reason: 'bye' } },
      { name: 'a reason with a byte-order mark, kept', payload: closeBody(1000, h('efbbbf78')), result: { code: 1000, reason: '\ufeffx' } },
      { name: 'a 1-byte payload (1002)', payload: h('03'), error: err('WS_ERR_INVALID_CLOSE_PAYLOAD', PROTOCOL) },
      ...INVALID_CLOSE_CODES.map((code) => ({ name: `code ${code} (1002)`, payload: closeBody(code), error: err('WS_ERR_INVALID_CLOSE_CODE', PROTOCOL) })),
      { name: 'a reason that is not UTF-8 (1007)', payload: closeBody(1000, h('c0af')), error: INVALID_UTF8 },
    ];
    for (const c of cases) {
      it(`reads ${c.name}`, () => {
        if (c.error !== undefined) {
          expectThrows(() => parseClosePayload(c.payload), c.error, 'protocol');
        } else {
          expect(parseClosePayload(c.payload)).to.deep.equal(c.result);
        }
      });
    }

    it('reads back whatever encodeClosePayload builds', () => {
      const code = fc.oneof(fc.integer({ min: 1000, max: 1003 }), fc.integer({ min: 1007, max: 1014 }), fc.integer({ min: 3000, max: 4999 }));
      const reason = fc.string({ unit: 'binary', maxLength: 40 }).filter((r) => Buffer.byteLength(r) <= MAX_CLOSE_REASON_LENGTH);
      fc.assert(fc.property(code, reason, (c, r) => {
        expect(parseClosePayload(encodeClosePayload(c, r))).to.deep.equal({ code: c, reason: r });
      }));
    });
  });

  describe('encodeClosePayload', () => {
    it('builds an empty payload without a code', () => {
      expect(encodeClosePayload().length).to.equal(0);
      expect(encodeClosePayload(undefined, '').length).to.equal(0);
    });

    it('builds the big-endian code followed by the UTF-8 reason', () => {
      expect(encodeClosePayload(1000).toString('hex')).to.equal('03e8');
      expect(encodeClosePayload(4001, 'é').toString('hex')).to.equal('0fa1c3a9');
    });

    it('accepts a reason of exactly 123 bytes, counting UTF-8 bytes', () => {
      expect(encodeClosePayload(1000, `${'é'.repeat(61)}a`).length).to.equal(125);
    });

    it('rejects a reason of 124 bytes (WS_ERR_INVALID_CLOSE_REASON)', () => {
      expectThrows(() => encodeClosePayload(1000, 'é'.repeat(62)), err('WS_ERR_INVALID_CLOSE_REASON', CloseCode.InternalError), 'usage');
      expectThrows(() => encodeClosePayload(1000, 'x'.repeat(124)), err('WS_ERR_INVALID_CLOSE_REASON', CloseCode.InternalError), 'usage');
    });

    it('rejects a reason without a code (WS_ERR_INVALID_CLOSE_REASON)', () => {
      expectThrows(() => encodeClosePayload(undefined, 'why'), err('WS_ERR_INVALID_CLOSE_REASON', CloseCode.InternalError), 'usage');
    });

    for (const code of [...INVALID_CLOSE_CODES, 1000.5, Number.NaN]) {
      it(`rejects code ${code}, which may not be sent (WS_ERR_INVALID_CLOSE_CODE)`, () => {
        expectThrows(() => encodeClosePayload(code), err('WS_ERR_INVALID_CLOSE_CODE', PROTOCOL), 'usage');
      });
    }

    it('rejects a reason that is not a string (WS_ERR_INVALID_ARGUMENT)', () => {
      expectThrows(() => encodeClosePayload(1000, 42 as unknown as string), err('WS_ERR_INVALID_ARGUMENT', CloseCode.InternalError), 'usage');
    });
  });

  describe('MessageDecoder: vectors', () => {
    for (const vector of DECODE_VECTORS) {
      const check = (messages: Shown[], error: Error | undefined): void => {
        expect(messages).to.deep.equal(vector.messages);
        if (vector.error === undefined) expect(error).to.equal(undefined);
        else expectError(error, vector.error);
      };

      it(`parses ${vector.name}`, () => {
        const result = parse(vector.frames, vector.options);
        check(result.messages, result.error);
        expect(result.errorAt).to.equal(vector.errorAt ?? -1);
      });

      it(`decodes ${vector.name} as a stream`, async () => {
        const result = await decode(vector.frames, vector.options);
        check(result.messages.map(show), result.error);
      });

      it(`decodes ${vector.name} from 1-byte frame pieces`, () => {
        const result = parse(bytewisePieces(vector.frames), vector.options);
        check(result.messages, result.error);
      });

      it(`decodes ${vector.name} over the wire, byte by byte, from frame pieces`, async () => {
        const result = await overTheWire(vector.frames.map(asInput), vector.options, { streamingThreshold: 0 }, [1]);
        check(result.messages.map(show), result.error);
      });

      it(`decodes ${vector.name} in streaming mode with the same data and errors`, async () => {
        const result = await decodeStreaming(vector.frames, vector.options);
        expect(result.controls).to.deep.equal(vector.messages.filter((m) => m.type !== 'text' && m.type !== 'binary'));
        expect(result.data).to.deep.equal(vector.messages.filter((m) => m.type === 'text' || m.type === 'binary'));
        if (vector.error === undefined) {
          expect(result.error).to.equal(undefined);
          expect(result.aborted).to.deep.equal([]);
        } else {
          expectError(result.error, vector.error);
          // A stream still open at the error is destroyed with that very error.
          for (const aborted of result.aborted) expect(aborted).to.equal(result.error);
        }
      });
    }
  });

  describe('MessageDecoder: properties', () => {
    const dataMessage = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }).map((s) => ({ opcode: Opcode.Text, bytes: Buffer.from(s, 'utf8'), shown: T(s) })),
      fc.uint8Array({ maxLength: 200 }).map((b) => ({ opcode: Opcode.Binary, bytes: Buffer.from(b), shown: BIN(Buffer.from(b).toString('hex')) })),
    );

    it('decodes any fragmentation of a message, with pings anywhere between fragments, to the same message', () => {
      fc.assert(fc.property(
        dataMessage, fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 4 }), fc.array(fc.nat(), { maxLength: 10 }),
        (message, rawCuts, pingSlots, pieceCuts) => {
          const fragments = fragmentsOf(message.opcode, message.bytes, cutsFor(message.bytes.length, rawCuts));
          // Pings go after fragment i (never after the last: that would follow the message).
          const frames: Frame[] = [];
          const pings: Shown[] = [];
          fragments.forEach((f, i) => {
            frames.push(...piecesOf(f, pieceCuts.map((c) => c % (f.payload.length + 1))));
            if (i === fragments.length - 1) return;
            for (const slot of pingSlots) {
              if (slot % fragments.length !== i) continue;
              const payload = Buffer.from([slot & 0xff]);
              frames.push(ping(payload));
              pings.push(PING(payload.toString('hex')));
            }
          });
          const result = parse(frames);
          expect(result.error).to.equal(undefined);
          expect(result.messages).to.deep.equal([...pings, message.shown]);
        },
      ), { numRuns: 500 });
    });

    /**
     * Byte-wise oracle for "where does this text become invalid": a fatal TextDecoder fed one byte
     * at a time (WHATWG Encoding §4.4.1 fails at the first byte outside the allowed range).
     */
    function firstInvalidByte(bytes: Buffer): { index: number; truncated: boolean } {
      const oracle = new TextDecoder('utf-8', { fatal: true });
      for (let i = 0; i < bytes.length; i++) {
        try {
          oracle.decode(bytes.subarray(i, i + 1), { stream: true });
        } catch {
          return { index: i, truncated: false };
        }
      }
      try {
        oracle.decode();
      } catch {
        return { index: -1, truncated: true };
      }
      return { index: -1, truncated: false };
    }

    const utf8ish = fc.array(fc.oneof(
      fc.string({ unit: 'binary', maxLength: 3 }).map((s) => Buffer.from(s, 'utf8')),
      fc.integer({ min: 0x80, max: 0xff }).map((b) => Buffer.from([b])),
      fc.constantFrom(h('eda0'), h('e080'), h('f490'), h('c0'), h('f0'), h('e2 82')),
    ), { minLength: 1, maxLength: 25 }).map((parts) => Buffer.concat(parts));

    it('fails invalid UTF-8 at the fragment holding the first invalid byte, never earlier', () => {
      fc.assert(fc.property(utf8ish, fc.array(fc.nat(), { maxLength: 8 }), (bytes, rawCuts) => {
        const oracle = firstInvalidByte(bytes);
        fc.pre(oracle.index !== -1 || oracle.truncated);
        const cuts = cutsFor(bytes.length, rawCuts);
        const frames = fragmentsOf(Opcode.Text, bytes, cuts);
        const result = parse(frames);
        expectError(result.error, INVALID_UTF8);
        // The fragment holding byte `index` is the number of cuts at or before it; a truncated
        // message fails at its final fragment.
        const expectedAt = oracle.truncated ? frames.length - 1 : cuts.filter((c) => c <= oracle.index).length;
        expect(result.errorAt).to.equal(expectedAt);
      }), { numRuns: 1000 });
    });

    it('fails invalid UTF-8 at the frame piece holding the first invalid byte', () => {
      fc.assert(fc.property(utf8ish, fc.array(fc.nat(), { maxLength: 8 }), (bytes, rawCuts) => {
        const oracle = firstInvalidByte(bytes);
        fc.pre(oracle.index !== -1);
        const cuts = cutsFor(bytes.length, rawCuts);
        const result = parse(piecesOf(text(bytes), cuts));
        expectError(result.error, INVALID_UTF8);
        expect(result.errorAt).to.equal(cuts.filter((c) => c <= oracle.index).length);
      }), { numRuns: 500 });
    });

    it('accepts exactly the byte strings a fatal TextDecoder accepts, single-frame or fragmented', () => {
      fc.assert(fc.property(utf8ish, fc.array(fc.nat(), { maxLength: 4 }), (bytes, rawCuts) => {
        const oracle = firstInvalidByte(bytes);
        const valid = oracle.index === -1 && !oracle.truncated;
        for (const frames of [[text(bytes)], fragmentsOf(Opcode.Text, bytes, cutsFor(bytes.length, rawCuts))]) {
          const result = parse(frames);
          if (valid) expect(result.messages).to.deep.equal([T(bytes.toString('utf8'))]);
          else expectError(result.error, INVALID_UTF8);
        }
      }), { numRuns: 500 });
    });

    it('turns any sequence of frames into messages or one protocol error, never a crash', () => {
      const anyFrame = fc.record({
        opcode: fc.constantFrom(0, 0, 1, 2, 8, 9, 10),
        payload: fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.constantFrom(h('03e8'), h('ff'), h('e282'), h('c3a9'))),
        fin: fc.boolean(),
        cuts: fc.array(fc.nat(8), { maxLength: 2 }),
      }).map(({ opcode, payload, fin, cuts }) => piecesOf(frame(opcode, Buffer.from(payload), fin || opcode >= 8), cuts));
      fc.assert(fc.property(fc.array(anyFrame, { maxLength: 12 }), fc.boolean(), (pieces, streaming) => {
        const parser = new MessageParser({ streaming, maxMessageSize: 20, maxFragments: 5 }, {
          message: () => {}, streamStart: () => {}, streamData: () => {}, streamEnd: () => {},
        });
        for (const piece of pieces.flat()) {
          const error = parser.write(piece);
          if (error === undefined) continue;
          expect(error).to.be.instanceOf(WebSocketProtocolError);
          expect([CloseCode.ProtocolError, CloseCode.InvalidPayload, CloseCode.MessageTooBig]).to.include(error.closeCode);
          return;
        }
      }), { numRuns: 2000 });
    });

    it('yields the same messages from a real FrameDecoder however the wire bytes are chunked', async () => {
      await fc.assert(fc.asyncProperty(
        fc.array(dataMessage, { minLength: 1, maxLength: 4 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 6 }),
        fc.constantFrom(Infinity, 0, 7), fc.integer({ min: 1, max: 30 }),
        async (messages, chunkSizes, streamingThreshold, fragment) => {
          const frames = messages.flatMap((m) => fragmentsOf(m.opcode, m.bytes, Array.from(
            { length: Math.floor(Math.max(0, m.bytes.length - 1) / fragment) }, (_, i) => (i + 1) * fragment)));
          const result = await overTheWire(frames.map(asInput), {}, { streamingThreshold }, chunkSizes);
          expect(result.error).to.equal(undefined);
          expect(result.messages.map(show)).to.deep.equal(messages.map((m) => m.shown));
        },
      ), { numRuns: 100 });
    });
  });

  describe('MessageDecoder: memory', () => {
    it('delivers a single-frame binary message as a view of the frame payload (zero copy)', () => {
      const payload = pattern(300);
      const messages: WholeMessage[] = [];
      const parser = new MessageParser({}, {
        message: (m) => { messages.push(m); }, streamStart: () => {}, streamData: () => {}, streamEnd: () => {},
      });
      parser.write(binary(payload));
      const data = (messages[0] as { data: Buffer }).data;
      expect(data.buffer).to.equal(payload.buffer);
      expect(data.byteOffset).to.equal(payload.byteOffset);
    });

    it('reassembles 65,536 fragments of 64 bytes (4 MiB) with the default limits, copying each fragment', () => {
      expect(65536).to.be.at.most(DEFAULT_MAX_FRAGMENTS);
      expect(65536 * 64).to.be.at.most(DEFAULT_MAX_MESSAGE_SIZE);
      const whole = pattern(65536 * 64, 3);
      const messages: WholeMessage[] = [];
      const parser = new MessageParser({}, {
        message: (m) => { messages.push(m); }, streamStart: () => {}, streamData: () => {}, streamEnd: () => {},
      });
      for (let i = 0; i < 65536; i++) {
        const payload = Buffer.from(whole.subarray(i * 64, (i + 1) * 64));
        expect(parser.write(frame(i === 0 ? Opcode.Binary : Opcode.Continuation, payload, i === 65535))).to.equal(undefined);
        // Reusing the input afterwards must not reach the message: the parser copied it.
        payload.fill(0);
      }
      expect(messages).to.have.length(1);
      expect(Buffer.compare((messages[0] as { data: Buffer }).data, whole)).to.equal(0);
    });

    it('reassembles 65,536 fragments of 64 bytes of text from wire bytes through a real FrameDecoder', async () => {
      // 4 MiB of text (every 64-byte slice cuts some 3-byte characters), as a server sends it.
      const body = Buffer.from('aé€'.repeat(Math.ceil((65536 * 64) / 6)), 'utf8').subarray(0, 65536 * 64);
      const trimmed = body.subarray(0, body.length - (body.length % 6));
      const fragments = Math.ceil(trimmed.length / 64);
      const wire = Buffer.alloc(fragments * 2 + trimmed.length);
      let pos = 0;
      for (let i = 0; i < fragments; i++) {
        const part = trimmed.subarray(i * 64, (i + 1) * 64);
        wire[pos++] = (i === fragments - 1 ? 0x80 : 0) | (i === 0 ? Opcode.Text : Opcode.Continuation);
        wire[pos++] = part.length;
        part.copy(wire, pos);
        pos += part.length;
      }
      const decoder = new MessageDecoder();
      const done = collect<Message>(decoder);
      const frameDecoder = new FrameDecoder({ role: 'client' });
      connect(frameDecoder, decoder);
      for (let at = 0; at < wire.length; at += 65536) frameDecoder.write(wire.subarray(at, at + 65536));
      frameDecoder.end();
      const { items, error } = await done;
      expect(error).to.equal(undefined);
      expect(fragments).to.be.greaterThan(65000);
      expect(items).to.have.length(1);
      expect((items[0] as { data: string }).data).to.equal(trimmed.toString('utf8'));
    });

    it('keeps no reference to the payloads of the fragments it has combined', async () => {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const messages: WholeMessage[] = [];
      const parser = new MessageParser({}, {
        message: (m) => { messages.push(m); }, streamStart: () => {}, streamData: () => {}, streamEnd: () => {},
      });
      const refs: Array<WeakRef<ArrayBuffer>> = [];
      ((): void => {
        for (let i = 0; i < 2000; i++) {
          // Unpooled, so each fragment has its own ArrayBuffer to watch.
          const payload = Buffer.alloc(64, i & 0xff);
          refs.push(new WeakRef(payload.buffer));
          parser.write(frame(i === 0 ? Opcode.Binary : Opcode.Continuation, payload, false));
        }
      })();
      // WeakRefs hold their targets until the current job ends.
      await new Promise<void>((resolve) => { setImmediate(resolve); });
      gc();
      expect(refs.filter((ref) => ref.deref() !== undefined).length).to.be.at.most(1);
      expect(parser.write(cont('', true))).to.equal(undefined);
      expect((messages[0] as { data: Buffer }).data.length).to.equal(2000 * 64);
    });

    it('fails with 1009 at the first piece of a frame that announces too much, before its bytes arrive', () => {
      const piece: FramePiece = { ...binary(h('00')), offset: 0, totalLength: 1_000_000, last: false };
      const result = parse([piece], { maxMessageSize: 999_999 });
      expectError(result.error, TOO_BIG);
      expect(result.errorAt).to.equal(0);
    });

    it('fails with 1009 when a continuation frame announces more than the rest of maxMessageSize', () => {
      const piece: FramePiece = { ...cont(h('00')), offset: 0, totalLength: 60, last: false };
      const result = parse([binary(pattern(50), false), piece], { maxMessageSize: 100 });
      expectError(result.error, TOO_BIG);
      expect(result.errorAt).to.equal(1);
    });

    it('gathers a control frame that arrives in pieces', () => {
      const body = closeBody(1001, 'going away');
      expect(parse(piecesOf(close(body), [1, 2, 5])).messages).to.deep.equal([CLOSE(1001, 'going away')]);
      expect(parse([text('a', false), ...piecesOf(ping('abc'), [1]), cont('b')]).messages).to.deep.equal([PING('616263'), T('ab')]);
    });

    it('rejects frame pieces out of order with a usage error', () => {
      const pieces = piecesOf(binary(pattern(10)), [3, 6]);
      expectError(parse([pieces[0], pieces[2]]).error, err('WS_ERR_INVALID_ARGUMENT', CloseCode.InternalError), 'usage');
      expectError(parse([pieces[0], binary('x')]).error, err('WS_ERR_INVALID_ARGUMENT', CloseCode.InternalError), 'usage');
    });

    it('stays failed after an error', () => {
      const parser = new MessageParser({}, {
        message: () => { throw new Error('no message expected'); }, streamStart: () => {}, streamData: () => {}, streamEnd: () => {},
      });
      const first = parser.write(cont('x'));
      expectError(first, err('WS_ERR_UNEXPECTED_CONTINUATION', PROTOCOL));
      expect(parser.write(text('fine'))).to.equal(first);
    });

    it('reports whether a message is open', () => {
      const parser = new MessageParser({}, { message: () => {}, streamStart: () => {}, streamData: () => {}, streamEnd: () => {} });
      expect(parser.idle).to.equal(true);
      parser.write(text('a', false));
      expect(parser.idle).to.equal(false);
      parser.write(cont('b'));
      expect(parser.idle).to.equal(true);
    });

    it('rejects invalid limits (WS_ERR_INVALID_ARGUMENT)', () => {
      for (const options of [{ maxMessageSize: -1 }, { maxMessageSize: Number.NaN }, { maxFragments: 0 }, { maxFragments: 1.5 }, { streamHighWaterMark: -1 }]) {
        expectThrows(() => new MessageDecoder(options), err('WS_ERR_INVALID_ARGUMENT', CloseCode.InternalError), 'usage');
      }
    });
  });

  describe('MessageDecoder: streaming', () => {
    it('announces a data message at its first frame, before the rest arrives', () => {
      const decoder = new MessageDecoder({ streaming: true });
      decoder.write(text('Hel', false));
      const message = decoder.read() as StreamingMessage;
      expect(message.type).to.equal('text-stream');
      expect(message.stream.read()).to.equal('Hel');
      decoder.write(ping('x'));
      expect(show(decoder.read() as Message)).to.deep.equal(PING('78'));
      decoder.write(cont('lo'));
      expect(message.stream.read()).to.equal('lo');
      expect(message.stream.readableEnded || message.stream.read() === null).to.equal(true);
    });

    it('yields strings for text, Buffers for binary, with the same content as whole mode', async () => {
      await fc.assert(fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 60 }), fc.uint8Array({ maxLength: 100 }), fc.array(fc.nat(), { maxLength: 8 }),
        async (s, b, rawCuts) => {
          const textBytes = Buffer.from(`\ufeff${s}`, 'utf8');
          const frames = [
            ...fragmentsOf(Opcode.Text, textBytes, cutsFor(textBytes.length, rawCuts)),
            ...fragmentsOf(Opcode.Binary, Buffer.from(b), cutsFor(b.length, rawCuts)),
          ];
          const result = await decodeStreaming(frames);
          expect(result.error).to.equal(undefined);
          expect(result.data).to.deep.equal([T(`\ufeff${s}`), BIN(Buffer.from(b).toString('hex'))]);
          for (const kind of result.chunkTypes) expect(['text-stream:string', 'binary-stream:object']).to.include(kind);
        },
      ), { numRuns: 100 });
    });

    it('streams a frame that arrives in pieces from a real FrameDecoder', async () => {
      const payload = pattern(200_000, 9);
      const encoder = new FrameEncoder({ role: 'client' });
      const decoder = new MessageDecoder({ streaming: true });
      connect(encoder, new Rechunk([4096]), new FrameDecoder({ role: 'server', streamingThreshold: 1000 }), decoder);
      encoder.end({ opcode: Opcode.Binary, payload });
      const [message] = (await once(decoder, 'data')) as [StreamingMessage];
      expect(message.type).to.equal('binary-stream');
      const { chunks, error } = await readStream(message.stream);
      expect(error).to.equal(undefined);
      expect(chunks.length).to.be.greaterThan(1);
      expect(Buffer.compare(Buffer.concat(chunks as Buffer[]), payload)).to.equal(0);
    });

    it('stops taking frames while the message stream is unread, so write() returns false', async () => {
      const highWaterMark = 1024;
      const decoder = new MessageDecoder({ streaming: true, streamHighWaterMark: highWaterMark });
      const fragment = pattern(100);
      let written = 1;
      decoder.write(binary(fragment, false));
      while (decoder.write(cont(fragment, false)) && written < 10_000) written++;
      // 1024 / 100 fragments fill the stream; the writable side then buffers its 16 objects.
      expect(written).to.be.lessThan(64);
      const message = decoder.read() as StreamingMessage;
      expect(message.stream.readableLength).to.be.at.most(highWaterMark + fragment.length);
      // Reading the stream lets the decoder go on.
      const reading = readStream(message.stream);
      await once(decoder, 'drain');
      decoder.write(cont(fragment, true));
      decoder.end();
      const { chunks, error } = await reading;
      expect(error).to.equal(undefined);
      expect(Buffer.concat(chunks as Buffer[]).length).to.equal((written + 2) * fragment.length);
    });

    it('holds a large upload at the source while its message stream is unread', async () => {
      const total = 16 * 1024 * 1024;
      const chunk = 16 * 1024;
      let produced = 0;
      const header = Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 0, 0, 0]);
      header.writeUInt32BE(total, 6);
      function* wire(): Generator<Buffer> {
        yield header;
        for (let sent = 0; sent < total; sent += chunk) {
          produced += chunk;
          yield Buffer.alloc(chunk, sent / chunk);
        }
      }
      const decoder = new MessageDecoder({ streaming: true, maxMessageSize: Infinity, streamHighWaterMark: 64 * 1024 });
      connect(Readable.from(wire()), new FrameDecoder({ role: 'client', streamingThreshold: 0, maxPayload: Infinity }), decoder);
      const [message] = (await once(decoder, 'data')) as [StreamingMessage];
      // Let the pipeline run until the source stops producing (it is never read meanwhile).
      let before = -1;
      for (let still = 0; still < 10 && produced < total; still = produced === before ? still + 1 : 0) {
        before = produced;
        await new Promise<void>((resolve) => { setImmediate(resolve); });
      }
      // What the stages may buffer (16 objects of <= 16 KiB at each hop, the 64 KiB stream), far
      // below the 16 MiB message.
      expect(produced).to.be.at.most(2 * 1024 * 1024);
      let consumed = 0;
      for await (const piece of message.stream) consumed += (piece as Buffer).length;
      expect(consumed).to.equal(total);
    });

    it('destroys the open message stream with the same error when the connection fails mid-message', async () => {
      const decoder = new MessageDecoder({ streaming: true });
      const failed = once(decoder, 'error') as Promise<[Error]>;
      decoder.write(text('ok', false));
      const message = decoder.read() as StreamingMessage;
      const reading = readStream(message.stream);
      decoder.write(cont(h('ff')));
      const [[error], read] = await Promise.all([failed, reading]);
      expectError(error, INVALID_UTF8);
      expect(read.error).to.equal(error);
    });

    it('destroys the open message stream with WS_ERR_CONNECTION_LOST when input ends inside the message', async () => {
      const decoder = new MessageDecoder({ streaming: true });
      decoder.write(binary('part', false));
      const message = decoder.read() as StreamingMessage;
      const reading = readStream(message.stream);
      decoder.end();
      decoder.resume();
      const read = await reading;
      expectError(read.error, err('WS_ERR_CONNECTION_LOST', CloseCode.Abnormal));
    });

    it('destroys the open message stream when the decoder is destroyed', async () => {
      const decoder = new MessageDecoder({ streaming: true });
      decoder.write(binary('part', false));
      const message = decoder.read() as StreamingMessage;
      const reading = readStream(message.stream);
      decoder.destroy();
      expectError((await reading).error, err('WS_ERR_CONNECTION_LOST', CloseCode.Abnormal));
    });

    it('goes on with the next messages when a reader destroys its message stream', async () => {
      const decoder = new MessageDecoder({ streaming: true, streamHighWaterMark: 10 });
      decoder.write(binary(pattern(50), false));
      decoder.write(cont(pattern(50), false));
      // The stream is full and unread: the decoder is waiting for it.
      const first = decoder.read() as StreamingMessage;
      expect(decoder.writableLength).to.equal(2);
      first.stream.destroy();
      expect(decoder.writableLength).to.equal(0);
      const done = collect<Message>(decoder);
      decoder.write(cont(pattern(50)));
      decoder.write(text('next'));
      decoder.end();
      const { items, error } = await done;
      expect(error).to.equal(undefined);
      const second = items[items.length - 1] as StreamingMessage;
      expect(second.type).to.equal('text-stream');
      expect((await readStream(second.stream)).chunks.join('')).to.equal('next');
    });

    it('ends a full stream only once it is read, holding the next frame until then', async () => {
      const decoder = new MessageDecoder({ streaming: true, streamHighWaterMark: 4 });
      decoder.write(binary('abcdefgh'));
      expect(decoder.write(text('next'))).to.equal(true);
      const first = decoder.read() as StreamingMessage;
      // Nothing else came out: the next frame waits for the first stream's reader.
      expect(decoder.read()).to.equal(null);
      const { chunks } = await readStream(first.stream);
      expect(Buffer.concat(chunks as Buffer[]).toString()).to.equal('abcdefgh');
      const second = decoder.read() as StreamingMessage;
      expect(second.type).to.equal('text-stream');
    });
  });

  describe('fragmentMessage', () => {
    interface EncodeVector { name: string; message: MessageInput; fragmentSize?: number; frames: Array<{ opcode: number; payload: string; fin: boolean }> }
    const hexOf = (payload: FrameInput['payload']): string => Buffer.from(payload ?? '').toString('hex');
    const vectors: EncodeVector[] = [
      { name: 'a text message as one frame', message: { type: 'text', data: 'Hello' }, frames: [{ opcode: Opcode.Text, payload: '48656c6c6f', fin: true }] },
      { name: 'a binary message as one frame', message: { type: 'binary', data: h('00ff') }, frames: [{ opcode: Opcode.Binary, payload: '00ff', fin: true }] },
      { name: 'a Uint8Array binary message', message: { type: 'binary', data: new Uint8Array([1, 2]) }, frames: [{ opcode: Opcode.Binary, payload: '0102', fin: true }] },
      { name: 'an empty text message as one empty frame', message: { type: 'text', data: '' }, fragmentSize: 1, frames: [{ opcode: Opcode.Text, payload: '', fin: true }] },
      { name: 'text split on bytes, first Text then Continuations, FIN on the last', message: { type: 'text', data: 'Hello' }, fragmentSize: 2, frames: [
        { opcode: Opcode.Text, payload: '4865', fin: false }, { opcode: Opcode.Continuation, payload: '6c6c', fin: false }, { opcode: Opcode.Continuation, payload: '6f', fin: true }] },
      { name: 'a 2-byte character split across two frames', message: { type: 'text', data: 'é' }, fragmentSize: 1, frames: [
        { opcode: Opcode.Text, payload: 'c3', fin: false }, { opcode: Opcode.Continuation, payload: 'a9', fin: true }] },
      { name: 'binary of exactly fragmentSize bytes as one frame', message: { type: 'binary', data: h('010203') }, fragmentSize: 3, frames: [{ opcode: Opcode.Binary, payload: '010203', fin: true }] },
      { name: 'binary one byte over fragmentSize as two frames', message: { type: 'binary', data: h('01020304') }, fragmentSize: 3, frames: [
        { opcode: Opcode.Binary, payload: '010203', fin: false }, { opcode: Opcode.Continuation, payload: '04', fin: true }] },
      { name: 'a ping with string data', message: { type: 'ping', data: 'hi' }, fragmentSize: 1, frames: [{ opcode: Opcode.Ping, payload: '6869', fin: true }] },
      { name: 'a pong without data', message: { type: 'pong' }, frames: [{ opcode: Opcode.Pong, payload: '', fin: true }] },
      { name: 'a ping of 125 bytes', message: { type: 'ping', data: Buffer.alloc(125, 1) }, frames: [{ opcode: Opcode.Ping, payload: '01'.repeat(125), fin: true }] },
      { name: 'a close without a code as an empty close', message: { type: 'close' }, frames: [{ opcode: Opcode.Close, payload: '', fin: true }] },
      { name: 'a close with code and reason', message: { type: 'close', code: 1000, reason: 'bye' }, frames: [{ opcode: Opcode.Close, payload: '03e8627965', fin: true }] },
    ];
    for (const vector of vectors) {
      it(`encodes ${vector.name}`, () => {
        const frames = fragmentMessage(vector.message, vector.fragmentSize);
        expect(frames.map((f) => ({ opcode: f.opcode, payload: hexOf(f.payload), fin: f.fin !== false }))).to.deep.equal(vector.frames);
      });
    }

    const errors: Array<{ name: string; message: unknown; error: ExpectedError }> = [
      { name: 'a ping of 126 bytes', message: { type: 'ping', data: Buffer.alloc(126) }, error: err('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', PROTOCOL) },
      { name: 'a pong of 126 bytes as a string', message: { type: 'pong', data: 'é'.repeat(63) }, error: err('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', PROTOCOL) },
      { name: 'a close with code 1005', message: { type: 'close', code: 1005 }, error: err('WS_ERR_INVALID_CLOSE_CODE', PROTOCOL) },
      { name: 'a close with code 999', message: { type: 'close', code: 999, reason: 'x' }, error: err('WS_ERR_INVALID_CLOSE_CODE', PROTOCOL) },
      { name: 'a close with a 124-byte reason', message: { type: 'close', code: 1000, reason: 'x'.repeat(124) }, error: err('WS_ERR_INVALID_CLOSE_REASON', CloseCode.InternalError) },
      { name: 'a close with a reason and no code', message: { type: 'close', reason: 'x' }, error: err('WS_ERR_INVALID_CLOSE_REASON', CloseCode.InternalError) },
      { name: 'an unknown message type', message: { type: 'shout', data: 'x' }, error: err('WS_ERR_INVALID_ARGUMENT', CloseCode.InternalError) },
      { name: 'text whose data is a Buffer', message: { type: 'text', data: h('41') }, error: err('WS_ERR_INVALID_ARGUMENT', CloseCode.InternalError) },
      { name: 'binary whose data is a string', message: { type: 'binary', data: 'A' }, error: err('WS_ERR_INVALID_ARGUMENT', CloseCode.InternalError) },
      { name: 'a message that is not an object', message: 'hello', error: err('WS_ERR_INVALID_ARGUMENT', CloseCode.InternalError) },
    ];
    for (const e of errors) {
      it(`rejects ${e.name} (${e.error.code})`, () => {
        expectThrows(() => fragmentMessage(e.message as MessageInput), e.error, 'usage');
      });
    }

    it('rejects a fragmentSize that is not a positive integer (WS_ERR_INVALID_ARGUMENT)', () => {
      for (const fragmentSize of [0, -5, 2.5, Number.NaN]) {
        expectThrows(() => fragmentMessage({ type: 'binary', data: h('0102') }, fragmentSize), err('WS_ERR_INVALID_ARGUMENT', CloseCode.InternalError), 'usage');
      }
    });

    it('cuts data into frames of at most fragmentSize bytes that join back to the message', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 50 }), (data, size) => {
        const frames = fragmentMessage({ type: 'binary', data }, size);
        expect(frames.every((f) => Buffer.from(f.payload as Uint8Array).length <= size)).to.equal(true);
        expect(frames.map((f) => f.fin !== false)).to.deep.equal(frames.map((_, i) => i === frames.length - 1));
        expect(frames.map((f) => f.opcode)).to.deep.equal(frames.map((_, i) => (i === 0 ? Opcode.Binary : Opcode.Continuation)));
        expect(Buffer.compare(Buffer.concat(frames.map((f) => Buffer.from(f.payload as Uint8Array))), Buffer.from(data))).to.equal(0);
      }));
    });
  });

  describe('MessageEncoder', () => {
    async function encode(messages: readonly unknown[], options: MessageEncoderOptions = {}): Promise<{ frames: FrameInput[]; error: Error | undefined }> {
      const encoder = new MessageEncoder(options);
      const done = collect<FrameInput>(encoder);
      for (const message of messages) {
        if (encoder.destroyed) break;
        encoder.write(message);
      }
      if (!encoder.destroyed) encoder.end();
      const { items, error } = await done;
      return { frames: items, error };
    }

    it('turns messages into frames, fragmenting data at fragmentSize', async () => {
      const { frames, error } = await encode([{ type: 'text', data: 'abcde' }, { type: 'ping', data: 'p' }], { fragmentSize: 2 });
      expect(error).to.equal(undefined);
      expect(frames.map((f) => [f.opcode, Buffer.from(f.payload ?? '').toString(), f.fin !== false])).to.deep.equal([
        [Opcode.Text, 'ab', false], [Opcode.Continuation, 'cd', false], [Opcode.Continuation, 'e', true], [Opcode.Ping, 'p', true],
      ]);
    });

    it('fails the stream on an invalid message, after passing the valid ones', async () => {
      const { frames, error } = await encode([{ type: 'binary', data: h('01') }, { type: 'close', code: 1006 }]);
      expect(frames).to.have.length(1);
      expectError(error, err('WS_ERR_INVALID_CLOSE_CODE', PROTOCOL), 'usage');
    });

    it('refuses data after a close message (RFC 6455 §5.5.1) but still passes pings and pongs', async () => {
      const ok = await encode([{ type: 'close', code: 1000 }, { type: 'ping' }, { type: 'pong', data: 'x' }]);
      expect(ok.error).to.equal(undefined);
      expect(ok.frames.map((f) => f.opcode)).to.deep.equal([Opcode.Close, Opcode.Ping, Opcode.Pong]);
      for (const after of [{ type: 'text', data: 'late' }, { type: 'binary', data: h('00') }, { type: 'close' }]) {
        const { frames, error } = await encode([{ type: 'close' }, after]);
        expect(frames).to.have.length(1);
        expectError(error, err('WS_ERR_INVALID_STATE', CloseCode.InternalError), 'usage');
      }
    });

    it('rejects a fragmentSize that is not a positive integer', () => {
      for (const fragmentSize of [0, -1, 1.5, Number.NaN]) {
        expectThrows(() => new MessageEncoder({ fragmentSize }), err('WS_ERR_INVALID_ARGUMENT', CloseCode.InternalError), 'usage');
      }
    });

    it('round-trips any messages at any fragment size through the real frame codec', async () => {
      const input = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 50 }).map((data): MessageInput => ({ type: 'text', data })),
        fc.uint8Array({ maxLength: 120 }).map((data): MessageInput => ({ type: 'binary', data: Buffer.from(data) })),
        fc.uint8Array({ maxLength: 125 }).map((data): MessageInput => ({ type: 'ping', data: Buffer.from(data) })),
        fc.string({ maxLength: 20 }).map((data): MessageInput => ({ type: 'pong', data })),
      );
      const closing = fc.option(fc.record({
        code: fc.integer({ min: 3000, max: 4999 }),
        reason: fc.string({ unit: 'binary', maxLength: 30 }).filter((r) => Buffer.byteLength(r) <= MAX_CLOSE_REASON_LENGTH),
      }));
      await fc.assert(fc.asyncProperty(
        fc.array(input, { maxLength: 6 }), closing, fc.integer({ min: 1, max: 40 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 4 }),
        async (messages, closeWith, fragmentSize, chunkSizes) => {
          const all: MessageInput[] = closeWith === null ? messages : [...messages, { type: 'close', ...closeWith }];
          const encoder = new MessageEncoder({ fragmentSize });
          const decoder = new MessageDecoder();
          const done = collect<Message>(decoder);
          connect(encoder, new FrameEncoder({ role: 'client' }), new Rechunk(chunkSizes), new FrameDecoder({ role: 'server' }), decoder);
          for (const m of all) encoder.write(m);
          encoder.end();
          const { items, error } = await done;
          expect(error).to.equal(undefined);
          const expected = all.map((m): Shown => {
            switch (m.type) {
              case 'text': return T(m.data);
              case 'binary': return BIN(Buffer.from(m.data).toString('hex'));
              case 'ping': case 'pong': return { type: m.type, data: Buffer.from(m.data ?? '').toString('hex') };
              case 'close': return CLOSE(m.code as number, m.reason);
            }
          });
          expect(items.map(show)).to.deep.equal(expected);
        },
      ), { numRuns: 150 });
    });
  });
});

describe('MessageParser: permessage-deflate (RFC 7692 §6)', () => {
  const AGREED: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
  const RSV1 = err('WS_ERR_UNEXPECTED_RSV_1', PROTOCOL);
  /** A server codec to compress with, and the options of a client parser that inflates. */
  function setup(options: MessageParserOptions = {}): { compress: (data: string | Buffer) => Buffer; options: MessageParserOptions } {
    const server = new PerMessageDeflate(AGREED, 'server');
    return { compress: (data) => server.deflate(data), options: { ...options, extension: new PerMessageDeflate(AGREED, 'client') } };
  }
  const compressed = (opcode: number, payload: Buffer, fin = true): Frame => frame(opcode, payload, fin, true);

  it('rejects RSV1 on a data frame when no codec was given (1002)', () => {
    const result = parse([frame(Opcode.Text, 'z', true, true)]);
    expectError(result.error, RSV1);
  });

  it('inflates a compressed message in one frame, and keeps the context for the next', () => {
    const { compress, options } = setup();
    const result = parse([compressed(Opcode.Text, compress('Hello')), compressed(Opcode.Text, compress('Hello')), compressed(Opcode.Binary, compress(h('0102')))], options);
    expect(result.messages).to.deep.equal([T('Hello'), T('Hello'), BIN('0102')]);
    expect(result.error).to.equal(undefined);
  });

  it('inflates a compressed message in three fragments with a ping between them, RSV1 on the first only', () => {
    const { compress, options } = setup();
    const bytes = compress('a'.repeat(3000) + 'é');
    const [a, b, c] = [bytes.subarray(0, 3), bytes.subarray(3, 5), bytes.subarray(5)];
    const result = parse([compressed(Opcode.Text, a, false), ping('p'), cont(b, false), cont(c)], options);
    expect(result.messages).to.deep.equal([PING('70'), T('a'.repeat(3000) + 'é')]);
  });

  it('inflates a compressed message delivered in 1-byte frame pieces', () => {
    const { compress, options } = setup();
    const result = parse(bytewisePieces([compressed(Opcode.Binary, compress(pattern(2000)))]), options);
    expect(result.messages).to.deep.equal([BIN(pattern(2000).toString('hex'))]);
  });

  it('passes an uncompressed message on a compressed connection through', () => {
    const { options } = setup();
    expect(parse([text('plain')], options).messages).to.deep.equal([T('plain')]);
  });

  it('rejects RSV1 on a continuation frame (1002, §6.1)', () => {
    const { compress, options } = setup();
    expectError(parse([compressed(Opcode.Text, compress('ab'), false), frame(Opcode.Continuation, '', true, true)], options).error, RSV1);
  });

  it('rejects RSV1 on a control frame (1002, §6.1)', () => {
    expectError(parse([frame(Opcode.Ping, '', true, true)], setup().options).error, RSV1);
  });

  it('fails a compressed message that inflates beyond maxMessageSize (1009)', () => {
    const { compress, options } = setup({ maxMessageSize: 1000 });
    const result = parse([compressed(Opcode.Binary, compress(Buffer.alloc(1001)))], options);
    expectError(result.error, TOO_BIG);
  });

  it('fails a compressed message that does not inflate (1007)', () => {
    expectError(parse([compressed(Opcode.Text, h('ff'))], setup().options).error, err('WS_ERR_INVALID_COMPRESSED_DATA', CloseCode.InvalidPayload));
  });

  it('checks UTF-8 on the inflated bytes (1007)', () => {
    const { compress, options } = setup();
    expectError(parse([compressed(Opcode.Text, compress(h('c0af')))], options).error, INVALID_UTF8);
  });

  it('streams a compressed message: start at its first frame, the inflated bytes at its end', () => {
    const { compress, options } = setup({ streaming: true });
    const events: string[] = [];
    const parser = new MessageParser(options, {
      message: (m) => { events.push(`message ${m.type}`); },
      streamStart: (type) => { events.push(`start ${type}`); },
      streamData: (bytes) => { events.push(`data ${bytes.toString()}`); },
      streamEnd: () => { events.push('end'); },
    });
    const bytes = compress('streamed');
    expect(parser.write(compressed(Opcode.Text, bytes.subarray(0, 2), false))).to.equal(undefined);
    expect(events).to.deep.equal(['start text']);
    expect(parser.write(cont(bytes.subarray(2)))).to.equal(undefined);
    expect(events).to.deep.equal(['start text', 'data streamed', 'end']);
  });

  it('takes the codec later with useExtension, but not after the first frame', () => {
    const { compress, options } = setup();
    const messages: WholeMessage[] = [];
    const parser = new MessageParser({}, { message: (m) => { messages.push(m); }, streamStart() {}, streamData() {}, streamEnd() {} });
    parser.useExtension(options.extension);
    expect(parser.write(compressed(Opcode.Text, compress('late')))).to.equal(undefined);
    expect(messages).to.deep.equal([{ type: 'text', data: 'late' }]);
    expectThrows(() => { parser.useExtension(undefined); }, err('WS_ERR_INVALID_STATE', CloseCode.InternalError), 'usage');
  });
});
