/**
 * The argument checks the web APIs share, as the WHATWG WebSockets standard words them: the URL
 * record ("get a URL record"), the subprotocol list, the close code and reason, and the Web IDL
 * conversions they rely on. Failures are DOMExceptions, because that is what the standard makes
 * scripts catch; the rest of the library throws its own error table.
 */
import { CloseCode } from '../constants';
import { subprotocolProblem } from '../handshake/headers';
import { MAX_CLOSE_REASON_LENGTH } from '../message/close';

/** The close code scripts may send (WHATWG `close()` step 1): 1000 and the 3000-4999 range. */
const SCRIPT_CODE_MIN = 3000;
const SCRIPT_CODE_MAX = 4999;
/** Web IDL `unsigned short`. */
const UNSIGNED_SHORT_MAX = 0xffff;

/** Web IDL `USVString`: the string with lone surrogates replaced by U+FFFD. */
export function toUSVString(value: unknown): string {
  const text = String(value);
  const wellFormed = (text as { toWellFormed?: () => string }).toWellFormed;
  // Node 18 lacks toWellFormed: same replacement by hand.
  return wellFormed !== undefined
    ? wellFormed.call(text)
    : text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * Web IDL `[Clamp] unsigned short`: NaN is 0, the value is clamped to 0..65535 and rounded half
 * to even. Chromium converts close codes this way (3000.5 is 3000, 70000 is 65535).
 */
export function clampUnsignedShort(value: unknown): number {
  const number = Number(value);
  if (Number.isNaN(number)) return 0;
  const clamped = Math.min(Math.max(number, 0), UNSIGNED_SHORT_MAX);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * "Get a URL record": parses `url` (there is no base URL in Node, so it must be absolute), maps
 * http: and https: to ws: and wss:, and refuses other schemes and any fragment, even an empty one.
 * ws+unix: and wss+unix: (unix domain sockets, as `connect()` takes them) are a Node extension.
 * @throws {DOMException} `SyntaxError` for a URL that is invalid, of another scheme, or with a fragment.
 */
export function getUrlRecord(url: unknown): URL {
  let record: URL;
  try {
    record = new URL(toUSVString(url));
  } catch {
    throw new DOMException(`invalid URL: ${String(url)}`, 'SyntaxError');
  }
  if (record.protocol === 'http:') record.protocol = 'ws:';
  else if (record.protocol === 'https:') record.protocol = 'wss:';
  const scheme = record.protocol;
  if (scheme !== 'ws:' && scheme !== 'wss:' && scheme !== 'ws+unix:' && scheme !== 'wss+unix:') {
    throw new DOMException(`the URL scheme must be ws: or wss:, not ${scheme}`, 'SyntaxError');
  }
  // `hash` is '' for an empty fragment too; a '#' can only be in the serialization as its start.
  if (record.href.includes('#')) throw new DOMException('a WebSocket URL must not have a fragment', 'SyntaxError');
  return record;
}

/**
 * The constructor's subprotocol list: a string is a list of one; each must be an RFC 6455 §4.1
 * token (the RFC 2616 `token` of `Sec-WebSocket-Protocol`) and appear once. Duplicates are
 * compared case-sensitively, as the standard says and Chromium does.
 * @throws {DOMException} `SyntaxError` for an invalid or repeated subprotocol.
 * @throws {TypeError} for a value that is neither a string nor an iterable of them.
 */
export function checkProtocols(protocols: unknown): string[] {
  if (protocols === undefined) return [];
  let list: string[];
  if (typeof protocols === 'string') {
    list = [protocols];
  } else if (protocols !== null && typeof protocols === 'object' && Symbol.iterator in protocols) {
    list = Array.from(protocols as Iterable<unknown>, (protocol) => String(protocol));
  } else {
    // Web IDL: anything else converts to a DOMString, a list of one.
    list = [String(protocols)];
  }
  const trouble = subprotocolProblem(list);
  if (trouble !== undefined) throw new DOMException(trouble, 'SyntaxError');
  return list;
}

/**
 * WHATWG `close()` steps 1-2 ("close the WebSocket"): a code must be 1000 or 3000-4999 (the others
 * are the protocol's to send), a reason at most 123 bytes of UTF-8 (RFC 6455 §5.5: the close
 * payload is at most 125 bytes, two of them the code).
 * @throws {DOMException} `InvalidAccessError` for another code, `SyntaxError` for a longer reason.
 */
export function checkCloseArguments(code: number | undefined, reason: string | undefined): void {
  if (code !== undefined && code !== CloseCode.Normal && (code < SCRIPT_CODE_MIN || code > SCRIPT_CODE_MAX)) {
    throw new DOMException(`close code must be 1000 or in 3000-4999, not ${code}`, 'InvalidAccessError');
  }
  if (reason !== undefined && Buffer.byteLength(reason, 'utf8') > MAX_CLOSE_REASON_LENGTH) {
    throw new DOMException(`the close reason is longer than ${MAX_CLOSE_REASON_LENGTH} bytes of UTF-8`, 'SyntaxError');
  }
}

/** The bytes of a BufferSource (an ArrayBuffer or any view of one), as a Buffer over the same memory. */
export function bytesOfBufferSource(data: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(data)
    ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    : Buffer.from(data);
}

/** True for an ArrayBuffer or any ArrayBufferView (a Web IDL BufferSource). */
export function isBufferSource(data: unknown): data is ArrayBuffer | ArrayBufferView {
  return data instanceof ArrayBuffer || ArrayBuffer.isView(data);
}

/** A received binary message as an ArrayBuffer of its own (the Buffer may share a larger one). */
export function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  const buffer = bytes.buffer as ArrayBuffer;
  // A Buffer that spans its whole ArrayBuffer owns it: hand that over instead of copying.
  if (bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength && buffer instanceof ArrayBuffer) return buffer;
  return buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}
