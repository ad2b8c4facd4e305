/**
 * permessage-deflate (RFC 7692): negotiation vectors for both sides, the codec against the RFC's
 * §7.2.3 examples, round trips with and without context takeover, the limits (zip bombs, corrupt
 * data, oversized compressed input), and interop: with node:zlib's persistent streaming engines
 * (how ws and browsers compress), and with ws itself over loopback through a small harness built
 * from our negotiation functions, FrameDecoder/FrameEncoder and PerMessageDeflate.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { executionAsyncResource } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as zlib from 'node:zlib';
import WsSocket, { WebSocketServer as WsServer } from 'ws';
import { CloseCode, Opcode } from '../../lib/constants';
import { FrameDecoder } from '../../lib/frame/decoder';
import { type Role } from '../../lib/frame/frame';
import { acceptDeflateResponse, deflateOffer, negotiateDeflate } from '../../lib/handshake/permessage-deflate';
import {
  checkDeflateOptions, type DeflateOptions, type DeflateParams, maxCompressedSize, PERMESSAGE_DEFLATE, PerMessageDeflate, utf8Tail,
} from '../../lib/extensions/permessage-deflate';
import { FrameEncoder } from '../../lib/frame/encoder';
import { type ErrorCode, WebSocketProtocolError, WebSocketUsageError } from '../../lib/errors';
import { PENDING } from '../../lib/message/extension';
import type { Frame } from '../../lib/frame/frame';
import { acceptResponse, validateUpgradeRequest } from '../../lib/handshake/server';
import { clientRequestHeaders, validateUpgradeResponse } from '../../lib/handshake/client';
import { type ExtensionOffer, parseExtensions } from '../../lib/handshake/headers';
import { generateKey } from '../../lib/handshake/keys';
import { binaryOfBytes, textOfBytes, within } from '../interop/helpers';

// --- Fixtures and helpers ------------------------------------------------------------------------

/** Bytes from hex text; spaces are ignored. */
const h = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** RFC 7692 §7.2.1: the 4 bytes a sender strips and a receiver appends. */
const TAIL = h('0000ffff');
const KiB = 1024;
const MiB = 1024 * KiB;

/** The agreed parameters with RFC 7692's defaults, overridden where given. */
function P(overrides: Partial<DeflateParams> = {}): DeflateParams {
  return {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    ...overrides,
  };
}

/** The two ends of one connection, built from the same agreed parameters. */
function pair(params: DeflateParams, options: DeflateOptions = {}): { server: PerMessageDeflate; client: PerMessageDeflate } {
  return { server: new PerMessageDeflate(params, 'server', options), client: new PerMessageDeflate(params, 'client', options) };
}

interface ExpectedError { code: ErrorCode; closeCode: number }
const err = (code: ErrorCode, closeCode: number): ExpectedError => ({ code, closeCode });
const TOO_BIG = err('WS_ERR_MESSAGE_TOO_BIG', CloseCode.MessageTooBig);
const CORRUPT = err('WS_ERR_INVALID_COMPRESSED_DATA', CloseCode.InvalidPayload);
const BAD_EXTENSION = err('WS_ERR_HANDSHAKE_EXTENSION', CloseCode.ProtocolError);
const BAD_ARGUMENT = err('WS_ERR_INVALID_ARGUMENT', CloseCode.InternalError);
const BAD_STATE = err('WS_ERR_INVALID_STATE', CloseCode.InternalError);

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectThrows(fn: () => unknown, expected: ExpectedError, kind: 'protocol' | 'usage' = 'protocol'): void {
  const error = thrownBy(fn);
  expect(error, 'an error').to.be.instanceOf(kind === 'protocol' ? WebSocketProtocolError : WebSocketUsageError);
  const { code, closeCode } = error as WebSocketProtocolError;
  expect({ code, closeCode }).to.deep.equal(expected);
}

/** Deterministic bytes: compressible when `period` is small, noise-like otherwise. */
function pattern(length: number, seed = 1, period = 0): Buffer {
  const out = Buffer.alloc(length);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < length; i++) {
    if (period > 0 && i >= period) {
      out[i] = out[i - period];
      continue;
    }
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Cuts `bytes` at the given offsets (out-of-range and repeated cuts give empty pieces). */
function cut(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...cuts].map((c) => Math.min(Math.max(c, 0), bytes.length)).sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(bytes.subarray(start, point));
    start = point;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

/** Feeds pieces of one message; every piece but the last must return undefined. */
function inflatePieces(codec: PerMessageDeflate, pieces: readonly Buffer[], maxOutput = 64 * MiB): Buffer {
  for (let i = 0; i < pieces.length - 1; i++) {
    expect(codec.inflate(pieces[i], false, maxOutput), `piece ${i} of ${pieces.length}`).to.equal(undefined);
  }
  return codec.inflate(pieces[pieces.length - 1], true, maxOutput) as Buffer;
}

/**
 * Decodes one message given as pieces through `decode`, waiting for the codec when it answers
 * later (large messages, or a peer with a narrow window, whose messages a kept stream decides).
 */
function decodePieces(codec: PerMessageDeflate, pieces: readonly Buffer[], maxOutput = 64 * MiB): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    try {
      for (let i = 0; i < pieces.length - 1; i++) {
        expect(codec.decode(pieces[i], false, maxOutput, reject), `piece ${i} of ${pieces.length}`).to.equal(undefined);
      }
      const out = codec.decode(pieces[pieces.length - 1], true, maxOutput, (error, payload) => {
        if (error !== null) reject(error);
        else resolve(payload as Buffer);
      });
      if (out !== PENDING) resolve(out as Buffer);
    } catch (error) {
      reject(error);
    }
  });
}

const decodeOne = (codec: PerMessageDeflate, data: Buffer, maxOutput = 64 * MiB): Promise<Buffer> => decodePieces(codec, [data], maxOutput);

/** A message payload for property tests: text, repetitive bytes or noise, up to ~6 KiB. */
const messageArb: fc.Arbitrary<Buffer | string> = fc.oneof(
  fc.string({ maxLength: 600 }),
  fc.tuple(fc.integer({ min: 0, max: 6000 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 300 }))
    .map(([length, seed, period]) => pattern(length, seed, period)),
  fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)),
);
const bytesOf = (data: Buffer | string): Buffer => (typeof data === 'string' ? Buffer.from(data, 'utf8') : data);

const paramsArb: fc.Arbitrary<DeflateParams> = fc.record({
  serverNoContextTakeover: fc.boolean(),
  clientNoContextTakeover: fc.boolean(),
  serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
  clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
});

// --- Negotiation: server side --------------------------------------------------------------------

interface OfferVector {
  name: string;
  /** Sec-WebSocket-Extensions as the client sent it. */
  offer: string;
  options?: DeflateOptions;
  /** The response element, or undefined when every offer is declined. */
  response: string | undefined;
  params?: DeflateParams;
}

