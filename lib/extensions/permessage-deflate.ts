/**
 * permessage-deflate (RFC 7692): the options, and {@link PerMessageDeflate}, the codec one
 * connection uses to compress outgoing messages and inflate incoming ones. It is the connection's
 * {@link MessageExtension}: the message serializer calls `encode`, the message parser `decode`. The
 * negotiation lives in handshake/permessage-deflate.ts.
 *
 * ## Compressing: one call per message, the history as a dictionary
 *
 * Context takeover (§7.1.1) means each message may refer back to the last 2^w bytes we sent. That
 * history is all a persistent zlib stream keeps between messages, so a fresh raw engine given it as
 * a preset dictionary (zlib's deflateSetDictionary) compresses the next message exactly as the
 * persistent one would let the peer decode it. This codec keeps the history itself and compresses
 * each message with one call:
 * - synchronously on the main thread up to {@link SYNC_DEFLATE_LIMIT} bytes (no callback, no
 *   threadpool hop: small messages are the common case and cost microseconds),
 * - on the libuv threadpool above it, so a large message never freezes other connections; the
 *   connection keeps every frame sent after it (pings and close included) in order behind it.
 *
 * Between messages a connection therefore holds no zlib engine, only the bytes of history (at most
 * 32 KiB a direction), instead of two live engines (about 300 KiB with zlib's defaults). A
 * connection that sends often gets a kept deflate engine for a while (kept-deflater.ts): loading
 * the history into a fresh engine for every small message would cost more than the message.
 *
 * ## Inflating: exactly as a persistent inflater would
 *
 * Receiving is where two decoders must agree byte for byte: a message that one implementation reads
 * differently from another is the filter-evasion class of bug. A fresh engine given the history as
 * a dictionary is in the same state as a persistent one only if the previous message ended at a
 * block boundary, byte-aligned, without a final block; a conforming sender's always do (§7.2.1:
 * each message ends with a sync flush, whose 4-byte tail is removed and appended again here), a
 * crafted message need not. So each message is inflated with a probe appended: the tail, then a
 * final fixed-Huffman block holding 8 random bytes chosen when this module loads. The output ends
 * with those 8 bytes only if decoding reached that block at a byte-aligned block boundary
 * (a peer cannot produce them any other way: it does not know them, and stored data would be
 * copied out in its encoded form). Then the message was clean and its output is exact. Otherwise
 * (or on any error) the connection switches for good to a persistent zlib stream, started from the
 * same history, which decides this message and every later one exactly as ws and python's zlib
 * decide them. Only peers that send such messages pay for a live engine.
 *
 * Inflating runs synchronously while the compressed input and the output stay small
 * ({@link SYNC_INFLATE_INPUT_LIMIT}, {@link SYNC_INFLATE_OUTPUT_LIMIT}); larger messages go to the
 * threadpool, and the connection reads nothing more until they are done. Output is capped at
 * `maxMessageSize` (a zip bomb is refused with 1009 having allocated about that much).
 *
 * After a message that ends the deflate stream (a final block, §7.2.3.4), the next message starts
 * a new stream with an empty window, as ws does (python's zlib would inflate every later message
 * to nothing).
 */
import { constants as bufferConstants } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import { MAX_UTF8_PER_UNIT, RSV1_BIT } from '../constants';
import { WebSocketProtocolError, WebSocketUsageError } from '../errors';
import { booleanOption, numberOption, resolveOnce } from '../options';
import type { Role } from '../frame/frame';
import { type ExtensionCallback, type MessageExtension, PENDING } from '../message/extension';
import { type EngineHolder, KeptDeflater, WARM_MS } from './kept-deflater';

// --- Constants -------------------------------------------------------------------------------

/** The extension's registered name, RFC 7692 §7. */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** RFC 7692 §7.1.2.1/§7.1.2.2: window bits are 8-15; absent means 15 (a 32 KiB window). */
export const MIN_WINDOW_BITS = 8;
export const MAX_WINDOW_BITS = 15;
/**
 * The smallest window we ask a peer to compress with, or answer in a response: an option of 8 is
 * sent as 9 there. zlib's raw deflate has no 8-bit window (python's zlib refuses it outright;
 * wsproto and aiohttp refuse responses with it), so 8 in those places breaks most peers, while 9
 * works everywhere. 8 is used only where it is ours to honour: a client offering it for its own
 * compressor, or a peer asking it of ours (see the codec).
 */
export const MIN_OPTION_WINDOW_BITS = 9;
/**
 * RFC 7692 §7.1.2.1 ABNF: the value is one of "8" ... "15", so no leading zeroes, no sign and no
 * exponent. A quoted value has already been unquoted by the extension parser (RFC 6455 §9.1).
 */
export const WINDOW_BITS_PATTERN = /^(?:[89]|1[0-5])$/;

/**
 * RFC 7692 §7.2.1: a sender removes these 4 bytes (the LEN/NLEN of the empty stored block a sync
 * flush ends with) from the end of a compressed message; §7.2.2: a receiver appends them again.
 */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const TAIL_LENGTH = TAIL.length;

/** Default threshold with our context takeover: a few bytes cannot shrink, anything else may. */
const DEFAULT_THRESHOLD_TAKEOVER = 16;
/** Default threshold without it: ws's, where a message is compressed on its own. */
const DEFAULT_THRESHOLD_ALONE = 1024;

/**
 * Messages up to this size are compressed on the main thread. Deflating 64 KiB of JSON at the
 * default level takes about 1 ms; larger messages go to the threadpool.
 */
export const SYNC_DEFLATE_LIMIT = 64 * 1024;
/**
 * An inflated message from this size is handed over in a later iteration of the event loop than
 * the one in which zlib's output was gathered: the copy and what the application does with the
 * message (decoding it to a string, answering it) are two pauses for the other connections, with
 * their timers and I/O in between, not one twice as long.
 */
const SEPARATE_DELIVERY_MIN = 1024 * 1024;

/** Compressed messages up to this size are inflated on the main thread (while the output stays small). */
export const SYNC_INFLATE_INPUT_LIMIT = 32 * 1024;
/**
 * Output a synchronous inflate may produce (about 1 ms of work); a message that inflates to more
 * is inflated again on the threadpool. A little compressed input can inflate to a lot, so the
 * input size alone does not bound the time.
 */
