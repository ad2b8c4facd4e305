/**
 * Receive backpressure, in one place. Every reason a connection may stop reading its socket is a
 * bit here, and the socket is read only while none is set: the peer then feels TCP backpressure,
 * and what we hold stays bounded. The reasons and their water marks:
 *
 * - `Queue`: received messages wait for a consumer (an async iterator lagging behind, or nobody
 *   listening yet). Set at `maxQueuedMessages` (high water), cleared at a quarter of it (low
 *   water), as python-websockets' assembler does.
 * - `Stream`: a streamed message's Readable is full (its own high-water mark); cleared when its
 *   reader asks for more.
 * - `Replies`: the outgoing queue is above the write high-water mark while the socket cannot take
 *   more; cleared once it drained. Automatic pongs are written without the application asking,
 *   so a peer flooding pings and never reading would otherwise grow them without bound.
 * - `Extension`: an extension is still decoding a message (later frames must wait for it).
 * - `Slice`: this connection used up its time slice; it yields to the others and goes on at the
 *   next turn of the event loop.
 * - `User`: the application called `pause()`.
 *
 * The same rules hold for `'message'` listeners, the async iterator and streamed messages.
 */

/** Why reading stopped; several may hold at once. */
export const enum PauseReason {
  User = 1,
  Queue = 2,
  Stream = 4,
  Replies = 8,
  Extension = 16,
  Slice = 32,
}

/**
 * Received messages not yet taken by a consumer, and the pause reasons. Sans-I/O: the connection
 * asks {@link reading} after each change and pauses or resumes its socket to match.
 */
export class Inbox<T> {
  private readonly high: number;
  private readonly low: number;
  private queue: T[] | undefined;
  private head = 0;
  private reasons = 0;

  /** `high`: messages held before reading stops (`maxQueuedMessages`); it resumes at a quarter. */
  constructor(high: number) {
    this.high = high;
    this.low = Math.floor(high / 4);
  }

  /** True while no reason to stop reading holds. */
  get reading(): boolean {
    return this.reasons === 0;
  }

  /** Whether `reason` currently holds. */
  has(reason: PauseReason): boolean {
    return (this.reasons & reason) !== 0;
  }

  pause(reason: PauseReason): void {
    this.reasons |= reason;
  }

  resume(reason: PauseReason): void {
    this.reasons &= ~reason;
  }

  /** Messages held. */
  get length(): number {
    return this.queue === undefined ? 0 : this.queue.length - this.head;
  }

  /** Holds a message for a consumer; at the high-water mark, reading stops. */
  push(message: T): void {
    (this.queue ??= []).push(message);
    if (this.length >= this.high) this.reasons |= PauseReason.Queue;
  }

  /** The oldest message held, if any; at the low-water mark, reading may resume. */
  shift(): T | undefined {
    const queue = this.queue;
    if (queue === undefined || this.head === queue.length) return undefined;
    const message = queue[this.head];
    // A moving head instead of Array#shift, which copies; compacted once half is consumed.
    (queue as Array<T | undefined>)[this.head++] = undefined;
    if (this.head === queue.length) {
      this.queue = undefined;
      this.head = 0;
    } else if (this.head > 32 && this.head * 2 > queue.length) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    }
    if (this.length <= this.low) this.reasons &= ~PauseReason.Queue;
    return message;
  }

  /** Drops every held message (the connection is gone, or nobody will ever read them). */
  clear(): void {
    this.queue = undefined;
    this.head = 0;
    this.reasons &= ~PauseReason.Queue;
  }
}
