/**
 * Small socket helpers shared by the runner and the client fuzzer: connect, read an HTTP head,
 * write byte by byte, bound a promise by a timeout, and run cases a few at a time.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { headLength, MAX_HEAD, parseHead, type Head } from './http';

/** Connects, or rejects after `timeoutMs`. */
export function connect(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      // Errors after connecting surface as 'close'; whoever reads the socket looks at them.
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export type HeadOutcome =
  | { kind: 'head'; head: Head; leftover: Buffer }
  /** The peer closed (or reset) the connection before a complete head; `bytes` is what came. */
  | { kind: 'closed'; bytes: Buffer }
  | { kind: 'timeout'; bytes: Buffer }
  | { kind: 'too-large'; bytes: Buffer };

/**
 * Reads one HTTP head. On success the socket is paused with its bytes after the head in
 * `leftover`, so the next reader loses nothing.
 */
export function readHead(socket: Socket, timeoutMs: number): Promise<HeadOutcome> {
  return new Promise((resolve) => {
    let bytes = Buffer.alloc(0);
    const done = (outcome: HeadOutcome): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
      if (outcome.kind === 'head') socket.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      bytes = Buffer.concat([bytes, chunk]);
      const length = headLength(bytes);
      if (length !== -1) done({ kind: 'head', head: parseHead(bytes.subarray(0, length - 4)), leftover: bytes.subarray(length) });
      else if (bytes.length > MAX_HEAD) done({ kind: 'too-large', bytes });
    };
    const onEnd = (): void => done({ kind: 'closed', bytes });
    const timer = setTimeout(() => done({ kind: 'timeout', bytes }), timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onEnd);
    socket.resume();
  });
}

/** Writes `bytes`, one byte per write if `dribble`, each after the previous one flushed. */
export async function writeAll(socket: Socket, bytes: Buffer, dribble = false): Promise<void> {
  const pieces = dribble ? Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)) : [bytes];
  for (const piece of pieces) {
    if (socket.destroyed || !socket.writable) return;
    await new Promise<void>((resolve) => {
      const onClose = (): void => resolve();
      socket.once('close', onClose);
      socket.write(piece, () => {
        socket.off('close', onClose);
        resolve();
      });
    });
  }
}

/** `promise`, or `fallback` if it has not settled after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then((value) => { clearTimeout(timer); resolve(value); }, (error) => { clearTimeout(timer); reject(error); });
  });
}

/** A counting semaphore. */
class Slots {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.free++;
  }
}

/**
 * Runs `run` over `items`, at most `limit` at a time and at most `heavyLimit` heavy ones at a
 * time. Results come back in the order of `items`.
 */
export async function runPool<T, R>(
  items: readonly T[], limit: number, heavyLimit: number, isHeavy: (item: T) => boolean, run: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const heavy = new Slots(Math.max(1, heavyLimit));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      const item = items[index];
      const isHeavyItem = isHeavy(item);
      if (isHeavyItem) await heavy.acquire();
      try {
        results[index] = await run(item);
      } finally {
        if (isHeavyItem) heavy.release();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
