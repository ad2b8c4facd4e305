/**
 * FrameParser: the sans-I/O frame state machine (RFC 6455 §5.2). Feed it bytes in any chunking;
 * it hands every frame (or, for long frames, every piece of one) to a sink. The FrameDecoder
 * Transform and the connection session both drive it directly.
 */
import {
  DEFAULT_MAX_PAYLOAD, FIN_BIT, LENGTH_16_MARKER, LENGTH_64_MARKER, MASK_BIT, MASK_KEY_LENGTH,
  MAX_16BIT_LENGTH, MAX_7BIT_LENGTH, MAX_HEADER_LENGTH, OPCODE_MASK, RSV1_BIT, RSV2_BIT, RSV3_BIT,
} from '../constants';
import { type ErrorCode, WebSocketProtocolError, WebSocketUsageError } from '../errors';
import { numberOption, resolveOnce } from '../options';
import { checkFirstBytes, type DecoderRole, type Frame, type FramePiece, readUint32, rsvMask } from './frame';
import { unmask } from './mask';
import { Runs } from './runs';

export interface FrameParserOptions {
  /** Default `'server'`. */
  role?: DecoderRole;
  /**
   * Largest payload accepted, in bytes; a frame announcing more fails with 1009 as soon as its
   * length is read, before any payload byte is buffered. Default 64 MiB; `Infinity` disables it.
   */
  maxPayload?: number;
  /** Accept RSV1 (an extension such as permessage-deflate negotiated it). Default false. */
  allowRsv1?: boolean;
  allowRsv2?: boolean;
  allowRsv3?: boolean;
  /**
   * Accept 16/64-bit lengths that would have fit a shorter form. Default false: RFC 6455 §5.2 says
   * the minimal form MUST be used, and accepting several encodings of one frame helps a peer evade
   * byte-pattern filters in front of us.
   */
  allowNonMinimalLength?: boolean;
  /**
   * Frames whose payload is longer than this many bytes are delivered as {@link FramePiece}s as
   * their bytes arrive, so memory does not grow with the frame. Default `Infinity` (whole frames).
   */
  streamingThreshold?: number;
}

/** {@link FrameParserOptions} checked and resolved, to share between parsers. */
export interface FrameParserConfig {
  /** true: frames must be masked (we are the server); false: must not be; undefined: either. */
  readonly requireMask: boolean | undefined;
  readonly allowedRsv: number;
  readonly maxPayload: number;
  readonly allowNonMinimal: boolean;
  readonly streamingThreshold: number;
}

/**
 * Checks and resolves parser options once (a config passes through unchanged).
 * @throws {WebSocketUsageError} on invalid options.
 */
export function resolveFrameParserOptions(options: FrameParserOptions | FrameParserConfig): FrameParserConfig {
  return resolveOnce(options, resolveFrameParser);
}

function resolveFrameParser(o: FrameParserOptions): FrameParserConfig {
  const role = o.role ?? 'server';
  if (role !== 'server' && role !== 'client' && role !== 'any') {
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `role must be 'server', 'client' or 'any'`);
  }
  return {
    requireMask: role === 'server' ? true : role === 'client' ? false : undefined,
    allowedRsv: rsvMask(o.allowRsv1 === true, o.allowRsv2 === true, o.allowRsv3 === true),
    maxPayload: numberOption('maxPayload', o.maxPayload, DEFAULT_MAX_PAYLOAD),
    allowNonMinimal: o.allowNonMinimalLength === true,
    streamingThreshold: numberOption('streamingThreshold', o.streamingThreshold, Infinity),
  };
}

/** Receives what {@link FrameParser} decodes. */
export interface FrameSink {
  /** Called once per whole frame, or once per piece in streaming mode. */
  frame(frame: Frame | FramePiece): void;
}

const enum State {
  Header,
  Length16,
  Length64,
  MaskKey,
  Payload,
  Failed,
}

const EMPTY = Buffer.alloc(0);


type BufferView = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer;
/**
 * Node's own Buffer subclass, which `subarray` itself constructs: building the view directly
 * skips subarray's argument handling, a few percent of the per-frame cost. Only used when it is
 * not the public Buffer constructor (calling that one is deprecated).
 */
