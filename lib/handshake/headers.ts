/**
 * The header grammar of the opening handshake (RFC 6455 §4, §9.1; RFC 7230): token lists,
 * Sec-WebSocket-Extensions parsing and formatting, and the checks every header we write passes.
 * Pure functions over strings and header records.
 *
 * Header records are read as node's `IncomingHttpHeaders` delivers them: field values with the
 * surrounding whitespace already removed (RFC 7230 §3.2.4), a repeated field joined with ", " or
 * given as an array. Names are matched case-insensitively, whatever the record's casing.
 */
import { type ErrorCode, WebSocketProtocolError, WebSocketUsageError } from '../errors';

/** One header field value as an HTTP parser hands it over. */
export type HeaderValue = string | string[] | undefined;
/** Request or response headers, like node's `IncomingHttpHeaders` (lower-case names). */
export type HeaderRecord = Record<string, HeaderValue>;

/** One element of Sec-WebSocket-Extensions (RFC 6455 §9.1): a name and its parameters. */
export interface ExtensionOffer {
  name: string;
  /** Parameter values; `true` for a parameter given without `=value`. */
  params: Record<string, string | true>;
  /**
   * Parameters named more than once (their first value is in `params`). The syntax allows it; the
   * extension decides: RFC 7692 §7 has a server decline such an offer and a client fail on such a
   * response.
   */
  duplicateParams?: string[];
}


/** RFC 7230 §3.2.6 token: 1*tchar. RFC 6455 §4.1 subprotocols and §9.1 extensions use it. */
const TOKEN_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * Header values we write: visible ASCII, SP and HTAB. No CR or LF (header injection), no other
 * control characters, and nothing above 0x7e, because a string head has no single byte encoding
 * for it (RFC 7230 §3.2.4 deprecates obs-text anyway).
 */
export const FIELD_VALUE_PATTERN = /^[\t\x20-\x7e]*$/;

const SP = 0x20;
const HTAB = 0x09;
/** The status of an accepted opening handshake (RFC 6455 §4.2.2). */
export const HTTP_SWITCHING_PROTOCOLS = 101;
/** True when `value` is an RFC 7230 token (what subprotocol and extension names must be). */
export function isToken(value: string): boolean {
  return typeof value === 'string' && TOKEN_PATTERN.test(value);
}

// --- Header lists ----------------------------------------------------------------------------

/**
 * Splits a comma-separated header list (RFC 7230 §7): items trimmed of SP/HTAB, empty items
 * dropped, array values joined first. Items are not checked for token syntax.
 */
export function parseTokenList(value: HeaderValue): string[] {
  const items: string[] = [];
  for (const part of joinValues(value).split(',')) {
    const item = trimOws(part);
    if (item !== '') items.push(item);
  }
  return items;
}

/**
 * Parses Sec-WebSocket-Extensions by the RFC 6455 §9.1 grammar:
 * `extension *( "," extension )`, `extension = token *( ";" token [ "=" ( token / quoted-string ) ] )`.
 * A quoted value must unescape to a token. Whitespace around delimiters and empty list elements
 * (RFC 7230 §7) are accepted.
 * A parameter named twice is syntactically fine: it is listed in `duplicateParams` for the
 * extension to judge.
 * @throws {WebSocketProtocolError} `WS_ERR_HANDSHAKE_EXTENSION` (status 400) on any syntax error.
 */
export function parseExtensions(value: HeaderValue): ExtensionOffer[] {
  return new ExtensionParser(joinValues(value)).parse();
}

/**
 * Serializes one extension offer or response element, the inverse of {@link parseExtensions}.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` when the name, a parameter name or a
 *   parameter value is not a token (§9.1 allows nothing else, even quoted).
 */
export function formatExtension(offer: ExtensionOffer): string {
  if (!isToken(offer.name)) misuse(`extension name ${JSON.stringify(offer.name)} is not a token`);
  let out = offer.name;
  for (const [name, value] of Object.entries(offer.params)) {
    if (!isToken(name)) misuse(`extension parameter ${JSON.stringify(name)} is not a token`);
    if (value === true) out += `; ${name}`;
    else if (isToken(value)) out += `; ${name}=${value}`;
    else misuse(`value of extension parameter ${name} must be a token or true`);
  }
  return out;
}

/**
 * Serializes a list of extensions for a Sec-WebSocket-Extensions header.
 * @throws {WebSocketUsageError} as {@link formatExtension}.
 */
export function formatExtensions(offers: readonly ExtensionOffer[]): string {
  return offers.map(formatExtension).join(', ');
}

// --- Helpers ---------------------------------------------------------------------------------

export function fail(code: ErrorCode, detail?: string): never {
  throw new WebSocketProtocolError(code, detail);
}

export function misuse(detail: string): never {
  throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', detail);
}

/** Every value of a header field, whatever the casing of its name or the shape of its value. */
export function fieldValues(headers: HeaderRecord, name: string): string[] {
  const values: string[] = [];
  for (const key of Object.keys(headers)) {
    if (asciiLower(key) !== name) continue;
    const value = headers[key];
    if (typeof value === 'string') values.push(value);
    else if (Array.isArray(value)) for (const item of value) if (typeof item === 'string') values.push(item);
  }
  return values;
}

function joinValues(value: HeaderValue): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : value.join(',');
}

/** Whether a header list holds `token` (given in lower case), ignoring ASCII case. */
export function hasToken(values: string[], token: string): boolean {
  return parseTokenList(values).some((item) => asciiLower(item) === token);
}

