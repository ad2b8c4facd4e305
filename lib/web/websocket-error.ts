/**
 * WebSocketError (the WebSocketStream proposal, whatwg/websockets#48): a DOMException with the
 * close code and reason. WebSocketStream rejects with it when a connection closes uncleanly, and
 * an application aborts its writable (or cancels its readable) with one to choose the close frame.
 */
import { CloseCode } from '../constants';
import { checkCloseArguments, clampUnsignedShort, toUSVString } from './checks';

/** A close code and reason: `WebSocketStream.close()`'s argument and `closed`'s value. */
export interface WebSocketCloseInfo {
  closeCode?: number;
  reason?: string;
}

/** 1000: the code a reason without a code is sent with. */

/**
 * The close code and reason of a `WebSocketCloseInfo`, converted and checked as "close the
 * WebSocket" does; a reason without a code means 1000 (Chromium sends 1000 with it).
 * @throws {DOMException} `InvalidAccessError` for a code scripts may not send, `SyntaxError` for
 *   a reason over 123 bytes.
 */
export function closeInfoOf(info: WebSocketCloseInfo | undefined | null): { code: number | undefined; reason: string } {
  const closeCode: unknown = info?.closeCode;
  const code = closeCode === undefined || closeCode === null ? undefined : clampUnsignedShort(closeCode);
  const reason = info?.reason === undefined ? '' : toUSVString(info.reason);
  checkCloseArguments(code, reason);
  return { code: code === undefined && reason !== '' ? CloseCode.Normal : code, reason };
}

/** Builds the errors of unclean closes (set by the class below, which alone reaches its fields). */
let uncheckedError: (message: string, closeCode: number | null, reason: string, cause: unknown) => WebSocketError;

export class WebSocketError extends DOMException {
  #closeCode: number | null;
  #reason: string;

  static {
    // An unclean close reports 1006, a code the public constructor rightly refuses.
    uncheckedError = (message, closeCode, reason, cause) => {
      const error = new WebSocketError(message);
      error.#closeCode = closeCode;
      error.#reason = reason;
      // Node only: what went wrong underneath (a refused port, a protocol error).
      if (cause !== undefined) Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
      return error;
    };
  }

  /**
   * @throws {DOMException} `InvalidAccessError` for a close code other than 1000 or 3000-4999,
   *   `SyntaxError` for a reason over 123 bytes of UTF-8.
   */
  constructor(message = '', init: WebSocketCloseInfo = {}) {
    super(message, 'WebSocketError');
    const { code, reason } = closeInfoOf(init);
    this.#closeCode = code ?? null;
    this.#reason = reason;
  }

  /** The close code, or null when there is none (a connection that never opened). */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  get reason(): string {
    return this.#reason;
  }
}

/** The error of a connection that never opened (`closeCode` null) or closed uncleanly (1006). */
export function closedError(message: string, closeCode: number | null, reason = '', cause?: unknown): WebSocketError {
  return uncheckedError(message, closeCode, reason, cause);
}