export const SYNC_INFLATE_OUTPUT_LIMIT = 1024 * 1024;
/**
 * zlib writes its output in chunks of this size (Node's default, set here so the bound below is
 * ours): a limit is noticed at most one chunk after the output passes it.
 */
const OUTPUT_CHUNK_SIZE = 16 * 1024;
/**
 * Output chunk of a job on the threadpool (a large message): each chunk is a round trip between
 * the threadpool and the main thread, so larger chunks mean fewer (a 1 MiB message: 16 instead of
 * 64; measured 1.3 ms less main-thread CPU per echo of 1 MiB of JSON). Below 128 KiB, where
 * malloc would map fresh pages for every chunk.
 */
const JOB_CHUNK_SIZE = 64 * 1024;
/**
 * A compressed message may be larger than its inflated form: zlib's deflateBound() for any
 * settings is n + n/8 + n/64 + 5, and a sender that flushes per frame adds ~5 bytes each time. The
 * bound is a quarter more than the inflated limit plus 64 KiB: enough for any sane compressor, and
 * it stops a peer padding a message with empty blocks from making us buffer without limit.
 */
const COMPRESSED_SLACK = 64 * 1024;
/** Largest output zlib's convenience functions can produce (a Buffer's maximum length). */
const MAX_BUFFER_LENGTH = bufferConstants.MAX_LENGTH;
/** Threadpool jobs of all connections running at once; the rest wait their turn (ws limits to 10). */
const MAX_CONCURRENT_JOBS = 8;

/**
 * The probe appended after the tail (see the top of this file): a final fixed-Huffman block
 * (BFINAL 1, BTYPE 01) holding {@link PROBE_DATA}, made once per process from random bytes.
 */
const { PROBE, PROBE_DATA } = makeProbe();

/**
 * Output a probe may add beyond the message's own: its 8 bytes, or, behind a message that does not
 * end cleanly, whatever its 13 bytes decode to under the peer's codes (at most 52 length/distance
 * pairs of 258 bytes). An output past the limit by more than this means the message alone is past
 * it, so the size verdict is exact without inflating the message a second time.
 */
const PROBE_OUTPUT_SLACK = 16 * 1024;

function makeProbe(): { PROBE: Buffer; PROBE_DATA: Buffer } {
  for (;;) {
    const data = randomBytes(8);
    const block = zlib.deflateRawSync(data, { strategy: zlib.constants.Z_FIXED });
    // One fixed block with BFINAL set, that decodes to the data alone, whose encoded bytes do not
    // end with the data (so stored blocks copying it out cannot forge the check).
    const fixedFinal = (block[0] & 0b111) === 0b011;
    if (fixedFinal && zlib.inflateRawSync(block).equals(data) && !block.subarray(-data.length).equals(data)) {
      return { PROBE: block, PROBE_DATA: data };
    }
  }
}

// --- Options and agreed parameters -----------------------------------------------------------

/**
 * How this side wants permessage-deflate configured. The same object serves both roles. Each field
 * is read the way RFC 7692 §7.1 defines it for the side using it.
 */
export interface DeflateOptions {
  /**
   * Server: never use context takeover when compressing, and say so in every response
   * (`server_no_context_takeover`, RFC 7692 §7.1.1.1). Client: ask the server not to use it; a
   * response without the parameter then fails the connection.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: forbid the client to use context takeover (`client_no_context_takeover` in every
   * response, §7.1.1.2), so no received window is kept between messages. Client: offer the
   * parameter as a hint and compress without context takeover whatever the server answers.
   */
  clientNoContextTakeover?: boolean;
  /**
   * 8-15. Server: the largest LZ77 window our compressor uses (8 is announced as 9, see MIN_OPTION_WINDOW_BITS), announced as
   * `server_max_window_bits` (§7.1.2.1). Client: the largest window we let the server use; a
   * response with more fails the connection.
   */
  serverMaxWindowBits?: number;
  /**
   * 8-15. Server: the largest window we accept from the client (8 is asked as 9: a zlib peer cannot compress with 8) (`client_max_window_bits` in the
   * response). Below 15 an offer without that parameter is declined, because §7.1.2.2 forbids the
   * parameter in a response to an offer without it. Client: the largest window our compressor
   * uses, offered as `client_max_window_bits=N`. Without it the parameter is offered with no value
   * (like browsers do), meaning any window the server picks.
   */
  clientMaxWindowBits?: number;
  /** zlib compression level, -1 (zlib's default, 6) or 0-9. 1 is several times faster than 6. */
  level?: number;
  /** zlib memLevel, 1-9 (default 8): memory for the compressor's state during a call. */
  memLevel?: number;
  /**
   * Messages smaller than this many bytes are sent uncompressed; `Infinity` never compresses.
   * Default: 16 with our context takeover (a message that resembles earlier ones shrinks to a few
   * bytes, whatever its size), 1024 without it (ws's default: alone, a short message barely
   * shrinks and costs a compressor's setup).
   */
  threshold?: number;
  /**
   * Bytes of our earlier messages the compressor may refer back to when context takeover is on,
   * capped at our agreed window. Default: the whole window (32 KiB at 15 bits), which compresses
   * as well as a zlib stream kept across messages; less costs less CPU per message (the history is
   * handed to zlib as a preset dictionary each time) and compresses small, similar messages less
   * well. 0 compresses every message on its own.
   */
  contextSize?: number;
}

/** What the handshake agreed on (RFC 7692 §7.1), with the defaults filled in. */
export interface DeflateParams {
  /** The server compresses every message with an empty window (§7.1.1.1). */
  serverNoContextTakeover: boolean;
  /** The client compresses every message with an empty window (§7.1.1.2). */
  clientNoContextTakeover: boolean;
  /** Base-2 logarithm of the server's largest LZ77 window, 8-15 (§7.1.2.1). */
  serverMaxWindowBits: number;
  /** Base-2 logarithm of the client's largest LZ77 window, 8-15 (§7.1.2.2). */
  clientMaxWindowBits: number;
}