const OFFERS: OfferVector[] = [
  {
    name: "accepts Chrome's offer with a bare permessage-deflate (client_max_window_bits without a value limits nothing)",
    offer: 'permessage-deflate; client_max_window_bits',
    response: 'permessage-deflate',
    params: P(),
  },
  {
    name: "accepts Firefox's offer, which has no parameters",
    offer: 'permessage-deflate',
    response: 'permessage-deflate',
    params: P(),
  },
  {
    name: 'accepts an offer with every parameter and echoes each (RFC 7692 §7.1.1-§7.1.2)',
    offer: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    response: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    params: P({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 }),
  },
  {
    name: 'reads quoted window bits (RFC 6455 §9.1 quoted-string)',
    offer: 'permessage-deflate; server_max_window_bits="11"',
    response: 'permessage-deflate; server_max_window_bits=11',
    params: P({ serverMaxWindowBits: 11 }),
  },
  {
    name: 'answers server_max_window_bits=15 when it was offered: accepting it means echoing it (§7.1.2.1)',
    offer: 'permessage-deflate; server_max_window_bits=15',
    response: 'permessage-deflate; server_max_window_bits=15',
    params: P(),
  },
  {
    name: 'accepts server_max_window_bits=8 for our own compressor (zlib at 9 never refers back more than 250 bytes)',
    offer: 'permessage-deflate; server_max_window_bits=8',
    response: 'permessage-deflate; server_max_window_bits=8',
    params: P({ serverMaxWindowBits: 8 }),
  },
  {
    name: 'declines an offer of client_max_window_bits=8: a zlib peer cannot compress with it, and answering 9 would exceed the offer',
    offer: 'permessage-deflate; client_max_window_bits=8',
    response: undefined,
  },
  {
    name: 'takes the next offer when the first asks for an 8-bit client window',
    offer: 'permessage-deflate; client_max_window_bits=8, permessage-deflate; client_max_window_bits=9',
    response: 'permessage-deflate; client_max_window_bits=9',
    params: P({ clientMaxWindowBits: 9 }),
  },
  {
    name: 'answers a smaller server window than offered when configured so (§7.1.2.1 "the same or smaller")',
    offer: 'permessage-deflate; server_max_window_bits=12',
    options: { serverMaxWindowBits: 10 },
    response: 'permessage-deflate; server_max_window_bits=10',
    params: P({ serverMaxWindowBits: 10 }),
  },
  {
    name: 'keeps a smaller offered server window than configured',
    offer: 'permessage-deflate; server_max_window_bits=9',
    options: { serverMaxWindowBits: 12 },
    response: 'permessage-deflate; server_max_window_bits=9',
    params: P({ serverMaxWindowBits: 9 }),
  },
  {
    name: 'announces its configured server window unasked (a server MAY, §7.1.2.1)',
    offer: 'permessage-deflate',
    options: { serverMaxWindowBits: 10 },
    response: 'permessage-deflate; server_max_window_bits=10',
    params: P({ serverMaxWindowBits: 10 }),
  },
  {
    name: 'limits the client window when the offer has client_max_window_bits without a value',
    offer: 'permessage-deflate; client_max_window_bits',
    options: { clientMaxWindowBits: 10 },
    response: 'permessage-deflate; client_max_window_bits=10',
    params: P({ clientMaxWindowBits: 10 }),
  },
  {
    name: 'takes the smaller of the offered and the configured client window',
    offer: 'permessage-deflate; client_max_window_bits=9',
    options: { clientMaxWindowBits: 12 },
    response: 'permessage-deflate; client_max_window_bits=9',
    params: P({ clientMaxWindowBits: 9 }),
  },
  {
    name: 'declines an offer without client_max_window_bits when it must limit the client window (§7.1.2.2)',
    offer: 'permessage-deflate',
    options: { clientMaxWindowBits: 10 },
    response: undefined,
  },
  {
    name: 'accepts an offer without client_max_window_bits when the configured limit is 15 anyway',
    offer: 'permessage-deflate',
    options: { clientMaxWindowBits: 15 },
    response: 'permessage-deflate',
    params: P(),
  },
  {
    name: 'adds server_no_context_takeover unasked when configured (§7.1.1.1)',
    offer: 'permessage-deflate; client_max_window_bits',
    options: { serverNoContextTakeover: true },
    response: 'permessage-deflate; server_no_context_takeover',
    params: P({ serverNoContextTakeover: true }),
  },
  {
    name: 'adds client_no_context_takeover unasked when configured (§7.1.1.2)',
    offer: 'permessage-deflate',
    options: { clientNoContextTakeover: true },
    response: 'permessage-deflate; client_no_context_takeover',
    params: P({ clientNoContextTakeover: true }),
  },
  {
    name: 'declines an offer with an unknown parameter (§7)',
    offer: 'permessage-deflate; mux',
    response: undefined,
  },
  {
    name: 'declines server_no_context_takeover given a value (§7.1.1.1)',
    offer: 'permessage-deflate; server_no_context_takeover=1',
    response: undefined,
  },
  {
    name: 'declines client_no_context_takeover given a value (§7.1.1.2)',
    offer: 'permessage-deflate; client_no_context_takeover=true',
    response: undefined,
  },
  {
    name: 'declines server_max_window_bits without a value (§7.1.2.1)',
    offer: 'permessage-deflate; server_max_window_bits',
    response: undefined,
  },
  ...['7', '16', '0', '08', '+9', '1e1', '9.0', 'ten', '-9'].map((value): OfferVector => ({
    name: `declines server_max_window_bits=${value} (the ABNF allows "8" to "15" only)`,
    offer: `permessage-deflate; server_max_window_bits=${value}`,
    response: undefined,
  })),
  ...['7', '16', '015'].map((value): OfferVector => ({
    name: `declines client_max_window_bits=${value}`,
    offer: `permessage-deflate; client_max_window_bits=${value}`,
    response: undefined,
  })),
  {
    name: 'accepts the second offer when the first is invalid (§5: offers in order of preference)',
    offer: 'permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits',
    response: 'permessage-deflate',
    params: P(),
  },
  {
    name: 'accepts the second offer when the first cannot be agreed to with these options',
    offer: 'permessage-deflate, permessage-deflate; client_max_window_bits',
    options: { clientMaxWindowBits: 11 },
    response: 'permessage-deflate; client_max_window_bits=11',
    params: P({ clientMaxWindowBits: 11 }),
  },
  {
    name: 'takes the first acceptable offer, not the best-looking one',
    offer: 'permessage-deflate; server_no_context_takeover, permessage-deflate',
    response: 'permessage-deflate; server_no_context_takeover',
    params: P({ serverNoContextTakeover: true }),
  },
  {
    name: 'skips other extensions before the offer',
    offer: 'x-webkit-deflate-frame, permessage-deflate; client_max_window_bits',
    response: 'permessage-deflate',
    params: P(),
  },
  {
    name: 'declines when permessage-deflate is not offered',
    offer: 'x-webkit-deflate-frame',
    response: undefined,
  },
  {
    name: 'declines when no extension is offered',
    offer: '',
    response: undefined,
  },
  {
    name: 'does not take a differently cased name for permessage-deflate',
    offer: 'Permessage-Deflate',
    response: undefined,
  },
];

describe('negotiateDeflate (server side, RFC 7692 §7.1)', () => {
  for (const vector of OFFERS) {
    it(vector.name, () => {
      const result = negotiateDeflate(parseExtensions(vector.offer), vector.options);
      if (vector.response === undefined) {
        expect(result).to.equal(undefined);
        return;
      }
      expect(result?.response).to.equal(vector.response);
      expect(result?.params).to.deep.equal(vector.params);
    });
  }

  // RFC 7692 §7: "A server MUST decline an extension negotiation offer" with a parameter given
  // more than once; the next acceptable offer (or none) is taken instead.
  const DUPLICATED: Array<[string, string]> = [
    ['a parameter given twice', 'permessage-deflate; server_max_window_bits=10; server_max_window_bits=10'],
    ['a flag given twice', 'permessage-deflate; client_no_context_takeover; client_no_context_takeover'],
  ];
  for (const [name, offer] of DUPLICATED) {
    it(`declines an offer with ${name}, and takes the next acceptable one`, () => {
      expect(negotiateDeflate(parseExtensions(offer))).to.equal(undefined);
      const next = negotiateDeflate(parseExtensions(`${offer}, permessage-deflate`));
      expect(next?.response).to.equal('permessage-deflate');
    });
  }

  it('a client fails on a response with a parameter given twice (WS_ERR_HANDSHAKE_EXTENSION)', () => {
    const error = thrownBy(() => acceptDeflateResponse(parseExtensions('permessage-deflate; server_no_context_takeover; server_no_context_takeover')));
    expect(error).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_EXTENSION');
  });

  // The extension parser rejects these before any negotiation: a whole-header 400.
  const MALFORMED: Array<[string, string]> = [
    ['a parameter without a name', 'permessage-deflate; =10'],
    ['a quoted value that is not a token', 'permessage-deflate; server_max_window_bits="1 0"'],
  ];
  for (const [name, offer] of MALFORMED) {
    it(`fails the handshake with 400 for ${name}, in the header parser before negotiation`, () => {
      const error = thrownBy(() => negotiateDeflate(parseExtensions(offer)));
      expect(error).to.be.instanceOf(WebSocketProtocolError);
      const { code, closeCode, status } = error as WebSocketProtocolError;
      expect({ code, closeCode, status }).to.deep.equal({ ...BAD_EXTENSION, status: 400 });
    });
  }

  it('never throws for any offer a client can send, and never agrees beyond what was offered', () => {
    const value = fc.constantFrom<string | true>(true, '7', '8', '9', '12', '15', '16', '08', 'x');
    const name = fc.constantFrom('server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits',
      'client_max_window_bits', 'unknown');
    const offerArb = fc.dictionary(name, value, { maxKeys: 5 }).map((params): ExtensionOffer => ({ name: PERMESSAGE_DEFLATE, params }));
    const optionsArb = fc.record({
      serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
      clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
      serverNoContextTakeover: fc.boolean(),
    }, { requiredKeys: [] });
    fc.assert(fc.property(offerArb, optionsArb, (offer, options) => {
      const result = negotiateDeflate([{ name: 'x-other', params: {} }, offer], options);
      if (result === undefined) return;
      const answered = parseExtensions(result.response);
      expect(answered).to.have.length(1);
      const offered = offer.params;
      const said = answered[0].params;
      if (typeof offered.server_max_window_bits === 'string') {
        expect(Number(said.server_max_window_bits)).to.be.at.most(Number(offered.server_max_window_bits));
      }
      if (offered.client_max_window_bits === undefined) expect(said).not.to.have.property('client_max_window_bits');
      if (offered.server_no_context_takeover === true) expect(said.server_no_context_takeover).to.equal(true);
      // An option of 8 is taken as 9; 8 only when the client itself asked it of our compressor.
      expect(result.params.serverMaxWindowBits).to.be.at.most(Math.max(9, options.serverMaxWindowBits ?? 15));
      if (offered.server_max_window_bits !== '8') expect(result.params.serverMaxWindowBits).to.be.at.least(9);
      expect(result.params.clientMaxWindowBits).to.be.within(9, Math.max(9, options.clientMaxWindowBits ?? 15));
    }), { numRuns: 500 });
  });
});