const Species = (Buffer as unknown as { [Symbol.species]?: BufferView })[Symbol.species];
const FastView: BufferView | undefined = Species !== undefined && (Species as unknown) !== Buffer ? Species : undefined;

/** A Buffer viewing `length` bytes of `chunk` from `start`, sharing its memory. */
function view(chunk: Buffer, start: number, length: number): Buffer {
  return FastView === undefined
    ? chunk.subarray(start, start + length)
    : new FastView(chunk.buffer, chunk.byteOffset + start, length);
}

/**
 * The sans-I/O frame parser: feed it chunks with {@link write}, get frames through the sink.
 * Between chunks it keeps at most one partial header (14 bytes) and the runs of a payload that
 * arrived so far: large runs as views of their chunks, small ones packed into staging blocks, so
 * a stream of tiny chunks cannot pin thousands of Buffers. A complete payload is copied once.
 *
 * Masked payloads are unmasked in place: the decoder owns the chunks written to it, as a socket's
 * consumer does. Copy a chunk before writing it if you need it unchanged afterwards.
 */
export class FrameParser {
  private readonly sink: FrameSink;
  private readonly config: FrameParserConfig;

  private state = State.Header;
  private error: WebSocketProtocolError | undefined;
  /** A sink asked to stop after the frame it was given: the rest of the chunk waits for resume(). */
  private paused = false;

  // The chunk being parsed and the read position in it.
  private chunk: Buffer = EMPTY;
  private pos = 0;
  /** Stream offset of chunk[0]. */
  private base = 0;

  // Header bytes that arrived split across chunks (allocated on the first split: an idle
  // connection holds none), and where complete header bytes are read from.
  private stash: Buffer | undefined;
  private stashed = 0;
  private src: Buffer = EMPTY;

  // The frame being parsed.
  private frameStart = 0;
  private b0 = 0;
  private masked = false;
  /** The key as a signed int32 (a small integer to V8, never a boxed number); `>>> 0` where a uint32 is needed. */
  private maskKey = 0;
  private payloadLength = 0;
  private received = 0;
  /** A payload spanning chunks: what arrived of it, still masked (made on the first split). */
  private runs: Runs | undefined;

  /**
   * `options` may be a config from {@link resolveFrameParserOptions}, which many parsers can
   * share (a server's connections do).
   * @throws {WebSocketUsageError} on invalid options.
   */
  constructor(options: FrameParserOptions | FrameParserConfig, sink: FrameSink) {
    this.sink = sink;
    this.config = resolveFrameParserOptions(options);
  }

  /** Bytes consumed so far: the stream offset of the next byte. */
  get position(): number {
    return this.base + this.pos;
  }

  /** True between frames, when ending the stream would lose nothing. */
  get idle(): boolean {
    return this.state === State.Header && this.stashed === 0;
  }

