/**
 * permessage-deflate (RFC 7692): the negotiation as pure functions over parsed
 * Sec-WebSocket-Extensions elements ({@link negotiateDeflate} for a server, {@link deflateOffer}
 * and {@link acceptDeflateResponse} for a client), and {@link PerMessageDeflate}, the codec one
 * connection uses to compress the payloads of outgoing messages and inflate incoming ones.
 *
 * ## Synchronous, one message at a time
 *
 * node:zlib documents two shapes. Stream objects (`createInflateRaw()`...) keep one zlib engine
 * alive across writes, but do their work on the libuv threadpool and answer through callbacks.
 * The convenience functions (`inflateRawSync()`...) are synchronous but build a fresh engine per
 * call, so they look unable to carry an LZ77 window from one message to the next. No documented
 * API drives a persistent engine synchronously.
 *
 * Context takeover does not need a persistent engine, though. The sliding window (RFC 1951 §2)
 * holds nothing but the last 2^w bytes of uncompressed data. A fresh raw engine given those bytes
 * as a preset dictionary (the documented `dictionary` option: zlib's inflateSetDictionary and
 * deflateSetDictionary, both defined for raw streams) is in the same state a persistent engine
 * would be in at the message boundary. So each message is one synchronous call: the window goes
 * in as the dictionary, and this class keeps the window's bytes between messages. RFC 7692
 * §7.1.1.1-§7.1.1.2 define takeover in exactly those terms, as decompressing "using the LZ77
 * sliding window used to process the last compressed message". A message whose block has BFINAL set
 * (§7.2.3.4) needs no special case either: the next message starts from the window all the same.
 *
 * Why that rather than async streams:
 * - The message layer and the connection stay synchronous. There is no queue, frame processing
 *   never pauses for a callback, control frames keep their order without any effort, and an error
 *   surfaces at the frame that caused it. An async design needs the connection to hold back every
 *   frame after a compressed one until it is inflated, and to queue every send (close frames
 *   included) behind a pending deflate.
 * - Memory. Between messages a connection holds only the windows takeover needs (at most 32 KiB
 *   received, {@link DeflateOptions.contextSize} sent) instead of two live zlib engines (about
 *   300 KiB at the default settings) for as long as it is open. Engines exist only during a call,
 *   and calls run one at a time on the main thread, so the process never holds more than one.
 *   That needs no concurrency limiter, does not compete with fs, dns and crypto for the four
 *   threadpool threads, and avoids the allocator fragmentation that many concurrent zlib jobs
 *   cause.
 * - Zip bombs. The documented `maxOutputLength` option stops the engine at most one output chunk
 *   (16 KiB) after the output passes the limit. No stream bookkeeping is involved.
 * - Cost, measured on Node 20 with 1.2 KiB JSON messages: inflating takes 13-20 µs with a 32 KiB
 *   window, and deflating ~23 µs with an 8 KiB context (~50 µs with 32 KiB). A zlib stream round
 *   trip costs ~30 µs of main-thread time per message in callbacks and stream machinery, and
 *   ~60 µs of latency.
 *
 * The costs, accepted and bounded:
 * - A compressed message is inflated when its last frame arrives. Its compressed bytes are
 *   collected until then (at most {@link maxCompressedSize}), so a streamed compressed message
 *   produces its data only at its end, and invalid UTF-8 in it is found there too.
 * - Compressing or inflating a large message blocks the event loop while it runs: for 64 MiB of
 *   text, ~180 ms to inflate and ~1.7 s to deflate at the default level (~10 ms per MiB at level
 *   1). That is the same kind of cost as parsing such a message. Bound it with maxMessageSize,
 *   and pick `level` to suit the messages you send.
 */
import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { RSV1_BIT } from '../constants';
import { WebSocketProtocolError, WebSocketUsageError } from '../errors';
import type { Role } from '../frame/frame';
import { type ExtensionCallback, type MessageExtension } from '../message/extension';

// --- Constants -------------------------------------------------------------------------------

/** The extension's registered name, RFC 7692 §7. */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** RFC 7692 §7.1.2.1/§7.1.2.2: window bits are 8-15; absent means 15 (a 32 KiB window). */
export const MIN_WINDOW_BITS = 8;
export const MAX_WINDOW_BITS = 15;
/**
 * RFC 7692 §7.1.2.1 ABNF: the value is one of "8" ... "15", so no leading zeroes, no sign and no
 * exponent. A quoted value has already been unquoted by the extension parser (RFC 6455 §9.1).
 */
