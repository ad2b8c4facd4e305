/**
 * permessage-deflate (RFC 7692) with the `ws` package over loopback, both ways, with the exchange
 * of deflate-helpers.ts (echoes of 200 B, 16 KiB and 1 MiB, then 1 MiB messages with a ping and a
 * close between them), under its defaults and window and context-takeover variants.
 *
 * What ws 8 does (ws/lib/permessage-deflate.js):
 * - client offers `permessage-deflate; client_max_window_bits` by default, and its
 *   serverMaxWindowBits / clientMaxWindowBits / *NoContextTakeover options as given;
 * - server answers its configured values, `client_max_window_bits` only when offered;
 * - an 8-bit window works for it both ways: Node's zlib raises 8 to 9 for raw deflate, and at 9
 *   zlib never refers back more than 250 bytes, which fits 256. So for ws a window of 8 or 9 is
 *   equally right, and these tests accept either where our side chooses.
 */
import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import WsSocket, { WebSocketServer as WsServer } from 'ws';
import type { DeflateOptions } from '../../lib/index';
import {
  type Agreement, describePayload, expectCompleteExchange, expectOutcome, expectServerReceivedExchange, ourClientExchange, runExchange,
  type ExchangeResult, type ServerReport, startOurEchoServer,
} from './deflate-helpers';
import { within } from './helpers';

type WsDeflateOptions = Exclude<NonNullable<ConstructorParameters<typeof WsServer>[0]>['perMessageDeflate'], boolean | undefined>;

/** A ws client running the exchange; `agreed` is the response header it got. */
async function wsClientExchange(url: string, perMessageDeflate: WsDeflateOptions): Promise<ExchangeResult> {
  // threshold 0: ws compresses every message, the 200-byte ones too.
  const client = new WsSocket(url, { perMessageDeflate: { threshold: 0, ...perMessageDeflate }, maxPayload: 16 * 1024 * 1024 });
  let agreed: string | undefined;
  client.once('upgrade', (response: IncomingMessage) => { agreed = response.headers['sec-websocket-extensions']; });
  try {
    await within(new Promise<void>((resolve, reject) => {
      client.once('open', () => { resolve(); });
      client.once('error', reject);
    }), 'the ws client to open');
  } catch (error) {
    client.terminate();
    return { error: `handshake: ${(error as Error).message}` };
  }
  const result = await runExchange({
    send: (data) => { client.send(data, { binary: typeof data !== 'string' }); },
    ping: (data) => { client.ping(data); },
    close: (code, reason) => { client.close(code, reason); },
    listen: (handler) => {
      client.on('message', (data: Buffer, isBinary: boolean) => { handler({ type: 'message', data: isBinary ? data : data.toString('utf8') }); });
      client.on('pong', (data: Buffer) => { handler({ type: 'pong', data }); });
      client.on('close', (code: number) => { handler({ type: 'close', code }); });
      client.on('error', () => { /* the close event reports it */ });
    },
    terminate: () => { client.terminate(); },
  });
  return { agreed, ...result };
}

interface WsEchoServer {
  url: string;
  nextReport(): Promise<ServerReport>;
  close(): Promise<void>;
}

/** A ws server echoing every message with its type, reporting each connection when it closes. */
async function startWsEchoServer(perMessageDeflate: WsDeflateOptions): Promise<WsEchoServer> {
  const wss = new WsServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0, ...perMessageDeflate }, maxPayload: 16 * 1024 * 1024 });
  const reports: ServerReport[] = [];
  const waiting: Array<() => void> = [];
  let agreed: string | undefined;
  wss.on('headers', (headers: string[]) => {
    agreed = headers.find((line) => /^sec-websocket-extensions:/i.test(line))?.replace(/^[^:]*:\s*/, '');
  });
  wss.on('connection', (ws, request) => {
    const report: ServerReport = { offered: request.headers['sec-websocket-extensions'], agreed, events: [] };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const message = isBinary ? data : data.toString('utf8');
      report.events.push(describePayload(message));
      ws.send(message, { binary: isBinary });
    });
    ws.on('ping', (data: Buffer) => { report.events.push({ kind: 'ping', size: data.length }); });
    ws.on('error', (error: Error) => { report.error = error.message; });
    ws.on('close', (code: number, reason: Buffer) => {
      report.close_code = code;
      report.close_reason = reason.toString();
      reports.push(report);
      for (const wake of waiting.splice(0)) wake();
    });
  });
  await within(new Promise<void>((resolve) => { wss.once('listening', () => { resolve(); }); }), 'the ws server to listen');
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    nextReport: () => within(new Promise<ServerReport>((resolve) => {
      const look = (): void => {
        const report = reports.shift();
        if (report === undefined) waiting.push(look);
        else resolve(report);
      };
      look();
    }), 'the ws server to report a connection'),
    close: () => within(new Promise<void>((resolve) => {
      for (const client of wss.clients) client.terminate();
      wss.close(() => { resolve(); });
    }), 'the ws server to close'),
  };
}