// --- Negotiation: client side --------------------------------------------------------------------

describe('deflateOffer (client side)', () => {
  it("offers what Chrome offers by default: permessage-deflate; client_max_window_bits", () => {
    expect(deflateOffer()).to.equal('permessage-deflate; client_max_window_bits');
  });

  it('offers every configured parameter, with our window as the value of client_max_window_bits', () => {
    expect(deflateOffer({
      serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12,
    })).to.equal('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12');
  });

  it('leaves out options that do not belong in an offer (level, memLevel, threshold, contextSize)', () => {
    expect(deflateOffer({ level: 1, memLevel: 9, threshold: 0, contextSize: 0 })).to.equal('permessage-deflate; client_max_window_bits');
  });
});

interface ResponseVector {
  name: string;
  options?: DeflateOptions;
  /** The server's Sec-WebSocket-Extensions. */
  response: string;
  /** The agreed parameters, undefined (no compression), or the error the client fails with. */
  expected: DeflateParams | undefined | ExpectedError;
}

const RESPONSES: ResponseVector[] = [
  { name: 'agrees to a bare permessage-deflate with the defaults', response: 'permessage-deflate', expected: P() },
  { name: 'runs without compression when the server did not accept it', response: '', expected: undefined },
  { name: 'ignores other extensions in the response (the handshake checks those)', response: 'x-foo', expected: undefined },
  {
    name: 'agrees to every parameter in the response',
    response: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11',
    expected: P({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 }),
  },
  {
    name: 'accepts server_no_context_takeover that it did not ask for (§7.1.1.1)',
    response: 'permessage-deflate; server_no_context_takeover',
    expected: P({ serverNoContextTakeover: true }),
  },
  {
    name: 'accepts server_max_window_bits that it did not offer (§7.1.2.1)',
    response: 'permessage-deflate; server_max_window_bits=9',
    expected: P({ serverMaxWindowBits: 9 }),
  },
  {
    name: 'accepts client_max_window_bits=8 for our own compressor (zlib at 9 never refers back more than 250 bytes)',
    response: 'permessage-deflate; client_max_window_bits=8',
    expected: P({ clientMaxWindowBits: 8 }),
  },
  {
    name: 'keeps its own client_no_context_takeover whatever the server answers',
    options: { clientNoContextTakeover: true },
    response: 'permessage-deflate',
    expected: P({ clientNoContextTakeover: true }),
  },
  {
    name: 'keeps its own smaller window when the server does not limit it',
    options: { clientMaxWindowBits: 10 },
    response: 'permessage-deflate',
    expected: P({ clientMaxWindowBits: 10 }),
  },
  {
    name: 'accepts a smaller server window than it offered',
    options: { serverMaxWindowBits: 10 },
    response: 'permessage-deflate; server_max_window_bits=9',
    expected: P({ serverMaxWindowBits: 9 }),
  },
  { name: 'fails on an unknown parameter', response: 'permessage-deflate; mux', expected: BAD_EXTENSION },
  { name: 'fails on server_no_context_takeover with a value', response: 'permessage-deflate; server_no_context_takeover=1', expected: BAD_EXTENSION },
  { name: 'fails on client_no_context_takeover with a value', response: 'permessage-deflate; client_no_context_takeover=x', expected: BAD_EXTENSION },
  { name: 'fails on client_max_window_bits without a value (only an offer may omit it)', response: 'permessage-deflate; client_max_window_bits', expected: BAD_EXTENSION },
  { name: 'fails on server_max_window_bits without a value', response: 'permessage-deflate; server_max_window_bits', expected: BAD_EXTENSION },
  { name: 'fails on server_max_window_bits=16', response: 'permessage-deflate; server_max_window_bits=16', expected: BAD_EXTENSION },
  { name: 'fails on server_max_window_bits=07', response: 'permessage-deflate; server_max_window_bits=07', expected: BAD_EXTENSION },
  { name: 'fails on client_max_window_bits=7', response: 'permessage-deflate; client_max_window_bits=7', expected: BAD_EXTENSION },
  {
    name: 'fails when the server window is larger than offered (§7.1.2.1)',
    options: { serverMaxWindowBits: 10 },
    response: 'permessage-deflate; server_max_window_bits=11',
    expected: BAD_EXTENSION,
  },
  {
    name: 'fails when the server leaves out the server_max_window_bits it was asked for',
    options: { serverMaxWindowBits: 10 },
    response: 'permessage-deflate',
    expected: BAD_EXTENSION,
  },
  {
    name: 'fails when the client window is raised above our offer (§7.1.2.2)',
    options: { clientMaxWindowBits: 10 },
    response: 'permessage-deflate; client_max_window_bits=12',
    expected: BAD_EXTENSION,
  },
  {
    name: 'fails when the server ignores server_no_context_takeover (§7.1.1.1: accepting means echoing it)',
    options: { serverNoContextTakeover: true },
    response: 'permessage-deflate',
    expected: BAD_EXTENSION,
  },
  {
    name: 'fails when permessage-deflate is accepted twice',
    response: 'permessage-deflate, permessage-deflate; server_no_context_takeover',
    expected: BAD_EXTENSION,
  },
];

describe('acceptDeflateResponse (client side, RFC 7692 §7.1)', () => {
  for (const vector of RESPONSES) {
    it(vector.name, () => {
      const run = (): DeflateParams | undefined => acceptDeflateResponse(parseExtensions(vector.response), vector.options);
      const expected = vector.expected;
      if (expected !== undefined && 'code' in expected) {
        expectThrows(run, expected);
      } else {
        expect(run()).to.deep.equal(expected);
      }
    });
  }

  it('fails with 400-status WS_ERR_HANDSHAKE_EXTENSION on a duplicated parameter (in the header parser)', () => {
    expectThrows(() => acceptDeflateResponse(parseExtensions('permessage-deflate; server_max_window_bits=9; server_max_window_bits=9')), BAD_EXTENSION);
  });

  it('always offers client_max_window_bits, so a response limiting our window is never "not offered"', () => {
    fc.assert(fc.property(fc.integer({ min: 8, max: 15 }), (bits) => {
      expect(parseExtensions(deflateOffer())[0].params).to.have.property('client_max_window_bits', true);
      expect(acceptDeflateResponse(parseExtensions(`permessage-deflate; client_max_window_bits=${bits}`))?.clientMaxWindowBits).to.equal(bits);
    }));
  });

  it('agrees with our server on the same parameters for any pair of options, and the codecs round-trip', () => {
    const optionsArb: fc.Arbitrary<DeflateOptions> = fc.record({
      serverNoContextTakeover: fc.boolean(),
      clientNoContextTakeover: fc.boolean(),
      serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
      clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
    }, { requiredKeys: [] });
    return fc.assert(fc.asyncProperty(optionsArb, optionsArb, fc.array(messageArb, { maxLength: 4 }), async (client, server, messages) => {
      const agreed = negotiateDeflate(parseExtensions(deflateOffer(client)), server);
      if (client.clientMaxWindowBits === 8) {
        // Offering 8 for our own compressor is ours to honour, but a server cannot tell us from a
        // zlib client that cannot: ours declines such offers.
        expect(agreed).to.equal(undefined);
        return;
      }
      expect(agreed, 'our server accepts our offer').not.to.equal(undefined);
      const params = acceptDeflateResponse(parseExtensions(agreed?.response ?? ''), client) as DeflateParams;
      expect(params).to.deep.equal(agreed?.params);
      const serverCodec = new PerMessageDeflate(agreed?.params as DeflateParams, 'server', server);
      const clientCodec = new PerMessageDeflate(params, 'client', client);
      for (const data of messages) {
        expect(await decodeOne(clientCodec, serverCodec.deflate(data), 64 * KiB)).to.deep.equal(bytesOf(data));
        expect(await decodeOne(serverCodec, clientCodec.deflate(data), 64 * KiB)).to.deep.equal(bytesOf(data));
      }
      serverCodec.close();
      clientCodec.close();
    }), { numRuns: 150 });
  });
});

