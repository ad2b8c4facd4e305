/**
 * The bytes of a payload or message that arrived in several reads, kept until it is complete and
 * then copied once into a buffer of its exact size: what the frame parser does for a frame that
 * spans chunks and the message parser for a message that spans frames or reads.
 *
 * A large run is kept as it came (a view of the read that brought it: no copy until the end);
 * short runs, and runs that would pin much more memory than they use (a few bytes at the end of a
 * large read), are copied into staging blocks that grow with what arrived. So the memory held is
 * about what arrived (at most twice it), whatever the chunking, never what a header announced, and
 * a peer sending tiny chunks cannot make us keep a Buffer object per chunk.
 */
import { maskInto, unmask } from './mask';

/** A run at least this long that uses at least half of its memory is kept as a view. */
export const VIEW_MIN = 2048;
/** Below this many bytes a run is copied by a loop here rather than a native call. */
const SMALL_COPY = 64;
/** Staging blocks start this small and grow with what arrived, up to {@link MAX_STAGING}. */
const MIN_STAGING = 1024;
const MAX_STAGING = 16 * 1024;

/**
 * Size of a new staging block when `held` bytes arrived so far, `arriving` bytes are being added
 * now and at most `room` more can come (counting those): the rest of the payload when that is at
 * most 16 KiB (one exact block, which {@link Runs.gather} then hands out without a second copy: a
 * small bounded step ahead of what arrived); otherwise what arrived (never the announced length
 * because a header said so), within 1-16 KiB or the bytes arriving now if more, never past `room`.
 */
export function stagingCapacity(held: number, room: number, arriving = 0): number {
  if (room <= MAX_STAGING) return room;
  return Math.min(room, Math.max(MIN_STAGING, Math.min(MAX_STAGING, held), arriving));
}

export class Runs {
  private readonly parts: Buffer[] = [];
  /** How much of the last part is filled when it is a staging block; -1 when it is a kept run. */
  private staged = -1;
  /** Bytes added so far. */
  length = 0;

  /**
   * Adds `count` bytes of `chunk` from `start`. `room`: how many more bytes may still come,
   * counting these (a staging block never reserves past it). `footprint`: the memory a view of
   * the chunk keeps alive, by default its whole ArrayBuffer (a socket read's own); a run is kept
   * as a view only if it is at least half of that. The chunk's bytes must not change until
   * {@link gather} (a kept run is a view of them).
   */
  add(chunk: Buffer, start: number, count: number, room: number, footprint = chunk.buffer.byteLength): void {
    if (count >= VIEW_MIN && count * 2 >= footprint) {
      this.seal();
      this.parts.push(start === 0 && count === chunk.length ? chunk : chunk.subarray(start, start + count));
      this.length += count;
      return;
    }
    const parts = this.parts;
    while (count > 0) {
      let block = this.staged < 0 ? undefined : parts[parts.length - 1];
      if (block === undefined || this.staged === block.length) {
        block = Buffer.allocUnsafe(stagingCapacity(this.length, room, count));
        parts.push(block);
        this.staged = 0;
      }
      const n = Math.min(count, block.length - this.staged);
      if (n < SMALL_COPY) {
        // A few bytes (tiny chunks) cost less copied here than through a native call.
        const at = this.staged;
        for (let i = 0; i < n; i++) block[at + i] = chunk[start + i];
      } else {
        chunk.copy(block, this.staged, start, start + n);
      }
      this.staged += n;
      this.length += n;
      room -= n;
      start += n;
      count -= n;
    }
  }

  /**
   * Everything added, in one buffer of exactly {@link length} bytes; with `maskKey` (a uint32)
   * unmasked while copying (RFC 6455 §5.3, key phase from the start). Leaves this empty.
   */
  gather(maskKey?: number): Buffer {
    // The only part is a staging block of ours (its memory may be changed in place).
    const ownsOnly = this.staged >= 0 && this.parts.length === 1;
    this.seal();
    const parts = this.parts;
    const only = parts.length === 1 ? parts[0] : undefined;
    let out: Buffer;
    if (only !== undefined && maskKey === undefined) {
      // One run: it is the result (an exact staging block, or a run kept as it came).
      out = only;
    } else if (only !== undefined && ownsOnly) {
      // One staging block of exactly the payload (a small frame cut across chunks): our own
      // memory, unmasked where it is.
      out = only;
      unmask(out, maskKey as number, 0);
    } else {
      out = Buffer.allocUnsafe(this.length);
      let at = 0;
      for (const part of parts) {
        if (maskKey === undefined) out.set(part, at);
        else maskInto(part, maskKey, out, at, at & 3);
        at += part.length;
      }
    }
    parts.length = 0;
    this.length = 0;
    return out;
  }

  /** The staging block, if last, shrinks to what it holds: a kept run follows it. */
  private seal(): void {
    if (this.staged < 0) return;
    const parts = this.parts;
    const block = parts[parts.length - 1];
    if (this.staged < block.length) parts[parts.length - 1] = block.subarray(0, this.staged);
    this.staged = -1;
  }
}
