import { expect } from 'chai';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { GUID } from '../../lib/constants';
import { ERRORS, type ErrorCode, WebSocketProtocolError, WebSocketUsageError } from '../../lib/errors';
import { acceptKey, generateKey, isValidKey } from '../../lib/handshake/keys';
import { acceptResponse, checkOrigin, rejectionFor, rejectResponse, selectSubprotocol, type UpgradeRequestInfo, validateUpgradeRequest } from '../../lib/handshake/server';
import { clientRequestHeaders, type UpgradeResponseInfo, validateUpgradeResponse } from '../../lib/handshake/client';
import { type ExtensionOffer, formatExtension, formatExtensions, type HeaderRecord, isToken, parseExtensions, parseTokenList } from '../../lib/handshake/headers';

// --- Fixtures and helpers ----------------------------------------------------------------------

/** RFC 6455 §4.2.2 / §1.3 worked example. */
const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const tokenArb = fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 12 });

function chromeRequest(): UpgradeRequestInfo {
  return {
    method: 'GET',
    httpVersion: '1.1',
    headers: {
      host: 'example.com:8080',
      connection: 'Upgrade',
      pragma: 'no-cache',
      'cache-control': 'no-cache',
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      upgrade: 'websocket',
      origin: 'https://example.com',
      'sec-websocket-version': '13',
      'accept-encoding': 'gzip, deflate, br',
      'accept-language': 'en-US,en;q=0.9',
      'sec-websocket-key': SAMPLE_KEY,
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
    },
  };
}

function firefoxRequest(): UpgradeRequestInfo {
  return {
    method: 'GET',
    httpVersion: '1.1',
    headers: {
      host: 'example.com',
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
      accept: '*/*',
      'sec-websocket-version': '13',
      origin: 'http://example.com',
      'sec-websocket-protocol': 'chat, superchat',
      'sec-websocket-extensions': 'permessage-deflate',
      'sec-websocket-key': 'x3JJHMbDL1EzLkh9GBhXDw==',
      connection: 'keep-alive, Upgrade',
      upgrade: 'WebSocket',
    },
  };
}

function withHeaders(base: UpgradeRequestInfo, change: (headers: HeaderRecord) => void): UpgradeRequestInfo {
  const headers = { ...base.headers };
  change(headers);
  return { ...base, headers };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw');
}

function expectProtocolError(fn: () => unknown, code: ErrorCode, status: number | undefined): void {
  const err = thrown(fn);
  expect(err).to.be.instanceOf(WebSocketProtocolError);
  const error = err as WebSocketProtocolError;
  expect(error.code).to.equal(code);
  expect(error.status).to.equal(status);
  // The connection never opened: a handshake failure is a protocol error (RFC 6455 §7.4.1).
  expect(error.closeCode).to.equal(1002);
}

function expectUsageError(fn: () => unknown): void {
  const err = thrown(fn);
  expect(err).to.be.instanceOf(WebSocketUsageError);
  expect((err as WebSocketUsageError).code).to.equal('WS_ERR_INVALID_ARGUMENT');
  expect((err as WebSocketUsageError).closeCode).to.equal(1011);
}

interface ParsedResponse {
  statusCode: number;
  reason: string;
  /** Header lines in order, names as written. */
  fields: Array<[string, string]>;
  /** Lower-case names, repeated fields joined with ", " as node does. */
  headers: Record<string, string>;
  body: string;
}

/** A strict reader for the heads we build: CRLF only, "Name: value" lines, a blank line. */
function parseResponse(text: string): ParsedResponse {
  const end = text.indexOf('\r\n\r\n');
  expect(end, 'head ends with CRLF CRLF').to.be.greaterThan(-1);
  const head = text.slice(0, end);
  expect(/[\r\n]/.test(head.replace(/\r\n/g, '')), 'no bare CR or LF in the head').to.equal(false);
  const [statusLine, ...lines] = head.split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(statusLine);
  expect(status, `status line ${JSON.stringify(statusLine)}`).to.not.equal(null);
  const fields: Array<[string, string]> = [];
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const field = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+): (.*)$/.exec(line);
    expect(field, `header line ${JSON.stringify(line)}`).to.not.equal(null);
    const [, name, value] = field as RegExpExecArray;
    fields.push([name, value]);
    const lower = name.toLowerCase();
    headers[lower] = lower in headers ? `${headers[lower]}, ${value}` : value;
  }
  const [, code, reason] = status as RegExpExecArray;
  return { statusCode: Number(code), reason, fields, headers, body: text.slice(end + 4) };
}

