/**
 * The sans-I/O core of `wsframe inspect`: bytes in (any chunking), records out, one per frame,
 * message, HTTP head, error or end of input. The library's FrameParser does the framing and
 * MessageParser the message rules, so inspect reports exactly what a wsframe peer would;
 * this module only adds what a person debugging needs: offsets, mask keys, payload previews.
 *
 * Memory stays bounded whatever the input: frames arrive as pieces (streamingThreshold 0),
 * messages stream, and only a header (14 bytes) and the previews are kept.
 */
import {
  DEFAULT_MAX_HEADER_SIZE, type DecoderRole, type ErrorCode, type Frame, type FrameHeader, FrameParser,
  type FramePiece, isControlOpcode, isFramePiece, MessageParser, Opcode, parseHeader, PerMessageDeflate,
  WebSocketProtocolError, type WebSocketUsageError,
} from '../index';

export interface InspectorOptions {
  /** Masking rule: 'server' requires masked frames, 'client' unmasked ones (RFC 6455 §5.1). Default 'any'. */
  role?: DecoderRole;
  /** Largest frame payload accepted. Default: the library's (64 MiB). */
  maxPayload?: number;
  allowNonMinimalLength?: boolean;
  /** permessage-deflate was agreed: accept RSV1 and inflate messages (RFC 7692). Default false. */
  deflate?: boolean;
  /** Check message rules (fragment order, UTF-8, close payloads) too. Default true. */
  messages?: boolean;
  /** Payload bytes kept per frame and per message for previews. Default 64. */
  previewBytes?: number;
  /** Largest message (inflated, for compressed ones). Default: the library's (64 MiB). */
  maxMessageSize?: number;
}

/** How a payload reads: decides its preview. */
export type PayloadKind = 'text' | 'binary' | 'close' | 'ping' | 'pong' | 'unknown';

export interface FrameRecord {
  kind: 'frame';
  /** Stream offset of the frame's first byte. */
  offset: number;
  header: FrameHeader;
  /** What the payload holds: a continuation takes its message's kind. */
  payloadKind: PayloadKind;
  /** The payload is compressed (RSV1 on the message's first frame, with deflate agreed). */
  compressed: boolean;
  /** The first payload bytes, unmasked. */
  preview: Buffer;
  /** Payload bytes present: below header.payloadLength when the input ended inside the frame. */
  received: number;
}

export interface MessageRecord {
  kind: 'message';
  /** Offset of the message's first frame. */
  offset: number;
  type: 'text' | 'binary';
  frames: number;
  /** Payload bytes of the message (inflated when it was compressed). */
  length: number;
  /** Compressed bytes on the wire, when the message was compressed. */
  compressedLength: number | undefined;
  preview: Buffer;
}

export interface HttpHeadRecord {
  kind: 'http';
  offset: number;
  length: number;
  firstLine: string;
}

export interface ErrorRecord {
  kind: 'error';
  code: ErrorCode;
  closeCode: number;
  /** The byte where the error was detected, when the decoder knows it. */
  offset: number | undefined;
  /** Start of the frame the error is in (message rules are checked per frame). */
  frameOffset: number | undefined;
  message: string;
  /** The input's first bytes are hex digits: it was probably meant for --hex. */
  looksLikeHexText: boolean;
}

/** The input ended inside a frame header or the HTTP head. */
export interface TruncatedRecord {
  kind: 'truncated';
  offset: number;
  /** What was cut: a frame header or the HTTP head. */
  what: 'header' | 'http';
  /** Bytes of it present. */
  length: number;
}

export interface NoteRecord {
  kind: 'note';
  offset: number;
  text: string;
}

export interface EndRecord {
  kind: 'end';
  /** Total input bytes. */
  offset: number;
  frames: number;
  messages: number;
}

export type InspectRecord =
  | FrameRecord | MessageRecord | HttpHeadRecord | ErrorRecord | TruncatedRecord | NoteRecord | EndRecord;

const DEFAULT_PREVIEW = 64;
/** Header bytes kept per frame: the longest header (RFC 6455 §5.2). */
const MAX_HEADER = 14;
/** Input bytes looked at to tell an HTTP head or hex text from frames. */
const SNIFF_BYTES = 32;
const HEAD_END = Buffer.from('\r\n\r\n');
/** RFC 7230 §3.1: a request line starts with the method, a status line with the version. */
const HEAD_STARTS = [Buffer.from('GET '), Buffer.from('HTTP/')];
/** The widest window (RFC 7692 §7.1.2) with context takeover inflates anything either side sent. */
const ANY_DEFLATE = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

