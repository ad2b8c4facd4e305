/**
 * permessage-deflate negotiation (RFC 7692 §7.1) as pure functions over parsed
 * Sec-WebSocket-Extensions elements: {@link negotiateDeflate} for a server, {@link deflateOffer}
 * and {@link acceptDeflateResponse} for a client. The agreed {@link DeflateParams} configure the
 * codec (`PerMessageDeflate`, in extensions/).
 */
import { WebSocketProtocolError } from '../errors';
import {
  type DeflateConfig, type DeflateOptions, type DeflateParams, MAX_WINDOW_BITS, MIN_OPTION_WINDOW_BITS, PERMESSAGE_DEFLATE,
  resolveDeflateOptions, WINDOW_BITS_PATTERN,
} from '../extensions/permessage-deflate';
import { type ExtensionOffer, formatExtension } from './headers';

/** A server's decision on an offer: the agreed parameters and the Sec-WebSocket-Extensions element to answer with. */
export interface DeflateNegotiation {
  params: DeflateParams;
  /** The response element, e.g. `permessage-deflate; server_no_context_takeover`. */
  response: string;
}

// --- Parameters of one offer or response -----------------------------------------------------

/** The parameters of one permessage-deflate element, checked against RFC 7692 §7.1. */
interface ElementParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: given without a value, which only an offer may do (§7.1.2.2). */
  clientMaxWindowBits: number | true | undefined;
}

/**
 * Reads an element's parameters. Returns why they are invalid instead of throwing: a server
 * declines such an offer, while a client fails the connection on such a response (RFC 7692 §7,
 * which lists a parameter given twice among the reasons).
 */
function readElement(element: ExtensionOffer, isOffer: boolean): ElementParams | string {
  if (element.duplicateParams !== undefined) return `parameter ${element.duplicateParams[0]} given twice`;
  const params = element.params;
  const read: ElementParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  for (const [name, value] of Object.entries(params)) {
    switch (name) {
      // §7.1.1.1/§7.1.1.2: the no_context_takeover parameters have no value.
      case 'server_no_context_takeover':
        if (value !== true) return `${name} must not have a value`;
        read.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return `${name} must not have a value`;
        read.clientNoContextTakeover = true;
        break;
      // §7.1.2.1: server_max_window_bits always has a value.
      case 'server_max_window_bits':
        if (value === true || !WINDOW_BITS_PATTERN.test(value)) return `${name} must be 8-15`;
        read.serverMaxWindowBits = Number(value);
        break;
      // §7.1.2.2: in an offer, client_max_window_bits may have no value ("the client supports
      // the parameter"); in a response it says the window the client must keep within.
      case 'client_max_window_bits':
        if (value === true) {
          if (!isOffer) return `${name} needs a value in a response`;
          read.clientMaxWindowBits = true;
        } else if (WINDOW_BITS_PATTERN.test(value)) {
          read.clientMaxWindowBits = Number(value);
        } else {
          return `${name} must be 8-15`;
        }
        break;
      default:
        // §7: "an extension parameter not defined for use in an offer/response".
        return 'unknown parameter';
    }
  }
  return read;
}

// --- Server side -----------------------------------------------------------------------------

/**
 * Server side of RFC 7692 §7.1: accepts the first permessage-deflate offer it can agree to, in the
 * client's order of preference (§5), and declines the others. An offer with an unknown parameter,
 * an invalid value or a configuration we do not support is declined, never an error: §7 says "A
 * server MUST decline" it, and so is one with a parameter given twice.
 *
 * The response follows the options:
 * - `server_no_context_takeover` when offered (§7.1.1.1 makes accepting the offer mean echoing it)
 *   or when `serverNoContextTakeover` is set, since a server may add it unasked;
 * - `client_no_context_takeover` when offered (a client that will not use takeover anyway: we then
 *   keep no window for it) or when `clientNoContextTakeover` is set (§7.1.1.2);
 * - `server_max_window_bits` when offered (answered with the same or a smaller value, §7.1.2.1) or
 *   when `serverMaxWindowBits` is below 15;
 * - `client_max_window_bits` when the offer allows it (§7.1.2.2) and the agreed value is below 15.
 *
 * Returns undefined when no offer was acceptable: answer without the extension.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for invalid options, never for the
 *   client's offers.
 */
export function negotiateDeflate(offers: readonly ExtensionOffer[], options?: DeflateOptions): DeflateNegotiation | undefined {
  const config = resolveDeflateOptions(options);
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const offered = readElement(offer, true);
    if (typeof offered === 'string') continue;
    const accepted = acceptOffer(offered, config);
    if (accepted !== undefined) return accepted;
  }
  return undefined;
}