describe('option checks', () => {
  const BAD: Array<[string, DeflateOptions]> = [
    ['window bits 7', { serverMaxWindowBits: 7 }],
    ['window bits 16', { clientMaxWindowBits: 16 }],
    ['fractional window bits', { serverMaxWindowBits: 9.5 }],
    ['window bits as a string', { clientMaxWindowBits: '9' as unknown as number }],
    ['level 10', { level: 10 }],
    ['level -2', { level: -2 }],
    ['memLevel 0', { memLevel: 0 }],
    ['a negative threshold', { threshold: -1 }],
    ['a NaN threshold', { threshold: NaN }],
    ['a negative contextSize', { contextSize: -1 }],
    ['a non-boolean no_context_takeover', { serverNoContextTakeover: 1 as unknown as boolean }],
  ];
  for (const [name, options] of BAD) {
    it(`refuses ${name} in every entry point (WS_ERR_INVALID_ARGUMENT)`, () => {
      expectThrows(() => negotiateDeflate([], options), BAD_ARGUMENT, 'usage');
      expectThrows(() => deflateOffer(options), BAD_ARGUMENT, 'usage');
      expectThrows(() => acceptDeflateResponse([], options), BAD_ARGUMENT, 'usage');
      expectThrows(() => new PerMessageDeflate(P(), 'server', options), BAD_ARGUMENT, 'usage');
      expectThrows(() => { checkDeflateOptions(options); }, BAD_ARGUMENT, 'usage');
    });
  }

  it('refuses invalid agreed parameters and roles (WS_ERR_INVALID_ARGUMENT)', () => {
    expectThrows(() => new PerMessageDeflate(P({ serverMaxWindowBits: 16 }), 'server'), BAD_ARGUMENT, 'usage');
    expectThrows(() => new PerMessageDeflate(P({ clientMaxWindowBits: 7 }), 'client'), BAD_ARGUMENT, 'usage');
    expectThrows(() => new PerMessageDeflate({ ...P(), serverNoContextTakeover: 'yes' as unknown as boolean }, 'client'), BAD_ARGUMENT, 'usage');
    expectThrows(() => new PerMessageDeflate(P(), 'any' as Role), BAD_ARGUMENT, 'usage');
  });

  it('accepts every valid option, and no options at all', () => {
    checkDeflateOptions();
    checkDeflateOptions({
      serverNoContextTakeover: false, clientNoContextTakeover: true, serverMaxWindowBits: 8, clientMaxWindowBits: 15,
      level: -1, memLevel: 9, threshold: 0, contextSize: 0,
    });
  });

  it('accepts threshold Infinity (never compress)', () => {
    expect(new PerMessageDeflate(P(), 'server', { threshold: Infinity }).shouldCompress(Number.MAX_SAFE_INTEGER)).to.equal(false);
  });
});

// --- The codec -----------------------------------------------------------------------------------

describe('PerMessageDeflate: RFC 7692 §7.2.3 examples', () => {
  const HELLO = Buffer.from('Hello');
  const INFLATE_VECTORS: Array<[string, string, string]> = [
    ['§7.2.3.1 a message compressed with fixed Huffman codes', 'f2 48 cd c9 c9 07 00', 'Hello'],
    ['§7.2.3.3 a message in a stored (uncompressed) DEFLATE block', '00 05 00 fa ff 48 65 6c 6c 6f 00', 'Hello'],
    ['§7.2.3.4 a message whose block has BFINAL set', 'f3 48 cd c9 c9 07 00', 'Hello'],
    ['§7.2.3.5 a message in two DEFLATE blocks', 'f2 48 05 00 00 00 ff ff ca c9 c9 07 00', 'Hello'],
    ['§7.2.3.6 an empty message', '00', ''],
  ];
  for (const [name, hex, expected] of INFLATE_VECTORS) {
    it(`inflates ${name}`, () => {
      const { client } = pair(P());
      expect(client.inflate(h(hex), true, 1000)?.toString()).to.equal(expected);
    });
  }

  it('inflates §7.2.3.2: a second "Hello" that refers back into the first with context takeover', () => {
    const { client } = pair(P());
    expect(client.inflate(h('f248cdc9c90700'), true, 1000)?.toString()).to.equal('Hello');
    expect(client.inflate(h('f200110000'), true, 1000)?.toString()).to.equal('Hello');
  });

  it('compresses "Hello" to the bytes of §7.2.3.1, and a second "Hello" to those of §7.2.3.2', () => {
    const { server } = pair(P());
    expect(server.deflate(HELLO).toString('hex')).to.equal('f248cdc9c90700');
    expect(server.deflate(HELLO).toString('hex')).to.equal('f200110000');
  });

  it('compresses the second "Hello" on its own again when our no_context_takeover is agreed', () => {
    const { server } = pair(P({ serverNoContextTakeover: true }));
    expect(server.deflate(HELLO).toString('hex')).to.equal('f248cdc9c90700');
    expect(server.deflate(HELLO).toString('hex')).to.equal('f248cdc9c90700');
  });

  it('compresses an empty message to the single byte 00 (§7.2.3.6)', () => {
    expect(pair(P()).client.deflate('').toString('hex')).to.equal('00');
  });

  it("starts every message with an empty window when the peer's no_context_takeover is agreed: §7.2.3.2's reference fails (1007)", () => {
    const { client } = pair(P({ serverNoContextTakeover: true }));
    expect(client.inflate(h('f248cdc9c90700'), true, 1000)?.toString()).to.equal('Hello');
    expectThrows(() => client.inflate(h('f200110000'), true, 1000), CORRUPT);
  });
});

describe('PerMessageDeflate: round trips', () => {
  it('round-trips any sequence of messages both ways, for every takeover setting and window size', () => {
    return fc.assert(fc.asyncProperty(paramsArb, fc.array(messageArb, { minLength: 1, maxLength: 12 }), async (params, messages) => {
      const { server, client } = pair(params, { contextSize: 32 * KiB });
      for (const data of messages) {
        expect(await decodeOne(client, server.deflate(data), 64 * KiB)).to.deep.equal(bytesOf(data));
        expect(await decodeOne(server, client.deflate(data), 64 * KiB)).to.deep.equal(bytesOf(data));
      }
      server.close();
      client.close();
    }), { numRuns: 200 });
  });

  it('round-trips many messages over one connection with context takeover (300 messages, every contextSize)', () => {
    for (const contextSize of [0, 100, 8 * KiB, 32 * KiB, 1 * MiB]) {
      const { server, client } = pair(P(), { contextSize, threshold: 0 });
      for (let i = 0; i < 300; i++) {
        const data = `{"id":${i},"user":"user${i % 7}","text":"${'lorem ipsum '.repeat(i % 40)}"}`;
        expect(client.inflate(server.deflate(data), true, MiB)?.toString(), `message ${i}`).to.equal(data);
      }
    }
  });

  it('makes repeated messages smaller with context takeover than without', () => {
    const data = pattern(3000, 7);
    const withTakeover = pair(P()).server;
    const without = pair(P({ serverNoContextTakeover: true })).server;
    withTakeover.deflate(data);
    without.deflate(data);
    expect(withTakeover.deflate(data).length).to.be.below(without.deflate(data).length / 10);
  });

  it('inflates a message fed in pieces cut anywhere, empty pieces included, as the frames arrive', () => {
    return fc.assert(fc.asyncProperty(paramsArb, fc.array(fc.tuple(messageArb, fc.array(fc.nat(7000), { maxLength: 6 })), { minLength: 1, maxLength: 5 }),
      async (params, messages) => {
        const { server, client } = pair(params);
        for (const [data, cuts] of messages) {
          const compressed = server.deflate(data);
          expect(await decodePieces(client, cut(compressed, cuts))).to.deep.equal(bytesOf(data));
          expect(client.receivingMessage).to.equal(false);
        }
        server.close();
        client.close();
      }), { numRuns: 200 });
  });

  it('inflates a message fed one byte at a time', () => {
    const { server, client } = pair(P());
    const data = pattern(20000, 3, 97);
    const compressed = server.deflate(data);
    const pieces = [...compressed].map((byte) => Buffer.from([byte]));
    expect(inflatePieces(client, pieces)).to.deep.equal(data);
  });

  it('keeps uncompressed messages out of the window: the next compressed message still inflates', () => {
    // The sender never passes an uncompressed message through its compressor, so neither side
    // adds it to its window; the codec is simply not called for it.
    const { server, client } = pair(P(), { threshold: 100 });
    const small = 'short';
    expect(server.shouldCompress(Buffer.byteLength(small))).to.equal(false);
    for (let i = 0; i < 5; i++) {
      const data = `${'compressible payload '.repeat(10)}${i}`;
      expect(server.shouldCompress(Buffer.byteLength(data))).to.equal(true);
      expect(client.inflate(server.deflate(data), true, KiB)?.toString()).to.equal(data);
    }
  });

  it('compresses from the threshold up: 16 bytes with our context takeover, 1024 without it, by default', () => {
    const taking = new PerMessageDeflate(P(), 'client');
    expect([taking.threshold, taking.shouldCompress(15), taking.shouldCompress(16)]).to.deep.equal([16, false, true]);
    const alone = new PerMessageDeflate(P({ clientNoContextTakeover: true }), 'client');
    expect([alone.threshold, alone.shouldCompress(1023), alone.shouldCompress(1024)]).to.deep.equal([1024, false, true]);
    expect(new PerMessageDeflate(P(), 'client', { threshold: 0 }).shouldCompress(0)).to.equal(true);
    expect(new PerMessageDeflate(P({ clientNoContextTakeover: true }), 'client', { threshold: 100 }).threshold).to.equal(100);
  });

  it('shares encodings only without our context takeover, between codecs with the same settings', () => {
    const a = new PerMessageDeflate(P({ serverNoContextTakeover: true }), 'server');
    const b = new PerMessageDeflate(P({ serverNoContextTakeover: true }), 'server');
    const c = new PerMessageDeflate(P({ serverNoContextTakeover: true }), 'server', { level: 1 });
    expect(a.sharedEncoding).to.be.a('string');
    expect(a.sharedEncoding).to.equal(b.sharedEncoding);
    expect(a.sharedEncoding).to.not.equal(c.sharedEncoding);
    expect(a.deflate('same bytes, same settings: same output')).to.deep.equal(b.deflate('same bytes, same settings: same output'));
    expect(new PerMessageDeflate(P(), 'server').sharedEncoding).to.equal(undefined);
  });

  it('accepts a Uint8Array and text with 1- to 4-byte characters', () => {
    const { server, client } = pair(P());
    const text = textOfBytes(5000);
    expect(client.inflate(server.deflate(text), true, MiB)?.toString()).to.equal(text);
    const bytes = new Uint8Array(pattern(3000, 9, 50));
    expect(client.inflate(server.deflate(bytes), true, MiB)).to.deep.equal(Buffer.from(bytes));
  });

  it('returns a small inflated message in a buffer of its own size, not a view pinning a 16 KiB zlib chunk', () => {
    const { server, client } = pair(P());
    const out = client.inflate(server.deflate(pattern(100, 4)), true, MiB) as Buffer;
    expect(out.length).to.equal(100);
    expect(out.buffer.byteLength).to.be.at.most(Buffer.poolSize);
  });
});

