/**
 * One timer for every connection of the process. Each connection has a deadline (its next
 * heartbeat check or its close timeout); they sit in a binary min-heap, and a single Node timer
 * is armed for the earliest. A connection costs a number and a heap slot instead of a Timeout
 * object of its own, and re-arming it is O(log n).
 */
import { MAX_TIMER_DELAY } from '../constants';

/** Something with a deadline (milliseconds of `performance.now()`). */
export interface Timed {
  /** @internal Position in the heap, -1 when not scheduled. */
  heapIndex: number;
  /** @internal The deadline it is scheduled for. */
  heapDeadline: number;
  /** The deadline passed. */
  onDeadline(now: number): void;
}

/** Deadlines this close together share one timer wake-up (milliseconds). */
const SLACK_MS = 1;

export class Scheduler {
  private readonly heap: Timed[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for. */
  private armed = Infinity;

  /** Number of items scheduled. */
  get size(): number {
    return this.heap.length;
  }

  /** Schedules `item` at `deadline` (Infinity: unschedules it). Cheap when nothing changes. */
  schedule(item: Timed, deadline: number): void {
    if (deadline === Infinity) {
      this.cancel(item);
      return;
    }
    if (item.heapIndex >= 0) {
      if (item.heapDeadline === deadline) return;
      const earlier = deadline < item.heapDeadline;
      item.heapDeadline = deadline;
      if (earlier) this.up(item.heapIndex);
      else this.down(item.heapIndex);
    } else {
      item.heapDeadline = deadline;
      item.heapIndex = this.heap.length;
      this.heap.push(item);
      this.up(item.heapIndex);
    }
    this.arm();
  }

  cancel(item: Timed): void {
    const index = item.heapIndex;
    if (index < 0) return;
    const last = this.heap.pop() as Timed;
    item.heapIndex = -1;
    if (last !== item) {
      this.heap[index] = last;
      last.heapIndex = index;
      this.down(index);
      this.up(last.heapIndex);
    }
    if (this.heap.length === 0) this.disarm();
  }

  private arm(): void {
    const first = this.heap[0];
    if (first === undefined) {
      this.disarm();
      return;
    }
    if (first.heapDeadline >= this.armed && this.timer !== undefined) return;
    this.disarm();
    this.armed = first.heapDeadline;
    // Node's timers take at most 2^31 - 1 ms; a later deadline just wakes up once on the way.
    const delay = Math.min(MAX_TIMER_DELAY, Math.max(0, Math.ceil(first.heapDeadline - performance.now())));
    this.timer = setTimeout(() => { this.fire(); }, delay);
    // Timers never keep the process alive: open sockets do, and an idle server should exit when asked.
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armed = Infinity;
  }

  private fire(): void {
    this.timer = undefined;
    this.armed = Infinity;
    const now = performance.now();
    for (;;) {
      const first = this.heap[0];
      if (first === undefined || first.heapDeadline > now + SLACK_MS) break;
      this.cancel(first);
      // The item re-schedules itself from its own handler if it still has a deadline. It is told
      // its deadline has come even when the slack made it fire a little early, so that it moves on
      // (and cannot be fired again in this loop).
      first.onDeadline(Math.max(now, first.heapDeadline));
    }
    this.arm();
  }

  private up(index: number): void {
    const heap = this.heap;
    const item = heap[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex];
      if (parent.heapDeadline <= item.heapDeadline) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = item;
    item.heapIndex = index;
  }

  private down(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const item = heap[index];
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && heap[right].heapDeadline < heap[left].heapDeadline ? right : left;
      if (heap[child].heapDeadline >= item.heapDeadline) break;
      heap[index] = heap[child];
      heap[index].heapIndex = index;
      index = child;
    }
    heap[index] = item;
    item.heapIndex = index;
  }
}

/** The scheduler every connection of the process shares. */
export const sharedScheduler = new Scheduler();