export interface DeflateConfig {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  clientMaxWindowBits: number | undefined;
  level: number;
  memLevel: number;
  /** undefined: the default, which depends on context takeover. */
  threshold: number | undefined;
  contextSize: number;
}

function misuse(detail: string): never {
  throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', detail);
}

function integerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    misuse(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function windowBitsOption(name: string, value: unknown): number | undefined {
  return value === undefined ? undefined : integerIn(name, value, MIN_WINDOW_BITS, MAX_WINDOW_BITS);
}

/**
 * Validates options once, whichever function received them. A config this function made (a
 * server or client resolves its options at construction and passes the result to every
 * handshake and codec) comes back as it is. @throws {WebSocketUsageError}
 */
export function resolveDeflateOptions(options: DeflateOptions | undefined): DeflateConfig {
  if (options === null || (options !== undefined && typeof options !== 'object')) misuse('options must be an object');
  return resolveOnce(options, resolveDeflate);
}

function resolveDeflate(options: DeflateOptions | undefined): DeflateConfig {
  const o = options ?? {};
  const threshold = o.threshold;
  if (threshold !== undefined && threshold !== Infinity) integerIn('threshold', threshold, 0, Number.MAX_SAFE_INTEGER);
  return {
    serverNoContextTakeover: booleanOption('serverNoContextTakeover', o.serverNoContextTakeover, false),
    clientNoContextTakeover: booleanOption('clientNoContextTakeover', o.clientNoContextTakeover, false),
    serverMaxWindowBits: windowBitsOption('serverMaxWindowBits', o.serverMaxWindowBits),
    clientMaxWindowBits: windowBitsOption('clientMaxWindowBits', o.clientMaxWindowBits),
    level: numberOption('level', o.level, zlib.constants.Z_DEFAULT_COMPRESSION, { integer: true, min: -1, max: 9 }),
    memLevel: numberOption('memLevel', o.memLevel, zlib.constants.Z_DEFAULT_MEMLEVEL, { integer: true, min: 1, max: 9 }),
    threshold,
    contextSize: o.contextSize === undefined ? Infinity : integerIn('contextSize', o.contextSize, 0, Number.MAX_SAFE_INTEGER),
  };
}

/**
 * Checks permessage-deflate options without negotiating anything, so a server or client can refuse
 * bad options when it is configured rather than at the first handshake.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for a window outside 8-15, a level
 *   outside -1-9, a memLevel outside 1-9, a negative threshold or contextSize, or a
 *   no_context_takeover flag that is not a boolean.
 */
export function checkDeflateOptions(options?: DeflateOptions): void {
  resolveDeflateOptions(options);
}

// --- The codec -------------------------------------------------------------------------------

/**
 * The largest compressed message, in bytes, that {@link PerMessageDeflate.decode} accepts for a
 * given inflated limit (see COMPRESSED_SLACK). A message layer can compare announced frame lengths
 * of a compressed message against it before any byte is buffered.
 */
export function maxCompressedSize(maxOutput: number): number {
  if (maxOutput === Infinity) return Infinity;
  return maxOutput + Math.ceil(maxOutput / 4) + COMPRESSED_SLACK;
}

/**
 * The last bytes of the uncompressed data one direction has carried: the LZ77 window that context
 * takeover continues from. Kept contiguous because it is handed to zlib as a dictionary; its buffer
 * grows with what actually passed, so a connection that sent one short message holds a few bytes.
 */
class Window {
  private buffer: Buffer | undefined;
  private length = 0;

  constructor(private readonly size: number) {}

  /** The last `limit` bytes of the window, oldest first; undefined while empty. */
  bytes(limit = this.size): Buffer | undefined {
    if (this.length === 0 || limit === 0) return undefined;
    return (this.buffer as Buffer).subarray(Math.max(0, this.length - limit), this.length);
  }

  /** Slides the window over `data`: keeps the last `size` bytes of what it held followed by `data`. */
  push(data: Uint8Array): void {
    const size = this.size;
    if (size === 0 || data.length === 0) return;
    const total = Math.min(size, this.length + data.length);
    let buffer = this.buffer;
    if (buffer === undefined || buffer.length < total) {
      const grown = Buffer.allocUnsafe(Math.min(size, Math.max(1024, total * 2)));
      if (buffer !== undefined) buffer.copy(grown, 0, 0, this.length);
      buffer = grown;
      this.buffer = grown;
    }
    if (data.length >= size) {
      buffer.set(data.subarray(data.length - size));
      this.length = size;
      return;
    }
    const keep = Math.min(this.length, size - data.length);
    buffer.copyWithin(0, this.length - keep, this.length);
    buffer.set(data, keep);
    this.length = keep + data.length;
  }

  clear(): void {
    this.buffer = undefined;
    this.length = 0;
  }
}

/**
 * Threadpool jobs, a few at a time for the whole process: many connections inflating at once would
 * otherwise hold an engine each and crowd fs, dns and crypto out of libuv's four threads.
 */
class JobQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  /** Runs `job` when a slot is free; `job` calls its `done` once finished. */
  run(job: (done: () => void) => void): void {
    if (this.running < this.limit) {
      this.running++;
      job(() => { this.next(); });
    } else {
      this.waiting.push(() => { job(() => { this.next(); }); });
    }
  }

  private next(): void {
    const job = this.waiting.shift();
    if (job === undefined) this.running--;
    else job();
  }
}

/** The threadpool queue every codec of the process shares. */
const jobs = new JobQueue(MAX_CONCURRENT_JOBS);

function checkParams(params: DeflateParams): void {
  if (params === null || typeof params !== 'object') misuse('params must be an object');
  for (const name of ['serverNoContextTakeover', 'clientNoContextTakeover'] as const) {
    if (typeof params[name] !== 'boolean') misuse(`params.${name} must be a boolean`);
  }
  integerIn('params.serverMaxWindowBits', params.serverMaxWindowBits, MIN_WINDOW_BITS, MAX_WINDOW_BITS);
  integerIn('params.clientMaxWindowBits', params.clientMaxWindowBits, MIN_WINDOW_BITS, MAX_WINDOW_BITS);
}

