/**
 * permessage-deflate (RFC 7692) with Debian's python3-wsproto (1.2) over loopback, both ways, with
 * the exchange of deflate-helpers.ts (its peer, deflate_wsproto.py, moves wsproto's bytes over
 * asyncio streams).
 *
 * What wsproto does (wsproto/extensions.py):
 * - client offers `permessage-deflate; client_max_window_bits=15; server_max_window_bits=15` by
 *   default (both windows always, with values) and takes any response without checking it against
 *   the offer;
 * - server echoes the offered window values (`client_max_window_bits=15` for a valueless one) and
 *   declines an offer with a window of 8;
 * - it refuses 8 for either window, even the one it only inflates with: a response with a window
 *   of 8 raises ValueError("Window size must be between 9 and 15 inclusive") in its client.
 * So a server that answers `server_max_window_bits=8` or `client_max_window_bits=8` breaks
 * wsproto clients: we answer 9 where we would answer 8, and ask for 9 where we would ask for 8.
 */
import { expect } from 'chai';
import {
  checkPythonClient, checkPythonServer, type ClientCase, expectCompleteExchange, expectServerReceivedExchange, ourClientExchange,
  parseExtensions, PythonPeers, requirePythonModule, type ServerCase,
} from './deflate-helpers';

const SCRIPT = 'deflate_wsproto.py';
const DEFAULT_OFFER = 'permessage-deflate; client_max_window_bits=15; server_max_window_bits=15';

const CLIENT_CASES: ClientCase[] = [
  {
    name: 'agrees on permessage-deflate with its default offer of both windows at 15',
    ours: true, theirs: {}, offered: DEFAULT_OFFER, agreed: { server_max_window_bits: '15' },
  },
  {
    name: 'agrees on 9-bit windows and no context takeover either way when the client asks for them',
    ours: true,
    theirs: { client_max_window_bits: 9, server_max_window_bits: 9, client_no_context_takeover: true, server_no_context_takeover: true },
    offered: 'permessage-deflate; client_max_window_bits=9; server_max_window_bits=9; client_no_context_takeover; server_no_context_takeover',
    agreed: { server_no_context_takeover: true, client_no_context_takeover: true, server_max_window_bits: '9', client_max_window_bits: '9' },
  },
  {
    name: 'imposes an 11-bit server window, a 12-bit client window and no server context takeover',
    ours: { serverMaxWindowBits: 11, clientMaxWindowBits: 12, serverNoContextTakeover: true },
    theirs: {}, offered: DEFAULT_OFFER,
    agreed: { server_no_context_takeover: true, server_max_window_bits: '11', client_max_window_bits: '12' },
  },
  {
    name: 'answers server_max_window_bits=9, not 8, when our serverMaxWindowBits is 8: wsproto refuses a window of 8',
    ours: { serverMaxWindowBits: 8 }, theirs: {}, offered: DEFAULT_OFFER,
    agreed: { server_max_window_bits: '9' },
  },
  {
    name: 'answers client_max_window_bits=9, not 8, when our clientMaxWindowBits is 8: wsproto refuses a window of 8',
    ours: { clientMaxWindowBits: 8 }, theirs: {}, offered: DEFAULT_OFFER,
    agreed: { server_max_window_bits: '15', client_max_window_bits: '9' },
  },
];

const SERVER_CASES: ServerCase[] = [
  {
    name: 'agrees on the client window of 15 the server names for our valueless client_max_window_bits',
    ours: true, theirs: {}, agreed: { client_max_window_bits: '15' },
  },
  {
    name: 'agrees on the windows and no context takeover we ask for',
    ours: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
    theirs: {},
    agreed: { server_no_context_takeover: true, client_no_context_takeover: true, server_max_window_bits: '10', client_max_window_bits: '11' },
  },
  {
    name: 'asks for server_max_window_bits=9, not 8, when our serverMaxWindowBits is 8, so wsproto agrees to compress',
    ours: { serverMaxWindowBits: 8 }, theirs: {}, agreed: { server_max_window_bits: '9', client_max_window_bits: '15' },
  },
];

describe('interop: permessage-deflate with wsproto (RFC 7692)', function () {
  this.timeout(120_000);
  const peers = new PythonPeers();
  before(() => { requirePythonModule('wsproto', 'python3-wsproto'); });
  after(() => peers.stopAll());

  describe('its client against our WebSocketServer', () => {
    for (const c of CLIENT_CASES) it(c.name, () => checkPythonClient(peers, SCRIPT, c));
  });

  describe('our connect() against its server', () => {
    for (const c of SERVER_CASES) it(c.name, () => checkPythonServer(peers, SCRIPT, c, true));

    it('offers client_max_window_bits=8 for our clientMaxWindowBits 8: wsproto declines it or agrees to 9 or more, and every message gets through', async () => {
      const server = await peers.startServer(SCRIPT, {});
      const result = await ourClientExchange(server.url, { clientMaxWindowBits: 8 });
      const report = await server.nextReport();
      expect(report.offered).to.match(/client_max_window_bits(=(8|9|1[0-5]))?/);
      const agreed = parseExtensions(result.agreed);
      expect(parseExtensions(report.agreed)).to.deep.equal(agreed);
      if (agreed.length > 0) expect(Number(agreed[0].params.client_max_window_bits)).to.be.within(9, 15);
      expectCompleteExchange(result, 'prefix');
      expectServerReceivedExchange(report, true);
    });
  });
});
