/**
 * The outgoing byte queue of one connection, sans-I/O. Frames are serialized into it as they are
 * sent, small ones packed together into shared blocks, so what waits for the socket is a few large
 * chunks, never a chunk per frame: a peer that makes us answer a million tiny frames while never
 * reading costs us those bytes, not a million queued objects. The I/O layer takes the chunks when
 * the socket can write them ({@link Outbox.flushTo}), so everything sent in one turn leaves in one
 * gathered write.
 */
import { type FrameInput, headerLength, writeHeader, firstByte } from '../frame/frame';
import type { MaskSource } from '../frame/mask';
import { validate, writeFrame, ZERO_COPY_MIN } from '../frame/serializer';
import type { FrameWriter, HeldFrames } from '../message/serializer';

/** Called once the bytes queued before it are written (or with the error that lost them). */
export type WriteCallback = (error?: Error | null) => void;

/** Where {@link Outbox.flushTo} hands what is ready. */
export interface ChunkTarget {
  /** The next chunk, in order. */
  chunk(chunk: Buffer): void;
  /** Everything handed over before this is written once the transport says so. */
  written(callback: WriteCallback): void;
}

/** First block size: a pong or a small echo fits, from Node's shared allocation pool. */
const FIRST_BLOCK = 256;
/** Blocks double up to this size; larger frames get a buffer of their own. */
const MAX_BLOCK = 16 * 1024;
/**
 * Memory a queued chunk costs beyond its bytes (a Buffer view and its slot in the queue), for
 * the {@link Outbox.memory} estimate the backstop compares with `maxBufferedAmount`.
 */
const CHUNK_OVERHEAD = 96;

/**
 * The payload to send as the caller's own bytes, only its header written (a large unmasked binary
 * payload: copying it would cost more than the extra chunk), or undefined to serialize it whole.
 */