const enum State {
  /** Reading the first bytes to see whether an HTTP head comes first. */
  Sniffing,
  /** Inside the HTTP head. */
  Head,
  Frames,
  /** An error was reported; the rest of the input cannot be framed reliably. */
  Failed,
  Ended,
}

/** The frame being received. */
interface OpenFrame {
  offset: number;
  header: FrameHeader;
  payloadKind: PayloadKind;
  compressed: boolean;
  preview: Preview;
  received: number;
}

/** The data message being received (tracked by opcode, so it works with --frames-only too). */
interface OpenMessage {
  offset: number;
  type: 'text' | 'binary';
  compressed: boolean;
  frames: number;
  wireLength: number;
}

/** Streamed message contents from MessageParser (inflated, UTF-8 checked). */
interface MessageContent {
  length: number;
  preview: Preview;
}

function looksLikeHexText(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  return /[0-9a-fA-F]{2}/.test(text) && /^(?:[ \t\r\n,]|0[xX]|[0-9a-fA-F])+$/.test(text);
}

function payloadKindOf(opcode: number, message: OpenMessage | undefined): PayloadKind {
  switch (opcode) {
    case Opcode.Text: return 'text';
    case Opcode.Binary: return 'binary';
    case Opcode.Close: return 'close';
    case Opcode.Ping: return 'ping';
    case Opcode.Pong: return 'pong';
    case Opcode.Continuation: return message?.type ?? 'unknown';
    default: return 'unknown';
  }
}

/** RSV1 on a message's first frame marks it compressed (RFC 7692 §6); continuations inherit it. */
function isCompressed(opcode: number, rsv1: boolean, deflate: boolean, message: OpenMessage | undefined): boolean {
  if (opcode === Opcode.Text || opcode === Opcode.Binary) return deflate && rsv1;
  return opcode === Opcode.Continuation && message?.compressed === true;
}

/**
 * The first `limit` bytes of a payload, copied as they pass. Memory follows what arrived, never
 * what a header announced, so a huge length with a huge --preview allocates nothing up front.
 */
class Preview {
  private readonly pieces: Buffer[] = [];
  private length = 0;

  constructor(private readonly limit: number) {}

  add(bytes: Buffer): void {
    if (this.length >= this.limit || bytes.length === 0) return;
    const piece = Buffer.from(bytes.subarray(0, this.limit - this.length));
    this.pieces.push(piece);
    this.length += piece.length;
  }

  bytes(): Buffer {
    return this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.length);
  }
}

/**
 * Decodes a capture and describes it. Feed chunks with {@link write}, then call {@link end};
 * records reach `sink` synchronously. After an error only `end` is meaningful.
 *
 * Chunks are owned by the inspector once written (masked payloads are unmasked in place, as the
 * library's decoder does).
 *
 * @throws {WebSocketUsageError} on invalid options.
 */
export class FrameInspector {
  private readonly sink: (record: InspectRecord) => void;
  private readonly parser: FrameParser;
  private readonly messages: MessageParser | undefined;
  private readonly deflate: boolean;
  private readonly previewBytes: number;

  private state = State.Sniffing;
  /** Bytes held while sniffing or reading the HTTP head. */
  private pending: Buffer = Buffer.alloc(0);
  /** The first input bytes, to recognise hex text. */
  private sniffed: Buffer = Buffer.alloc(0);
  /** Bytes before the frames (the HTTP head): parser offsets plus this are stream offsets. */
  private skipped = 0;
  private total = 0;

  // Header capture. The parser does not hand out mask keys, so the header bytes of the frame in
  // progress are copied aside as they pass: from each chunk before it is parsed, and from the rest
  // of the chunk whenever a frame ends inside it (header bytes are never unmasked in place).
  private chunk: Buffer = Buffer.alloc(0);
  private chunkBase = 0;
  private frameStart = 0;
  private readonly head = Buffer.alloc(MAX_HEADER);
  private headLength = 0;

  private frame: OpenFrame | undefined;
  private message: OpenMessage | undefined;
  private content: MessageContent | undefined;
  private frames = 0;
  private messageCount = 0;

  constructor(options: InspectorOptions, sink: (record: InspectRecord) => void) {
    this.sink = sink;
    this.deflate = options.deflate === true;
    this.previewBytes = options.previewBytes ?? DEFAULT_PREVIEW;
    this.parser = new FrameParser({
      role: options.role ?? 'any',
      maxPayload: options.maxPayload,
      allowNonMinimalLength: options.allowNonMinimalLength,
      allowRsv1: this.deflate,
      // Every frame in pieces: nothing grows with the frame size.
      streamingThreshold: 0,
    }, { frame: (frame) => { this.onFrame(frame); } });
    this.messages = options.messages === false ? undefined : new MessageParser({
      streaming: true,
      maxMessageSize: options.maxMessageSize,
      extension: this.deflate ? new PerMessageDeflate(ANY_DEFLATE, 'client') : undefined,
    }, {
      message: () => { /* control frames: their frame line says it all */ },
      streamStart: () => { this.content = { length: 0, preview: new Preview(this.previewBytes) }; },
      streamData: (bytes) => { this.onMessageData(bytes); },
      streamEnd: () => { this.onMessageEnd(); },
    });
  }