const EIGHT_OR_NINE = ['8', '9'] as const;

const CLIENT_CASES: Array<{ name: string; ours: boolean | DeflateOptions; theirs: WsDeflateOptions; offered: string; agreed: Agreement }> = [
  {
    name: 'agrees on plain permessage-deflate with its default offer',
    ours: true, theirs: {}, offered: 'permessage-deflate; client_max_window_bits', agreed: {},
  },
  {
    name: 'agrees on 10- and 11-bit windows and no context takeover either way when the client asks for them',
    ours: true,
    theirs: { serverMaxWindowBits: 10, clientMaxWindowBits: 11, serverNoContextTakeover: true, clientNoContextTakeover: true },
    offered: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11',
    agreed: { server_no_context_takeover: true, client_no_context_takeover: true, server_max_window_bits: '10', client_max_window_bits: '11' },
  },
  {
    name: 'compresses within 256 bytes for a client asking for 8-bit windows both ways, or declines its 8-bit client window',
    ours: true, theirs: { serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
    offered: 'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8',
    agreed: [{ server_max_window_bits: '8', client_max_window_bits: EIGHT_OR_NINE }, 'none'],
  },
  {
    name: 'imposes a client window of 8 (or 9) bits on a client that offered its defaults',
    ours: { clientMaxWindowBits: 8 }, theirs: {}, offered: 'permessage-deflate; client_max_window_bits',
    agreed: { client_max_window_bits: EIGHT_OR_NINE },
  },
  {
    name: 'compresses within a server window of 8 (or 9) bits without context takeover',
    ours: { serverMaxWindowBits: 8, serverNoContextTakeover: true }, theirs: {}, offered: 'permessage-deflate; client_max_window_bits',
    agreed: { server_no_context_takeover: true, server_max_window_bits: EIGHT_OR_NINE },
  },
];

const SERVER_CASES: Array<{ name: string; ours: boolean | DeflateOptions; theirs: WsDeflateOptions; agreed: Agreement }> = [
  {
    name: 'agrees on plain permessage-deflate with our default offer',
    ours: true, theirs: {}, agreed: {},
  },
  {
    name: 'takes the 8-bit windows both ways a ws server imposes',
    ours: true, theirs: { serverMaxWindowBits: 8, clientMaxWindowBits: 8 }, agreed: { server_max_window_bits: '8', client_max_window_bits: '8' },
  },
  {
    name: 'takes no context takeover either way imposed by a ws server',
    ours: true, theirs: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    agreed: { server_no_context_takeover: true, client_no_context_takeover: true },
  },
  {
    name: 'asks for a server window of 8 (or 9) bits and a 12-bit client window',
    ours: { serverMaxWindowBits: 8, clientMaxWindowBits: 12 }, theirs: {},
    agreed: { server_max_window_bits: EIGHT_OR_NINE, client_max_window_bits: '12' },
  },
  {
    name: 'offers client_max_window_bits=8 and compresses within it',
    ours: { clientMaxWindowBits: 8 }, theirs: {}, agreed: { client_max_window_bits: '8' },
  },
];

describe('interop: permessage-deflate with ws (RFC 7692)', function () {
  this.timeout(120_000);

  describe('its client against our WebSocketServer', () => {
    for (const c of CLIENT_CASES) {
      it(c.name, async () => {
        const server = await startOurEchoServer(c.ours);
        try {
          const connection = server.nextConnection();
          const result = await wsClientExchange(server.url, c.theirs);
          expect(result.error, `the ws client failed: ${String(result.error)}`).to.equal(undefined);
          const side = await connection;
          await within(side.closed, 'our side of the connection to close');
          expect(side.offered, 'what the ws client offered').to.equal(c.offered);
          expectOutcome(side.agreed, result.agreed, c.agreed);
          expectCompleteExchange(result);
          expectServerReceivedExchange(side, true);
        } finally {
          await server.close();
        }
      });
    }
  });

  describe('our connect() against its server', () => {
    for (const c of SERVER_CASES) {
      it(c.name, async () => {
        const server = await startWsEchoServer(c.theirs);
        try {
          const result = await ourClientExchange(server.url, c.ours);
          expect(result.error, `our client failed: ${String(result.error)}`).to.equal(undefined);
          const report = await server.nextReport();
          expectOutcome(result.agreed, report.agreed, c.agreed);
          expectCompleteExchange(result, 'prefix');
          expectServerReceivedExchange(report, true);
        } finally {
          await server.close();
        }
      });
    }
  });
});
