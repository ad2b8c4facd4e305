/**
 * Backpressure specs' tools: this process's memory, a sender that sends as fast as a connection
 * lets it, and a poll that waits until such a sender is held back.
 */
import type { WebSocket } from '../../lib/connection/websocket';

/** Heap and Buffer memory of this process. */
export function memory(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** How far a {@link flood} got: bytes sent, waiting for 'drain', all `total` bytes sent. */
export interface Flood { sent: number; waiting: boolean; done: boolean }

/**
 * Sends `payload` over `ws` until `total` bytes went out (or the connection is no longer open),
 * as fast as the connection lets it: until `send()` says the queue is full, then again on
 * 'drain'. Progress goes to `state`, which is returned.
 */
export function flood(ws: WebSocket, payload: Buffer, total: number, state: Flood = { sent: 0, waiting: false, done: false }): Flood {
  const pump = (): void => {
    state.waiting = false;
    while (state.sent < total && ws.readyState === 1) {
      state.sent += payload.length;
      if (!ws.send(payload)) {
        state.waiting = true;
        ws.once('drain', pump);
        return;
      }
    }
    state.done = state.sent >= total;
  };
  pump();
  return state;
}

/**
 * Polls until `progress()` stops changing while `stuck()` holds, for `rounds` polls in a row:
 * the sender is blocked on backpressure. Resolves early if `finished()` (nothing held it back).
 */
export async function stalled(progress: () => number, stuck: () => boolean, finished: () => boolean, onPoll: () => void, rounds = 10): Promise<void> {
  let last = -1;
  let still = 0;
  const deadline = Date.now() + 60_000;
  while (still < rounds && !finished()) {
    if (Date.now() > deadline) throw new Error('the sender neither finished nor stalled');
    await new Promise((resolve) => { setTimeout(resolve, 50); });
    onPoll();
    const now = progress();
    still = stuck() && now === last ? still + 1 : 0;
    last = now;
  }
}