function lowerCaseKeys(headers: Record<string, string>): HeaderRecord {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function okResponse(headers: HeaderRecord = {}): UpgradeResponseInfo {
  return {
    statusCode: 101,
    headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': SAMPLE_ACCEPT, ...headers },
  };
}

// --- Keys --------------------------------------------------------------------------------------

describe('handshake', () => {
  describe('acceptKey', () => {
    it('answers the RFC 6455 §4.2.2 sample key with s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', () => {
      expect(acceptKey(SAMPLE_KEY)).to.equal(SAMPLE_ACCEPT);
    });

    it('returns exactly 28 characters with no trailing newline', () => {
      const accept = acceptKey(SAMPLE_KEY);
      expect(accept).to.have.length(28);
      expect(accept).to.match(/^[A-Za-z0-9+/]{27}=$/);
    });

    it('equals base64(SHA-1(key bytes + GUID bytes)) for random 16-byte keys', () => {
      fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (nonce) => {
        const key = Buffer.from(nonce).toString('base64');
        const reference = createHash('sha1')
          .update(Buffer.concat([Buffer.from(key, 'ascii'), Buffer.from(GUID, 'ascii')]))
          .digest()
          .toString('base64');
        expect(acceptKey(key)).to.equal(reference);
      }));
    });
  });

  describe('generateKey and isValidKey', () => {
    it('generates 24 base64 characters that decode to 16 bytes and pass isValidKey', () => {
      for (let i = 0; i < 100; i++) {
        const key = generateKey();
        expect(key).to.match(/^[A-Za-z0-9+/]{22}==$/);
        expect(Buffer.from(key, 'base64')).to.have.length(16);
        expect(isValidKey(key)).to.equal(true);
      }
    });

    it('generates a different key every time', () => {
      const keys = new Set(Array.from({ length: 2000 }, generateKey));
      expect(keys.size).to.equal(2000);
    });

    const keyVectors: Array<[string, string, boolean]> = [
      ['the RFC 6455 sample key', SAMPLE_KEY, true],
      ['16 zero bytes', 'AAAAAAAAAAAAAAAAAAAAAA==', true],
      ['16 0xff bytes', '/////////////////////w==', true],
      ['non-zero pad bits (still 16 bytes decoded)', 'dGhlIHNhbXBsZSBub25jZR==', true],
      ['15 bytes', Buffer.alloc(15, 7).toString('base64'), false],
      ['17 bytes', Buffer.alloc(17, 7).toString('base64'), false],
      ['18 bytes (24 characters, no padding)', Buffer.alloc(18, 7).toString('base64'), false],
      ['the empty string', '', false],
      ['a key one character short', SAMPLE_KEY.slice(1), false],
      ['a key one character long', `A${SAMPLE_KEY}`, false],
      ['a URL-safe alphabet key', 'dGhlIHNhbXBsZSBub25jZQ-_==', false],
      ['a character outside base64', 'dGhlIHNhbXBsZSBub25jZ!==', false],
      ['a single "=" pad on 16 bytes', 'dGhlIHNhbXBsZSBub25jZQ=', false],
      ['a trailing newline', `${SAMPLE_KEY}\n`, false],
      ['a leading space', ` ${SAMPLE_KEY}`, false],
      ['two keys joined by a parser', `${SAMPLE_KEY}, ${SAMPLE_KEY}`, false],
    ];
    for (const [name, key, valid] of keyVectors) {
      it(`${valid ? 'accepts' : 'rejects'} ${name}`, () => {
        expect(isValidKey(key)).to.equal(valid);
      });
    }

    it('agrees with "24 characters of base64 that Buffer decodes to 16 bytes" on near-key strings', () => {
      const nearKey = fc.string({ unit: fc.constantFrom(...'AQgw+/=-_ \n'), minLength: 20, maxLength: 26 });
      fc.assert(fc.property(nearKey, (key) => {
        const reference = key.length === 24 && /^[A-Za-z0-9+/]*={0,2}$/.test(key) && Buffer.from(key, 'base64').length === 16;
        expect(isValidKey(key)).to.equal(reference);
      }), { numRuns: 2000 });
    });

    it('accepts base64 of n random bytes exactly when n is 16', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        expect(isValidKey(Buffer.from(bytes).toString('base64'))).to.equal(bytes.length === 16);
      }));
    });
  });

  // --- Header lists ----------------------------------------------------------------------------

  describe('parseTokenList', () => {
    const vectors: Array<[string, Parameters<typeof parseTokenList>[0], string[]]> = [
      ['an absent header', undefined, []],
      ['an empty header', '', []],
      ['one token', 'Upgrade', ['Upgrade']],
      ['spaces and tabs around items', ' keep-alive ,\tUpgrade\t', ['keep-alive', 'Upgrade']],
      ['empty list elements (RFC 7230 §7)', ', ,a,,b, ', ['a', 'b']],
      ['an array of repeated fields', ['chat, superchat', 'mqtt'], ['chat', 'superchat', 'mqtt']],
      ['items keeping inner spaces', 'a b, c', ['a b', 'c']],
      ['a non-breaking space, which is not OWS', '\u00a0a', ['\u00a0a']],
    ];
    for (const [name, input, expected] of vectors) {
      it(`splits ${name}`, () => {
        expect(parseTokenList(input)).to.deep.equal(expected);
      });
    }

    it('never yields empty items, commas or surrounding whitespace, whatever the input', () => {
      fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.array(fc.string())), (input) => {
        for (const item of parseTokenList(input)) {
          expect(item).to.not.equal('');
          expect(item).to.not.include(',');
          expect(item).to.not.match(/^[ \t]|[ \t]$/);
        }
      }));
    });
  });

  describe('parseExtensions', () => {
    const valid: Array<[string, string | string[] | undefined, ExtensionOffer[]]> = [
      ['an absent header', undefined, []],
      ['a bare name', 'permessage-deflate', [{ name: 'permessage-deflate', params: {} }]],
      ['a flag parameter', 'permessage-deflate; client_max_window_bits',
        [{ name: 'permessage-deflate', params: { client_max_window_bits: true } }]],
      ['token values and several extensions',
        'permessage-deflate; client_max_window_bits=10; server_no_context_takeover, x-webkit-deflate-frame',
        [
          { name: 'permessage-deflate', params: { client_max_window_bits: '10', server_no_context_takeover: true } },
          { name: 'x-webkit-deflate-frame', params: {} },
        ]],
      ['a quoted value that is a token', 'foo; bar="10"', [{ name: 'foo', params: { bar: '10' } }]],
      ['quoted-pairs inside a quoted value', 'foo; bar="\\1\\0"', [{ name: 'foo', params: { bar: '10' } }]],
      ['whitespace around every delimiter', ' foo ;\tbar = 1 , baz ', [
        { name: 'foo', params: { bar: '1' } }, { name: 'baz', params: {} }]],
      ['empty list elements', ',foo,, bar,', [{ name: 'foo', params: {} }, { name: 'bar', params: {} }]],
      ['repeated fields given as an array', ['foo', 'bar; x'], [
        { name: 'foo', params: {} }, { name: 'bar', params: { x: true } }]],
    ];
    for (const [name, input, expected] of valid) {
      it(`parses ${name}`, () => {
        expect(parseExtensions(input)).to.deep.equal(expected);
      });
    }

    const invalid: Array<[string, string]> = [
      ['a parameter with no extension', '; foo'],
      ['a trailing semicolon', 'foo;'],
      ['a parameter with no name', 'foo; =1'],
      ['"=" with no value', 'foo; bar='],
      ['an unterminated quoted-string', 'foo; bar="10'],
      ['a quoted-pair cut off at the end', 'foo; bar="1\\'],
      ['a quoted value with a space (not a token)', 'foo; bar="1 0"'],
      ['an empty quoted value', 'foo; bar=""'],
      ['text after a quoted value', 'foo; bar="1"x'],
      ['two tokens with no delimiter', 'foo bar'],
      ['a value of two tokens', 'foo; bar=1 2'],
      ['a non-ASCII name', 'f\u00f6o'],
      ['a separator as the name', 'foo, (bar)'],
      ['a CR LF inside the header', 'foo\r\nX-Injected: 1'],
    ];
    for (const [name, input] of invalid) {
      it(`rejects ${name} with WS_ERR_HANDSHAKE_EXTENSION (400)`, () => {
        expectProtocolError(() => parseExtensions(input), 'WS_ERR_HANDSHAKE_EXTENSION', 400);
      });
    }

    it('lists a parameter given twice in duplicateParams, keeping its first value, for the extension to judge', () => {
      expect(parseExtensions('foo; bar=1; bar=2; baz')).to.deep.equal([{ name: 'foo', params: { bar: '1', baz: true }, duplicateParams: ['bar'] }]);
      expect(parseExtensions('foo; bar=1')[0]).to.not.have.property('duplicateParams');
    });

    it('stores a parameter named __proto__ as an own property, not as the prototype', () => {
      const [offer] = parseExtensions('foo; __proto__=1');
      expect(Object.hasOwn(offer.params, '__proto__')).to.equal(true);
      expect(offer.params['__proto__']).to.equal('1');
      expect(Object.getPrototypeOf(offer.params)).to.equal(Object.prototype);
    });

    it('gives offers or WS_ERR_HANDSHAKE_EXTENSION for arbitrary strings, never another error', () => {
      const nearGrammar = fc.string({ unit: fc.constantFrom(...'ab1;=," \t\\-\u00e4\r\n'), maxLength: 40 });
      fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }), nearGrammar), (input) => {
        try {
          const offers = parseExtensions(input);
          for (const offer of offers) expect(isToken(offer.name)).to.equal(true);
        } catch (err) {
          expect(err).to.be.instanceOf(WebSocketProtocolError);
          expect((err as WebSocketProtocolError).code).to.equal('WS_ERR_HANDSHAKE_EXTENSION');
        }
      }), { numRuns: 1000 });
    });

    it('parses back what formatExtensions wrote', () => {
      const offerArb = fc.record({
        name: tokenArb,
        params: fc.dictionary(tokenArb, fc.oneof(fc.constant(true as const), tokenArb), { maxKeys: 4, noNullPrototype: true }),
      });
      fc.assert(fc.property(fc.array(offerArb, { maxLength: 4 }), (offers) => {
        expect(parseExtensions(formatExtensions(offers))).to.deep.equal(offers);
      }));
    });
  });

  describe('formatExtension', () => {
    it('writes the name, flag parameters and token values', () => {
      expect(formatExtension({ name: 'permessage-deflate', params: { client_max_window_bits: true, server_max_window_bits: '10' } }))
        .to.equal('permessage-deflate; client_max_window_bits; server_max_window_bits=10');
    });

    it('joins several extensions with ", "', () => {
      expect(formatExtensions([{ name: 'a', params: {} }, { name: 'b', params: { c: '1' } }])).to.equal('a, b; c=1');
    });

    const bad: Array<[string, ExtensionOffer]> = [
      ['an empty name', { name: '', params: {} }],
      ['a name with a space', { name: 'a b', params: {} }],
      ['a parameter name with "="', { name: 'a', params: { 'b=c': true } }],
      ['a value that is not a token (§9.1 forbids it even quoted)', { name: 'a', params: { b: '1 2' } }],
      ['a value with CR LF', { name: 'a', params: { b: '1\r\nX: y' } }],
    ];
    for (const [name, offer] of bad) {
      it(`refuses ${name} with WS_ERR_INVALID_ARGUMENT`, () => {
        expectUsageError(() => formatExtension(offer));
      });
    }
  });

  // --- Server side -----------------------------------------------------------------------------

  describe('validateUpgradeRequest', () => {
    it('accepts a Chrome-like request', () => {
      expect(validateUpgradeRequest(chromeRequest())).to.deep.equal({
        key: SAMPLE_KEY,
        protocols: [],
        extensions: [{ name: 'permessage-deflate', params: { client_max_window_bits: true } }],
        origin: 'https://example.com',
        version: 13,
      });
    });

    it('accepts a Firefox-like request (Connection: keep-alive, Upgrade; Upgrade: WebSocket)', () => {
      expect(validateUpgradeRequest(firefoxRequest())).to.deep.equal({
        key: 'x3JJHMbDL1EzLkh9GBhXDw==',
        protocols: ['chat', 'superchat'],
        extensions: [{ name: 'permessage-deflate', params: {} }],
        origin: 'http://example.com',
        version: 13,
      });
    });

    it('accepts HTTP versions after 1.1', () => {
      expect(validateUpgradeRequest({ ...chromeRequest(), httpVersion: '2.0' }).key).to.equal(SAMPLE_KEY);
    });

    it('reports a request without Origin (a non-browser client) as origin undefined', () => {
      const req = withHeaders(chromeRequest(), (h) => { delete h.origin; });
      expect(validateUpgradeRequest(req).origin).to.equal(undefined);
    });

    it('reads header names in any case and array values', () => {
      const req: UpgradeRequestInfo = {
        method: 'GET',
        httpVersion: '1.1',
        headers: {
          Host: 'example.com',
          UPGRADE: 'websocket',
          Connection: ['keep-alive', 'upgrade'],
          'Sec-WebSocket-Key': SAMPLE_KEY,
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Protocol': ['chat', 'superchat'],
        },
      };
      const result = validateUpgradeRequest(req);
      expect(result.key).to.equal(SAMPLE_KEY);
      expect(result.protocols).to.deep.equal(['chat', 'superchat']);
    });

    const failures: Array<[string, () => UpgradeRequestInfo, ErrorCode, number]> = [
      ['a POST', () => ({ ...chromeRequest(), method: 'POST' }), 'WS_ERR_HANDSHAKE_METHOD', 405],
      ['a lower-case "get" (methods are case-sensitive)', () => ({ ...chromeRequest(), method: 'get' }), 'WS_ERR_HANDSHAKE_METHOD', 405],
      ['a request without a method', () => ({ ...chromeRequest(), method: undefined }), 'WS_ERR_HANDSHAKE_METHOD', 405],
      ['HTTP/1.0', () => ({ ...chromeRequest(), httpVersion: '1.0' }), 'WS_ERR_HANDSHAKE_HTTP_VERSION', 400],
      ['HTTP/0.9', () => ({ ...chromeRequest(), httpVersion: '0.9' }), 'WS_ERR_HANDSHAKE_HTTP_VERSION', 400],
      ['a malformed HTTP version', () => ({ ...chromeRequest(), httpVersion: 'HTTP/1.1' }), 'WS_ERR_HANDSHAKE_HTTP_VERSION', 400],
      ['no Host', () => withHeaders(chromeRequest(), (h) => { delete h.host; }), 'WS_ERR_HANDSHAKE_HOST', 400],
      ['an empty Host', () => withHeaders(chromeRequest(), (h) => { h.host = ''; }), 'WS_ERR_HANDSHAKE_HOST', 400],
      ['two Host headers', () => withHeaders(chromeRequest(), (h) => { h.host = ['a.example', 'b.example']; }), 'WS_ERR_HANDSHAKE_HOST', 400],
      ['no Upgrade', () => withHeaders(chromeRequest(), (h) => { delete h.upgrade; }), 'WS_ERR_HANDSHAKE_UPGRADE', 400],
      ['Upgrade: h2c', () => withHeaders(chromeRequest(), (h) => { h.upgrade = 'h2c'; }), 'WS_ERR_HANDSHAKE_UPGRADE', 400],
      ['Upgrade: websocket/13 (a different protocol token)', () => withHeaders(chromeRequest(), (h) => { h.upgrade = 'websocket/13'; }), 'WS_ERR_HANDSHAKE_UPGRADE', 400],
      ['an Upgrade that only folds to websocket with Unicode case rules', () => withHeaders(chromeRequest(), (h) => { h.upgrade = 'websoc\u212aet'; }), 'WS_ERR_HANDSHAKE_UPGRADE', 400],
      ['no Connection', () => withHeaders(chromeRequest(), (h) => { delete h.connection; }), 'WS_ERR_HANDSHAKE_CONNECTION', 400],
      ['Connection: keep-alive', () => withHeaders(chromeRequest(), (h) => { h.connection = 'keep-alive'; }), 'WS_ERR_HANDSHAKE_CONNECTION', 400],
      ['Connection: upgrade-insecure (not the token)', () => withHeaders(chromeRequest(), (h) => { h.connection = 'upgrade-insecure'; }), 'WS_ERR_HANDSHAKE_CONNECTION', 400],
      ['a missing key', () => withHeaders(chromeRequest(), (h) => { delete h['sec-websocket-key']; }), 'WS_ERR_HANDSHAKE_KEY', 400],
      ['a key of 15 bytes', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-key'] = Buffer.alloc(15, 1).toString('base64'); }), 'WS_ERR_HANDSHAKE_KEY', 400],
      ['a key of 17 bytes', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-key'] = Buffer.alloc(17, 1).toString('base64'); }), 'WS_ERR_HANDSHAKE_KEY', 400],
      ['a key that is not base64', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-key'] = 'not a base64 key at all!'; }), 'WS_ERR_HANDSHAKE_KEY', 400],
      ['two keys joined by the parser', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-key'] = `${SAMPLE_KEY}, ${SAMPLE_KEY}`; }), 'WS_ERR_HANDSHAKE_KEY', 400],
      ['two keys as an array', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-key'] = [SAMPLE_KEY, SAMPLE_KEY]; }), 'WS_ERR_HANDSHAKE_KEY', 400],
      ['version 8', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-version'] = '8'; }), 'WS_ERR_HANDSHAKE_VERSION', 426],
      ['a missing version', () => withHeaders(chromeRequest(), (h) => { delete h['sec-websocket-version']; }), 'WS_ERR_HANDSHAKE_VERSION', 426],
      ['two versions "13, 8"', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-version'] = '13, 8'; }), 'WS_ERR_HANDSHAKE_VERSION', 426],
      ['version "013"', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-version'] = '013'; }), 'WS_ERR_HANDSHAKE_VERSION', 426],
      ['a subprotocol that is not a token', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-protocol'] = 'chat, super chat'; }), 'WS_ERR_HANDSHAKE_SUBPROTOCOL', 400],
      ['a subprotocol with a separator', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-protocol'] = 'chat/1'; }), 'WS_ERR_HANDSHAKE_SUBPROTOCOL', 400],
      ['duplicate subprotocols', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-protocol'] = 'chat, superchat, chat'; }), 'WS_ERR_HANDSHAKE_SUBPROTOCOL', 400],
      ['duplicate subprotocols across repeated fields', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-protocol'] = ['chat', 'chat']; }), 'WS_ERR_HANDSHAKE_SUBPROTOCOL', 400],
      ['malformed extensions', () => withHeaders(chromeRequest(), (h) => { h['sec-websocket-extensions'] = 'permessage-deflate; client_max_window_bits="1'; }), 'WS_ERR_HANDSHAKE_EXTENSION', 400],
    ];
    for (const [name, build, code, status] of failures) {
      it(`rejects ${name} with ${code} (${status})`, () => {
        expectProtocolError(() => validateUpgradeRequest(build()), code, status);
      });
    }

    it('checks method, HTTP version, Host, Upgrade, Connection, key, version, subprotocols, extensions in that order', () => {
      const breakers: Array<[ErrorCode, (req: UpgradeRequestInfo) => void]> = [
        ['WS_ERR_HANDSHAKE_METHOD', (req) => { req.method = 'POST'; }],
        ['WS_ERR_HANDSHAKE_HTTP_VERSION', (req) => { req.httpVersion = '1.0'; }],
        ['WS_ERR_HANDSHAKE_HOST', (req) => { delete req.headers.host; }],
        ['WS_ERR_HANDSHAKE_UPGRADE', (req) => { req.headers.upgrade = 'h2c'; }],
        ['WS_ERR_HANDSHAKE_CONNECTION', (req) => { req.headers.connection = 'close'; }],
        ['WS_ERR_HANDSHAKE_KEY', (req) => { req.headers['sec-websocket-key'] = 'short'; }],
        ['WS_ERR_HANDSHAKE_VERSION', (req) => { req.headers['sec-websocket-version'] = '8'; }],
        ['WS_ERR_HANDSHAKE_SUBPROTOCOL', (req) => { req.headers['sec-websocket-protocol'] = 'a, a'; }],
        ['WS_ERR_HANDSHAKE_EXTENSION', (req) => { req.headers['sec-websocket-extensions'] = ';'; }],
      ];
      for (let first = 0; first < breakers.length; first++) {
        const req = withHeaders(chromeRequest(), () => undefined);
        for (const [, breakRule] of breakers.slice(first)) breakRule(req);
        const err = thrown(() => validateUpgradeRequest(req)) as WebSocketProtocolError;
        expect(err.code, `with checks ${first}.. broken`).to.equal(breakers[first][0]);
      }
    });

    it('passes or throws a WebSocketProtocolError with a 4xx status for random header mutations', () => {
      const names = [
        'host', 'upgrade', 'connection', 'sec-websocket-key', 'sec-websocket-version',
        'sec-websocket-protocol', 'sec-websocket-extensions', 'origin', 'Sec-WebSocket-Key', 'UPGRADE',
      ];
      const interesting = fc.constantFrom(
        '', ' ', 'websocket', 'WebSocket', 'Upgrade', 'keep-alive, Upgrade', '13', '8', SAMPLE_KEY,
        `${SAMPLE_KEY}\n`, 'chat, chat', 'chat, superchat', 'permessage-deflate; a="b"', ';', ',', '"',
      );
      const value = fc.oneof(interesting, fc.string(), fc.string({ unit: 'binary' }));
      const mutation = fc.oneof(
        fc.record({ kind: fc.constant('delete' as const), name: fc.constantFrom(...names) }),
        fc.record({ kind: fc.constant('set' as const), name: fc.constantFrom(...names), value }),
        fc.record({ kind: fc.constant('array' as const), name: fc.constantFrom(...names), values: fc.array(value, { maxLength: 3 }) }),
        fc.record({ kind: fc.constant('method' as const), method: fc.constantFrom('GET', 'POST', 'get', 'HEAD', undefined) }),
        fc.record({ kind: fc.constant('httpVersion' as const), version: fc.constantFrom('1.0', '1.1', '2.0', '0.9', '', 'x', '1.1.1', '10.0') }),
      );
      fc.assert(fc.property(fc.boolean(), fc.array(mutation, { maxLength: 6 }), (firefox, mutations) => {
        const req = firefox ? firefoxRequest() : chromeRequest();
        for (const m of mutations) {
          if (m.kind === 'delete') delete req.headers[m.name];
          else if (m.kind === 'set') req.headers[m.name] = m.value;
          else if (m.kind === 'array') req.headers[m.name] = m.values;
          else if (m.kind === 'method') req.method = m.method;
          else req.httpVersion = m.version;
        }
        try {
          const result = validateUpgradeRequest(req);
          expect(isValidKey(result.key)).to.equal(true);
          expect(new Set(result.protocols).size).to.equal(result.protocols.length);
        } catch (err) {
          expect(err).to.be.instanceOf(WebSocketProtocolError);
          const status = (err as WebSocketProtocolError).status as number;
          expect(status).to.be.within(400, 499);
        }
      }), { numRuns: 1000 });
    });
  });

  describe('selectSubprotocol', () => {
    const vectors: Array<[string, string[], string[], string | undefined]> = [
      ['picks by server preference, not client order', ['chat', 'superchat'], ['superchat', 'chat'], 'superchat'],
      ['skips supported protocols the client did not offer', ['mqtt'], ['chat', 'mqtt'], 'mqtt'],
      ['returns undefined when nothing matches', ['chat'], ['mqtt'], undefined],
      ['returns undefined when the client offered nothing', [], ['chat'], undefined],
      ['matches case-sensitively', ['Chat'], ['chat'], undefined],
    ];
    for (const [name, offered, supported, expected] of vectors) {
      it(name, () => {
        expect(selectSubprotocol(offered, supported)).to.equal(expected);
      });
    }

    it('uses a handler function answer that the client offered', () => {
      expect(selectSubprotocol(['a', 'b'], (offered) => offered[1])).to.equal('b');
    });

    it('drops a handler function answer that the client did not offer', () => {
      expect(selectSubprotocol(['a', 'b'], () => 'c')).to.equal(undefined);
      expect(selectSubprotocol(['a', 'b'], () => 'A')).to.equal(undefined);
      expect(selectSubprotocol(['a'], () => undefined)).to.equal(undefined);
    });

    it('gives the handler a copy, so it cannot widen the offer', () => {
      const choice = selectSubprotocol(['a'], (offered) => {
        (offered as string[]).push('evil');
        return 'evil';
      });
      expect(choice).to.equal(undefined);
    });

    it('never returns a protocol the client did not offer and always the first supported one offered', () => {
      const list = fc.uniqueArray(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 6 });
      fc.assert(fc.property(list, list, fc.constantFrom('a', 'x', undefined), (offered, supported, handlerAnswer) => {
        const chosen = selectSubprotocol(offered, supported);
        expect(chosen).to.equal(supported.find((p) => offered.includes(p)));
        const handled = selectSubprotocol(offered, () => handlerAnswer);
        if (handled !== undefined) expect(offered).to.include(handled);
      }));
    });
  });

  describe('acceptResponse', () => {
    it('builds the RFC 6455 §4.2.2 101 response for the sample key', () => {
      expect(acceptResponse(SAMPLE_KEY)).to.equal(
        'HTTP/1.1 101 Switching Protocols\r\n'
        + 'Upgrade: websocket\r\n'
        + 'Connection: Upgrade\r\n'
        + `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\n`
        + '\r\n',
      );
    });

    it('adds the chosen subprotocol, extensions and extra headers, one line per array item', () => {
      const response = parseResponse(acceptResponse(SAMPLE_KEY, {
        protocol: 'chat',
        extensions: 'permessage-deflate; server_no_context_takeover',
        headers: { 'Set-Cookie': ['a=1', 'b=2'], 'X-Server': 'wsframe' },
      }));
      expect(response.statusCode).to.equal(101);
      expect(response.reason).to.equal('Switching Protocols');
      expect(response.headers).to.deep.equal({
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-accept': SAMPLE_ACCEPT,
        'sec-websocket-protocol': 'chat',
        'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover',
        'set-cookie': 'a=1, b=2',
        'x-server': 'wsframe',
      });
      expect(response.body).to.equal('');
    });

    it('ignores extra headers that would override its own or give a 101 a body', () => {
      const response = parseResponse(acceptResponse(SAMPLE_KEY, {
        headers: {
          'sec-websocket-accept': 'forged', UPGRADE: 'h2c', 'Content-Length': '5', 'Transfer-Encoding': 'chunked',
          'Sec-WebSocket-Protocol': 'chat',
        },
      }));
      expect(response.fields.map(([name]) => name)).to.deep.equal(['Upgrade', 'Connection', 'Sec-WebSocket-Accept']);
      expect(response.headers['sec-websocket-accept']).to.equal(SAMPLE_ACCEPT);
    });

    const injections: Array<[string, Parameters<typeof acceptResponse>[1]]> = [
      ['a CR LF in a header value', { headers: { 'X-A': 'ok\r\nX-Injected: 1' } }],
      ['a bare LF in a header value', { headers: { 'X-A': 'ok\nX-Injected: 1' } }],
      ['a bare CR in a header value', { headers: { 'X-A': 'ok\rX' } }],
      ['a NUL in a header value', { headers: { 'X-A': 'a\u0000b' } }],
      ['a CR LF in one item of an array value', { headers: { 'Set-Cookie': ['a=1', 'b=2\r\n\r\nbody'] } }],
      ['a CR LF in a header name', { headers: { 'X-A\r\nX-Injected': '1' } }],
      ['a colon in a header name', { headers: { 'X-A: b': '1' } }],
      ['an empty header name', { headers: { '': '1' } }],
      ['a non-ASCII header value', { headers: { 'X-A': 'caf\u00e9' } }],
      ['a CR LF in the subprotocol', { protocol: 'chat\r\nX-Injected: 1' }],
      ['a subprotocol that is not a token', { protocol: 'a b' }],
      ['a CR LF in the extensions', { extensions: 'permessage-deflate\r\nX-Injected: 1' }],
      ['extensions that do not parse', { extensions: 'permessage-deflate;' }],
    ];
    for (const [name, options] of injections) {
      it(`refuses ${name} with WS_ERR_INVALID_ARGUMENT`, () => {
        expectUsageError(() => acceptResponse(SAMPLE_KEY, options));
      });
    }

    it('refuses a key that is not a valid Sec-WebSocket-Key', () => {
      expectUsageError(() => acceptResponse('short'));
      expectUsageError(() => acceptResponse(`${SAMPLE_KEY}\r\nX-Injected: 1`));
    });
  });

  describe('rejectResponse', () => {
    it('builds a complete 400 response with a status line, close, plain-text type and length', () => {
      const text = rejectResponse(400);
      const response = parseResponse(text);
      expect(text.startsWith('HTTP/1.1 400 Bad Request\r\n')).to.equal(true);
      expect(response.headers).to.deep.equal({
        connection: 'close',
        'content-type': 'text/plain; charset=utf-8',
        'content-length': String(Buffer.byteLength('Bad Request')),
      });
      expect(response.body).to.equal('Bad Request');
    });

    it('counts Content-Length in UTF-8 bytes, not characters', () => {
      const message = 'refus\u00e9 \u2713 \ud83d\ude00';
      const response = parseResponse(rejectResponse(403, { message }));
      expect(response.statusCode).to.equal(403);
      expect(response.reason).to.equal('Forbidden');
      expect(response.body).to.equal(message);
      expect(Number(response.headers['content-length'])).to.equal(Buffer.byteLength(message, 'utf8'));
      expect(Number(response.headers['content-length'])).to.not.equal(message.length);
    });

    it('sends Sec-WebSocket-Version: 13 and Upgrade: websocket with a 426 (RFC 6455 §4.4, RFC 9110 §15.5.22)', () => {
      const response = parseResponse(rejectResponse(426));
      expect(response.reason).to.equal('Upgrade Required');
      expect(response.headers['sec-websocket-version']).to.equal('13');
      expect(response.headers.upgrade).to.equal('websocket');
      expect(parseTokenList(response.headers.connection).map((t) => t.toLowerCase())).to.have.members(['close', 'upgrade']);
    });

    it('keeps its own Sec-WebSocket-Version on a 426 whatever the extra headers say', () => {
      const response = parseResponse(rejectResponse(426, { headers: { 'Sec-WebSocket-Version': '8', 'X-Why': 'old' } }));
      expect(response.headers['sec-websocket-version']).to.equal('13');
      expect(response.headers['x-why']).to.equal('old');
    });

    it('sends Allow: GET with a 405 unless the caller gives an Allow header', () => {
      expect(parseResponse(rejectResponse(405)).headers.allow).to.equal('GET');
      expect(parseResponse(rejectResponse(405, { headers: { allow: 'GET, HEAD' } })).headers.allow).to.equal('GET, HEAD');
    });

    it('ignores extra headers that would change the framing of the body', () => {
      const response = parseResponse(rejectResponse(400, {
        message: 'no',
        headers: { 'Content-Length': '999', 'transfer-encoding': 'chunked', Connection: 'keep-alive', 'Content-Type': 'text/html' },
      }));
      expect(response.headers).to.deep.equal({
        connection: 'close', 'content-type': 'text/plain; charset=utf-8', 'content-length': '2',
      });
    });

    it('keeps the space before an empty reason phrase for a status node has no name for', () => {
      expect(rejectResponse(499).startsWith('HTTP/1.1 499 \r\n')).to.equal(true);
    });

    it('adds extra headers and refuses header injection', () => {
      expect(parseResponse(rejectResponse(401, { headers: { 'WWW-Authenticate': 'Basic' } })).headers['www-authenticate'])
        .to.equal('Basic');
      expectUsageError(() => rejectResponse(401, { headers: { 'WWW-Authenticate': 'Basic\r\nX-Injected: 1' } }));
      expectUsageError(() => rejectResponse(401, { headers: { 'X\nY': '1' } }));
    });

    for (const status of [101, 200, 299, 600, 400.5, Number.NaN]) {
      it(`refuses status ${status} with WS_ERR_INVALID_ARGUMENT`, () => {
        expectUsageError(() => rejectResponse(status));
      });
    }
  });

  describe('rejectionFor', () => {
    const statusVectors: Array<[ErrorCode, number]> = [
      ['WS_ERR_HANDSHAKE_METHOD', 405],
      ['WS_ERR_HANDSHAKE_HTTP_VERSION', 400],
      ['WS_ERR_HANDSHAKE_HOST', 400],
      ['WS_ERR_HANDSHAKE_KEY', 400],
      ['WS_ERR_HANDSHAKE_VERSION', 426],
      ['WS_ERR_HANDSHAKE_SUBPROTOCOL', 400],
      ['WS_ERR_HANDSHAKE_FORBIDDEN', 403],
      ['WS_ERR_HANDSHAKE_HEADER_TOO_LARGE', 431],
      ['WS_ERR_HANDSHAKE_STATUS', 400],
    ];
    for (const [code, status] of statusVectors) {
      it(`answers ${code} with ${status} and the table message, not the detail`, () => {
        const response = parseResponse(rejectionFor(new WebSocketProtocolError(code, 'secret detail')));
        expect(response.statusCode).to.equal(status);
        expect(response.body).to.equal(ERRORS[code].message);
        expect(response.body).to.not.include('secret');
      });
    }

    it('answers a version mismatch with a 426 that carries Sec-WebSocket-Version: 13', () => {
      const err = thrown(() => validateUpgradeRequest(withHeaders(chromeRequest(), (h) => { h['sec-websocket-version'] = '8'; })));
      const response = parseResponse(rejectionFor(err));
      expect(response.statusCode).to.equal(426);
      expect(response.headers['sec-websocket-version']).to.equal('13');
    });

    const internal: Array<[string, unknown]> = [
      ['a TypeError', new TypeError('cannot read secret of undefined')],
      ['a thrown string', 'secret'],
      ['undefined', undefined],
      ['a usage error (our own bug)', new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'secret')],
      ['WS_ERR_INTERNAL', new WebSocketProtocolError('WS_ERR_INTERNAL', 'secret')],
    ];
    for (const [name, error] of internal) {
      it(`answers ${name} with a 500 that reveals nothing`, () => {
        const response = parseResponse(rejectionFor(error));
        expect(response.statusCode).to.equal(500);
        expect(response.body).to.equal('Internal Server Error');
      });
    }
  });

  describe('checkOrigin', () => {
    const allowed = ['https://example.com', 'http://localhost:8080', 'null'];
    const vectors: Array<[string | undefined, boolean]> = [
      ['https://example.com', true],
      ['HTTPS://EXAMPLE.COM', true],
      ['http://localhost:8080', true],
      ['null', true],
      ['http://example.com', false],
      ['https://example.com:443', false],
      ['https://example.com.evil.test', false],
      ['https://sub.example.com', false],
      ['https://example.com/', false],
      ['http://localhost', false],
      ['https://example.com, https://evil.test', false],
      ['', false],
      [undefined, false],
    ];
    for (const [origin, expected] of vectors) {
      it(`${expected ? 'allows' : 'refuses'} origin ${JSON.stringify(origin)}`, () => {
        expect(checkOrigin(origin, allowed)).to.equal(expected);
      });
    }

    it('does not let Unicode case folding turn a look-alike host into an allowed one', () => {
      // U+212A KELVIN SIGN lower-cases to "k" under full Unicode rules.
      expect(checkOrigin('https://\u212aey.example', ['https://key.example'])).to.equal(false);
    });

    it('allows nothing when the list is empty', () => {
      expect(checkOrigin('https://example.com', [])).to.equal(false);
    });
  });

  // --- Client side -----------------------------------------------------------------------------

  describe('clientRequestHeaders', () => {
    it('sends Connection, Upgrade, the key and version 13', () => {
      expect(clientRequestHeaders({ key: SAMPLE_KEY })).to.deep.equal({
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': SAMPLE_KEY,
        'Sec-WebSocket-Version': '13',
      });
    });

    it('adds subprotocols comma-joined, extensions and Origin', () => {
      const headers = clientRequestHeaders({
        key: SAMPLE_KEY,
        protocols: ['chat', 'superchat'],
        extensions: 'permessage-deflate; client_max_window_bits',
        origin: 'https://example.com',
      });
      expect(headers['Sec-WebSocket-Protocol']).to.equal('chat, superchat');
      expect(headers['Sec-WebSocket-Extensions']).to.equal('permessage-deflate; client_max_window_bits');
      expect(headers.Origin).to.equal('https://example.com');
    });

    it('omits Sec-WebSocket-Protocol for an empty list', () => {
      expect(clientRequestHeaders({ key: SAMPLE_KEY, protocols: [] })).to.not.have.property('Sec-WebSocket-Protocol');
    });

    it('lets user headers add but never override the WebSocket ones, in any case', () => {
      const headers = clientRequestHeaders({
        key: SAMPLE_KEY,
        origin: 'https://example.com',
        headers: {
          'X-Token': 'abc', 'sec-websocket-key': 'forged', UPGRADE: 'h2c', connection: 'close',
          'Sec-WebSocket-Version': '8', 'sec-websocket-protocol': 'evil', 'Sec-WebSocket-Extensions': 'evil',
          origin: 'https://evil.test',
        },
      });
      expect(headers).to.deep.equal({
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': SAMPLE_KEY,
        'Sec-WebSocket-Version': '13',
        Origin: 'https://example.com',
        'X-Token': 'abc',
      });
    });

    it('takes an Origin from the user headers when no origin option is given', () => {
      expect(clientRequestHeaders({ key: SAMPLE_KEY, headers: { Origin: 'https://a.example' } }).Origin)
        .to.equal('https://a.example');
    });

    const misuses: Array<[string, Parameters<typeof clientRequestHeaders>[0]]> = [
      ['an invalid key', { key: 'short' }],
      ['a subprotocol that is not a token', { key: SAMPLE_KEY, protocols: ['chat room'] }],
      ['an empty subprotocol', { key: SAMPLE_KEY, protocols: [''] }],
      ['a subprotocol with a comma', { key: SAMPLE_KEY, protocols: ['a,b'] }],
      ['a duplicate subprotocol', { key: SAMPLE_KEY, protocols: ['chat', 'chat'] }],
      ['extensions that do not parse', { key: SAMPLE_KEY, extensions: 'foo; bar=' }],
      ['a CR LF in the extensions', { key: SAMPLE_KEY, extensions: 'foo\r\nX-Injected: 1' }],
      ['a CR LF in the origin', { key: SAMPLE_KEY, origin: 'https://a.example\r\nX-Injected: 1' }],
      ['a CR LF in a user header value', { key: SAMPLE_KEY, headers: { 'X-A': '1\r\nX-Injected: 1' } }],
      ['a user header name that is not a token', { key: SAMPLE_KEY, headers: { 'X A': '1' } }],
    ];
    for (const [name, options] of misuses) {
      it(`refuses ${name} with WS_ERR_INVALID_ARGUMENT`, () => {
        expectUsageError(() => clientRequestHeaders(options));
      });
    }

    it('produces requests the server side accepts and answers that the client side accepts', () => {
      const protocolsArb = fc.uniqueArray(tokenArb, { maxLength: 4 });
      fc.assert(fc.property(protocolsArb, protocolsArb, fc.boolean(), (offered, supported, deflate) => {
        const key = generateKey();
        const extensions = deflate ? 'permessage-deflate; client_max_window_bits' : undefined;
        const request = clientRequestHeaders({ key, protocols: offered, extensions, origin: 'https://example.com' });
        const upgrade = validateUpgradeRequest({
          method: 'GET', httpVersion: '1.1', headers: { host: 'example.com', ...lowerCaseKeys(request) },
        });
        expect(upgrade.key).to.equal(key);
        expect(upgrade.protocols).to.deep.equal(offered);
        const protocol = selectSubprotocol(upgrade.protocols, supported);
        const agreed = formatExtensions(upgrade.extensions.map((offer) => ({ name: offer.name, params: {} })));
        const response = parseResponse(acceptResponse(upgrade.key, { protocol, extensions: agreed }));
        const result = validateUpgradeResponse(
          { statusCode: response.statusCode, headers: response.headers },
          { key, protocols: offered, extensions: deflate ? ['permessage-deflate'] : [] },
        );
        expect(result.protocol).to.equal(supported.find((p) => offered.includes(p)));
        expect(result.extensions.map((e) => e.name)).to.deep.equal(deflate ? ['permessage-deflate'] : []);
      }), { numRuns: 200 });
    });
  });

  describe('validateUpgradeResponse', () => {
    it('accepts a minimal 101 response', () => {
      expect(validateUpgradeResponse(okResponse(), { key: SAMPLE_KEY })).to.deep.equal({ protocol: undefined, extensions: [] });
    });

    it('accepts Upgrade and Connection as case-insensitive token lists', () => {
      const res = okResponse({ upgrade: 'WebSocket', connection: 'keep-alive, upgrade' });
      expect(validateUpgradeResponse(res, { key: SAMPLE_KEY }).protocol).to.equal(undefined);
    });

    it('returns the subprotocol the server chose among the offered ones', () => {
      const res = okResponse({ 'sec-websocket-protocol': 'superchat' });
      expect(validateUpgradeResponse(res, { key: SAMPLE_KEY, protocols: ['chat', 'superchat'] }).protocol).to.equal('superchat');
    });

    it('accepts a server that chose no subprotocol although some were offered (RFC 6455 §4.1)', () => {
      expect(validateUpgradeResponse(okResponse(), { key: SAMPLE_KEY, protocols: ['chat'] }).protocol).to.equal(undefined);
    });

    it('returns the offered extensions the server accepted, with their parameters', () => {
      const res = okResponse({ 'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover' });
      expect(validateUpgradeResponse(res, { key: SAMPLE_KEY, extensions: ['permessage-deflate'] }).extensions)
        .to.deep.equal([{ name: 'permessage-deflate', params: { server_no_context_takeover: true } }]);
    });

    const failures: Array<[string, UpgradeResponseInfo, { protocols?: string[]; extensions?: string[] }, ErrorCode]> = [
      ['a 200 status', { ...okResponse(), statusCode: 200 }, {}, 'WS_ERR_HANDSHAKE_STATUS'],
      ['a 426 status', { ...okResponse(), statusCode: 426 }, {}, 'WS_ERR_HANDSHAKE_STATUS'],
      ['no status', { ...okResponse(), statusCode: undefined }, {}, 'WS_ERR_HANDSHAKE_STATUS'],
      ['a missing Upgrade', okResponse({ upgrade: undefined }), {}, 'WS_ERR_HANDSHAKE_RESPONSE'],
      ['Upgrade: h2c', okResponse({ upgrade: 'h2c' }), {}, 'WS_ERR_HANDSHAKE_RESPONSE'],
      ['a missing Connection', okResponse({ connection: undefined }), {}, 'WS_ERR_HANDSHAKE_RESPONSE'],
      ['Connection: close', okResponse({ connection: 'close' }), {}, 'WS_ERR_HANDSHAKE_RESPONSE'],
      ['an accept with a trailing "\\n"', okResponse({ 'sec-websocket-accept': `${SAMPLE_ACCEPT}\n` }), {}, 'WS_ERR_HANDSHAKE_ACCEPT'],
      ['an accept with a trailing space', okResponse({ 'sec-websocket-accept': `${SAMPLE_ACCEPT} ` }), {}, 'WS_ERR_HANDSHAKE_ACCEPT'],
      ['the accept of another key', okResponse({ 'sec-websocket-accept': acceptKey(generateKey()) }), {}, 'WS_ERR_HANDSHAKE_ACCEPT'],
      ['the key echoed instead of its accept', okResponse({ 'sec-websocket-accept': SAMPLE_KEY }), {}, 'WS_ERR_HANDSHAKE_ACCEPT'],
      ['a missing accept', okResponse({ 'sec-websocket-accept': undefined }), {}, 'WS_ERR_HANDSHAKE_ACCEPT'],
      ['two accepts', okResponse({ 'sec-websocket-accept': [SAMPLE_ACCEPT, SAMPLE_ACCEPT] }), {}, 'WS_ERR_HANDSHAKE_ACCEPT'],
      ['an unexpected subprotocol', okResponse({ 'sec-websocket-protocol': 'mqtt' }), { protocols: ['chat'] }, 'WS_ERR_HANDSHAKE_PROTOCOL'],
      ['a subprotocol when none was offered', okResponse({ 'sec-websocket-protocol': 'chat' }), {}, 'WS_ERR_HANDSHAKE_PROTOCOL'],
      ['a subprotocol differing in case', okResponse({ 'sec-websocket-protocol': 'Chat' }), { protocols: ['chat'] }, 'WS_ERR_HANDSHAKE_PROTOCOL'],
      ['several subprotocols joined', okResponse({ 'sec-websocket-protocol': 'chat, superchat' }), { protocols: ['chat', 'superchat'] }, 'WS_ERR_HANDSHAKE_PROTOCOL'],
      ['several subprotocols as an array', okResponse({ 'sec-websocket-protocol': ['chat', 'chat'] }), { protocols: ['chat'] }, 'WS_ERR_HANDSHAKE_PROTOCOL'],
      ['an empty subprotocol', okResponse({ 'sec-websocket-protocol': '' }), { protocols: ['chat'] }, 'WS_ERR_HANDSHAKE_PROTOCOL'],
      ['an extension that was not offered', okResponse({ 'sec-websocket-extensions': 'permessage-deflate' }), {}, 'WS_ERR_HANDSHAKE_EXTENSION'],
      ['an extension other than the offered one', okResponse({ 'sec-websocket-extensions': 'x-webkit-deflate-frame' }), { extensions: ['permessage-deflate'] }, 'WS_ERR_HANDSHAKE_EXTENSION'],
      ['an offered extension accepted twice', okResponse({ 'sec-websocket-extensions': 'permessage-deflate, permessage-deflate' }), { extensions: ['permessage-deflate'] }, 'WS_ERR_HANDSHAKE_EXTENSION'],
      ['malformed extensions', okResponse({ 'sec-websocket-extensions': 'permessage-deflate;' }), { extensions: ['permessage-deflate'] }, 'WS_ERR_HANDSHAKE_EXTENSION'],
    ];
    for (const [name, res, expected, code] of failures) {
      it(`rejects ${name} with ${code}`, () => {
        // The table gives the expected status: 400 for extensions, none for the client-only codes.
        expectProtocolError(() => validateUpgradeResponse(res, { key: SAMPLE_KEY, ...expected }), code, ERRORS[code].status);
      });
    }
  });
});