  /** True once an error has been reported. */
  get failed(): boolean {
    return this.state === State.Failed;
  }

  /** Takes the next input bytes. Returns false once an error stopped decoding. */
  write(chunk: Buffer): boolean {
    if (this.state === State.Failed || this.state === State.Ended) return !this.failed;
    this.total += chunk.length;
    if (this.sniffed.length < SNIFF_BYTES) {
      this.sniffed = Buffer.concat([this.sniffed, chunk.subarray(0, SNIFF_BYTES - this.sniffed.length)]);
    }
    if (this.state === State.Sniffing || this.state === State.Head) {
      this.pending = Buffer.concat([this.pending, chunk]);
      this.readPending(false);
    } else {
      this.parse(chunk);
    }
    return !this.failed;
  }

  /** Declares the end of input: reports a truncated frame, an open message and the totals. */
  end(): void {
    if (this.state === State.Sniffing || this.state === State.Head) this.readPending(true);
    if (this.state === State.Head) {
      this.state = State.Failed;
      this.sink({ kind: 'truncated', offset: 0, what: 'http', length: this.pending.length });
      return;
    }
    if (this.state !== State.Frames) return;
    const error = this.parser.end();
    if (error !== undefined) {
      this.reportTruncated();
      this.fail(error, undefined);
      return;
    }
    this.state = State.Ended;
    if (this.message !== undefined) {
      const { type, frames, offset } = this.message;
      this.sink({
        kind: 'note',
        offset,
        text: `the input ends inside a fragmented ${type} message (${frames} frame${frames === 1 ? '' : 's'}, no FIN yet)`,
      });
    }
    this.sink({ kind: 'end', offset: this.total, frames: this.frames, messages: this.messageCount });
  }

  /** Sniffing: an HTTP head first? Head: wait for its blank line. Then the rest is frames. */
  private readPending(ended: boolean): void {
    if (this.state === State.Sniffing) {
      const pending = this.pending;
      const isHead = HEAD_STARTS.some((start) => pending.length >= start.length && pending.subarray(0, start.length).equals(start));
      const mayBeHead = HEAD_STARTS.some((start) => pending.length < start.length && start.subarray(0, pending.length).equals(pending));
      if (mayBeHead && !ended) return;
      this.state = isHead ? State.Head : State.Frames;
    }
    if (this.state === State.Head) {
      const end = this.pending.indexOf(HEAD_END);
      // The same bound a wsframe peer puts on a handshake head, so a capture without one stays bounded.
      if ((end === -1 ? this.pending.length : end + HEAD_END.length) > DEFAULT_MAX_HEADER_SIZE) {
        this.fail(new WebSocketProtocolError('WS_ERR_HANDSHAKE_HEADER_TOO_LARGE', undefined, DEFAULT_MAX_HEADER_SIZE), undefined);
        return;
      }
      if (end === -1) return;
      this.skipped = end + HEAD_END.length;
      const firstLine = this.pending.subarray(0, this.pending.indexOf('\r\n')).toString('latin1');
      this.sink({ kind: 'http', offset: 0, length: this.skipped, firstLine });
      this.state = State.Frames;
      this.pending = this.pending.subarray(this.skipped);
    }
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    if (rest.length > 0) this.parse(rest);
  }

  private parse(chunk: Buffer): void {
    this.chunk = chunk;
    this.captureHeader();
    const error = this.parser.write(chunk);
    this.chunkBase += chunk.length;
    this.chunk = Buffer.alloc(0);
    if (error !== undefined && this.state !== State.Failed) this.fail(error, undefined);
  }

  /** Copies the current frame's header bytes that the current chunk holds, up to 14. */
  private captureHeader(): void {
    const from = this.frameStart + this.headLength - this.chunkBase;
    if (this.headLength >= MAX_HEADER || from < 0 || from >= this.chunk.length) return;
    this.headLength += this.chunk.copy(this.head, this.headLength, from, Math.min(this.chunk.length, from + MAX_HEADER - this.headLength));
  }