describe('PerMessageDeflate: text handed over as a string', () => {
  /** The result of encode(), waiting for the callback when it is pending. */
  function encoded(codec: PerMessageDeflate, data: string | Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      const out = codec.encode(data, typeof data === 'string', (error, payload) => {
        if (error !== null) reject(error);
        else resolve(payload);
      });
      if (out !== PENDING) resolve(out);
    });
  }

  it('utf8Tail gives the last bytes of the UTF-8 form, whatever characters the cut falls in', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.nat(300), (text, count) => {
      const bytes = Buffer.from(text, 'utf8');
      expect(utf8Tail(text, count).equals(bytes.subarray(Math.max(0, bytes.length - count)))).to.equal(true);
    }), { numRuns: 2000 });
  });

  it('compresses a string, short, beyond the synchronous limit or over several slices, to what inflates to its UTF-8 bytes, window kept', async () => {
    // Characters of 1 to 4 bytes, so that the window's cut and the slices fall inside multi-byte
    // sequences and between the halves of surrogate pairs.
    const unit = '{"id":1,"name":"é€😀"},';
    const texts = ['Hello', 'é€😀'.repeat(40), `${unit.repeat(9000)}😀`, `${'😀'.repeat(200_000)}${unit.repeat(30_000)}`, 'after the large ones 😀', 'Hello'];
    const { server: viaStrings } = pair(P());
    const { server: viaBytes } = pair(P());
    const peer = new StreamingPeer(P(), 'client');
    try {
      for (const text of texts) {
        const fromString = await encoded(viaStrings, text);
        const fromBytes = await encoded(viaBytes, Buffer.from(text, 'utf8'));
        expect(fromString === undefined, `${text.length} characters`).to.equal(fromBytes === undefined);
        if (fromString !== undefined) expect((await peer.inflate(fromString)).toString('utf8'), `${text.length} characters`).to.equal(text);
      }
    } finally {
      peer.close();
    }
  });

  it('hands a large inflated message over in a turn of its own (an Immediate), a smaller one in zlib\'s turn', async () => {
    const { server, client } = pair(P());
    // 2 MiB that compress to little; 200 KiB that barely compress (both beyond the synchronous limits).
    const noise = randomBytes(200 * KiB);
    for (const [data, separate] of [[Buffer.alloc(2 * MiB, 'abc'), true], [noise, false]] as const) {
      const size = data.length;
      const compressed = server.deflate(data);
      const resource = await new Promise<string>((resolve, reject) => {
        const out = client.decode(compressed, true, 64 * MiB, (error, payload) => {
          if (error !== null) reject(error);
          else if (payload?.length !== size) reject(new Error(`got ${payload?.length} bytes`));
          else resolve((executionAsyncResource() as object).constructor.name);
        });
        expect(out).to.equal(PENDING);
      });
      expect(resource === 'Immediate', `${size} bytes delivered from a ${resource}`).to.equal(separate);
    }
  });
});