export const WINDOW_BITS_PATTERN = /^(?:[89]|1[0-5])$/;
/**
 * zlib refuses 8 window bits for a raw deflate stream, and Node silently raises them to 9. A
 * compressor agreed to 8 therefore runs zlib at 9 with the Z_RLE strategy, which zlib documents as
 * limiting every match distance to one. The output then fits a 256-byte window by construction,
 * not by relying on an undocumented detail of zlib's match finder.
 */
const ZLIB_MIN_DEFLATE_WINDOW_BITS = 9;

/**
 * RFC 7692 §7.2.1: a sender removes these 4 bytes (the LEN/NLEN of the empty stored block a sync
 * flush ends with) from the end of a compressed message; §7.2.2: a receiver appends them again.
 */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const TAIL_LENGTH = TAIL.length;

/**
 * Default smallest message, in bytes, worth compressing: below it the call costs more than
 * compression saves on typical text.
 */
const DEFAULT_THRESHOLD = 1024;
/**
 * Default bytes of our earlier messages the compressor may refer back to when context takeover is
 * on. Setting a preset dictionary costs time in proportion to its size: on Node 20, compressing a
 * 1.2 KiB JSON message took ~23 µs with 8 KiB of context and ~50 µs with the full 32 KiB, for a
 * result ~8% smaller. Any amount up to the agreed window is valid: the peer keeps the whole window
 * and we just refer to less of it.
 */
const DEFAULT_CONTEXT_SIZE = 8 * 1024;
/**
 * zlib writes its output in chunks of this size (Node's default, set here so the bound below is
 * ours): a limit is noticed at most one chunk after the output passes it.
 */
const OUTPUT_CHUNK_SIZE = 16 * 1024;
/**
 * A compressed message may be larger than its inflated form: zlib's deflateBound() for any
 * settings is n + n/8 + n/64 + 5, and a sender that flushes per frame adds ~5 bytes each time. The
 * bound is a quarter more than the inflated limit plus 64 KiB: enough for any sane compressor, and
 * it stops a peer padding a message with empty blocks from making us buffer without limit.
 */
