/**
 * The stream adapter shared by the frame Transforms: their work is synchronous, so they replace
 * Transform's `_write` (which allocates a closure per write) with a direct one, and keep
 * Transform's two promises themselves:
 * - backpressure: a write is acknowledged only while the readable side is below its high-water
 *   mark, otherwise once the reader asks for more;
 * - no loss on error: an error waits until everything pushed before it has been read, because
 *   destroying the stream earlier would discard that output for a paused or async reader.
 */
import { Transform } from '../streams';

/** The part of readable-stream's internal state read here (Node's stream types leave it out). */
interface ReadableState {
  length: number;
  highWaterMark: number;
}

function readableState(stream: Transform): ReadableState {
  return (stream as unknown as { _readableState: ReadableState })._readableState;
}

/** Node's Transform callback shape. */
export type TransformCallback = (error?: Error | null, data?: unknown) => void;

export abstract class SyncTransform extends Transform {
  /** Write callback held back while the readable side is full. */
  private pendingCallback: TransformCallback | undefined;
  /** An error held, with its callback, until the output pushed before it has been read. */
  private held: { error: Error; callback: TransformCallback } | undefined;

  /** Acknowledges a write (or fails it, see {@link settle}) once the reader has room. */
  protected complete(callback: TransformCallback, error?: Error): void {
    if (error !== undefined) {
      this.settle(callback, error);
      return;
    }
    const state = readableState(this);
    if (state.length < state.highWaterMark) {
      callback();
    } else {
      this.pendingCallback = callback;
    }
  }

  /** Calls back at once, except that an error waits until earlier output has been read. */
  protected settle(callback: TransformCallback, error?: Error): void {
    if (error !== undefined && readableState(this).length > 0) {
      this.held = { error, callback };
      return;
    }
    callback(error);
  }

  override _read(size: number): void {
    const callback = this.pendingCallback;
    if (callback !== undefined) {
      this.pendingCallback = undefined;
      callback();
    }
    super._read(size);
  }

  // Same signature as the base class, so these streams still fit Node's pipeline types.
  override read(size?: number): ReturnType<Transform['read']> {
    const output: unknown = super.read(size);
    const held = this.held;
    if (held !== undefined && readableState(this).length === 0) {
      this.held = undefined;
      held.callback(held.error);
    }
    return output;
  }
}