/** zlib errors that mean the peer's data is not a valid deflate stream. */
const CORRUPT_DATA_CODES = new Set(['Z_DATA_ERROR', 'Z_BUF_ERROR', 'Z_NEED_DICT']);

/**
 * A zlib stream kept across messages (ws's and python's way), for a peer whose messages a probe
 * found not to end cleanly: it decides every later message exactly as they would.
 */
class StreamInflater {
  private engine: zlib.InflateRaw;
  private chunks: Buffer[] = [];
  private total = 0;
  private limit = 0;
  /** The pending message's callback, until its flush completes or the stream fails. */
  private done: ((result: Buffer | Error) => void) | undefined;
  /** The deflate stream ended (a final block): nothing after it is read. */
  ended = false;

  /**
   * `windowBits`: the peer's agreed window; `alone`: the peer has no context takeover, so each
   * message starts from an empty window (ws resets its stream after each one).
   */
  constructor(dictionary: Buffer | undefined, private readonly windowBits = MAX_WINDOW_BITS, private readonly alone = false) {
    this.engine = this.makeEngine(dictionary);
  }

  private makeEngine(dictionary: Buffer | undefined): zlib.InflateRaw {
    const engine = zlib.createInflateRaw(dictionary === undefined
      ? { windowBits: this.windowBits, chunkSize: OUTPUT_CHUNK_SIZE }
      : { windowBits: this.windowBits, chunkSize: OUTPUT_CHUNK_SIZE, dictionary });
    engine.on('data', (chunk: Buffer) => {
      if (engine !== this.engine) return;
      this.total += chunk.length;
      this.chunks.push(chunk);
      // A zip bomb stops here, at most one output chunk past the limit.
      if (this.total > this.limit) this.finish(new WebSocketProtocolError('WS_ERR_MESSAGE_TOO_BIG', `inflated to more than ${this.limit} bytes`));
    });
    engine.on('error', (error: Error) => { if (engine === this.engine) this.finish(error); });
    return engine;
  }

  /**
   * Runs a message whose output is already known through the stream, to reach the state that
   * follows it.
   */
  prime(input: Buffer): void {
    this.inflate(input, Infinity, () => undefined);
  }

  /**
   * Inflates one message (its payload followed by the tail), then calls back with it. Messages
   * are inflated one after another, in the order of the calls.
   */
  inflate(input: Buffer, limit: number, done: (result: Buffer | Error) => void): void {
    this.queue.push({ input, limit, done });
    if (this.done === undefined) this.next();
  }

  private readonly queue: Array<{ input: Buffer; limit: number; done: (result: Buffer | Error) => void }> = [];

  /** Starts the oldest waiting message (one at a time: a callback may queue the next one). */
  private next(): void {
    const job = this.queue.shift();
    if (job === undefined) return;
    if (this.ended) {
      // After a final block the stream is over: the next message starts a new one, with an empty
      // window, as ws does (python's zlib would inflate it to nothing).
      this.engine.destroy();
      this.engine = this.makeEngine(undefined);
      this.ended = false;
    }
    this.chunks = [];
    this.total = 0;
    this.limit = job.limit;
    this.done = (result) => {
      job.done(result);
      if (!(result instanceof Error) && this.done === undefined) this.next();
    };
    const engine = this.engine;
    const before = engine.bytesWritten;
    engine.write(job.input);
    engine.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      if (this.done === undefined || engine !== this.engine) return;
      // The stream ended inside this message (its 'end' came, as ws checks): the next one starts anew.
      if (engine.readableEnded || engine.bytesWritten - before < job.input.length) this.ended = true;
      else if (this.alone) engine.reset();
      this.finish(this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.total));
    });
  }

  close(): void {
    this.done = undefined;
    this.queue.length = 0;
    this.engine.destroy();
  }

  private finish(result: Buffer | Error): void {
    const done = this.done;
    this.done = undefined;
    this.chunks = [];
    // After an error the stream is useless (and the connection fails): stop inflating at once.
    if (result instanceof Error) this.engine.destroy();
    done?.(result);
  }
}

