/**
 * Transfer counters for `wsframe connect --progress`: payload bytes and messages each way, and the
 * status line shown on stderr. The clock is an argument, so the line is a pure function of it.
 */
import { formatBytes } from './format';

/** Milliseconds between progress lines. */
export const PROGRESS_INTERVAL = 1000;

export class TransferCounter {
  sentBytes = 0;
  sentMessages = 0;
  receivedBytes = 0;
  receivedMessages = 0;
  private readonly started: number;

  constructor(now: number) {
    this.started = now;
  }

  sent(bytes: number): void {
    this.sentBytes += bytes;
    this.sentMessages++;
  }

  received(bytes: number): void {
    this.receivedBytes += bytes;
    this.receivedMessages++;
  }

  /** `sent 4.0 MiB (4194304 bytes, 64 messages), received 0 B (0 bytes, 0 messages), 2.5 s`. */
  line(now: number): string {
    const seconds = Math.max(0, now - this.started) / 1000;
    const side = (bytes: number, messages: number): string =>
      `${formatBytes(bytes)} (${bytes} bytes, ${messages} message${messages === 1 ? '' : 's'})`;
    return `sent ${side(this.sentBytes, this.sentMessages)}, received ${side(this.receivedBytes, this.receivedMessages)}, ${seconds.toFixed(1)} s`;
  }
}
