/**
 * Splits stdin into lines for `wsframe connect`, incrementally: one text message per line, LF or
 * CRLF ended, the last line sent even without a newline. Lines are cut on the 0x0A byte before
 * decoding, which is safe because no byte of a multi-byte UTF-8 character is 0x0A.
 */
import { DEFAULT_MAX_MESSAGE_SIZE, WebSocketUsageError } from '../index';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Longest line accepted, in bytes: what a wsframe peer accepts as one message by default. A longer
 * line is refused rather than held, so a newline-free input cannot grow memory without bound.
 */
export const DEFAULT_MAX_LINE_BYTES = DEFAULT_MAX_MESSAGE_SIZE;

export class LineSplitter {
  private readonly maxLineBytes: number;
  /** Pieces of the line not yet ended, and their total size. */
  private pieces: Buffer[] = [];
  private pending = 0;

  constructor(maxLineBytes = DEFAULT_MAX_LINE_BYTES) {
    this.maxLineBytes = maxLineBytes;
  }

  /**
   * Returns the lines `chunk` completes, without their line ends.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for a line over the limit.
   */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let end = chunk.indexOf(LF); end !== -1; end = chunk.indexOf(LF, start)) {
      this.hold(chunk.subarray(start, end));
      lines.push(this.take());
      start = end + 1;
    }
    this.hold(chunk.subarray(start));
    return lines;
  }

  /** Returns the last line if the input did not end with a newline. */
  end(): string[] {
    return this.pending === 0 && this.pieces.length === 0 ? [] : [this.take()];
  }

  private hold(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pending += piece.length;
    if (this.pending > this.maxLineBytes + 1) {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `a line longer than ${this.maxLineBytes} bytes (send large input with --binary)`);
    }
    // Copied: the caller's chunk may be reused once push() returns.
    this.pieces.push(Buffer.from(piece));
  }

  private take(): string {
    let line = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.pending);
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    this.pieces = [];
    this.pending = 0;
    if (line.length > this.maxLineBytes) {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `a line longer than ${this.maxLineBytes} bytes (send large input with --binary)`);
    }
    return line.toString('utf8');
  }
}