const COMPRESSED_SLACK = 64 * 1024;
/** A pending compressed buffer up to this size is kept for the next message. */
const RETAINED_INPUT = 16 * 1024;
/** Largest output zlib's convenience functions can produce (a Buffer's maximum length). */
const MAX_BUFFER_LENGTH = bufferConstants.MAX_LENGTH;

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
   * 8-15. Server: the largest LZ77 window our compressor uses, announced as
   * `server_max_window_bits` (§7.1.2.1). Client: the largest window we let the server use; a
   * response with more fails the connection.
   */
  serverMaxWindowBits?: number;
  /**
   * 8-15. Server: the largest window we accept from the client (`client_max_window_bits` in the
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
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024; `Infinity` never compresses. */
  threshold?: number;
  /**
   * Bytes of our earlier messages the compressor may refer back to when context takeover is on,
   * capped at our agreed window. Default 8 KiB: more compresses slightly better and costs CPU
   * (see DEFAULT_CONTEXT_SIZE). 0 compresses every message on its own.
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
  threshold: number;
  contextSize: number;
}

function misuse(detail: string): never {
  throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', detail);
}

function optionalBoolean(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') misuse(`${name} must be a boolean`);
  return value;
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

/** Validates options once, whichever function received them. @throws {WebSocketUsageError} */
export function resolveDeflateOptions(options: DeflateOptions | undefined): DeflateConfig {
  if (options === null || (options !== undefined && typeof options !== 'object')) misuse('options must be an object');
  const o = options ?? {};
  const threshold = o.threshold ?? DEFAULT_THRESHOLD;
  if (threshold !== Infinity) integerIn('threshold', threshold, 0, Number.MAX_SAFE_INTEGER);
  return {
    serverNoContextTakeover: optionalBoolean('serverNoContextTakeover', o.serverNoContextTakeover),
    clientNoContextTakeover: optionalBoolean('clientNoContextTakeover', o.clientNoContextTakeover),
    serverMaxWindowBits: windowBitsOption('serverMaxWindowBits', o.serverMaxWindowBits),
    clientMaxWindowBits: windowBitsOption('clientMaxWindowBits', o.clientMaxWindowBits),
    level: o.level === undefined ? zlib.constants.Z_DEFAULT_COMPRESSION : integerIn('level', o.level, -1, 9),
    memLevel: o.memLevel === undefined ? zlib.constants.Z_DEFAULT_MEMLEVEL : integerIn('memLevel', o.memLevel, 1, 9),
    threshold,
    contextSize: o.contextSize === undefined ? DEFAULT_CONTEXT_SIZE : integerIn('contextSize', o.contextSize, 0, Number.MAX_SAFE_INTEGER),
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
 * The largest compressed message, in bytes, that {@link PerMessageDeflate.inflate} accepts for a
 * given inflated limit (see COMPRESSED_SLACK). A message layer can compare announced frame lengths
 * of a compressed message against it before any byte is buffered.
 */
export function maxCompressedSize(maxOutput: number): number {
  if (maxOutput === Infinity) return Infinity;
  return maxOutput + Math.ceil(maxOutput / 4) + COMPRESSED_SLACK;
}

/**
 * The last bytes of the uncompressed data one direction has carried: the LZ77 window that context
 * takeover continues from. Kept contiguous because it is handed to zlib as a dictionary. Its
 * memory is allocated at the first message that needs it.
 */
class Window {
  private buffer: Buffer | undefined;
  private length = 0;

  constructor(private readonly size: number) {}

  /** The window's bytes, oldest first; undefined while empty. */
  get bytes(): Buffer | undefined {
    return this.length === 0 ? undefined : (this.buffer as Buffer).subarray(0, this.length);
  }

  /** Slides the window over `data`: keeps the last `size` bytes of what it held followed by `data`. */
  push(data: Uint8Array): void {
    const size = this.size;
    if (size === 0 || data.length === 0) return;
    this.buffer ??= Buffer.allocUnsafe(size);
    const buffer = this.buffer;
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
 * The permessage-deflate codec of one connection (RFC 7692 §7.2). It is sans-I/O and synchronous
 * (see the top of this file for why). {@link deflate} compresses the payload of an outgoing
 * message; the sender then sets RSV1 on its first frame only (§6.1). {@link inflate} takes the
 * payloads of an incoming message marked with RSV1, as they arrive, and returns the message at its
 * end.
 *
 * Context takeover follows the agreed parameters, per direction. A direction without
 * `*_no_context_takeover` continues each message from the window of the previous compressed
 * messages. Messages sent or received uncompressed never enter the window, as on the peer's side.
 *
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for invalid params, role or options.
 */
export class PerMessageDeflate implements MessageExtension {
  readonly name = PERMESSAGE_DEFLATE;
  /** RFC 7692 §6: RSV1 marks a compressed message's first frame. */
  readonly rsvBits = RSV1_BIT;
  /** The agreed parameters this codec follows. */
  readonly params: Readonly<DeflateParams>;
  /** Our side of the connection: `'server'` compresses with the server_* parameters. */
  readonly role: Role;
  /** Messages smaller than this many bytes are not worth compressing (see {@link shouldCompress}). */
  readonly threshold: number;

  private readonly deflateOptions: zlib.ZlibOptions;
  private readonly inflateOptions: zlib.ZlibOptions;
  /** Window of what we sent; undefined without our context takeover. */
  private readonly sent: Window | undefined;
  /** Window of what we received; undefined without the peer's context takeover. */
  private readonly received: Window | undefined;

  /** Compressed bytes of the message being received, before the tail. */
  private pending: Buffer | undefined;
  private pendingLength = 0;
  private receiving = false;
  /** The error that broke the receive direction: its window is unknowable after it. */
  private failure: WebSocketProtocolError | undefined;
  private closed = false;

  constructor(params: DeflateParams, role: Role, options?: DeflateOptions) {
    checkParams(params);
    if (role !== 'server' && role !== 'client') misuse(`role must be 'server' or 'client'`);
    const config = resolveDeflateOptions(options);
    this.params = Object.freeze({ ...params });
    this.role = role;
    this.threshold = config.threshold;

    const server = role === 'server';
    const ourBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    const peerBits = server ? params.clientMaxWindowBits : params.serverMaxWindowBits;
    const ourTakeover = !(server ? params.serverNoContextTakeover : params.clientNoContextTakeover);
    const peerTakeover = !(server ? params.clientNoContextTakeover : params.serverNoContextTakeover);

    this.deflateOptions = {
      // §7.2.1: compress with a sync flush, so the data ends in an empty stored block.
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      // Never 8: Node would rewrite that in place, in an options object shared by every call.
      windowBits: Math.max(ourBits, ZLIB_MIN_DEFLATE_WINDOW_BITS),
      level: config.level,
      memLevel: config.memLevel,
      strategy: ourBits < ZLIB_MIN_DEFLATE_WINDOW_BITS ? zlib.constants.Z_RLE : zlib.constants.Z_DEFAULT_STRATEGY,
      chunkSize: OUTPUT_CHUNK_SIZE,
    };
    // The peer's window exactly. zlib checks distances against the bytes it holds (the window
    // plus the current output chunk), so a reference into an earlier message further back than
    // the agreed window fails as corrupt data. Inside one message a reference up to one output
    // chunk (16 KiB) longer may pass: it decodes correctly, so letting it through is harmless.
    this.inflateOptions = {
      // §7.2.2: the appended tail completes an empty stored block, not the end of the stream.
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      windowBits: peerBits,
      chunkSize: OUTPUT_CHUNK_SIZE,
    };
    this.sent = ourTakeover ? new Window(Math.min(config.contextSize, 2 ** ourBits)) : undefined;
    this.received = peerTakeover ? new Window(2 ** peerBits) : undefined;
  }

  /** {@link MessageExtension.encode}: compresses messages from {@link threshold} bytes on, synchronously. */
  encode(payload: Uint8Array, _isText: boolean, _callback: ExtensionCallback): Buffer | undefined {
    return this.shouldCompress(payload.byteLength) ? this.deflate(payload) : undefined;
  }

  /** {@link MessageExtension.decode}: {@link inflate}, synchronously. */
  decode(piece: Buffer, fin: boolean, maxSize: number, _callback: ExtensionCallback): Buffer | undefined {
    return this.inflate(piece, fin, maxSize);
  }

  /** {@link MessageExtension.maxEncodedSize}: see {@link maxCompressedSize}. */
  maxEncodedSize(maxSize: number): number {
    return maxCompressedSize(maxSize);
  }

  /** Whether a message of `byteLength` bytes is worth compressing (at least {@link threshold}). */
  shouldCompress(byteLength: number): boolean {
    return byteLength >= this.threshold;
  }

  /** True while an incoming compressed message has started and not yet ended. */
  get receivingMessage(): boolean {
    return this.receiving;
  }

  /**
   * Compresses the payload of one outgoing message (RFC 7692 §7.2.1): a raw deflate stream ended
   * with a sync flush, whose last 4 bytes (00 00 ff ff) are removed. Strings are sent as UTF-8.
   * With our context takeover agreed, the message then becomes part of the window the next one
   * refers back to, so every result must be sent, in order.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` after {@link close};
   *   `WS_ERR_INVALID_ARGUMENT` for data that is not a string, Buffer or Uint8Array.
   */
  deflate(data: Buffer | Uint8Array | string): Buffer {
    this.checkOpen();
    let input: Uint8Array;
    if (typeof data === 'string') input = Buffer.from(data, 'utf8');
    else if (data instanceof Uint8Array) input = data;
    else misuse('data must be a string, Buffer or Uint8Array');

    const dictionary = this.sent?.bytes;
    const out = zlib.deflateRawSync(input, dictionary === undefined ? this.deflateOptions : { ...this.deflateOptions, dictionary });
    // zlib's sync flush always ends with the 4 bytes; anything else is a bug, not peer input.
    const end = out.length - TAIL_LENGTH;
    if (end < 0 || out.compare(TAIL, 0, TAIL_LENGTH, end) !== 0) {
      throw new WebSocketProtocolError('WS_ERR_INTERNAL', 'deflate output does not end with a sync flush');
    }
    this.sent?.push(input);
    return fit(out.subarray(0, end));
  }

  /**
   * Takes the next payload piece of an incoming compressed message (the payloads of its frames, in
   * order, whole or in pieces). Pieces are copied, never kept. When `fin` is set (the piece that
   * ends the message), appends the tail 00 00 ff ff (RFC 7692 §7.2.2), inflates the message and
   * returns it. Before that it returns undefined.
   *
   * `maxOutput` bounds the inflated message: inflation stops as soon as the output passes it
   * (allocating at most one 16 KiB chunk beyond it), so a few KiB inflating to gigabytes never
   * take more than `maxOutput`. The compressed bytes are bounded by {@link maxCompressedSize}.
   *
   * After an error the receive direction is broken (its window is unknown), and every later call
   * throws the same error. The connection must fail anyway.
   *
   * @throws {WebSocketProtocolError} `WS_ERR_MESSAGE_TOO_BIG` (1009) when the message inflates to
   *   more than `maxOutput` bytes or its compressed form exceeds `maxCompressedSize(maxOutput)`;
   *   `WS_ERR_INVALID_COMPRESSED_DATA` (1007) when it is not valid deflate data, or refers back
   *   further than the data received so far, or into an earlier message further than the
   *   agreed window.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` after {@link close};
   *   `WS_ERR_INVALID_ARGUMENT` for a non-Buffer piece or a negative or non-integer `maxOutput`.
   */
  inflate(data: Buffer | Uint8Array, fin: boolean, maxOutput: number): Buffer | undefined {
    this.checkOpen();
    if (!(data instanceof Uint8Array)) misuse('data must be a Buffer or Uint8Array');
    if (typeof maxOutput !== 'number' || !(maxOutput >= 0) || (!Number.isInteger(maxOutput) && maxOutput !== Infinity)) {
      misuse('maxOutput must be a non-negative integer or Infinity');
    }
    if (this.failure !== undefined) throw this.failure;
    this.receiving = true;

    const total = this.pendingLength + data.length;
    if (total > maxCompressedSize(maxOutput)) {
      return this.fail('WS_ERR_MESSAGE_TOO_BIG', `compressed message of ${total} bytes or more`);
    }
    let input: Buffer;
    if (this.pendingLength === 0 && fin) {
      // The common case, a message in one frame: one copy, to put the tail behind it.
      input = Buffer.allocUnsafe(data.length + TAIL_LENGTH);
      input.set(data, 0);
      TAIL.copy(input, data.length);
    } else {
      this.collect(data, total + (fin ? TAIL_LENGTH : 0));
      if (!fin) return undefined;
      const pending = this.pending as Buffer;
      TAIL.copy(pending, this.pendingLength);
      input = pending.subarray(0, this.pendingLength + TAIL_LENGTH);
    }

    const dictionary = this.received?.bytes;
    // maxOutputLength counts from 1; the exact limit is checked below for maxOutput 0.
    const limit = Math.max(1, Math.min(maxOutput, MAX_BUFFER_LENGTH));
    let out: Buffer;
    try {
      out = zlib.inflateRawSync(input, dictionary === undefined
        ? { ...this.inflateOptions, maxOutputLength: limit }
        : { ...this.inflateOptions, maxOutputLength: limit, dictionary });
    } catch (err) {
      return this.failFromZlib(err);
    } finally {
      this.endMessage();
    }
    if (out.length > maxOutput) return this.fail('WS_ERR_MESSAGE_TOO_BIG', `inflated to more than ${maxOutput} bytes`);
    this.received?.push(out);
    return fit(out);
  }

  /**
   * Releases what the codec holds (windows, a partial message). zlib engines only exist during a
   * call, so no native resource outlives it. Later calls throw `WS_ERR_INVALID_STATE`. Idempotent.
   */
  close(): void {
    this.closed = true;
    this.pending = undefined;
    this.pendingLength = 0;
    this.receiving = false;
    this.sent?.clear();
    this.received?.clear();
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
    if (this.pending !== undefined && this.pending.length > RETAINED_INPUT) this.pending = undefined;
  }

  private failFromZlib(err: unknown): never {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_BUFFER_TOO_LARGE') return this.fail('WS_ERR_MESSAGE_TOO_BIG', 'inflated message over the limit');
    if (typeof code === 'string' && CORRUPT_DATA_CODES.has(code)) return this.fail('WS_ERR_INVALID_COMPRESSED_DATA', code);
    // Out of memory and the like: not the peer's fault, so not a protocol error (1011 upstream).
    throw err;
  }

  private fail(code: 'WS_ERR_MESSAGE_TOO_BIG' | 'WS_ERR_INVALID_COMPRESSED_DATA', detail: string): never {
    const error = new WebSocketProtocolError(code, detail);
    this.failure = error;
    this.endMessage();
    this.pending = undefined;
    this.received?.clear();
    throw error;
  }
}

/**
 * zlib returns a small result as a view of its 16 KiB output chunk. Copy such a result, so a
 * message the application keeps does not hold on to a buffer several times its size.
 */
function fit(bytes: Buffer): Buffer {
  const backing = bytes.buffer.byteLength;
  return backing > Buffer.poolSize && bytes.length < backing >>> 1 ? Buffer.from(bytes) : bytes;
}