describe('PerMessageDeflate: windows', () => {
  /** `count` copies of a 200-byte block, `distance` bytes apart: matches reach exactly that far back. */
  function farRepeats(distance: number, count: number): Buffer {
    const block = pattern(200, 11);
    const gap = pattern(distance - 200, 12);
    return Buffer.concat(Array.from({ length: count }, () => [block, gap]).flat());
  }

  /**
   * zlib checks a distance against the bytes it still has: its window plus what the current call
   * produced. With 64-byte output steps (the smallest chunkSize node allows), any reference more
   * than 64 bytes beyond the window fails.
   */
  function inflateWithin(bits: number, payload: Buffer): Buffer {
    return zlib.inflateRawSync(Buffer.concat([payload, TAIL]), { windowBits: bits, chunkSize: 64, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  }

  it('has a window check that catches a compressor using a larger window', () => {
    const data = farRepeats(5000, 3);
    const tooFar = zlib.deflateRawSync(data, { windowBits: 15, finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    expect(thrownBy(() => inflateWithin(10, tooFar))).to.have.property('code', 'Z_DATA_ERROR');
  });

  for (const bits of [8, 9, 10, 12, 15]) {
    it(`never refers back further than an agreed window of ${bits} bits`, () => {
      const server = new PerMessageDeflate(P({ serverMaxWindowBits: bits, serverNoContextTakeover: true }), 'server');
      for (const distance of [250, 300, 600, 1100, 5000, 20000]) {
        const data = farRepeats(distance, 3);
        expect(inflateWithin(bits, server.deflate(data)), `distance ${distance}`).to.deep.equal(data);
      }
    });
  }

  it('refers back into earlier messages within the agreed window, so a peer keeping only that window inflates them', async () => {
    for (const bits of [8, 9, 11, 15]) {
      const { server, client } = pair(P({ serverMaxWindowBits: bits }), { contextSize: 32 * KiB });
      const block = pattern(3000, 13);
      for (let i = 0; i < 4; i++) {
        // The client keeps exactly 2^bits bytes of window: a reference further back fails.
        expect(await decodeOne(client, server.deflate(block), MiB), `${bits} bits, message ${i}`).to.deep.equal(block);
      }
      client.close();
    }
  });

  it('refuses a reference into an earlier message beyond a narrower agreed window (1007), as a zlib stream with that window does', async () => {
    // The peer agreed to 9 bits (512 bytes) but its second message refers 700 bytes back.
    const first = Buffer.concat([pattern(300, 5), pattern(400, 6)]);
    const second = zlib.deflateRawSync(pattern(300, 5), { dictionary: first, finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    const narrow = pair(P({ serverMaxWindowBits: 9 })).client;
    expect(await decodeOne(narrow, pair(P()).server.deflate(first), MiB)).to.deep.equal(first);
    const error = await decodeOne(narrow, second, MiB).then(() => undefined, (err: unknown) => err);
    expect(error).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_INVALID_COMPRESSED_DATA');
    // With the full window the same bytes are fine.
    const wide = pair(P()).client;
    wide.inflate(pair(P()).server.deflate(first), true, MiB);
    expect(wide.inflate(second, true, MiB)).to.deep.equal(pattern(300, 5));
    narrow.close();
  });

  it('refuses a back-reference beyond the data received so far (1007)', () => {
    expectThrows(() => pair(P()).client.inflate(h('f200110000'), true, 1000), CORRUPT);
  });
});

describe('PerMessageDeflate: limits and corrupt data', () => {
  const CORRUPT_VECTORS: Array<[string, string]> = [
    ['an invalid block type (11)', 'ff'],
    ['a stored block whose NLEN is not the complement of LEN', '00 05 00 00 00 48 65 6c 6c 6f'],
    ['a dynamic block announcing 287 literal/length codes (at most 286 exist)', 'f4 ff ff'],
  ];
  for (const [name, hex] of CORRUPT_VECTORS) {
    it(`fails ${name} with WS_ERR_INVALID_COMPRESSED_DATA (1007)`, () => {
      expectThrows(() => pair(P()).client.inflate(h(hex), true, MiB), CORRUPT);
    });
  }

  it('fails arbitrary bytes with 1007 or inflates them, never with another error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const error = thrownBy(() => pair(P()).client.inflate(Buffer.from(bytes), true, MiB));
      if (error === undefined) return;
      expect(error).to.be.instanceOf(WebSocketProtocolError);
      expect((error as WebSocketProtocolError).code).to.be.oneOf(['WS_ERR_INVALID_COMPRESSED_DATA', 'WS_ERR_MESSAGE_TOO_BIG']);
    }), { numRuns: 500 });
  });

  it('keeps failing with the same error after one: the window is unknown from then on', () => {
    const { client } = pair(P());
    const first = thrownBy(() => client.inflate(h('ff'), true, MiB));
    expect(thrownBy(() => client.inflate(h('f248cdc9c90700'), true, MiB))).to.equal(first);
  });

  it('inflates a message of exactly maxOutput bytes and fails one byte over with 1009', () => {
    for (const size of [1, 100, 16 * KiB, 16 * KiB + 1, 200 * KiB]) {
      const data = pattern(size, 8, 50);
      const compressed = pair(P({ serverNoContextTakeover: true })).server.deflate(data);
      expect(pair(P()).client.inflate(compressed, true, size), `size ${size}`).to.deep.equal(data);
      expectThrows(() => pair(P()).client.inflate(compressed, true, size - 1), TOO_BIG);
    }
  });

  it('takes only an empty message under maxOutput 0', () => {
    expect(pair(P()).client.inflate(h('00'), true, 0)).to.deep.equal(Buffer.alloc(0));
    expectThrows(() => pair(P()).client.inflate(h('f248cdc9c90700'), true, 0), TOO_BIG);
  });

  it('fails 1009 as soon as the compressed bytes pass maxCompressedSize(maxOutput), before inflating', () => {
    const maxOutput = 1000;
    const limit = maxCompressedSize(maxOutput);
    expect(limit).to.be.above(maxOutput);
    const { client } = pair(P());
    // Empty stored blocks inflate to nothing: padding a message with them is the way to send many
    // compressed bytes for little output.
    const padding = Buffer.concat(Array.from({ length: Math.ceil(limit / 5) + 1 }, () => h('0000 00ffff')));
    expect(client.inflate(padding.subarray(0, limit - 10), false, maxOutput)).to.equal(undefined);
    expectThrows(() => client.inflate(padding.subarray(limit - 10, limit + 1), false, maxOutput), TOO_BIG);
  });

  it('stops a zip bomb (10 MiB of zeros in ~10 KiB) at a 1 MiB limit with 1009, holding little more than 1 MiB', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const zeros = 10 * MiB;
    const bomb = zlib.deflateRawSync(Buffer.alloc(zeros), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
    expect(bomb.length).to.be.below(16 * KiB);
    /** External memory the run leaves allocated; V8 frees buffers after a GC lazily, hence the settling. */
    const growth = async (run: () => unknown): Promise<number> => {
      gc();
      for (let i = 0; i < 3; i++) await new Promise((resolve) => { setImmediate(resolve); });
      gc();
      const before = process.memoryUsage().arrayBuffers;
      run();
      return process.memoryUsage().arrayBuffers - before;
    };

    // The measurement sees a full inflation: without the limit it would have held over 10 MiB.
    let whole: Buffer | undefined;
    const unlimited = await growth(() => { whole = pair(P()).client.inflate(bomb, true, 20 * MiB); });
    expect(whole?.length).to.equal(zeros);
    expect(unlimited).to.be.at.least(zeros);
    whole = undefined;

    let error: unknown;
    const limited = await growth(() => { error = thrownBy(() => pair(P()).client.inflate(bomb, true, MiB)); });
    expect(error).to.be.instanceOf(WebSocketProtocolError);
    expect({ code: (error as WebSocketProtocolError).code, closeCode: (error as WebSocketProtocolError).closeCode }).to.deep.equal(TOO_BIG);
    expect(limited).to.be.below(MiB + 256 * KiB);
  });

  it('refuses bad arguments to inflate and deflate (WS_ERR_INVALID_ARGUMENT)', () => {
    const { client } = pair(P());
    expectThrows(() => client.inflate(h('00'), true, -1), BAD_ARGUMENT, 'usage');
    expectThrows(() => client.inflate(h('00'), true, 1.5), BAD_ARGUMENT, 'usage');
    expectThrows(() => client.inflate('00' as unknown as Buffer, true, 10), BAD_ARGUMENT, 'usage');
    expectThrows(() => client.deflate(42 as unknown as string), BAD_ARGUMENT, 'usage');
  });

  it('refuses every call after close() with WS_ERR_INVALID_STATE, and closes twice quietly', () => {
    const { client } = pair(P());
    expect(client.inflate(h('f248'), false, MiB)).to.equal(undefined);
    expect(client.receivingMessage).to.equal(true);
    client.close();
    client.close();
    expect(client.receivingMessage).to.equal(false);
    expectThrows(() => client.inflate(h('cdc9c90700'), true, MiB), BAD_STATE, 'usage');
    expectThrows(() => client.deflate('Hello'), BAD_STATE, 'usage');
  });
});

// --- Interop with node:zlib's streaming engines --------------------------------------------------

/**
 * A peer that compresses the way ws and browsers do: one persistent raw deflate engine and one
 * inflate engine per connection, a sync flush per message, the tail stripped or appended, and a
 * reset after each message when that direction has no context takeover.
 */
class StreamingPeer {
  private readonly deflater: zlib.DeflateRaw;
  private readonly inflater: zlib.InflateRaw;
  private readonly deflated: Buffer[] = [];
  private readonly inflated: Buffer[] = [];

  constructor(private readonly params: DeflateParams, private readonly role: Role) {
    const server = role === 'server';
    // windowBits 8 for a raw deflater is raised to 9 by Node, so the peer never compresses with 8.
    this.deflater = zlib.createDeflateRaw({ windowBits: Math.max(9, server ? params.serverMaxWindowBits : params.clientMaxWindowBits) });
    this.inflater = zlib.createInflateRaw({ windowBits: server ? params.clientMaxWindowBits : params.serverMaxWindowBits });
    this.deflater.on('data', (chunk: Buffer) => { this.deflated.push(chunk); });
    this.inflater.on('data', (chunk: Buffer) => { this.inflated.push(chunk); });
  }

  async deflate(data: Buffer): Promise<Buffer> {
    this.deflater.write(data);
    await new Promise<void>((resolve) => { this.deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => { resolve(); }); });
    const out = Buffer.concat(this.deflated.splice(0));
    expect(out.subarray(-4)).to.deep.equal(TAIL);
    if (this.role === 'server' ? this.params.serverNoContextTakeover : this.params.clientNoContextTakeover) this.deflater.reset();
    return out.subarray(0, -4);
  }

  async inflate(payload: Buffer): Promise<Buffer> {
    this.inflater.write(Buffer.concat([payload, TAIL]));
    await new Promise<void>((resolve) => { this.inflater.flush(zlib.constants.Z_SYNC_FLUSH, () => { resolve(); }); });
    if (this.role === 'server' ? this.params.clientNoContextTakeover : this.params.serverNoContextTakeover) this.inflater.reset();
    return Buffer.concat(this.inflated.splice(0));
  }

  close(): void {
    this.deflater.close();
    this.inflater.close();
  }
}

describe('interop with node:zlib', () => {
  it("compresses what node's one-shot raw inflate reads back after appending the tail", () => {
    fc.assert(fc.property(messageArb, fc.integer({ min: 8, max: 15 }), fc.integer({ min: -1, max: 9 }), (data, bits, level) => {
      const ours = new PerMessageDeflate(P({ serverNoContextTakeover: true, serverMaxWindowBits: bits }), 'server', { level });
      const compressed = ours.deflate(data);
      const back = zlib.inflateRawSync(Buffer.concat([compressed, TAIL]), { windowBits: bits, finishFlush: zlib.constants.Z_SYNC_FLUSH });
      expect(back).to.deep.equal(bytesOf(data));
    }), { numRuns: 300 });
  });

  it("inflates what node's one-shot raw deflate produced, with the tail removed", () => {
    fc.assert(fc.property(messageArb, fc.integer({ min: 0, max: 9 }), (data, level) => {
      const theirs = zlib.deflateRawSync(bytesOf(data), { level, finishFlush: zlib.constants.Z_SYNC_FLUSH });
      expect(theirs.subarray(-4)).to.deep.equal(TAIL);
      expect(pair(P()).client.inflate(theirs.subarray(0, -4), true, MiB)).to.deep.equal(bytesOf(data));
    }), { numRuns: 300 });
  });

  it('talks to a persistent streaming engine (as ws and browsers keep) both ways, message after message', async () => {
    await fc.assert(fc.asyncProperty(paramsArb, fc.array(messageArb, { minLength: 1, maxLength: 10 }), async (params, messages) => {
      const ours = new PerMessageDeflate(params, 'client', { contextSize: 32 * KiB });
      const theirs = new StreamingPeer(params, 'server');
      try {
        for (const data of messages) {
          const bytes = bytesOf(data);
          expect(await decodeOne(ours, await theirs.deflate(bytes), MiB), 'server to client').to.deep.equal(bytes);
          expect(await theirs.inflate(ours.deflate(bytes)), 'client to server').to.deep.equal(bytes);
        }
      } finally {
        theirs.close();
        ours.close();
      }
    }), { numRuns: 60 });
  });

  it('keeps the context across 200 messages of a chat-like stream with a streaming peer', async () => {
    const params = P();
    const ours = new PerMessageDeflate(params, 'server', { threshold: 0 });
    const theirs = new StreamingPeer(params, 'client');
    try {
      for (let i = 0; i < 200; i++) {
        const data = Buffer.from(JSON.stringify({ id: i, from: `user${i % 9}`, text: textOfBytes((i * 37) % 900) }));
        expect(await theirs.inflate(ours.deflate(data)), `message ${i} to the peer`).to.deep.equal(data);
        expect(ours.inflate(await theirs.deflate(data), true, MiB), `message ${i} from the peer`).to.deep.equal(data);
      }
    } finally {
      theirs.close();
    }
  });
});

// --- Interop with ws over loopback ---------------------------------------------------------------

interface Received {
  data: Buffer;
  binary: boolean;
  /** RSV1 was set on the first frame. */
  compressed: boolean;
  frames: number;
}

/**
 * One end of a WebSocket connection over a raw socket, after an opening handshake built from our
 * negotiation functions: our FrameDecoder and FrameEncoder for the frames, PerMessageDeflate for
 * the payloads, and just enough message assembly to test compression.
 */
class DeflatePeer {
  readonly received: Received[] = [];
  readonly problems: string[] = [];
  /** Called with each message as it completes. */
  onMessage: ((message: Received) => void) | undefined;
  private readonly decoder: FrameDecoder;
  private readonly encoder: FrameEncoder;
  private message: { binary: boolean; compressed: boolean; parts: Buffer[]; frames: number } | undefined;
  private waiters: Array<() => void> = [];

  constructor(private readonly socket: Socket | Duplex, role: Role, readonly codec: PerMessageDeflate | undefined, head: Buffer) {
    this.decoder = new FrameDecoder({ role, allowRsv1: codec !== undefined });
    this.encoder = new FrameEncoder({ role });
    this.encoder.on('data', (chunk: Buffer) => { socket.write(chunk); });
    this.decoder.on('data', (frame: Frame) => { this.onFrame(frame); });
    this.decoder.on('error', (error: Error) => { this.problems.push(`decoder: ${error.message}`); this.wake(); });
    socket.on('data', (chunk: Buffer) => { this.decoder.write(chunk); });
    socket.on('error', () => { /* surfaced through the assertions */ });
    if (head.length > 0) this.decoder.write(head);
  }

  /** Sends a data message, compressed unless told otherwise, in `frames` frames. */
  send(data: Buffer | string, options: { binary?: boolean; compress?: boolean; frames?: number } = {}): void {
    const binary = options.binary ?? typeof data !== 'string';
    const compress = options.compress ?? this.codec !== undefined;
    const raw = bytesOf(data);
    const payload = compress ? (this.codec as PerMessageDeflate).deflate(raw) : raw;
    const count = Math.max(1, Math.min(options.frames ?? 1, payload.length));
    const size = Math.ceil(payload.length / count);
    for (let i = 0; i < count; i++) {
      this.encoder.write({
        opcode: i === 0 ? (binary ? Opcode.Binary : Opcode.Text) : Opcode.Continuation,
        payload: payload.subarray(i * size, Math.min(payload.length, (i + 1) * size)),
        fin: i === count - 1,
        // RFC 7692 §6.1: the "Per-Message Compressed" bit is on the first frame only.
        rsv1: compress && i === 0,
      });
    }
  }

  /** Resolves once `count` messages have arrived (or a problem was seen). */
  async messages(count: number): Promise<Received[]> {
    await within(new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.received.length >= count || this.problems.length > 0) resolve();
        else this.waiters.push(check);
      };
      check();
    }), `${count} messages`);
    expect(this.problems).to.deep.equal([]);
    return this.received.slice(0, count);
  }

  destroy(): void {
    this.socket.destroy();
    this.codec?.close();
  }

  /** Frames that arrived while the codec was still decoding a message (it answers later for some). */
  private held: Frame[] | undefined;

  private onFrame(frame: Frame): void {
    if (this.held !== undefined) {
      this.held.push({ ...frame, payload: Buffer.from(frame.payload) });
      return;
    }
    if (frame.opcode >= Opcode.Close) return;
    if (frame.opcode !== Opcode.Continuation) {
      this.message = { binary: frame.opcode === Opcode.Binary, compressed: frame.rsv1, parts: [], frames: 0 };
    } else if (frame.rsv1) {
      this.problems.push('RSV1 on a continuation frame');
    }
    const message = this.message;
    if (message === undefined) {
      this.problems.push('continuation without a message');
      return;
    }
    message.frames++;
    if (!message.compressed) {
      message.parts.push(Buffer.from(frame.payload));
      if (frame.fin) this.complete(message);
      return;
    }
    let out: Buffer | undefined | typeof PENDING;
    try {
      out = (this.codec as PerMessageDeflate).decode(frame.payload, frame.fin, 64 * MiB, (error, payload) => {
        if (error !== null) this.problems.push(`inflate: ${error.message}`);
        else message.parts.push(payload as Buffer);
        this.complete(message);
        // Then the frames that waited, in order.
        const held = this.held ?? [];
        this.held = undefined;
        for (const next of held) this.onFrame(next);
      });
    } catch (error) {
      this.problems.push(`inflate: ${(error as Error).message}`);
      this.wake();
      return;
    }
    if (out === PENDING) {
      this.held = [];
    } else {
      if (out !== undefined) message.parts.push(out);
      if (frame.fin) this.complete(message);
    }
  }

  private complete(message: { binary: boolean; compressed: boolean; parts: Buffer[]; frames: number }): void {
    const received = { data: Buffer.concat(message.parts), binary: message.binary, compressed: message.compressed, frames: message.frames };
    this.received.push(received);
    this.message = undefined;
    this.onMessage?.(received);
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** Messages of every kind the interop tests exchange: text and binary, empty to 300 KiB. */
function samples(): Array<{ data: Buffer | string; binary: boolean; frames?: number; compress?: boolean }> {
  return [
    { data: 'Hello', binary: false },
    { data: '', binary: false },
    { data: Buffer.alloc(0), binary: true },
    { data: textOfBytes(1000), binary: false },
    { data: textOfBytes(1000), binary: false, frames: 3 },
    { data: JSON.stringify({ type: 'chat', text: 'lorem ipsum dolor sit amet '.repeat(50) }), binary: false },
    { data: binaryOfBytes(70000), binary: true, frames: 4 },
    { data: pattern(5000, 21), binary: true },
    { data: 'sent uncompressed on a compressed connection', binary: false, compress: false },
    { data: pattern(300 * KiB, 22, 4000), binary: true, frames: 2 },
    { data: textOfBytes(1000), binary: false },
  ];
}

/** Sends every sample three times (so context takeover spans many messages) and checks the echoes. */
async function exchange(peer: DeflatePeer, expectCompressedEchoes: boolean): Promise<void> {
  const sent = [...samples(), ...samples(), ...samples()];
  for (const sample of sent) peer.send(sample.data, sample);
  const echoes = await peer.messages(sent.length);
  sent.forEach((sample, i) => {
    expect(echoes[i].binary, `message ${i} type`).to.equal(sample.binary);
    expect(echoes[i].data.equals(bytesOf(sample.data)), `message ${i} (${bytesOf(sample.data).length} bytes) echoed unchanged`).to.equal(true);
    if (expectCompressedEchoes) expect(echoes[i].compressed, `message ${i} echoed compressed`).to.equal(true);
  });
}

describe('interop with ws over loopback', function () {
  this.timeout(60_000);
  const cleanup: Array<() => void | Promise<void>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  /** A ws server that echoes every message with its type; ws compresses every reply (threshold 0). */
  async function wsServer(perMessageDeflate: Record<string, unknown>): Promise<{ port: number; extensions: () => string[] }> {
    const wss = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0, ...perMessageDeflate } });
    const agreed: string[] = [];
    wss.on('connection', (ws, req) => {
      agreed.push(String(req.headers['sec-websocket-extensions']));
      ws.on('message', (data, isBinary) => { ws.send(data as Buffer, { binary: isBinary }); });
    });
    await within(new Promise<void>((resolve) => { wss.once('listening', () => { resolve(); }); }), 'ws server listening');
    cleanup.push(() => new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(() => { resolve(); });
    }));
    return { port: (wss.address() as AddressInfo).port, extensions: () => agreed };
  }

  /** Our client handshake (deflateOffer, validateUpgradeResponse, acceptDeflateResponse), then a DeflatePeer. */
  async function connectOurs(port: number, options: DeflateOptions): Promise<{ peer: DeflatePeer; params: DeflateParams | undefined; response: string }> {
    const key = generateKey();
    const headers = clientRequestHeaders({ key, extensions: deflateOffer(options) });
    const request = http.request({ host: '127.0.0.1', port, path: '/', headers, agent: false });
    const upgraded = new Promise<{ peer: DeflatePeer; params: DeflateParams | undefined; response: string }>((resolve, reject) => {
      request.on('upgrade', (res: http.IncomingMessage, socket: Socket, head: Buffer) => {
        try {
          const agreed = validateUpgradeResponse(res, { key, extensions: [PERMESSAGE_DEFLATE] });
          const params = acceptDeflateResponse(agreed.extensions, options);
          const peer = new DeflatePeer(socket, 'client', params === undefined ? undefined : new PerMessageDeflate(params, 'client', options), head);
          cleanup.push(() => { peer.destroy(); });
          resolve({ peer, params, response: String(res.headers['sec-websocket-extensions']) });
        } catch (error) {
          socket.destroy();
          reject(error as Error);
        }
      });
      request.on('response', (res: http.IncomingMessage) => { reject(new Error(`HTTP ${String(res.statusCode)}`)); });
      request.on('error', reject);
    });
    request.end();
    return within(upgraded, 'the upgrade');
  }

  /** Our server harness: validateUpgradeRequest, negotiateDeflate, acceptResponse, then an echoing DeflatePeer. */
  async function ourServer(options: DeflateOptions): Promise<{ url: string; agreed: Array<DeflateParams | undefined>; responses: Array<string | undefined> }> {
    const server = http.createServer();
    const agreed: Array<DeflateParams | undefined> = [];
    const responses: Array<string | undefined> = [];
    const peers: DeflatePeer[] = [];
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const upgrade = validateUpgradeRequest(req);
      const negotiation = negotiateDeflate(upgrade.extensions, options);
      agreed.push(negotiation?.params);
      responses.push(negotiation?.response);
      socket.write(acceptResponse(upgrade.key, { extensions: negotiation?.response }));
      const codec = negotiation === undefined ? undefined : new PerMessageDeflate(negotiation.params, 'server', { ...options, threshold: 0 });
      const peer = new DeflatePeer(socket, 'server', codec, head);
      peers.push(peer);
      // Echo each message, compressed, every third one in two frames.
      let echoed = 0;
      peer.onMessage = (message) => { peer.send(message.data, { binary: message.binary, frames: echoed++ % 3 === 0 ? 2 : 1 }); };
    });
    await within(new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', () => { resolve(); }); }), 'our server listening');
    cleanup.push(() => new Promise<void>((resolve) => {
      for (const peer of peers) peer.destroy();
      server.close(() => { resolve(); });
    }));
    return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, agreed, responses };
  }

  /** A ws client that sends every sample three times and collects the echoes. */
  async function wsClientExchange(url: string, perMessageDeflate: Record<string, unknown>): Promise<string> {
    const client = new WsSocket(url, { perMessageDeflate: { threshold: 0, ...perMessageDeflate } });
    cleanup.push(() => { client.terminate(); });
    await within(new Promise<void>((resolve, reject) => {
      client.once('open', () => { resolve(); });
      client.once('error', reject);
    }), 'the ws client to open');
    const sent = [...samples(), ...samples(), ...samples()];
    const echoes: Array<{ data: Buffer; binary: boolean }> = [];
    const all = within(new Promise<void>((resolve, reject) => {
      client.on('message', (data, isBinary) => {
        echoes.push({ data: data as Buffer, binary: isBinary });
        if (echoes.length === sent.length) resolve();
      });
      client.once('close', (code) => { reject(new Error(`ws client closed with ${code}`)); });
    }), 'the echoes');
    for (const sample of sent) client.send(sample.data, { binary: sample.binary, compress: sample.compress !== false });
    await all;
    sent.forEach((sample, i) => {
      expect(echoes[i].binary, `message ${i} type`).to.equal(sample.binary);
      expect(echoes[i].data.equals(bytesOf(sample.data)), `message ${i} echoed unchanged`).to.equal(true);
    });
    return client.extensions;
  }

  it('exchanges compressed messages with a ws server, context takeover both ways', async () => {
    const { port } = await wsServer({});
    const { peer, params, response } = await connectOurs(port, {});
    expect(response).to.equal('permessage-deflate');
    expect(params).to.deep.equal(P());
    await exchange(peer, true);
  });

  it('exchanges compressed messages with a ws server without context takeover and with small windows we asked for', async () => {
    const { port } = await wsServer({});
    const options: DeflateOptions = { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 10 };
    const { peer, params } = await connectOurs(port, options);
    expect(params).to.deep.equal(P({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 10 }));
    await exchange(peer, true);
  });

  it('compresses within the windows a ws server imposes', async () => {
    const { port } = await wsServer({ serverMaxWindowBits: 10, clientMaxWindowBits: 9, serverNoContextTakeover: true });
    const { peer, params } = await connectOurs(port, {});
    expect(params).to.deep.equal(P({ serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 9 }));
    await exchange(peer, true);
  });

  it('talks uncompressed to a ws server that declines permessage-deflate', async () => {
    const wss = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    wss.on('connection', (ws) => { ws.on('message', (data, isBinary) => { ws.send(data as Buffer, { binary: isBinary }); }); });
    await within(new Promise<void>((resolve) => { wss.once('listening', () => { resolve(); }); }), 'ws server listening');
    cleanup.push(() => new Promise<void>((resolve) => { wss.close(() => { resolve(); }); }));
    const { peer, params } = await connectOurs((wss.address() as AddressInfo).port, {});
    expect(params).to.equal(undefined);
    peer.send('plain', { compress: false });
    const [echo] = await peer.messages(1);
    expect(echo).to.deep.include({ binary: false, compressed: false });
    expect(echo.data.toString()).to.equal('plain');
  });

  it('serves a ws client that offers permessage-deflate with its defaults', async () => {
    const server = await ourServer({});
    const extensions = await wsClientExchange(server.url, {});
    expect(server.agreed).to.deep.equal([P()]);
    expect(extensions).to.equal('permessage-deflate');
  });

  it('serves a ws client that asks for an 8-bit server window (for our compressor) and a 10-bit client window', async () => {
    const server = await ourServer({});
    const extensions = await wsClientExchange(server.url, { serverMaxWindowBits: 8, clientMaxWindowBits: 10 });
    expect(server.agreed).to.deep.equal([P({ serverMaxWindowBits: 8, clientMaxWindowBits: 10 })]);
    expect(server.responses).to.deep.equal(['permessage-deflate; server_max_window_bits=8; client_max_window_bits=10']);
    expect(extensions).to.equal('permessage-deflate');
  });

  it('serves a ws client under no context takeover both ways, imposed by our server', async () => {
    const server = await ourServer({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 11 });
    expect(await wsClientExchange(server.url, {})).to.equal('permessage-deflate');
    expect(server.agreed).to.deep.equal([P({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 11 })]);
  });
});
