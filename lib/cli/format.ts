/**
 * Text formatting for `wsframe`: received messages, close codes, byte counts and the lines of
 * `inspect`. Pure functions of their arguments, so each format is pinned by unit vectors.
 */
import {
  CloseCode, ERRORS, type FrameHeader, isValidUtf8, Opcode, type WebSocketProtocolError, type WebSocketUsageError,
} from '../index';
import type { BinaryOutput } from './args';
import { HEX_TEXT_HINT, hintFor } from './hints';
import type { FrameRecord, InspectRecord } from './inspector';

/** Bytes of a binary message shown in the default one-line preview. */
export const BINARY_PREVIEW_BYTES = 32;

/** Width of the offset column of inspect lines (`@1234567 `). */
const OFFSET_WIDTH = 9;
const INDENT = ' '.repeat(OFFSET_WIDTH);
const ELLIPSIS = '…';

/** What a handshake agreed, as connect and listen print it: `subprotocol: chat, extensions: none`. */
export function formatAgreed(ws: { protocol: string; extensions: string }): string {
  return `subprotocol: ${ws.protocol === '' ? 'none' : ws.protocol}, extensions: ${ws.extensions === '' ? 'none' : ws.extensions}`;
}

/** Hex pairs separated by `separator` (`'48 65 6c'`). */
export function hex(bytes: Uint8Array, separator = ' '): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(separator);
}

/** Length of the UTF-8 sequence a lead byte starts, or 0 for a byte that cannot start one. */
function sequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

const ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

function escapeCodePoint(codePoint: number): string {
  return codePoint <= 0xff
    ? `\\x${codePoint.toString(16).padStart(2, '0')}`
    : `\\u{${codePoint.toString(16)}}`;
}

/**
 * A payload as a quoted, escaped string: quotes, backslashes and control characters escaped, bytes
 * that are not UTF-8 shown as `\xNN` (so a text frame that would fail with 1007 shows where).
 * `complete`: `bytes` is the whole payload; otherwise a character cut at the end is not an error,
 * and `…` follows the closing quote.
 */
export function quoteText(bytes: Uint8Array, complete: boolean): string {
  let out = '"';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      out += ESCAPES[b] ?? (b < 0x20 || b === 0x7f ? escapeCodePoint(b) : String.fromCharCode(b));
      i++;
      continue;
    }
    const length = sequenceLength(b);
    if (length > 0 && i + length > bytes.length && !complete) break;
    if (length === 0 || i + length > bytes.length || !isValidUtf8(bytes.subarray(i, i + length))) {
      out += escapeCodePoint(b);
      i++;
      continue;
    }
    const char = Buffer.from(bytes.buffer, bytes.byteOffset + i, length).toString('utf8');
    const codePoint = char.codePointAt(0) as number;
    // C1 controls and the line/paragraph separators would move the cursor or break the line.
    out += codePoint <= 0x9f || codePoint === 0x2028 || codePoint === 0x2029 ? escapeCodePoint(codePoint) : char;
    i += length;
  }
  return `${out}"${complete ? '' : ELLIPSIS}`;
}

/**
 * An error's message without the generic text of its table entry: `missing <url>` rather than
 * `invalid argument: missing <url>`. Messages without a detail are returned whole.
 */
