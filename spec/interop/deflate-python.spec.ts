/**
 * permessage-deflate (RFC 7692) with Debian's python3-websockets (10.4) over loopback, both ways:
 * its client against our WebSocketServer and our connect() against its server, under its default
 * settings and under window and context-takeover variants. Every test runs the exchange of
 * deflate-helpers.ts (echoes of 200 B, 16 KiB and 1 MiB text and binary, then a burst with a ping
 * and a close between 1 MiB messages) and checks what both sides agreed on.
 *
 * What python-websockets does (websockets/extensions/permessage_deflate.py):
 * - client offers `permessage-deflate; client_max_window_bits` by default; it fails a response
 *   without `server_max_window_bits` when it asked for it, or with a larger value than it asked.
 * - server answers with `server_max_window_bits=12; client_max_window_bits=12` by default
 *   (the latter only when offered).
 * - zlib cannot compress a raw stream with an 8-bit window (`compressobj(wbits=-8)` raises
 *   "Invalid initialization option"), but inflates one. So it breaks whenever it is to compress
 *   with 8: as a client agreed to `client_max_window_bits=8` (whatever it offered), as a server
 *   agreed to `server_max_window_bits=8` (it answers 500). Offering or answering 8 for the window
 *   it inflates with is fine.
 * The rule these tests hold us to: we never agree to, and never ask for, an 8-bit window on the
 * side a peer compresses with. We answer 9 where the offer allows it, ask for 9 where we would ask
 * for 8, and decline an offer that insists on 8.
 */
import { checkPythonClient, checkPythonServer, type ClientCase, PythonPeers, requirePythonModule, type ServerCase } from './deflate-helpers';

const SCRIPT = 'deflate_websockets.py';
const DEFAULT_OFFER = 'permessage-deflate; client_max_window_bits';

const CLIENT_CASES: ClientCase[] = [
  {
    name: 'agrees on plain permessage-deflate with its default offer',
    ours: true, theirs: {}, offered: DEFAULT_OFFER, agreed: {},
  },
  {
    name: 'agrees on 9-bit windows and no context takeover either way when the client asks for them',
    ours: true,
    theirs: { server_max_window_bits: 9, client_max_window_bits: 9, server_no_context_takeover: true, client_no_context_takeover: true },
    offered: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9',
    agreed: { server_no_context_takeover: true, client_no_context_takeover: true, server_max_window_bits: '9', client_max_window_bits: '9' },
  },
  {
    name: 'agrees on 15-bit windows asked for explicitly',
    ours: true,
    theirs: { server_max_window_bits: 15, client_max_window_bits: 15 },
    offered: 'permessage-deflate; server_max_window_bits=15; client_max_window_bits=15',
    agreed: { server_max_window_bits: '15' },
  },
  {
    name: 'imposes 10-bit windows and no context takeover either way on a client that offered its defaults',
    ours: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
    theirs: {},
    offered: DEFAULT_OFFER,
    agreed: { server_no_context_takeover: true, client_no_context_takeover: true, server_max_window_bits: '10', client_max_window_bits: '10' },
  },
  {
    name: 'compresses within 256 bytes for a client asking for server_max_window_bits=8, which it inflates',
    ours: true, theirs: { server_max_window_bits: 8 },
    offered: 'permessage-deflate; server_max_window_bits=8; client_max_window_bits',
    agreed: { server_max_window_bits: '8' },
  },
  {
    name: 'answers client_max_window_bits=9, not 8, when our clientMaxWindowBits is 8: the client cannot compress with 8',
    ours: { clientMaxWindowBits: 8 }, theirs: {}, offered: DEFAULT_OFFER,
    agreed: { client_max_window_bits: '9' },
  },
  {
    name: 'declines an offer of client_max_window_bits=8, which the client cannot compress with, and talks uncompressed',
    ours: true, theirs: { client_max_window_bits: 8 },
    offered: 'permessage-deflate; client_max_window_bits=8',
    agreed: 'none',
  },
];

const SERVER_CASES: ServerCase[] = [
  {
    name: 'agrees on the server\'s default 12-bit windows with our default offer',
    ours: true, theirs: {},
    agreed: { server_max_window_bits: '12', client_max_window_bits: '12' },
  },
  {
    name: 'agrees on no context takeover either way when we ask for it',
    ours: { serverNoContextTakeover: true, clientNoContextTakeover: true }, theirs: {},
    agreed: { server_no_context_takeover: true, client_no_context_takeover: true, server_max_window_bits: '12', client_max_window_bits: '12' },
  },
  {
    name: 'agrees on the 9-bit windows we ask for',
    ours: { serverMaxWindowBits: 9, clientMaxWindowBits: 9 }, theirs: {},
    agreed: { server_max_window_bits: '9', client_max_window_bits: '9' },
  },
  {
    name: 'compresses within 256 bytes for a server imposing client_max_window_bits=8',
    ours: true, theirs: { client_max_window_bits: 8 },
    agreed: { client_max_window_bits: '8' },
  },
  {
    name: 'offers client_max_window_bits=8 for our clientMaxWindowBits 8 and compresses within it',
    ours: { clientMaxWindowBits: 8 }, theirs: {},
    agreed: { server_max_window_bits: '12', client_max_window_bits: '8' },
  },
  {
    name: 'asks for server_max_window_bits=9, not 8, when our serverMaxWindowBits is 8: the server cannot compress with 8',
    ours: { serverMaxWindowBits: 8 }, theirs: {},
    agreed: { server_max_window_bits: '9', client_max_window_bits: '12' },
  },
];

describe('interop: permessage-deflate with python-websockets (RFC 7692)', function () {
  this.timeout(120_000);
  const peers = new PythonPeers();
  before(() => { requirePythonModule('websockets', 'python3-websockets'); });
  after(() => peers.stopAll());

  describe('its client against our WebSocketServer', () => {
    for (const c of CLIENT_CASES) it(c.name, () => checkPythonClient(peers, SCRIPT, c));
  });

  describe('our connect() against its server', () => {
    for (const c of SERVER_CASES) it(c.name, () => checkPythonServer(peers, SCRIPT, c, false));
  });
});