/** The protocol error a zlib failure on the peer's data means, or the error itself (ours, 1011). */
function corruptOr(error: unknown): WebSocketProtocolError | Error {
  if (error instanceof WebSocketProtocolError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_BUFFER_TOO_LARGE') return new WebSocketProtocolError('WS_ERR_MESSAGE_TOO_BIG', 'inflated message over the limit');
  if (typeof code === 'string' && CORRUPT_DATA_CODES.has(code)) return new WebSocketProtocolError('WS_ERR_INVALID_COMPRESSED_DATA', code);
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * The permessage-deflate codec of one connection (RFC 7692 §7.2), implementing
 * {@link MessageExtension}. {@link encode} compresses the payload of an outgoing message; the
 * sender then sets RSV1 on its first frame only (§6.1). {@link decode} takes the payloads of an
 * incoming message marked with RSV1, as they arrive, and gives the message at its end. Both may
 * finish later (large messages go to the threadpool): see the top of this file.
 *
 * Context takeover follows the agreed parameters, per direction. A direction without
 * `*_no_context_takeover` continues each message from the window of the previous compressed
 * messages. Messages sent or received uncompressed never enter the window, as on the peer's side.
 *
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for invalid params, role or options.
 */
export class PerMessageDeflate implements MessageExtension, EngineHolder {
  readonly name = PERMESSAGE_DEFLATE;
  /** RFC 7692 §6: RSV1 marks a compressed message's first frame. */
  readonly rsvBits = RSV1_BIT;
  /** The agreed parameters this codec follows. */
  readonly params: Readonly<DeflateParams>;
  /** Our side of the connection: `'server'` compresses with the server_* parameters. */
  readonly role: Role;
  /** Messages smaller than this many bytes are not worth compressing (see {@link shouldCompress}). */
  readonly threshold: number;
  /** Set without our context takeover: codecs with the same key compress a payload to the same bytes. */
  readonly sharedEncoding: string | undefined;

  private readonly deflateOptions: zlib.ZlibOptions;
  private readonly contextSize: number;
  /** Window of what we sent; undefined without our context takeover. */
  private readonly sent: Window | undefined;
  /** A deflate engine kept while we send often (lib/extensions/kept-deflater.ts). */
  private engine: KeptDeflater | undefined;
  /** When the last message was compressed on the main thread (performance.now()). */
  private lastSendAt = -Infinity;
  /** Window of what we received; undefined without the peer's context takeover (or once streaming). */
  private received: Window | undefined;
  /** The peer's messages go through a kept zlib stream (see the top of this file). */
  private stream: StreamInflater | undefined;
  private readonly peerTakeover: boolean;

  /** Compressed bytes of the message being received, before the tail. */
  private pending: Buffer | undefined;
  private pendingLength = 0;
  private receiving = false;
  /** {@link inflate} is running: everything stays on the main thread. */
  private forceSync = false;
  /** The error that broke the receive direction: its window is unknowable after it. */
  private failure: WebSocketProtocolError | undefined;
  private closed = false;

  constructor(params: DeflateParams, role: Role, options?: DeflateOptions) {
    checkParams(params);
    if (role !== 'server' && role !== 'client') misuse(`role must be 'server' or 'client'`);
    const config = resolveDeflateOptions(options);
    this.params = Object.freeze({ ...params });
    this.role = role;

    const server = role === 'server';
    const ourBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    const ourTakeover = !(server ? params.serverNoContextTakeover : params.clientNoContextTakeover);
    this.peerTakeover = !(server ? params.clientNoContextTakeover : params.serverNoContextTakeover);
    this.threshold = config.threshold ?? (ourTakeover ? DEFAULT_THRESHOLD_TAKEOVER : DEFAULT_THRESHOLD_ALONE);

    // zlib's raw deflate has no 8-bit window: it compresses with 9, whose longest match distance
    // (its window less 262 bytes of lookahead) still fits a 256-byte window.
    const windowBits = Math.max(ourBits, MIN_OPTION_WINDOW_BITS);
    this.deflateOptions = {
      // §7.2.1: compress with a sync flush, so the data ends in an empty stored block.
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      windowBits,
      level: config.level,
      memLevel: config.memLevel,
      chunkSize: OUTPUT_CHUNK_SIZE,
    };
    this.contextSize = Math.min(config.contextSize, 2 ** ourBits);
    this.sent = ourTakeover && this.contextSize > 0 ? new Window(this.contextSize) : undefined;
    // With the usual 15-bit window, messages are inflated by one call each (checked by the probe).
    // A narrower agreed window is rare, and whether zlib takes a reference just past it depends on
    // where its output chunks fall, which one call cannot reproduce: such a peer gets a kept
    // stream with its window from the start, deciding exactly as ws does.
    const peerBits = server ? params.clientMaxWindowBits : params.serverMaxWindowBits;
    if (peerBits < MAX_WINDOW_BITS) {
      this.received = undefined;
      this.stream = new StreamInflater(undefined, peerBits, !this.peerTakeover);
    } else {
      this.received = this.peerTakeover ? new Window(2 ** MAX_WINDOW_BITS) : undefined;
    }
    this.sharedEncoding = ourTakeover ? undefined : `deflate/${windowBits}/${config.level}/${config.memLevel}/${this.threshold}`;
  }

  /** Whether a message of `byteLength` bytes is worth compressing (at least {@link threshold}). */
  shouldCompress(byteLength: number): boolean {
    return byteLength >= this.threshold;
  }

  /** True while an incoming compressed message has started and not yet ended. */
  get receivingMessage(): boolean {
    return this.receiving;
  }

  /** {@link MessageExtension.maxEncodedSize}: see {@link maxCompressedSize}. */
  maxEncodedSize(maxSize: number): number {
    return maxCompressedSize(maxSize);
  }

  /**
   * Compresses the payload of one outgoing message (RFC 7692 §7.2.1): a raw deflate stream ended
   * with a sync flush, whose last 4 bytes (00 00 ff ff) are removed. Returns undefined for a
   * message under the threshold (sent as it is), the compressed payload, or {@link PENDING} for
   * a message over {@link SYNC_DEFLATE_LIMIT}, compressed on the threadpool and handed to
   * `callback`. With our context takeover the message joins the window at once (the next one
   * refers back to it), so every result must be sent, in the order of the calls.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` after {@link close};
   *   `WS_ERR_INVALID_ARGUMENT` for data that is not bytes.
   */
  encode(payload: Uint8Array | string, _isText: boolean, callback: ExtensionCallback): Buffer | undefined | typeof PENDING {
    this.checkOpen();
    let bytes: Uint8Array | undefined;
    let size: number;
    if (typeof payload === 'string') {
      // A short string is encoded now; a long one only in its job, out of the sender's turn.
      if (payload.length * MAX_UTF8_PER_UNIT <= SYNC_DEFLATE_LIMIT) bytes = Buffer.from(payload, 'utf8');
      size = bytes === undefined ? Buffer.byteLength(payload, 'utf8') : bytes.length;
    } else {
      if (!(payload instanceof Uint8Array)) misuse('data must be a string, Buffer or Uint8Array');
      bytes = payload;
      size = payload.byteLength;
    }
    if (!this.shouldCompress(size)) return undefined;
    const dictionary = this.sent?.bytes(this.contextSize);
    if (size <= SYNC_DEFLATE_LIMIT) {
      const input = bytes ?? Buffer.from(payload as string, 'utf8');
      const out = this.deflateNow(input, dictionary);
      this.sent?.push(input);
      return stripTail(out);
    }
    // A kept engine would miss this message in its history.
    this.dropEngine();
    // The dictionary as it is now: the window moves on before the job runs.
    const options = dictionary === undefined ? this.deflateOptions : { ...this.deflateOptions, dictionary: Buffer.from(dictionary) };
    if (this.sent !== undefined) this.sent.push(bytes ?? utf8Tail(payload as string, this.contextSize));
    const jobOptions = { ...options, chunkSize: JOB_CHUNK_SIZE };
    jobs.run((done) => {
      const finish = (error: Error | null, out?: Buffer): void => {
        done();
        if (error !== null) callback(error);
        else callback(null, stripTail(out as Buffer));
      };
      if (bytes !== undefined) zlib.deflateRaw(bytes, jobOptions, finish);
      else deflateText(payload as string, jobOptions, finish);
    });
    return PENDING;
  }

  /**
   * Compresses one payload now, whatever its size (for tools and tests; connections use
   * {@link encode}). Strings are sent as UTF-8.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` after {@link close}.
   */
  deflate(data: Buffer | Uint8Array | string): Buffer {
    this.checkOpen();
    let input: Uint8Array;
    if (typeof data === 'string') input = Buffer.from(data, 'utf8');
    else if (data instanceof Uint8Array) input = data;
    else misuse('data must be a string, Buffer or Uint8Array');
    const out = this.deflateNow(input, this.sent?.bytes(this.contextSize));
    this.sent?.push(input);
    return stripTail(out);
  }

  /**
   * Compresses on the main thread: with the kept engine, made for a message that follows the
   * previous one within WARM_MS; else with a fresh engine given `dictionary` (the history).
   */
  private deflateNow(input: Uint8Array, dictionary: Buffer | undefined): Buffer {
    const now = performance.now();
    const warm = now - this.lastSendAt < WARM_MS;
    this.lastSendAt = now;
    let engine = this.engine;
    if (engine === undefined && warm) engine = this.engine = KeptDeflater.create(this.deflateOptions, this.sent?.bytes(), this);
    // An empty message adds nothing a kept engine would flush again (zlib emits no second marker).
    if (engine !== undefined && input.length > 0) {
      const out = engine.deflate(input, this.sent === undefined);
      if (out !== undefined) return out;
      this.engine = undefined;
    }
    return zlib.deflateRawSync(input, dictionary === undefined ? this.deflateOptions : { ...this.deflateOptions, dictionary });
  }

  /** {@link EngineHolder.sweepEngine}: the kept engine goes once unused for a whole sweep. */
  sweepEngine(): void {
    const engine = this.engine;
    if (engine === undefined) return;
    if (engine.used) engine.used = false;
    else this.dropEngine();
  }

  private dropEngine(): void {
    this.engine?.close();
    this.engine = undefined;
  }

  /**
   * Takes the next payload piece of an incoming compressed message (the payloads of its frames, in
   * order, whole or in pieces). Pieces are copied, never kept. Before `fin` it returns undefined;
   * at `fin` (the piece that ends the message) it appends the tail 00 00 ff ff (RFC 7692 §7.2.2)
   * and returns the inflated message, or {@link PENDING} when it is inflated on the threadpool (or
   * by a kept stream) and handed to `callback`. Until then nothing else may be decoded.
   *
   * `maxSize` bounds the inflated message: inflation stops as soon as the output passes it, so a
   * few KiB inflating to gigabytes never take more than `maxSize`. The compressed bytes are bounded
   * by {@link maxCompressedSize}.
   *
   * After an error the receive direction is broken (its window is unknown), and every later call
   * throws the same error. The connection must fail anyway.
   *
   * @throws {WebSocketProtocolError} `WS_ERR_MESSAGE_TOO_BIG` (1009) over `maxSize` or
   *   `maxCompressedSize(maxSize)`; `WS_ERR_INVALID_COMPRESSED_DATA` (1007) for data that is not
   *   a valid deflate stream (or that follows the end of one).
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` after {@link close};
   *   `WS_ERR_INVALID_ARGUMENT` for a non-Buffer piece or a negative or non-integer `maxSize`.
   */
  decode(piece: Buffer | Uint8Array, fin: boolean, maxSize: number, callback: ExtensionCallback): Buffer | undefined | typeof PENDING {
    this.checkOpen();
    if (!(piece instanceof Uint8Array)) misuse('data must be a Buffer or Uint8Array');
    if (typeof maxSize !== 'number' || !(maxSize >= 0) || (!Number.isInteger(maxSize) && maxSize !== Infinity)) {
      misuse('maxSize must be a non-negative integer or Infinity');
    }
    if (this.failure !== undefined) throw this.failure;
    this.receiving = true;
    const total = this.pendingLength + piece.length;
    if (total > maxCompressedSize(maxSize)) {
      return this.fail(new WebSocketProtocolError('WS_ERR_MESSAGE_TOO_BIG', `compressed message of ${total} bytes or more`));
    }
    // Room for the tail, and for the probe when the peer keeps its context.
    const extra = fin ? TAIL_LENGTH + (this.probing ? PROBE.length : 0) : 0;
    let input: Buffer;
    if (this.pendingLength === 0 && fin) {
      // The common case, a message in one frame: one copy, to put the tail behind it.
      input = Buffer.allocUnsafe(piece.length + extra);
      input.set(piece, 0);
    } else {
      this.collect(piece, total + extra);
      if (!fin) return undefined;
      input = (this.pending as Buffer).subarray(0, total + extra);
    }
    TAIL.copy(input, total);
    this.endMessage();
    const limit = Math.min(maxSize, MAX_BUFFER_LENGTH - PROBE_DATA.length);
    if (this.stream !== undefined) return this.viaStream(input.subarray(0, total + TAIL_LENGTH), limit, callback);
    if (!this.probing) return this.oneShot(input, limit, callback);
    PROBE.copy(input, total + TAIL_LENGTH);
    return this.probe(input, total + TAIL_LENGTH, limit, callback);
  }

  /**
   * {@link decode} on the main thread whatever the size: for tools and tests, where blocking is
   * fine. Throws instead of calling back.
   * @throws as {@link decode}; {@link WebSocketUsageError} `WS_ERR_INVALID_STATE` for a message
   *   only a kept stream can decide (a peer whose messages do not end cleanly): use decode.
   */
  inflate(data: Buffer | Uint8Array, fin: boolean, maxOutput: number): Buffer | undefined {
    this.forceSync = true;
    try {
      const out = this.decode(data, fin, maxOutput, () => undefined);
      if (out === PENDING) throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'this message needs decode(): it is decided asynchronously');
      return out;
    } finally {
      this.forceSync = false;
    }
  }

  /**
   * Releases what the codec holds (windows, a partial message, a kept stream). Later calls throw
   * `WS_ERR_INVALID_STATE`. Idempotent. Work already on the threadpool finishes and is dropped.
   */
  close(): void {
    this.closed = true;
    this.pending = undefined;
    this.pendingLength = 0;
    this.receiving = false;
    this.sent?.clear();
    this.received?.clear();
    this.stream?.close();
    this.stream = undefined;
    this.dropEngine();
  }

  /** Whether messages are checked with the probe: the peer keeps context, and no stream is kept yet. */
  private get probing(): boolean {
    return this.received !== undefined && this.stream === undefined;
  }

  /**
   * One call, `input` being the message and its tail: without the peer's context takeover every
   * message stands alone, and this is exactly what a fresh stream per message (ws's reset) does;
   * with it (a message the probe found unclean), the same call from the window decides the message
   * exactly as a persistent stream would, since both start from the same state. `then` runs on the
   * result when there is one (on the main thread either way).
   */
  private oneShot(
    input: Buffer, limit: number, callback: ExtensionCallback, dictionary?: Buffer, then?: (out: Buffer) => void,
  ): Buffer | typeof PENDING {
    const options: zlib.ZlibOptions = {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      windowBits: MAX_WINDOW_BITS,
      chunkSize: OUTPUT_CHUNK_SIZE,
      ...(dictionary === undefined ? {} : { dictionary }),
    };
    if (this.forceSync || input.length <= SYNC_INFLATE_INPUT_LIMIT) {
      const syncLimit = this.forceSync ? limit : Math.min(limit, SYNC_INFLATE_OUTPUT_LIMIT);
      let out: Buffer | undefined;
      try {
        // maxOutputLength counts from 1; the exact limit is checked below for a limit of 0.
        out = zlib.inflateRawSync(input, { ...options, maxOutputLength: Math.max(1, syncLimit) });
      } catch (error) {
        // Inflates to more than a synchronous call may produce: again, on the threadpool.
        if (!(syncLimit < limit && isTooLarge(error))) return this.fail(corruptOr(error));
      }
      if (out !== undefined) {
        const checked = this.orThrow(this.checkedSize(out, limit));
        then?.(checked);
        return checked;
      }
    }
    jobs.run((done) => {
      zlib.inflateRaw(input, { ...options, chunkSize: JOB_CHUNK_SIZE, maxOutputLength: Math.max(1, limit) }, (error, out) => {
        done();
        if (this.closed) return;
        const result = error === null ? this.checkedSize(out, limit) : this.failed(corruptOr(error));
        if (!(result instanceof Error)) then?.(result);
        this.deliver(result, callback);
      });
    });
    return PENDING;
  }

  private orThrow(result: Buffer | WebSocketProtocolError): Buffer {
    if (result instanceof WebSocketProtocolError) throw result;
    return fit(result);
  }

  /**
   * With the peer's context takeover: inflate from the window with the probe behind the message
   * (`end`: where the probe starts). A clean message comes back with the probe's data at its end;
   * anything else is decided by {@link unclean}.
   */
  private probe(input: Buffer, end: number, limit: number, callback: ExtensionCallback): Buffer | typeof PENDING {
    const dictionary = (this.received as Window).bytes();
    const options: zlib.ZlibOptions = {
      finishFlush: zlib.constants.Z_FINISH,
      windowBits: MAX_WINDOW_BITS,
      chunkSize: OUTPUT_CHUNK_SIZE,
      ...(dictionary === undefined ? {} : { dictionary }),
    };
    if (this.forceSync || end <= SYNC_INFLATE_INPUT_LIMIT) {
      const syncLimit = this.forceSync ? limit : Math.min(limit, SYNC_INFLATE_OUTPUT_LIMIT);
      let out: Buffer | undefined;
      try {
        out = zlib.inflateRawSync(input, { ...options, maxOutputLength: syncLimit + PROBE_OUTPUT_SLACK });
      } catch (error) {
        // Too large: for a synchronous call (on the threadpool below), or for good (past the
        // slack, the message alone is too large). Anything else: not clean.
        if (!isTooLarge(error)) return this.unclean(input.subarray(0, end), limit, callback, dictionary);
        if (syncLimit === limit) return this.fail(tooLarge(limit));
      }
      if (out !== undefined) {
        const message = probed(out);
        if (message === undefined) return this.unclean(input.subarray(0, end), limit, callback, dictionary);
        return this.orThrow(this.accept(message, limit));
      }
    }
    // The window as it is now travels with the job (nothing else is decoded meanwhile anyway).
    const snapshot = dictionary === undefined ? undefined : Buffer.from(dictionary);
    const asyncOptions = snapshot === undefined ? options : { ...options, dictionary: snapshot };
    jobs.run((done) => {
      zlib.inflateRaw(input, { ...asyncOptions, chunkSize: JOB_CHUNK_SIZE, maxOutputLength: limit + PROBE_OUTPUT_SLACK }, (error, out) => {
        done();
        if (this.closed) return;
        if (error !== null && isTooLarge(error)) {
          this.deliver(this.failed(tooLarge(limit)), callback);
          return;
        }
        const message = error === null ? probed(out) : undefined;
        if (message !== undefined) {
          this.deliver(this.accept(message, limit), callback);
          return;
        }
        let result: Buffer | typeof PENDING;
        try {
          result = this.unclean(input.subarray(0, end), limit, callback, snapshot);
        } catch (failure) {
          this.deliver(failure as Error, callback);
          return;
        }
        if (result !== PENDING) this.deliver(result, callback);
      });
    });
    return PENDING;
  }

  /**
   * A message the probe did not find clean (or that failed): decided exactly by one call from the
   * window; if it passes, a kept stream takes over from the same state for every later message.
   */
  private unclean(input: Buffer, limit: number, callback: ExtensionCallback, dictionary: Buffer | undefined): Buffer | typeof PENDING {
    const snapshot = dictionary === undefined ? undefined : Buffer.from(dictionary);
    return this.oneShot(input, limit, callback, snapshot, () => {
      if (this.closed) return;
      // The stream replays this message (its output is already known) to reach the state that
      // follows it; the next message waits for that in the stream's own order.
      this.stream = new StreamInflater(snapshot);
      this.received = undefined;
      this.stream.prime(input);
    });
  }

  /** A message of a peer whose history a kept stream holds. */
  private viaStream(input: Buffer, limit: number, callback: ExtensionCallback): typeof PENDING {
    if (this.forceSync) throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'this message needs decode(): it is decided asynchronously');
    (this.stream as StreamInflater).inflate(input, limit, (result) => {
      if (this.closed) return;
      this.deliver(result instanceof Error ? this.failed(corruptOr(result)) : result, callback);
    });
    return PENDING;
  }

  /** A clean message: size-checked and added to the window. */
  private accept(message: Buffer, limit: number): Buffer | WebSocketProtocolError {
    const checked = this.checkedSize(message, limit);
    if (!(checked instanceof WebSocketProtocolError)) this.received?.push(checked);
    return checked;
  }

  private checkedSize(out: Buffer, limit: number): Buffer | WebSocketProtocolError {
    return out.length > limit ? this.failed(tooLarge(limit)) : out;
  }

  /** Hands an asynchronous result over (a large message in a turn of its own). */
  private deliver(result: Buffer | Error, callback: ExtensionCallback): void {
    if (result instanceof Error) callback(result);
    else if (result.length >= SEPARATE_DELIVERY_MIN) setImmediate(nextIteration, callback, fit(result));
    else callback(null, fit(result));
  }

  private checkOpen(): void {
    if (this.closed) throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the permessage-deflate codec is closed');
  }

  /** Appends to the pending compressed bytes, growing by doubling up to `needed`. */
  private collect(data: Uint8Array, needed: number): void {
    let pending = this.pending;
    if (pending === undefined || pending.length < needed) {
      const grown = Buffer.allocUnsafe(Math.max(needed, pending === undefined ? 0 : pending.length * 2));
      if (pending !== undefined) pending.copy(grown, 0, 0, this.pendingLength);
      pending = grown;
      this.pending = grown;
    }
    pending.set(data, this.pendingLength);
    this.pendingLength += data.length;
  }

  private endMessage(): void {
    this.receiving = false;
    this.pendingLength = 0;
    // The pending buffer now holds the message handed to zlib: a job may still read it.
    this.pending = undefined;
  }

  /** Records the error that breaks the receive direction and returns it. */
  private failed<E extends Error>(error: E): E {
    if (error instanceof WebSocketProtocolError) {
      this.failure = error;
      this.received?.clear();
    }
    return error;
  }

  private fail(error: Error): never {
    throw this.failed(error);
  }
}