/**
 * ASCII-only lower case. String#toLowerCase folds some non-ASCII letters into ASCII (the Kelvin
 * sign U+212A becomes "k"), which would let "websoc\u212Aet" pass as "websocket".
 */
export function asciiLower(value: string): string {
  return value.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}

/** Trims RFC 7230 OWS (SP and HTAB only; String#trim also strips Unicode spaces). */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

function isOws(code: number): boolean {
  return code === SP || code === HTAB;
}

/** RFC 6455 §4.1 item 10: subprotocols are tokens, each listed once. */
export function subprotocolProblem(protocols: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) return `subprotocol ${JSON.stringify(protocol)} is not a token`;
    if (seen.has(protocol)) return `subprotocol ${JSON.stringify(protocol)} is listed twice`;
    seen.add(protocol);
  }
  return undefined;
}

/** Our own extensions header must be one we could parse back: same grammar, no injection. */
export function checkExtensionsArgument(extensions: string): void {
  if (typeof extensions !== 'string' || !FIELD_VALUE_PATTERN.test(extensions)) {
    misuse('extensions must be a header value without control characters');
  }
  try {
    parseExtensions(extensions);
  } catch {
    misuse('extensions do not follow the RFC 6455 §9.1 grammar');
  }
}

export function checkHeader(name: string, value: unknown): void {
  if (!isToken(name)) misuse(`header name ${JSON.stringify(name)} is not a token`);
  const values = Array.isArray(value) ? value : [value];
  for (const item of values) {
    if (typeof item !== 'string' || !FIELD_VALUE_PATTERN.test(item)) {
      misuse(`value of header ${name} must be a string without CR, LF or other control characters`);
    }
  }
}

/** Validates extra headers, then appends the ones the response does not own, one line per value. */
export function appendHeaders(
  lines: string[],
  headers: Record<string, string | string[]> | undefined,
  owned: ReadonlySet<string>,
): void {
  for (const [name, value] of Object.entries(headers ?? {})) {
    checkHeader(name, value);
    if (owned.has(asciiLower(name))) continue;
    for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${item}`);
  }
}

/** Assigns an own property even for names like "__proto__", which plain assignment would not. */
export function setOwn<T>(target: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}

const enum Char {
  Comma = 0x2c,
  Semicolon = 0x3b,
  Equals = 0x3d,
  Quote = 0x22,
  Backslash = 0x5c,
}

/**
 * A single-pass scanner for the RFC 6455 §9.1 grammar. No regular expressions over the whole
 * header, so hostile input costs linear time.
 */
class ExtensionParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parse(): ExtensionOffer[] {
    const offers: ExtensionOffer[] = [];
    for (;;) {
      this.skipOws();
      if (this.atEnd()) return offers;
      // RFC 7230 §7: empty list elements are ignored.
      if (this.peek() === Char.Comma) {
        this.pos++;
        continue;
      }
      offers.push(this.extension());
      this.skipOws();
      if (this.atEnd()) return offers;
      if (this.peek() !== Char.Comma) this.fail('expected "," or ";"');
      this.pos++;
    }
  }

  private extension(): ExtensionOffer {
    const name = this.token('extension name');
    const params: Record<string, string | true> = {};
    let duplicates: string[] | undefined;
    this.skipOws();
    while (this.peek() === Char.Semicolon) {
      this.pos++;
      this.skipOws();
      const param = this.token('parameter name');
      const repeated = Object.hasOwn(params, param);
      if (repeated) (duplicates ??= []).push(param);
      this.skipOws();
      let value: string | true = true;
      if (this.peek() === Char.Equals) {
        this.pos++;
        this.skipOws();
        value = this.peek() === Char.Quote ? this.quotedToken() : this.token('parameter value');
        this.skipOws();
      }
      if (!repeated) setOwn(params, param, value);
    }
    return duplicates === undefined ? { name, params } : { name, params, duplicateParams: duplicates };
  }

  private token(what: string): string {
    const start = this.pos;
    while (!this.atEnd() && isTchar(this.text.charCodeAt(this.pos))) this.pos++;
    if (this.pos === start) this.fail(`expected ${what}`);
    return this.text.slice(start, this.pos);
  }

  /** §9.1: a quoted-string value "MUST conform to the 'token' ABNF" once unescaped. */
  private quotedToken(): string {
    this.pos++;
    let value = '';
    for (;;) {
      if (this.atEnd()) this.fail('unterminated quoted-string');
      const code = this.text.charCodeAt(this.pos++);
      if (code === Char.Quote) break;
      if (code === Char.Backslash) {
        if (this.atEnd()) this.fail('unterminated quoted-pair');
        value += this.text[this.pos++];
      } else {
        value += String.fromCharCode(code);
      }
    }
    if (!isToken(value)) this.fail('quoted parameter value is not a token');
    return value;
  }

  private skipOws(): void {
    while (!this.atEnd() && isOws(this.text.charCodeAt(this.pos))) this.pos++;
  }

  private peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  private atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private fail(detail: string): never {
    // The position, not the text: the detail must not quote the peer's header back.
    fail('WS_ERR_HANDSHAKE_EXTENSION', `${detail} at offset ${this.pos}`);
  }
}

/** RFC 7230 §3.2.6 tchar, by code unit. */
function isTchar(code: number): boolean {
  return code < 0x80 && TCHAR_TABLE[code] === 1;
}

const TCHAR_TABLE = (() => {
  const table = new Uint8Array(0x80);
  for (const char of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
    table[char.charCodeAt(0)] = 1;
  }
  return table;
})();