  private onFrame(piece: Frame | FramePiece): void {
    if (this.state === State.Failed) return;
    const isPiece = isFramePiece(piece);
    if (!isPiece || piece.offset === 0) this.beginFrame(piece);
    const frame = this.frame as OpenFrame;
    frame.preview.add(piece.payload);
    frame.received += piece.payload.length;
    const last = !isPiece || piece.last;
    if (last) this.endFrame(frame);
    const error = this.messages?.write(piece);
    if (error !== undefined) this.fail(error, frame.offset);
  }

  private beginFrame(piece: Frame): void {
    // parseHeader cannot fail: the parser delivers a frame only after its whole header.
    const header = parseHeader(this.head.subarray(0, this.headLength)) as FrameHeader;
    const offset = this.skipped + this.frameStart;
    if (piece.opcode === Opcode.Text || piece.opcode === Opcode.Binary) {
      const type = piece.opcode === Opcode.Text ? 'text' : 'binary';
      this.message = { offset, type, compressed: this.deflate && piece.rsv1, frames: 0, wireLength: 0 };
    }
    this.frame = {
      offset,
      header,
      payloadKind: payloadKindOf(piece.opcode, this.message),
      compressed: isCompressed(piece.opcode, piece.rsv1, this.deflate, this.message),
      preview: new Preview(this.previewBytes),
      received: 0,
    };
  }

  private endFrame(frame: OpenFrame): void {
    this.frame = undefined;
    this.frames++;
    this.sink(this.frameRecord(frame));
    const message = this.message;
    if (!isControlOpcode(frame.header.opcode) && message !== undefined) {
      message.frames++;
      message.wireLength += frame.header.payloadLength;
      // RFC 6455 §5.4: FIN ends the message. The message parser reports that itself (onMessageEnd).
      if (frame.header.fin && this.messages === undefined) {
        this.messageCount++;
        this.message = undefined;
      }
    }
    // The next frame starts here; its header may already be in this chunk.
    this.frameStart = this.parser.position;
    this.headLength = 0;
    this.captureHeader();
  }

  private frameRecord(frame: OpenFrame): FrameRecord {
    return {
      kind: 'frame',
      offset: frame.offset,
      header: frame.header,
      payloadKind: frame.payloadKind,
      compressed: frame.compressed,
      preview: frame.preview.bytes(),
      received: frame.received,
    };
  }

  private onMessageData(bytes: Buffer): void {
    const content = this.content as MessageContent;
    content.length += bytes.length;
    content.preview.add(bytes);
  }

  private onMessageEnd(): void {
    const message = this.message as OpenMessage;
    const content = this.content as MessageContent;
    this.message = undefined;
    this.content = undefined;
    this.messageCount++;
    // A single uncompressed frame already showed everything on its own line.
    if (message.frames === 1 && !message.compressed) return;
    this.sink({
      kind: 'message',
      offset: message.offset,
      type: message.type,
      frames: message.frames,
      length: content.length,
      compressedLength: message.compressed ? message.wireLength : undefined,
      preview: content.preview.bytes(),
    });
  }

  /** The input ended inside a frame: show what arrived of it. */
  private reportTruncated(): void {
    const frame = this.frame;
    if (frame !== undefined) {
      this.sink(this.frameRecord(frame));
      return;
    }
    const header = parseHeader(this.head.subarray(0, this.headLength));
    const offset = this.skipped + this.frameStart;
    if (header === undefined) {
      this.sink({ kind: 'truncated', offset, what: 'header', length: this.headLength });
      return;
    }
    // The header is whole but no payload byte arrived.
    this.sink({
      kind: 'frame',
      offset,
      header,
      payloadKind: payloadKindOf(header.opcode, this.message),
      compressed: isCompressed(header.opcode, header.rsv1, this.deflate, this.message),
      preview: Buffer.alloc(0),
      received: 0,
    });
  }

  private fail(error: WebSocketProtocolError | WebSocketUsageError, frameOffset: number | undefined): void {
    this.state = State.Failed;
    // A frame cut short by a message-rule error: show what arrived of it first.
    const frame = this.frame;
    if (frame !== undefined && frameOffset !== undefined) {
      this.frame = undefined;
      this.sink(this.frameRecord(frame));
    }
    // A WebSocketUsageError here would be pieces fed out of order: a bug, still reported, never thrown.
    const offset = error instanceof WebSocketProtocolError ? error.offset : undefined;
    this.sink({
      kind: 'error',
      code: error.code,
      closeCode: error.closeCode,
      offset: offset === undefined ? undefined : offset + this.skipped,
      frameOffset,
      message: error.message,
      looksLikeHexText: looksLikeHexText(this.sniffed),
    });
  }
}