/** The message a probe gave back, without the probe's data; undefined when the probe was not reached cleanly. */
function probed(out: Buffer): Buffer | undefined {
  const end = out.length - PROBE_DATA.length;
  if (end < 0 || out.compare(PROBE_DATA, 0, PROBE_DATA.length, end) !== 0) return undefined;
  return out.subarray(0, end);
}

function tooLarge(limit: number): WebSocketProtocolError {
  return new WebSocketProtocolError('WS_ERR_MESSAGE_TOO_BIG', `inflated to more than ${limit} bytes`);
}

function isTooLarge(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE';
}

/** A compressed message without the sync flush's last 4 bytes (§7.2.1). */
function stripTail(out: Buffer): Buffer {
  // zlib's sync flush always ends with the 4 bytes; anything else is a bug, not peer input.
  const end = out.length - TAIL_LENGTH;
  if (end < 0 || out.compare(TAIL, 0, TAIL_LENGTH, end) !== 0) {
    throw new WebSocketProtocolError('WS_ERR_INTERNAL', 'deflate output does not end with a sync flush');
  }
  return fit(out.subarray(0, end));
}

/**
 * Calls back with a result in a later iteration of the event loop: queued as an immediate, this
 * runs in the current iteration's check phase, and an immediate queued from there waits for the
 * next iteration, after its timers and I/O.
 */
