/**
 * The oracle: a minimal, deliberately independent parser of what the peer under test sends. It
 * shares no code with lib/decoder.ts or lib/message.ts (it judges them), and it is strict: every
 * rule a sender MUST follow (RFC 6455 §5) is checked, and the first broken one is reported as a
 * `violation` after which nothing more is parsed.
 *
 * Simplicity beats speed here: frames are buffered whole, messages are concatenated at the end.
 */
import { isUtf8 } from 'node:buffer';
import { constants as zlib, inflateRawSync } from 'node:zlib';
import { FIN_BIT, LENGTH_16_MARKER, LENGTH_64_MARKER, LENGTH_MASK, MASK_BIT, MASK_KEY_LENGTH, MAX_16BIT_LENGTH, MAX_7BIT_LENGTH, MAX_CONTROL_PAYLOAD, Opcode, OPCODE_MASK, RSV1_BIT, RSV2_BIT, RSV3_BIT } from '../../lib/constants';
import type { Observed, Role } from './types';

/** RFC 7692 §7.2.2: the receiver appends these 4 octets before inflating a message. */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** A FIFO of received chunks that hands out exact byte counts, copying only across chunks. */
export class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes (n <= length), without consuming them. */
  peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length >= n) return first.subarray(0, n);
    return this.copy(n, false);
  }

  /** Removes and returns the first `n` bytes (n <= length). */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    if (first.length >= n) {
      this.length -= n;
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    return this.copy(n, true);
  }

  private copy(n: number, consume: boolean): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let index = 0;
    while (filled < n) {
      const chunk = this.chunks[index];
      const count = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, count);
      filled += count;
      if (consume && count === chunk.length) {
        this.chunks.shift();
      } else if (consume) {
        this.chunks[index] = chunk.subarray(count);
      } else {
        index++;
      }
    }
    if (consume) this.length -= n;
    return out;
  }
}

/** Close codes a close frame may carry on the wire (RFC 6455 §7.4.1-§7.4.2, IANA registry). */
export function isSendableCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  switch (code) {
    case 1000: case 1001: case 1002: case 1003:
    case 1007: case 1008: case 1009: case 1010: case 1011: case 1012: case 1013: case 1014:
      return true;
    default:
      return false;
  }
}

export interface OracleOptions {
  /** The runner's role: the peer's frames are judged as the other role's. */
  role: Role;
  /** permessage-deflate agreed (no context takeover): RSV1 marks a compressed message. */
  deflate: boolean;
}

/** Parses the peer's bytes into {@link Observed} events, reporting the first broken rule. */
export class Oracle {
  private readonly queue = new ByteQueue();
  private stopped = false;
  private closeSeen = false;
  /** The message being reassembled, or null between messages. */
  private message: { binary: boolean; compressed: boolean; parts: Buffer[]; frames: number } | null = null;

  constructor(private readonly options: OracleOptions, private readonly emit: (event: Observed) => void) {}

  push(chunk: Buffer): void {
    if (this.stopped) return;
    this.queue.push(chunk);
    while (!this.stopped && this.parseOne());
  }

  /** Bytes of an unfinished frame left when the connection ended (truncated frame). */
  get pendingBytes(): number {
    return this.queue.length;
  }

  private violation(detail: string): false {
    this.stopped = true;
    this.emit({ kind: 'violation', detail });
    return false;
  }

  /** Parses one frame if it is complete; false when more bytes are needed or parsing stopped. */
  private parseOne(): boolean {
    if (this.queue.length < 2) return false;
    const head = this.queue.peek(2);
    const masked = (head[1] & MASK_BIT) !== 0;
    const length7 = head[1] & LENGTH_MASK;
    const lengthBytes = length7 === LENGTH_16_MARKER ? 2 : length7 === LENGTH_64_MARKER ? 8 : 0;
    const headerLength = 2 + lengthBytes + (masked ? MASK_KEY_LENGTH : 0);
    if (this.queue.length < headerLength) return false;
    const header = this.queue.peek(headerLength);
    let length = length7;
    if (lengthBytes === 2) {
      length = header.readUInt16BE(2);
      // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
      if (length <= MAX_7BIT_LENGTH) return this.violation(`non-minimal 16-bit length ${length}`);
    } else if (lengthBytes === 8) {
      const high = header.readUInt32BE(2);
      // RFC 6455 §5.2: "the most significant bit MUST be 0".
      if (high >= 0x8000_0000) return this.violation('64-bit length with the most significant bit set');
      length = high * 0x1_0000_0000 + header.readUInt32BE(6);
      if (length <= MAX_16BIT_LENGTH) return this.violation(`non-minimal 64-bit length ${length}`);
    }
    if (!this.checkHeader(header[0], masked, length)) return false;
    if (this.queue.length < headerLength + length) return false;
    this.queue.take(headerLength);
    const payload = this.queue.take(length);
    if (masked) {
      const key = header.subarray(headerLength - MASK_KEY_LENGTH, headerLength);
      // Our own byte loop, not lib/mask: the oracle shares nothing with what it judges.
      for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    }
    return this.dispatch(header[0], payload);
  }

