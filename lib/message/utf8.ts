/**
 * UTF-8 validation for text messages and close reasons (RFC 6455 §5.6, §8.1; RFC 3629 §3-4).
 * Whole buffers go to Node's native validator; {@link Utf8Validator} checks a message fragment by
 * fragment and fails at the first byte that no valid UTF-8 text could continue with, so an
 * invalid message is rejected at the fragment that carries the bad byte, not at its end.
 */
import * as buffer from 'node:buffer';

/** Node's SIMD validator (`buffer.isUtf8`, Node >= 18.14 / 19.4), when this runtime has it. */
const nativeIsUtf8: ((input: Uint8Array) => boolean) | undefined =
  (buffer as { isUtf8?: (input: Uint8Array) => boolean }).isUtf8;

/** Node's SIMD ASCII check (`buffer.isAscii`, Node >= 18.15 / 19.6), when this runtime has it. */
const nativeIsAscii: ((input: Uint8Array) => boolean) | undefined =
  (buffer as { isAscii?: (input: Uint8Array) => boolean }).isAscii;

/**
 * From this size, text that is pure ASCII becomes a string through Node's latin1 decoding, which
 * from this many bytes (its EXTERN_APEX, 0xFBEE9) copies them into memory outside V8's heap and
 * wraps them as an external string: memory reused like any Buffer's, where a V8 heap string of
 * that size gets fresh pages each time. Measured on the development machine for 8 MiB: 1 ms
 * instead of 32 ms, in the tick that delivers the message (the stall every other connection
 * waits out). Below it, latin1 makes an ordinary heap string and gains nothing.
 */
const EXTERNAL_TEXT_MIN = 0xfbee9 + 1;

/**
 * Validates and decodes a single-frame text message in one native pass. Measured on Node 20
 * against `isUtf8()` + `toString()`: 30-90 ns faster for short messages, equal from ~1 KiB.
 * `ignoreBOM` keeps a leading U+FEFF: it is part of the message, not a byte-order mark. One
 * decoder serves every caller: `decode()` without `stream` keeps no state between calls.
 */
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text of bytes already known to be valid UTF-8. */
export function utf8Text(bytes: Buffer): string {
  if (bytes.length >= EXTERNAL_TEXT_MIN && nativeIsAscii !== undefined && nativeIsAscii(bytes)) return bytes.toString('latin1');
  return bytes.toString('utf8');
}