function nextIteration(callback: ExtensionCallback, payload: Buffer): void {
  setImmediate(callback, null, payload);
}

/** UTF-16 units of a long text encoded to UTF-8 per turn of the event loop (see deflateText). */
const TEXT_SLICE = 256 * 1024;

/**
 * Compresses a long text on the threadpool without making its whole UTF-8 form at once: slices of
 * {@link TEXT_SLICE} units are encoded one per event-loop iteration (each at most 768 KiB, where
 * encoding 8 MiB in one go held the loop for 25 ms on the development machine) and written to one
 * raw deflate stream, which ends with a sync flush as a one-call deflate would.
 */
function deflateText(text: string, options: zlib.ZlibOptions, callback: (error: Error | null, out?: Buffer) => void): void {
  const stream = zlib.createDeflateRaw(options);
  const chunks: Buffer[] = [];
  let total = 0;
  let failed = false;
  stream.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    total += chunk.length;
  });
  stream.on('error', (error: Error) => {
    if (failed) return;
    failed = true;
    callback(error);
  });
  let at = 0;
  const step = (): void => {
    if (failed) return;
    if (at >= text.length) {
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        stream.close();
        if (!failed) callback(null, Buffer.concat(chunks, total));
      });
      return;
    }
    let end = Math.min(text.length, at + TEXT_SLICE);
    // A surrogate pair stays in one slice (apart, each half would encode as U+FFFD).
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end++;
    const slice = Buffer.from(text.slice(at, end), 'utf8');
    at = end;
    // The next slice in a later iteration than this one (see nextIteration).
    stream.write(slice, () => { setImmediate(setImmediate, step); });
  };
  setImmediate(setImmediate, step);
}

/**
 * The last `count` bytes (or all) of the UTF-8 form of `text`, without encoding the rest: every
 * UTF-16 unit is at least one byte, and one unit more covers a surrogate pair cut in two, whose
 * lone half (encoded as U+FFFD) then falls before the bytes kept.
 */
export function utf8Tail(text: string, count: number): Buffer {
  const tail = Buffer.from(count >= text.length ? text : text.slice(text.length - count - 1), 'utf8');
  return tail.length > count ? tail.subarray(tail.length - count) : tail;
}

/**
 * zlib returns a small result as a view of its 16 KiB output chunk. Copy such a result, so a
 * message the application keeps does not hold on to a buffer several times its size.
 */
function fit(bytes: Buffer): Buffer {
  const backing = bytes.buffer.byteLength;
  return backing > Buffer.poolSize && bytes.length < backing >>> 1 ? Buffer.from(bytes) : bytes;
}
