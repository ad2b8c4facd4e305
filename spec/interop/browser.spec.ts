/**
 * Interop with a real browser: headless Debian Chromium, driven by playwright-core, against the
 * demo server over loopback. First the demo page as a user would use it, then the page's own
 * WebSocket for the length boundaries, binary data and the closing handshake.
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { startDemoServer, type DemoServer } from '../../examples/demo-server';
import { connect, type WebSocket as OurWebSocket } from '../../lib/index';
import { next, within } from './helpers';
import { launchChromium } from '../support/chromium';

const WAIT_MS = 15_000;

/** The text of the output list's items of one kind ('sent', 'received', 'info'). */
function items(page: Page, kind: string): Promise<string[]> {
  return page.locator(`#output li.${kind}`).allTextContents();
}

/** Waits until the output list has an item of `kind` whose text is exactly `text`. */
async function waitForItem(page: Page, kind: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([k, t]) => [...document.querySelectorAll(`#output li.${k}`)].some((li) => li.textContent === t),
    [kind, text] as const,
    { timeout: WAIT_MS },
  );
}

async function waitForStatus(page: Page, status: string): Promise<void> {
  await page.waitForFunction((s) => document.getElementById('status')?.textContent === s, status, { timeout: WAIT_MS });
}

describe('interop: headless Chromium against the demo server', () => {
  let demo: DemoServer;
  let browser: Browser | undefined;
  let page: Page;
  const opened: OurWebSocket[] = [];

  before(async function () {
    // Starting a browser can take a while on a loaded CI machine; this is headroom, not a limit
    // anything is measured against.
    this.timeout(90_000);
    demo = await within(startDemoServer({ port: 0, host: '127.0.0.1' }), 'the demo to listen');
    browser = await launchChromium();
    page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(demo.url);
    await waitForStatus(page, 'OPEN');
  });

  after(async function () {
    this.timeout(60_000);
    for (const ws of opened.splice(0)) ws.terminate();
    if (browser !== undefined) await within(browser.close(), 'Chromium to close', 30_000);
    if (demo !== undefined) await within(demo.close(), 'the demo to close');
  });

  it('loads the page, which connects to /echo', async () => {
    expect(await page.title()).to.equal('wsframe echo test');
    expect(await items(page, 'info')).to.include(`CONNECTED to ws://127.0.0.1:${demo.port}/echo`);
  });

  it('shows the echo of a message typed into the box and sent with the Send button', async () => {
    await page.fill('#message', 'hello from Chromium, é€𝄞');
    await page.click('#send');
    await waitForItem(page, 'received', 'RECEIVED: hello from Chromium, é€𝄞');
    expect(await items(page, 'sent')).to.include('SENT: hello from Chromium, é€𝄞');
  });

  it('shows a received message as text, never as markup', async () => {
    const attack = '<img src=x onerror=window.__xss=1>';
    const before = (await items(page, 'received')).length;
    await page.fill('#message', attack);
    await page.click('#send');
    await page.waitForFunction((n) => document.querySelectorAll('#output li.received').length > n, before, { timeout: WAIT_MS });
    expect((await items(page, 'received'))[before]).to.equal(`RECEIVED: ${attack}`);
    expect(await page.locator('#output img').count()).to.equal(0);
    expect(await page.evaluate(() => document.querySelectorAll('img').length)).to.equal(0);
    expect(await page.evaluate(() => typeof (window as unknown as { __xss?: unknown }).__xss)).to.equal('undefined');
  });

  it('echoes 200-byte and 100000-byte text and binary data to the page\'s own WebSocket, then closes cleanly with 1000', async () => {
    const accepted = next(demo.echoServer, 'connection');
    const url = `ws://127.0.0.1:${demo.port}/echo`;
    const result = page.evaluate(async (target) => {
      const ws = new WebSocket(target);
      ws.binaryType = 'arraybuffer';
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => { resolve(); };
        ws.onerror = () => { reject(new Error('the WebSocket failed to open')); };
      });
      const received: unknown[] = [];
      const waiting: Array<(data: unknown) => void> = [];
      ws.onmessage = (event: MessageEvent) => {
        const wake = waiting.shift();
        if (wake !== undefined) wake(event.data); else received.push(event.data);
      };
      const nextData = (): Promise<unknown> => (received.length > 0
        ? Promise.resolve(received.shift())
        : new Promise((resolve) => { waiting.push(resolve); }));
      const utf8 = (text: string): number => new TextEncoder().encode(text).length;

      // 'é' is 2 bytes: 200 bytes (16-bit length); '€' is 3: 99999 + 1 bytes (64-bit length).
      const text200 = 'é'.repeat(100);
      const text100k = '€'.repeat(33333) + '!';
      const bytes = new Uint8Array(100000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 0x80) & 0xff;

      ws.send(text200);
      const echo200 = await nextData();
      ws.send(text100k);
      const echo100k = await nextData();
      ws.send(bytes.buffer);
      const echoBinary = await nextData();
      const closed = new Promise<{ wasClean: boolean; code: number; reason: string }>((resolve) => {
        ws.onclose = (event) => { resolve({ wasClean: event.wasClean, code: event.code, reason: event.reason }); };
      });
      ws.close(1000, 'browser done');
      const binaryBack = echoBinary instanceof ArrayBuffer ? new Uint8Array(echoBinary) : undefined;
      return {
        text200: { bytes: utf8(text200), type: typeof echo200, equal: echo200 === text200 },
        text100k: { bytes: utf8(text100k), type: typeof echo100k, equal: echo100k === text100k },
        binary: {
          isArrayBuffer: binaryBack !== undefined,
          equal: binaryBack !== undefined && binaryBack.length === bytes.length && binaryBack.every((b, i) => b === bytes[i]),
        },
        close: await closed,
      };
    }, url);
    const [serverSide] = (await accepted) as [OurWebSocket];
    const seen: Array<{ isBinary: boolean; length: number }> = [];
    serverSide.on('message', (data: string | Buffer, isBinary: boolean) => {
      seen.push({ isBinary, length: typeof data === 'string' ? Buffer.byteLength(data) : data.length });
    });
    const serverClosed = next(serverSide, 'close');

    const got = await within(result, 'the page\'s WebSocket exchange');
    expect(got.text200).to.deep.equal({ bytes: 200, type: 'string', equal: true });
    expect(got.text100k).to.deep.equal({ bytes: 100000, type: 'string', equal: true });
    expect(got.binary).to.deep.equal({ isArrayBuffer: true, equal: true });
    expect(got.close).to.deep.include({ wasClean: true, code: 1000 });
    expect(await serverClosed).to.deep.equal([1000, 'browser done']);
    expect(seen).to.deep.equal([
      { isBinary: false, length: 200 },
      { isBinary: false, length: 100000 },
      { isBinary: true, length: 100000 },
    ]);
  });

  it('in chat mode, shows a message another client broadcasts, and its own reach the other client', async () => {
    await page.click('#disconnect');
    await waitForStatus(page, 'CLOSED');
    await page.check('input[name=endpoint][value="/chat"]');
    const joined = next(demo.chatServer, 'connection');
    await page.click('#connect');
    await waitForStatus(page, 'OPEN');
    await within(joined, 'the page to join the chat');
    await waitForItem(page, 'info', `CONNECTED to ws://127.0.0.1:${demo.port}/chat`);

    const other = await within(connect(`ws://127.0.0.1:${demo.port}/chat`), 'a second chat client');
    opened.push(other);
    const own = next(other, 'message');
    other.send('hello from node, <b>not bold</b>');
    // The sender gets its own broadcast too.
    expect((await own)[0]).to.equal('hello from node, <b>not bold</b>');
    await waitForItem(page, 'received', 'RECEIVED: hello from node, <b>not bold</b>');
    expect(await page.locator('#output b').count()).to.equal(0);

    const fromPage = next(other, 'message');
    await page.fill('#message', 'hello from the page');
    await page.click('#send');
    expect(await fromPage).to.deep.equal(['hello from the page', false]);
  });

  it('switching from chat to echo while connected reconnects the page to the echo endpoint', async () => {
    await waitForStatus(page, 'OPEN');
    const joined = next(demo.echoServer, 'connection');
    await page.check('input[name=endpoint][value="/echo"]');
    await within(joined, 'the page to reconnect to /echo');
    await waitForItem(page, 'info', `CONNECTED to ws://127.0.0.1:${demo.port}/echo`);
    await waitForStatus(page, 'OPEN');
    await page.fill('#message', 'back on echo');
    await page.click('#send');
    await waitForItem(page, 'received', 'RECEIVED: back on echo');
  });
});