  /** True while a sink's {@link pause} holds the rest of a chunk. */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Parses `chunk`, handing every completed frame to the sink before returning. Returns the
   * protocol error that stopped parsing, if any; every frame before the bad byte was delivered.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_STATE` while paused (call {@link resume}).
   */
  write(chunk: Buffer): WebSocketProtocolError | undefined {
    if (this.state === State.Failed) return this.error;
    if (this.paused) throw new WebSocketUsageError('WS_ERR_INVALID_STATE', 'the frame parser is paused');
    this.base += this.pos;
    this.chunk = chunk;
    this.pos = 0;
    return this.parse();
  }

  /**
   * Called by a sink while it handles a frame: parsing stops after that frame, and the rest of the
   * chunk is kept (one chunk, nothing copied) until {@link resume}. Lets a consumer that must wait
   * (an asynchronous inflate, a time slice used up) stop without buffering frames it cannot take.
   */
  pause(): void {
    if (this.state !== State.Failed) this.paused = true;
  }

  /** Continues the chunk a {@link pause} held; returns like {@link write}. */
  resume(): WebSocketProtocolError | undefined {
    if (!this.paused) return this.state === State.Failed ? this.error : undefined;
    this.paused = false;
    return this.parse();
  }

  private parse(): WebSocketProtocolError | undefined {
    const error = this.run();
    if (this.paused) return undefined;
    // Drop every reference to the chunk (src may point into it): between writes the parser holds
    // only the header stash and one payload buffer, so a trickle of chunks cannot be pinned.
    this.chunk = EMPTY;
    this.src = EMPTY;
    return error;
  }

  /** Declares the end of input. Ending inside a frame is an error, never a frame. */
  end(): WebSocketProtocolError | undefined {
    if (this.state === State.Failed) return this.error;
    if (!this.idle) return this.fail('WS_ERR_TRUNCATED_FRAME', this.position);
    return undefined;
  }

  private run(): WebSocketProtocolError | undefined {
    while (!this.paused) {
      switch (this.state) {
        case State.Header:
          if (!this.readHeader()) return this.error;
          break;
        case State.Length16:
          if (!this.readLength16()) return this.error;
          break;
        case State.Length64:
          if (!this.readLength64()) return this.error;
          break;
        case State.MaskKey:
          if (!this.readMaskKey()) return this.error;
          break;
        case State.Payload:
          if (!this.readPayload()) return this.error;
          break;
        case State.Failed:
          return this.error;
      }
    }
    return undefined;
  }

  /**
   * Makes `n` header bytes readable at `this.src[returned offset]`, straight from the chunk when it
   * holds them all, else gathered in the stash across chunks. Returns -1 when the chunk ran out.
   */
  private take(n: number): number {
    const available = this.chunk.length - this.pos;
    if (this.stashed === 0 && available >= n) {
      this.src = this.chunk;
      const at = this.pos;
      this.pos += n;
      return at;
    }
    const count = Math.min(n - this.stashed, available);
    // At most 14 bytes: a plain loop is cheaper than a native copy call.
    const chunk = this.chunk;
    const stash = this.stash ??= Buffer.allocUnsafe(MAX_HEADER_LENGTH);
    for (let i = 0; i < count; i++) stash[this.stashed + i] = chunk[this.pos + i];
    this.stashed += count;
    this.pos += count;
    if (this.stashed < n) return -1;
    this.stashed = 0;
    this.src = stash;
    return 0;
  }

  private readHeader(): boolean {
    if (this.stashed === 0) {
      if (this.pos === this.chunk.length) return false;
      this.frameStart = this.base + this.pos;
    }
    const at = this.take(2);
    if (at < 0) return false;
    const b0 = this.src[at];
    const b1 = this.src[at + 1];
    const problem = checkFirstBytes(b0, b1, this.config.allowedRsv, this.config.requireMask);
    if (problem !== undefined) {
      const inSecondByte = problem === 'WS_ERR_EXPECTED_MASK' || problem === 'WS_ERR_UNEXPECTED_MASK' ||
        problem === 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH';
      this.fail(problem, this.frameStart + (inSecondByte ? 1 : 0));
      return false;
    }
    this.b0 = b0;
    this.masked = (b1 & MASK_BIT) !== 0;
    const length = b1 & 0x7f;
    if (length === LENGTH_16_MARKER) {
      this.state = State.Length16;
    } else if (length === LENGTH_64_MARKER) {
      this.state = State.Length64;
    } else {
      return this.haveLength(length);
    }
    return true;
  }

  private readLength16(): boolean {
    const at = this.take(2);
    if (at < 0) return false;
    const length = (this.src[at] << 8) | this.src[at + 1];
    if (length <= MAX_7BIT_LENGTH && !this.config.allowNonMinimal) {
      this.fail('WS_ERR_NON_MINIMAL_LENGTH', this.frameStart + 2);
      return false;
    }
    return this.haveLength(length);
  }

  private readLength64(): boolean {
    const at = this.take(8);
    if (at < 0) return false;
    const high = readUint32(this.src, at);
    const low = readUint32(this.src, at + 4);
    // RFC 6455 §5.2: "the most significant bit MUST be 0".
    if (high > 0x7fffffff) {
      this.fail('WS_ERR_INVALID_PAYLOAD_LENGTH', this.frameStart + 2);
      return false;
    }
    // Above 2^53 - 1 a JS number cannot count the bytes exactly.
    if (high > 0x1fffff) {
      this.fail('WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', this.frameStart + 2);
      return false;
    }
    const length = high * 0x100000000 + low;
    if (length <= MAX_16BIT_LENGTH && !this.config.allowNonMinimal) {
      this.fail('WS_ERR_NON_MINIMAL_LENGTH', this.frameStart + 2);
      return false;
    }
    return this.haveLength(length);
  }

  /** Checks shared by every length form; they run before any payload byte is buffered. */
  private haveLength(length: number): boolean {
    if (length > this.config.maxPayload) {
      // The offending length is the second byte's 7 bits, or the extended length after it.
      this.fail('WS_ERR_PAYLOAD_TOO_BIG', this.frameStart + (this.state === State.Header ? 1 : 2));
      return false;
    }
    this.payloadLength = length;
    this.received = 0;
    this.state = this.masked ? State.MaskKey : State.Payload;
    return true;
  }

  private readMaskKey(): boolean {
    const at = this.take(MASK_KEY_LENGTH);
    if (at < 0) return false;
    this.maskKey = readUint32(this.src, at) | 0;
    this.state = State.Payload;
    return true;
  }

  private readPayload(): boolean {
    const chunk = this.chunk;
    const available = chunk.length - this.pos;
    const length = this.payloadLength;

    if (length > this.config.streamingThreshold) return this.readPiece(available);

    if (this.received === 0 && available >= length) {
      // The whole payload is in this chunk: hand out a view, no copy.
      const payload = view(chunk, this.pos, length);
      this.pos += length;
      this.emit(payload);
      return true;
    }
    if (available === 0) return false;
    const runs = this.runs ??= new Runs();

    const count = Math.min(length - this.received, available);
    // A view pins what the caller wrote (a socket read, or a slice of the caller's own memory).
    runs.add(chunk, this.pos, count, length - this.received, chunk.length);
    this.received += count;
    this.pos += count;
    if (this.received < length) return false;
    this.emit(runs.gather(this.masked ? this.maskKey >>> 0 : undefined), false);
    return true;
  }

  /** Delivers a whole frame; `masked`: the payload still needs unmasking (in place). */
  private emit(payload: Buffer, masked = this.masked): void {
    if (masked) unmask(payload, this.maskKey >>> 0, 0);
    const b0 = this.b0;
    this.state = State.Header;
    this.sink.frame({
      fin: (b0 & FIN_BIT) !== 0,
      rsv1: (b0 & RSV1_BIT) !== 0,
      rsv2: (b0 & RSV2_BIT) !== 0,
      rsv3: (b0 & RSV3_BIT) !== 0,
      opcode: b0 & OPCODE_MASK,
      masked: this.masked,
      payload,
    });
  }

  /** Streaming mode: deliver what this chunk holds of the frame as one piece. */
  private readPiece(available: number): boolean {
    if (available === 0) return false;
    const offset = this.received;
    const count = Math.min(this.payloadLength - offset, available);
    const payload = view(this.chunk, this.pos, count);
    if (this.masked) unmask(payload, this.maskKey >>> 0, offset & 3);
    this.pos += count;
    this.received += count;
    const last = this.received === this.payloadLength;
    if (last) this.state = State.Header;
    const b0 = this.b0;
    this.sink.frame({
      fin: (b0 & FIN_BIT) !== 0,
      rsv1: (b0 & RSV1_BIT) !== 0,
      rsv2: (b0 & RSV2_BIT) !== 0,
      rsv3: (b0 & RSV3_BIT) !== 0,
      opcode: b0 & OPCODE_MASK,
      masked: this.masked,
      payload,
      offset,
      totalLength: this.payloadLength,
      last,
    });
    return last;
  }

  private fail(code: ErrorCode, offset: number): WebSocketProtocolError {
    this.state = State.Failed;
    this.paused = false;
    this.runs = undefined;
    this.error = new WebSocketProtocolError(code, `at byte ${offset}`, offset);
    return this.error;
  }
}