function acceptOffer(offered: ElementParams, config: DeflateConfig): DeflateNegotiation | undefined {
  const params: DeflateParams = {
    serverNoContextTakeover: offered.serverNoContextTakeover || config.serverNoContextTakeover,
    clientNoContextTakeover: offered.clientNoContextTakeover || config.clientNoContextTakeover,
    // Our own limits are answered as 9 at least (MIN_OPTION_WINDOW_BITS); 8 only when the client
    // itself asked it of our compressor.
    serverMaxWindowBits: Math.min(offered.serverMaxWindowBits ?? MAX_WINDOW_BITS, atLeast9(config.serverMaxWindowBits)),
    clientMaxWindowBits: MAX_WINDOW_BITS,
  };
  const ourClientLimit = atLeast9(config.clientMaxWindowBits);
  if (offered.clientMaxWindowBits === undefined) {
    // §7.1.2.2: without the parameter in the offer the response must not limit the client's
    // window, so a limit we were asked to enforce cannot be agreed.
    if (ourClientLimit < MAX_WINDOW_BITS) return undefined;
  } else {
    const clientSays = offered.clientMaxWindowBits === true ? MAX_WINDOW_BITS : offered.clientMaxWindowBits;
    // A client that offers 8 for its own compressor cannot have it if it uses zlib (python's
    // websockets, wsproto and aiohttp fail on it, since zlib's raw deflate has no 8-bit window),
    // and §7.1.2.2 forbids answering more than it offered: decline this offer.
    if (clientSays < MIN_OPTION_WINDOW_BITS) return undefined;
    params.clientMaxWindowBits = Math.min(clientSays, ourClientLimit);
  }

  const response: Record<string, string | true> = {};
  if (params.serverNoContextTakeover) response.server_no_context_takeover = true;
  if (params.clientNoContextTakeover) response.client_no_context_takeover = true;
  if (offered.serverMaxWindowBits !== undefined || params.serverMaxWindowBits < MAX_WINDOW_BITS) {
    response.server_max_window_bits = String(params.serverMaxWindowBits);
  }
  if (params.clientMaxWindowBits < MAX_WINDOW_BITS) response.client_max_window_bits = String(params.clientMaxWindowBits);
  return { params, response: formatExtension({ name: PERMESSAGE_DEFLATE, params: response }) };
}

// --- Client side -----------------------------------------------------------------------------

/**
 * The client's Sec-WebSocket-Extensions element offering permessage-deflate (RFC 7692 §7.1).
 * `client_max_window_bits` is always offered, with our limit as its value or none: we can
 * compress with any window the server picks, 8 bits included. With default options the offer is
 * the same as Chrome's: `permessage-deflate; client_max_window_bits`.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for invalid options.
 */
export function deflateOffer(options?: DeflateOptions): string {
  const config = resolveDeflateOptions(options);
  const params: Record<string, string | true> = {};
  if (config.serverNoContextTakeover) params.server_no_context_takeover = true;
  if (config.clientNoContextTakeover) params.client_no_context_takeover = true;
  // We ask the server for 9 at least (it compresses with it); our own window may be 8.
  if (config.serverMaxWindowBits !== undefined) params.server_max_window_bits = String(atLeast9(config.serverMaxWindowBits));
  params.client_max_window_bits = config.clientMaxWindowBits === undefined ? true : String(config.clientMaxWindowBits);
  return formatExtension({ name: PERMESSAGE_DEFLATE, params });
}

/**
 * Client side of RFC 7692 §7.1: checks the server's answer to {@link deflateOffer} made with the
 * same `options`. `response` is the parsed Sec-WebSocket-Extensions of the 101, as
 * `validateUpgradeResponse` returns it. Returns the agreed parameters, or undefined when the
 * server did not accept permessage-deflate (the connection then runs without it).
 * @throws {WebSocketProtocolError} `WS_ERR_HANDSHAKE_EXTENSION` when the response is one §7 says
 *   the client MUST fail the connection on: an unknown parameter, an invalid value, a window
 *   larger than we offered, a missing `server_no_context_takeover` or `server_max_window_bits`
 *   that we asked for, or permessage-deflate accepted twice.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` for invalid options.
 */
export function acceptDeflateResponse(response: readonly ExtensionOffer[], options?: DeflateOptions): DeflateParams | undefined {
  const config = resolveDeflateOptions(options);
  const elements = response.filter((element) => element.name === PERMESSAGE_DEFLATE);
  if (elements.length === 0) return undefined;
  // RFC 6455 §9.1: the server picks at most one of the offered configurations.
  if (elements.length > 1) refuse('permessage-deflate accepted twice');
  const agreed = readElement(elements[0], false);
  if (typeof agreed === 'string') refuse(agreed);

  // §7.1.1.1: the server accepts server_no_context_takeover by echoing it.
  if (config.serverNoContextTakeover && !agreed.serverNoContextTakeover) refuse('server_no_context_takeover was not agreed');
  // §7.1.2.1: accepting server_max_window_bits means answering it with the same or a smaller
  // value. Without our offer, any valid value may come: it only shrinks what we must keep.
  if (config.serverMaxWindowBits !== undefined) {
    if (agreed.serverMaxWindowBits === undefined) refuse('server_max_window_bits was not agreed');
    if (agreed.serverMaxWindowBits > atLeast9(config.serverMaxWindowBits)) refuse('server_max_window_bits above the offer');
  }
  // §7.1.2.2: the server may lower our window, never raise it above what we offered. We always
  // offer the parameter, so its presence alone is never the problem.
  const clientBits = agreed.clientMaxWindowBits as number | undefined;
  if (clientBits !== undefined && config.clientMaxWindowBits !== undefined && clientBits > config.clientMaxWindowBits) {
    refuse('client_max_window_bits above the offer');
  }
  return {
    serverNoContextTakeover: agreed.serverNoContextTakeover,
    // §7.1.1.2: our own option is a promise we keep whatever the server said.
    clientNoContextTakeover: agreed.clientNoContextTakeover || config.clientNoContextTakeover,
    serverMaxWindowBits: agreed.serverMaxWindowBits ?? MAX_WINDOW_BITS,
    clientMaxWindowBits: Math.min(clientBits ?? MAX_WINDOW_BITS, config.clientMaxWindowBits ?? MAX_WINDOW_BITS),
  };
}

/** A window limit as we send it to a peer that compresses with it: 9 at least, 15 when unset. */
function atLeast9(bits: number | undefined): number {
  return Math.max(MIN_OPTION_WINDOW_BITS, bits ?? MAX_WINDOW_BITS);
}

function refuse(detail: string): never {
  throw new WebSocketProtocolError('WS_ERR_HANDSHAKE_EXTENSION', detail);
}