function sharedPayload(frame: FrameInput, length: number, masked: boolean): Buffer | undefined {
  const payload = frame.payload;
  if (masked || length < ZERO_COPY_MIN || payload === undefined || typeof payload === 'string') return undefined;
  return Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

function headerByte(frame: FrameInput): number {
  return firstByte(frame.fin !== false, frame.rsv1 === true, frame.rsv2 === true, frame.rsv3 === true, frame.opcode);
}

/** A position reserved for frames that come later (an extension still encoding a message). */
class Slot implements HeldFrames {
  readonly chunks: Array<Buffer | WriteCallback> = [];
  done = false;
  error: Error | undefined;
  bytes = 0;

  constructor(private readonly outbox: Outbox, readonly estimate: number) {}

  frame(frame: FrameInput): void {
    for (const chunk of this.outbox.encode(frame)) {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
    }
  }

  release(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    this.outbox.released(this);
  }
}

type Item = Buffer | Slot | WriteCallback;

/** Who an {@link Outbox} tells that a reserved position was filled or failed. */
export interface OutboxOwner {
  outboxReleased(error: Error | undefined): void;
}

/**
 * The queue. Frames written to it are validated and serialized at once (masked with a fresh key
 * in the client role); {@link hold} reserves a position for frames that arrive later, and
 * nothing behind a reservation is handed out before it is filled.
 */
export class Outbox implements FrameWriter {
  private readonly maskSource: MaskSource | undefined;
  private readonly owner: OutboxOwner;
  private items: Item[] = [];
  /** The block small frames are being packed into: bytes [start, pos) are not yet queued. */
  private block: Buffer | undefined;
  private start = 0;
  private pos = 0;
  private nextBlock = FIRST_BLOCK;
  private queuedBytes = 0;

  /**
   * `owner` hears when a reserved position is filled (the I/O layer should flush) or failed (the
   * connection must fail: a message could not be encoded).
   */
  constructor(maskSource: MaskSource | undefined, owner: OutboxOwner) {
    this.maskSource = maskSource;
    this.owner = owner;
  }

  /** Bytes queued and not yet handed out (a reserved message counts at its unencoded size). */
  get bytes(): number {
    return this.queuedBytes + (this.pos - this.start);
  }

  /** Memory the queue holds: its bytes and the per-chunk cost of what waits. */
  get memory(): number {
    return this.bytes + this.items.length * CHUNK_OVERHEAD;
  }

  /** True when {@link flushTo} has something to hand out. */
  get ready(): boolean {
    return this.pos > this.start || (this.items.length > 0 && !(this.items[0] instanceof Slot && !this.items[0].done));
  }

  /** True when what is ready is one chunk (the transport needs no cork to write it at once). */
  get single(): boolean {
    const items = this.items;
    if (items.length === 0) return true;
    return items.length === 1 && this.pos === this.start && items[0] instanceof Uint8Array;
  }

  /**
   * Serializes one frame at the end of the queue.
   * @throws {WebSocketUsageError} for an invalid frame (RFC 6455 §5.2, §5.5).
   */
  frame(frame: FrameInput): void {
    const length = validate(frame);
    const masked = this.maskSource !== undefined;
    const head = headerLength(length, masked);
    const shared = sharedPayload(frame, length, masked);
    if (shared !== undefined) {
      const at = this.reserve(head);
      this.pos = writeHeader(this.block as Buffer, at, headerByte(frame), length, -1);
      this.seal();
      this.push(shared);
      return;
    }
    const size = head + length;
    if (size > MAX_BLOCK) {
      const out = Buffer.allocUnsafe(size);
      writeFrame(out, 0, frame, length, this.nextKey());
      this.seal();
      this.push(out);
      return;
    }
    const at = this.reserve(size);
    this.pos = writeFrame(this.block as Buffer, at, frame, length, this.nextKey());
  }

  /**
   * Queues bytes that are already a serialized frame (or several), e.g. one encoding shared by
   * every subscriber of a topic. The caller owns their validity and must not modify them.
   */
  raw(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.seal();
    this.push(bytes);
  }

  /** Reserves the current position (see {@link FrameWriter.hold}); `estimate` counts toward {@link bytes} meanwhile. */
  hold(estimate = 0): HeldFrames {
    this.seal();
    const slot = new Slot(this, estimate);
    this.items.push(slot);
    this.queuedBytes += estimate;
    return slot;
  }

  /** `callback` runs once everything queued before it has been written. */
  callback(callback: WriteCallback): void {
    this.seal();
    this.items.push(callback);
  }

  /**
   * Hands everything ready, in order, to `target`: chunks, and the callbacks of
   * {@link callback} at their place. Stops at a position still reserved.
   */
  flushTo(target: ChunkTarget): void {
    this.seal();
    const items = this.items;
    let i = 0;
    for (; i < items.length; i++) {
      const item = items[i];
      if (typeof item === 'function') {
        target.written(item);
      } else if (item instanceof Slot) {
        if (!item.done) break;
        this.queuedBytes -= item.estimate;
        for (const chunk of item.chunks) {
          if (typeof chunk === 'function') target.written(chunk);
          else target.chunk(chunk);
        }
      } else {
        this.queuedBytes -= item.length;
        target.chunk(item);
      }
    }
    // The emptied array is kept, not replaced: a fresh array per flush, stored into a long-lived
    // outbox, survives young-generation GCs with thousands of connections flushing per tick
    // (a fan-out to 10,000 subscribers spent 40% of its time in GC).
    if (i === items.length) items.length = 0;
    else this.items = items.slice(i);
    // The block's unused tail may serve the next frames; a fresh, small one is taken otherwise,
    // so an idle connection keeps no block of its own.
    this.block = undefined;
    this.start = this.pos = 0;
    this.nextBlock = FIRST_BLOCK;
  }

  /**
   * Drops everything queued (the connection is gone): pending callbacks get `error`, and reserved
   * positions are abandoned.
   */
  clear(error: Error): void {
    const items = this.items;
    this.items = [];
    this.block = undefined;
    this.start = this.pos = 0;
    this.queuedBytes = 0;
    for (const item of items) {
      if (item instanceof Slot) {
        for (const chunk of item.chunks) if (typeof chunk === 'function') chunk(error);
      } else if (typeof item === 'function') {
        item(error);
      }
    }
  }

  /** @internal A frame of a reserved message, serialized on its own. */
  encode(frame: FrameInput): Buffer[] {
    const length = validate(frame);
    const masked = this.maskSource !== undefined;
    const shared = sharedPayload(frame, length, masked);
    if (shared !== undefined) {
      const head = Buffer.allocUnsafe(headerLength(length, false));
      writeHeader(head, 0, headerByte(frame), length, -1);
      return [head, shared];
    }
    const out = Buffer.allocUnsafe(headerLength(length, masked) + length);
    writeFrame(out, 0, frame, length, this.nextKey());
    return [out];
  }

  /** @internal A reserved position was filled or failed. */
  released(slot: Slot): void {
    this.queuedBytes += slot.bytes - slot.estimate;
    // From now on the slot counts its real bytes.
    (slot as { estimate: number }).estimate = slot.bytes;
    this.owner.outboxReleased(slot.error);
  }

  /** Room for `size` bytes in the current block; returns where they go. */
  private reserve(size: number): number {
    const block = this.block;
    if (block !== undefined && block.length - this.pos >= size) return this.pos;
    this.seal();
    const capacity = Math.max(size, this.nextBlock);
    this.nextBlock = Math.min(MAX_BLOCK, capacity * 2);
    this.block = Buffer.allocUnsafe(capacity);
    this.start = this.pos = 0;
    return 0;
  }

  /** Queues the block's bytes written so far as one chunk. */
  private seal(): void {
    if (this.pos === this.start) return;
    const chunk = (this.block as Buffer).subarray(this.start, this.pos);
    this.start = this.pos;
    this.push(chunk);
  }

  private push(chunk: Buffer): void {
    this.items.push(chunk);
    this.queuedBytes += chunk.length;
  }

  private nextKey(): number {
    return this.maskSource === undefined ? -1 : this.maskSource.next();
  }
}
