/**
 * permessage-deflate (RFC 7692) with headless Debian Chromium over loopback: the page's own
 * WebSocket (which offers `permessage-deflate; client_max_window_bits`, like every browser)
 * against our WebSocketServer under its defaults and window and context-takeover variants.
 *
 * The page echoes text and binary messages of 200 B, 16 KiB and 1 MiB of repetitive JSON through
 * our server; then it asks our server for the burst: 1 MiB of text, a ping, 1 MiB of binary and a
 * close (1000), sent back to back, which must all arrive whole and in order (the ping's pong is
 * checked on our side, a page cannot see pings). Chromium handles windows of 8 bits both ways.
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import type { DeflateOptions } from '../../lib/index';
import {
  BURST_BINARY_SEED, BURST_REQUEST, BURST_SIZE, BURST_TEXT_SEED, describePayload, ECHO_CASES, type ExpectedParams, expectAgreed,
  jsonBinary, jsonText, payload, PING_PAYLOAD, startOurEchoServer,
} from './deflate-helpers';
import { within } from './helpers';
import { launchChromium } from '../support/chromium';

const PAGE_TIMEOUT_MS = 60_000;

interface PageMessage {
  kind: 'text' | 'binary';
  size: number;
  equal: boolean;
}

interface PageResult {
  agreed: string;
  echo: PageMessage[];
  burst: PageMessage[];
  close: { code: number; reason: string; wasClean: boolean };
}

/** Runs the page's side: echoes, then the burst our server sends. Payloads come from Node. */
function runPage(page: Page, url: string): Promise<PageResult> {
  const echo = ECHO_CASES.map(([kind, size, seed]) => {
    const data = payload(kind, size, seed);
    return { kind, data: typeof data === 'string' ? data : data.toString('base64') };
  });
  const burst = [jsonText(BURST_SIZE, BURST_TEXT_SEED), jsonBinary(BURST_SIZE, BURST_BINARY_SEED).toString('base64')];
  return page.evaluate(async ({ target, echoCases, burstExpected, burstRequest }) => {
    const fromBase64 = (text: string): Uint8Array<ArrayBuffer> => {
      const chars = atob(text);
      const out = new Uint8Array(new ArrayBuffer(chars.length));
      for (let i = 0; i < chars.length; i++) out[i] = chars.charCodeAt(i);
      return out;
    };
    const same = (received: unknown, sent: string | Uint8Array): boolean => {
      if (typeof sent === 'string') return received === sent;
      if (!(received instanceof ArrayBuffer) || received.byteLength !== sent.length) return false;
      const bytes = new Uint8Array(received);
      return bytes.every((b, i) => b === sent[i]);
    };
    type Seen = { kind: 'text' | 'binary'; size: number; equal: boolean };
    const describe = (received: unknown, sent: string | Uint8Array): Seen => ({
      kind: typeof received === 'string' ? 'text' : 'binary',
      size: typeof received === 'string' ? new TextEncoder().encode(received).length : (received as ArrayBuffer).byteLength,
      equal: same(received, sent),
    });

    const ws = new WebSocket(target);
    ws.binaryType = 'arraybuffer';
    const arrived: unknown[] = [];
    const waiting: Array<() => void> = [];
    let closed: { code: number; reason: string; wasClean: boolean } | undefined;
    const wake = (): void => { for (const w of waiting.splice(0)) w(); };
    ws.onmessage = (event: MessageEvent) => { arrived.push(event.data); wake(); };
    ws.onclose = (event: CloseEvent) => { closed = { code: event.code, reason: event.reason, wasClean: event.wasClean }; wake(); };
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => { resolve(); };
      ws.onerror = () => { reject(new Error('the WebSocket failed to open')); };
    });
    const next = (): Promise<unknown> => new Promise((resolve, reject) => {
      const look = (): void => {
        if (arrived.length > 0) resolve(arrived.shift());
        else if (closed !== undefined) reject(new Error(`closed with ${closed.code} while waiting for a message`));
        else waiting.push(look);
      };
      look();
    });

    const echo: Seen[] = [];
    for (const c of echoCases) {
      const sent = c.kind === 'text' ? c.data : fromBase64(c.data);
      ws.send(sent);
      echo.push(describe(await next(), sent));
    }
    ws.send(burstRequest);
    const expected = [burstExpected[0], fromBase64(burstExpected[1])];
    const burst: Seen[] = [];
    await new Promise<void>((resolve) => {
      const look = (): void => {
        if (closed !== undefined && arrived.length === 0) resolve();
        else if (arrived.length > 0) {
          const received = arrived.shift();
          burst.push(describe(received, expected[burst.length] ?? ''));
          look();
        } else waiting.push(look);
      };
      look();
    });
    return { agreed: ws.extensions, echo, burst, close: closed as { code: number; reason: string; wasClean: boolean } };
  }, { target: url, echoCases: echo, burstExpected: burst, burstRequest: BURST_REQUEST });
}

const CASES: Array<{ name: string; ours: boolean | DeflateOptions; agreed: ExpectedParams }> = [
  { name: 'agrees on plain permessage-deflate with our defaults', ours: true, agreed: {} },
  {
    name: 'agrees on no context takeover either way and 10- and 11-bit windows that we impose',
    ours: { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
    agreed: { server_no_context_takeover: true, client_no_context_takeover: true, server_max_window_bits: '10', client_max_window_bits: '11' },
  },
  { name: 'compresses within a server window of 8 (or 9) bits', ours: { serverMaxWindowBits: 8 }, agreed: { server_max_window_bits: ['8', '9'] } },
  { name: 'imposes a client window of 8 (or 9) bits', ours: { clientMaxWindowBits: 8 }, agreed: { client_max_window_bits: ['8', '9'] } },
];

describe('interop: permessage-deflate with headless Chromium (RFC 7692)', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  let page: Page;

  before(async () => {
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  });

  after(async () => {
    if (browser !== undefined) await within(browser.close(), 'Chromium to close', 30_000);
  });

  for (const c of CASES) {
    it(`${c.name}, echoing 200 B to 1 MiB both ways and taking 1 MiB messages with a ping and a close between them`, async () => {
      const server = await startOurEchoServer(c.ours);
      try {
        const connection = server.nextConnection();
        const result = await within(runPage(page, server.url), 'the page\'s exchange', PAGE_TIMEOUT_MS);
        const side = await connection;
        await within(side.closed, 'our side of the connection to close');
        expect(side.offered, 'what Chromium offered').to.equal('permessage-deflate; client_max_window_bits');
        expectAgreed(side.agreed, result.agreed, c.agreed);
        expect(result.echo).to.deep.equal(ECHO_CASES.map(([kind, size]) => ({ kind, size, equal: true })));
        expect(result.burst).to.deep.equal([
          { kind: 'text', size: BURST_SIZE, equal: true },
          { kind: 'binary', size: BURST_SIZE, equal: true },
        ]);
        expect(result.close).to.deep.equal({ code: 1000, reason: 'burst done', wasClean: true });
        expect(side.events).to.deep.equal([...ECHO_CASES.map(([kind, size, seed]) => describePayload(payload(kind, size, seed))), describePayload(BURST_REQUEST)]);
        expect(side.pongs, 'the pong Chromium answered our ping with').to.deep.equal([PING_PAYLOAD]);
        expect(side.close_code).to.equal(1000);
      } finally {
        await server.close();
      }
    });
  }
});