  /** The rules that depend only on the header, checked before the payload is awaited. */
  private checkHeader(byte0: number, masked: boolean, length: number): boolean {
    const opcode = byte0 & OPCODE_MASK;
    // RFC 6455 §5.1: clients mask every frame; servers mask none.
    const mustMask = this.options.role === 'server';
    if (masked !== mustMask) {
      return this.violation(mustMask ? 'unmasked frame from a client' : 'masked frame from a server');
    }
    if (this.closeSeen) return this.violation(`frame (opcode ${opcode}) after the close frame`);
    // RFC 6455 §5.2: reserved bits MUST be 0 unless an extension defines them; RFC 7692 §6 gives
    // RSV1 to permessage-deflate, on the first frame of a data message only.
    const rsv1Allowed = this.options.deflate && (opcode === Opcode.Text || opcode === Opcode.Binary);
    if ((byte0 & RSV1_BIT) !== 0 && !rsv1Allowed) return this.violation(`RSV1 set (opcode ${opcode})`);
    if ((byte0 & RSV2_BIT) !== 0) return this.violation(`RSV2 set (opcode ${opcode})`);
    if ((byte0 & RSV3_BIT) !== 0) return this.violation(`RSV3 set (opcode ${opcode})`);
    switch (opcode) {
      case Opcode.Continuation:
      case Opcode.Text:
      case Opcode.Binary:
        return true;
      case Opcode.Close:
      case Opcode.Ping:
      case Opcode.Pong:
        // RFC 6455 §5.5: control frames MUST NOT be fragmented and carry <= 125 bytes.
        if ((byte0 & FIN_BIT) === 0) return this.violation(`fragmented control frame (opcode ${opcode})`);
        if (length > MAX_CONTROL_PAYLOAD) return this.violation(`control frame with ${length} bytes (opcode ${opcode})`);
        return true;
      default:
        return this.violation(`reserved opcode ${opcode}`);
    }
  }

  private dispatch(byte0: number, payload: Buffer): boolean {
    const fin = (byte0 & FIN_BIT) !== 0;
    const opcode = byte0 & OPCODE_MASK;
    switch (opcode) {
      case Opcode.Text:
      case Opcode.Binary:
        // RFC 6455 §5.4: a new data message cannot start inside a fragmented one.
        if (this.message !== null) return this.violation('new data frame inside a fragmented message');
        this.message = { binary: opcode === Opcode.Binary, compressed: (byte0 & RSV1_BIT) !== 0, parts: [payload], frames: 1 };
        return fin ? this.finishMessage() : true;
      case Opcode.Continuation:
        if (this.message === null) return this.violation('continuation frame with no message to continue');
        this.message.parts.push(payload);
        this.message.frames++;
        return fin ? this.finishMessage() : true;
      case Opcode.Ping:
        this.emit({ kind: 'ping', data: payload });
        return true;
      case Opcode.Pong:
        this.emit({ kind: 'pong', data: payload });
        return true;
      default:
        return this.closeFrame(payload);
    }
  }

  private finishMessage(): boolean {
    const message = this.message!;
    this.message = null;
    let data = message.parts.length === 1 ? message.parts[0] : Buffer.concat(message.parts);
    if (message.compressed) {
      try {
        // The message ends at a sync flush, not at a final block: inflate up to it.
        data = inflateRawSync(Buffer.concat([data, DEFLATE_TAIL]), { finishFlush: zlib.Z_SYNC_FLUSH });
      } catch (error) {
        return this.violation(`compressed message does not inflate: ${(error as Error).message}`);
      }
    }
    // RFC 6455 §5.6: a text message MUST be valid UTF-8; echoing invalid bytes breaks that.
    if (!message.binary && !isUtf8(data)) return this.violation('text message with invalid UTF-8');
    this.emit({ kind: 'message', binary: message.binary, data, frames: message.frames });
    return true;
  }

  /** RFC 6455 §5.5.1: empty, or a valid code then a UTF-8 reason. */
  private closeFrame(payload: Buffer): boolean {
    this.closeSeen = true;
    if (payload.length === 0) {
      this.emit({ kind: 'close', code: null, reason: '' });
      return true;
    }
    if (payload.length === 1) return this.violation('close frame with a 1-byte payload');
    const code = payload.readUInt16BE(0);
    if (!isSendableCloseCode(code)) return this.violation(`close frame with code ${code}, not allowed on the wire`);
    const reason = payload.subarray(2);
    if (!isUtf8(reason)) return this.violation('close reason with invalid UTF-8');
    this.emit({ kind: 'close', code, reason: reason.toString() });
    return true;
  }
}