export function errorDetail(err: WebSocketUsageError | WebSocketProtocolError): string {
  const prefix = `${ERRORS[err.code].message}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

/** `1000 Normal`, `4000 private`, `1016 unassigned`. */
export function closeCodeName(code: number): string {
  const name = (CloseCode as unknown as Record<number, string | undefined>)[code];
  if (name !== undefined) return name;
  // RFC 6455 §7.4.2.
  if (code >= 3000 && code <= 3999) return 'registered';
  if (code >= 4000 && code <= 4999) return 'private';
  return 'unassigned';
}

/** A close code and reason as people read them: `1000 Normal "bye"`. */
export function formatClose(code: number, reason: string): string {
  const text = `${code} ${closeCodeName(code)}`;
  return reason === '' ? text : `${text} ${quoteText(Buffer.from(reason), true)}`;
}

/** `999 B`, `1.5 KiB`, `12.0 MiB`. */
export function formatBytes(count: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${count} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * What stdout gets for one received message: text as is plus a newline; binary as a preview line
 * (`[binary 12 bytes] 0a 0b ...`), full hex, or its raw bytes (no newline). `prefix` starts every
 * line (`listen --print` puts the sender there); raw bytes get none.
 */
export function formatMessage(data: string | Buffer, isBinary: boolean, output: BinaryOutput, prefix = ''): string | Buffer {
  if (!isBinary) return `${prefix}${typeof data === 'string' ? data : data.toString('utf8')}\n`;
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  switch (output) {
    case 'raw':
      return bytes;
    case 'hex':
      return `${prefix}${bytes.toString('hex')}\n`;
    case 'preview': {
      const shown = hex(bytes.subarray(0, BINARY_PREVIEW_BYTES));
      const more = bytes.length > BINARY_PREVIEW_BYTES ? ` ${ELLIPSIS}` : '';
      const plural = bytes.length === 1 ? '' : 's';
      return `${prefix}[binary ${bytes.length} byte${plural}]${shown === '' ? '' : ' '}${shown}${more}\n`;
    }
  }
}

// --- inspect -----------------------------------------------------------------------------------

function opcodeName(opcode: number): string {
  switch (opcode) {
    case Opcode.Continuation: return 'continuation';
    case Opcode.Text: return 'text';
    case Opcode.Binary: return 'binary';
    case Opcode.Close: return 'close';
    case Opcode.Ping: return 'ping';
    case Opcode.Pong: return 'pong';
    default: return `reserved-0x${opcode.toString(16)}`;
  }
}

function hexPreview(preview: Buffer, complete: boolean): string {
  return `${hex(preview)}${complete || preview.length === 0 ? '' : ` ${ELLIPSIS}`}`;
}

/** RFC 6455 §5.5.1: an empty close, or a 2-byte code and a UTF-8 reason. */
function closePreview(preview: Buffer, payloadLength: number, complete: boolean): string {
  if (payloadLength === 0) return 'no status code (reported as 1005)';
  if (payloadLength === 1) return `1 byte ${hex(preview)}: too short for a status code`;
  if (preview.length < 2) return hexPreview(preview, complete);
  const code = preview.readUInt16BE(0);
  const reason = payloadLength > 2 ? ` ${quoteText(preview.subarray(2), complete)}` : '';
  return `${code} ${closeCodeName(code)}${reason}`;
}

function payloadPreview(record: FrameRecord): string {
  const { header, preview } = record;
  const complete = preview.length === header.payloadLength;
  if (record.compressed) return header.payloadLength === 0 ? 'compressed' : `compressed ${hexPreview(preview, complete)}`;
  if (header.payloadLength === 0 && record.payloadKind !== 'text' && record.payloadKind !== 'close') return '';
  switch (record.payloadKind) {
    case 'text':
      return quoteText(preview, complete);
    case 'close':
      return closePreview(preview, header.payloadLength, complete);
    case 'ping':
    case 'pong':
      // Ping payloads are often text (or empty); show bytes that are not as hex.
      return isValidUtf8(preview) ? quoteText(preview, complete) : hexPreview(preview, complete);
    case 'binary':
    case 'unknown':
      return hexPreview(preview, complete);
  }
}

function maskField(header: FrameHeader): string {
  return header.masked ? (header.maskKey >>> 0).toString(16).padStart(8, '0') : '-';
}

function at(offset: number): string {
  return `@${offset}`.padEnd(OFFSET_WIDTH);
}

/** One frame: `@7       fin=1 rsv=000 op=text         mask=37fa213d len=5        "Hello"`. */
export function formatFrame(record: FrameRecord): string {
  const { header } = record;
  const rsv = `${Number(header.rsv1)}${Number(header.rsv2)}${Number(header.rsv3)}`;
  const fields = [
    `fin=${Number(header.fin)}`,
    `rsv=${rsv}`,
    `op=${opcodeName(header.opcode).padEnd(12)}`,
    `mask=${maskField(header).padEnd(8)}`,
    `len=${String(header.payloadLength).padEnd(8)}`,
  ];
  let line = `${at(record.offset)}${fields.join(' ')} ${payloadPreview(record)}`.trimEnd();
  if (record.received < header.payloadLength) {
    line += `  [${record.received} of ${header.payloadLength} payload bytes present]`;
  }
  return line;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** The lines of one inspect record. */
export function formatRecord(record: InspectRecord): string[] {
  switch (record.kind) {
    case 'frame':
      return [formatFrame(record)];
    case 'message': {
      const size = record.compressedLength === undefined
        ? plural(record.length, 'byte')
        : `${plural(record.length, 'byte')} inflated from ${record.compressedLength}`;
      const complete = record.preview.length === record.length;
      const preview = record.type === 'text' ? quoteText(record.preview, complete) : hexPreview(record.preview, complete);
      return [`${INDENT}message: ${record.type}, ${plural(record.frames, 'frame')}, ${size}: ${preview}`.trimEnd()];
    }
    case 'http':
      return [`${at(record.offset)}http head, ${plural(record.length, 'byte')}: ${record.firstLine}`];
    case 'truncated':
      return [record.what === 'http'
        ? `${at(record.offset)}truncated: the input ends inside the HTTP head (${plural(record.length, 'byte')}, no blank line yet)`
        : `${at(record.offset)}truncated: the input ends ${plural(record.length, 'byte')} into a frame header`];
    case 'note':
      return [`${at(record.offset)}note: ${record.text}`];
    case 'end':
      return [`${at(record.offset)}end: ${plural(record.frames, 'frame')}, ${plural(record.messages, 'message')}, no errors`];
    case 'error': {
      const where = record.offset !== undefined
        ? `at byte ${record.offset}`
        : record.frameOffset !== undefined ? `in the frame at byte ${record.frameOffset}` : 'in the input';
      const lines = [
        `${at(record.offset ?? record.frameOffset ?? 0)}error ${record.code} (close ${record.closeCode}) ${where}: ${ERRORS[record.code].message}`,
      ];
      const hint = hintFor(record.code);
      if (hint !== undefined) lines.push(`${INDENT}hint: ${hint}`);
      if (record.looksLikeHexText) lines.push(`${INDENT}hint: ${HEX_TEXT_HINT}`);
      return lines;
    }
  }
}