/** The text of `bytes`, or undefined when they are not valid UTF-8 (RFC 3629). */
export function decodeUtf8(bytes: Buffer): string | undefined {
  // ASCII is valid UTF-8, and decodes the same as latin1.
  if (bytes.length >= EXTERNAL_TEXT_MIN && nativeIsAscii !== undefined && nativeIsAscii(bytes)) return bytes.toString('latin1');
  try {
    return textDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** True when the native validator is available (otherwise a JavaScript fallback runs). */
export const hasNativeUtf8Validation = typeof nativeIsUtf8 === 'function';

// Bounds of a continuation byte, 10xxxxxx.
const CONT_MIN = 0x80;
const CONT_MAX = 0xbf;

/**
 * Sets up the per-byte state for a lead byte, following RFC 3629 §4 (the same table as Unicode
 * Table 3-7): the second byte's range is narrowed after E0 (no overlongs), ED (no surrogates
 * U+D800-DFFF), F0 (no overlongs) and F4 (nothing above U+10FFFF). Returns the number of
 * continuation bytes still needed, or -1 when the byte cannot start a character (80-C1, F5-FF).
 */
function leadState(b: number, bounds: { lower: number; upper: number }): number {
  bounds.lower = CONT_MIN;
  bounds.upper = CONT_MAX;
  if (b >= 0xc2 && b <= 0xdf) return 1;
  if (b >= 0xe0 && b <= 0xef) {
    if (b === 0xe0) bounds.lower = 0xa0;
    else if (b === 0xed) bounds.upper = 0x9f;
    return 2;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    if (b === 0xf0) bounds.lower = 0x90;
    else if (b === 0xf4) bounds.upper = 0x8f;
    return 3;
  }
  return -1;
}

/** Whole-buffer check in JavaScript, for runtimes without `buffer.isUtf8`. */
function isUtf8Js(bytes: Uint8Array): boolean {
  const validator = new Utf8Validator(false);
  return validator.write(bytes) && validator.end();
}

/**
 * True when `bytes` is complete, valid UTF-8 (RFC 3629): no overlongs, no surrogates, nothing
 * above U+10FFFF, no truncated sequence at the end.
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return nativeIsUtf8 !== undefined ? nativeIsUtf8(bytes) : isUtf8Js(bytes);
}

/**
 * Incremental UTF-8 validator: feed a message's bytes in any split with {@link write}, then call
 * {@link end}. `write` returns false as soon as the bytes so far are not the beginning of any
 * valid UTF-8 text, so the failure is reported by the very write that holds the first invalid
 * byte, and never earlier. Holds no buffers between writes: only the state of one unfinished
 * character (how many continuation bytes are due and the allowed range of the next one).
 */
export class Utf8Validator {
  private readonly useNative: boolean;
  /** Continuation bytes still due for the character in progress. */
  private needed = 0;
  /** Allowed range of the next continuation byte. */
  private readonly bounds = { lower: CONT_MIN, upper: CONT_MAX };
  private failed = false;

  /** `useNative: false` forces the JavaScript path (tests compare both). */
  constructor(useNative = hasNativeUtf8Validation) {
    this.useNative = useNative && hasNativeUtf8Validation;
  }

  /** True when nothing invalid was seen and no character is unfinished. */
  get complete(): boolean {
    return !this.failed && this.needed === 0;
  }

  /** Forgets everything, ready for the next message. */
  reset(): void {
    this.needed = 0;
    this.failed = false;
  }

  /**
   * Validates the next bytes of the text. Returns false if the text is now known to be invalid
   * (and keeps returning false until {@link reset}).
   */
  write(bytes: Uint8Array): boolean {
    if (this.failed) return false;
    const end = bytes.length;
    let pos = 0;
    // Finish the character left unfinished by the previous write, byte by byte.
    while (this.needed > 0 && pos < end) {
      if (!this.continuation(bytes[pos++])) return false;
    }
    if (pos === end) return true;
    if (!this.useNative) return this.scan(bytes, pos, end);

    // Native fast path: validate everything up to the last character that is complete in this
    // write, then run only the trailing unfinished character (at most 3 bytes) through the
    // per-byte state so its prefix is checked now and its state carries over.
    const tail = unfinishedTail(bytes, pos, end);
    if (tail > pos && !(nativeIsUtf8 as (input: Uint8Array) => boolean)(bytes.subarray(pos, tail))) {
      this.failed = true;
      return false;
    }
    return this.scan(bytes, tail, end);
  }

  /**
   * Declares the end of the text. Returns false if it was invalid or ends inside a character
   * (RFC 6455 §8.1: a truncated sequence is invalid; the message ended without completing it).
   */
  end(): boolean {
    if (this.needed > 0) this.failed = true;
    return !this.failed;
  }

  /** Per-byte state machine over bytes[from, to). */
  private scan(bytes: Uint8Array, from: number, to: number): boolean {
    for (let i = from; i < to; i++) {
      const b = bytes[i];
      if (this.needed > 0) {
        if (!this.continuation(b)) return false;
      } else if (b >= 0x80) {
        const needed = leadState(b, this.bounds);
        if (needed < 0) {
          this.failed = true;
          return false;
        }
        this.needed = needed;
      }
    }
    return true;
  }

  private continuation(b: number): boolean {
    if (b < this.bounds.lower || b > this.bounds.upper) {
      this.failed = true;
      return false;
    }
    // Only the first continuation byte has a narrowed range.
    this.bounds.lower = CONT_MIN;
    this.bounds.upper = CONT_MAX;
    this.needed--;
    return true;
  }
}

/**
 * Where the last character of bytes[from, end) starts if it is unfinished (its lead byte
 * announces more bytes than are left), else `end`. Looks back at most 3 bytes: a longer run of
 * continuation bytes is invalid anyway and the whole-range check catches it.
 */
function unfinishedTail(bytes: Uint8Array, from: number, end: number): number {
  const stop = Math.max(from, end - 3);
  for (let i = end - 1; i >= stop; i--) {
    const b = bytes[i];
    if (b < 0x80) return end;
    if (b >= 0xc0) {
      const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return end - i < length ? i : end;
    }
  }
  return end;
}
