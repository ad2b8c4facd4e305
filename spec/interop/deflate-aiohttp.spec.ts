/**
 * permessage-deflate (RFC 7692) with Debian's python3-aiohttp (3.8) over loopback, both ways, with
 * the exchange of deflate-helpers.ts (peer: deflate_aiohttp.py).
 *
 * What aiohttp does (aiohttp/http_websocket.py ws_ext_parse / ws_ext_gen):
 * - client: no compression unless `compress=N` (9-15) is given; then it offers
 *   `permessage-deflate; client_max_window_bits`, plus `server_max_window_bits=N` below 15. It
 *   compresses with the response's `client_max_window_bits` and fails the handshake ("Invalid
 *   window size") when that is 8; it inflates everything with a 15-bit window and ignores
 *   `server_max_window_bits` in the response.
 * - server: compression on by default; takes the first offer it can, skips one with
 *   `server_max_window_bits=8`, answers `server_max_window_bits` only when offered and never
 *   answers `client_max_window_bits` (nor echoes `client_no_context_takeover`).
 * So we answer `client_max_window_bits=9` where we would answer 8, and ask for 9 where we would ask
 * for `server_max_window_bits=8`.
 */
import { checkPythonClient, checkPythonServer, type ClientCase, PythonPeers, requirePythonModule, type ServerCase } from './deflate-helpers';

const SCRIPT = 'deflate_aiohttp.py';
const OFFER = 'permessage-deflate; client_max_window_bits';

const CLIENT_CASES: ClientCase[] = [
  {
    name: 'agrees on plain permessage-deflate with its offer',
    ours: true, theirs: { compress: 15 }, offered: OFFER, agreed: {},
  },
  {
    name: 'agrees on the 9-bit server window the client asks for',
    ours: true, theirs: { compress: 9 }, offered: `${OFFER}; server_max_window_bits=9`, agreed: { server_max_window_bits: '9' },
  },
  {
    name: 'imposes no context takeover either way and a 10-bit client window',
    ours: { serverNoContextTakeover: true, clientNoContextTakeover: true, clientMaxWindowBits: 10 },
    theirs: { compress: 15 }, offered: OFFER,
    agreed: { server_no_context_takeover: true, client_no_context_takeover: true, client_max_window_bits: '10' },
  },
  {
    name: 'compresses within a server window of 8 (or 9) for a client that inflates with 15 whatever it is told',
    ours: { serverMaxWindowBits: 8 }, theirs: { compress: 15 }, offered: OFFER,
    agreed: { server_max_window_bits: ['8', '9'] },
  },
  {
    name: 'answers client_max_window_bits=9, not 8, when our clientMaxWindowBits is 8: aiohttp fails a window of 8',
    ours: { clientMaxWindowBits: 8 }, theirs: { compress: 15 }, offered: OFFER,
    agreed: { client_max_window_bits: '9' },
  },
];

const SERVER_CASES: ServerCase[] = [
  {
    name: 'agrees on plain permessage-deflate with our default offer',
    ours: true, theirs: {}, agreed: {},
  },
  {
    name: 'agrees on the 10-bit server window we ask for',
    ours: { serverMaxWindowBits: 10 }, theirs: {}, agreed: { server_max_window_bits: '10' },
  },
  {
    name: 'agrees on server_no_context_takeover and keeps our client_no_context_takeover though aiohttp does not echo it',
    ours: { serverNoContextTakeover: true, clientNoContextTakeover: true }, theirs: {}, agreed: { server_no_context_takeover: true },
  },
  {
    name: 'compresses within 256 bytes after offering client_max_window_bits=8, which aiohttp ignores',
    ours: { clientMaxWindowBits: 8 }, theirs: {}, agreed: {},
  },
  {
    name: 'asks for server_max_window_bits=9, not 8, when our serverMaxWindowBits is 8, so aiohttp agrees instead of declining',
    ours: { serverMaxWindowBits: 8 }, theirs: {}, agreed: { server_max_window_bits: '9' },
  },
];

describe('interop: permessage-deflate with aiohttp (RFC 7692)', function () {
  this.timeout(120_000);
  const peers = new PythonPeers();
  before(() => { requirePythonModule('aiohttp', 'python3-aiohttp'); });
  after(() => peers.stopAll());

  describe('its client against our WebSocketServer', () => {
    for (const c of CLIENT_CASES) it(c.name, () => checkPythonClient(peers, SCRIPT, c));
  });

  describe('our connect() against its server', () => {
    for (const c of SERVER_CASES) it(c.name, () => checkPythonServer(peers, SCRIPT, c, true));
  });
});
