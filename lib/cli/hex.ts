/**
 * Hex text to bytes for `wsframe inspect --hex`, incrementally (any chunking, pairs may span
 * chunks). Accepts what people paste: `81 05 48 65`, `0x81 0x05`, `8105486`... across lines,
 * with spaces, tabs or commas between digits.
 */
import { WebSocketUsageError } from '../index';

const enum Char {
  Zero = 0x30,
  LowerX = 0x78,
  UpperX = 0x58,
  Comma = 0x2c,
  Newline = 0x0a,
}

function isSeparator(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === Char.Comma;
}

/** The value of a hex digit, or -1. */
function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Decodes hex text chunk by chunk. Whitespace and commas separate nothing in particular: digits
 * pair up across them, so `8 1` is 0x81 and a line break may fall inside a pair. A `0x` prefix is
 * dropped at the start of each run of digits.
 */
export class HexDecoder {
  /** Digits read so far is odd: this is the high nibble waiting for its partner. */
  private high = -1;
  /** At the start of a run of digits, where `0x` may follow. */
  private runStart = true;
  /** A `0` at the start of a run, which may begin `0x`. */
  private zeroPending = false;
  private line = 1;
  private column = 0;

  /**
   * Returns the bytes the chunk completes.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` at the first character that is not a
   *   hex digit, separator or `0x` prefix, naming its line and column.
   */
  write(chunk: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe((chunk.length >> 1) + 2);
    let length = 0;
    const digit = (value: number): void => {
      if (this.high === -1) {
        this.high = value;
      } else {
        out[length++] = (this.high << 4) | value;
        this.high = -1;
      }
    };
    for (const c of chunk) {
      this.column++;
      if (isSeparator(c)) {
        if (this.zeroPending) digit(0);
        this.zeroPending = false;
        this.runStart = true;
        if (c === Char.Newline) {
          this.line++;
          this.column = 0;
        }
        continue;
      }
      if (this.zeroPending) {
        this.zeroPending = false;
        if (c === Char.LowerX || c === Char.UpperX) continue;
        digit(0);
      } else if (this.runStart && c === Char.Zero) {
        this.runStart = false;
        this.zeroPending = true;
        continue;
      }
      this.runStart = false;
      const value = digitValue(c);
      if (value === -1) {
        const shown = c >= 0x21 && c <= 0x7e ? `"${String.fromCharCode(c)}"` : `byte 0x${c.toString(16).padStart(2, '0')}`;
        throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `${shown} is not a hex digit (line ${this.line}, column ${this.column})`);
      }
      digit(value);
    }
    return out.subarray(0, length);
  }

  /**
   * Returns the last byte, if a `0` was pending.
   * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for an odd number of digits.
   */
  end(): Buffer {
    const out = this.zeroPending ? this.write(Buffer.from(' ')) : Buffer.alloc(0);
    if (this.high !== -1) throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'odd number of hex digits: the last byte has one digit');
    return out;
  }
}
