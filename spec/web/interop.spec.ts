/**
 * The web APIs against the references: the isomorphic scenarios (spec/web/scenarios.ts) run as
 * they are in Node against wsframe/web, in headless Chromium's page (the function's text is
 * evaluated there) and against undici's WebSocket, all talking to the same peer. What a script
 * can observe must be the same.
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { WebSocket as UndiciWebSocket } from 'undici';
import { WebSocket } from '../../lib/web/websocket';
import { WebSocketError } from '../../lib/web/websocket-error';
import { WebSocketStream } from '../../lib/web/websocket-stream';
import { within } from '../interop/helpers';
import { startScenarioPeer, type ScenarioPeer } from './peer';
import {
  type ScenarioConfig, type WebSocketClass, type WebSocketErrorClass, webSocketScenarios, type WebSocketStreamClass,
  webSocketStreamScenarios,
} from './scenarios';
import { launchChromium } from '../support/chromium';

const SCENARIO_MS = 90_000;

/**
 * Where undici 7 departs from the standard and from Chromium (ours follows those two):
 * - `drop`: a connection lost without a close frame fires `error` before `close`; the standard
 *   fires `error` only when the connection was failed, and Chromium fires none.
 * - `closeWhileConnecting`: `error` and `close` are dispatched inside `close()`, not afterwards.
 * - `sendAfterClose`: `bufferedAmount` does not grow with sends after `close()`.
 * - `handlerOrder`: an `onmessage` replaced during a dispatch is not called by the next one.
 */
const UNDICI_DEPARTURES: readonly string[] = ['drop', 'closeWhileConnecting', 'sendAfterClose', 'handlerOrder'];

/** Evaluates a scenario function's own text in the page, with the page's classes. */
function inPage(page: Page, expression: string): Promise<Record<string, unknown>> {
  return within(page.evaluate(expression) as Promise<Record<string, unknown>>, 'the scenarios in Chromium', SCENARIO_MS);
}

describe('interop: wsframe/web against Chromium and undici, same scenarios', function () {
  this.timeout(4 * SCENARIO_MS);
  let peer: ScenarioPeer;
  let config: ScenarioConfig;
  let browser: Browser | undefined;
  let page: Page;

  before(async function () {
    this.timeout(90_000);
    peer = await startScenarioPeer();
    config = { base: peer.base, refused: peer.refused };
    browser = await launchChromium();
    page = await browser.newPage();
  });

  after(async function () {
    this.timeout(60_000);
    if (browser !== undefined) await within(browser.close(), 'Chromium to close', 30_000);
    if (peer !== undefined) await peer.close();
  });

  describe('WebSocket', () => {
    let ours: Record<string, unknown>;

    before(async function () {
      this.timeout(SCENARIO_MS);
      ours = await within(webSocketScenarios(WebSocket as unknown as WebSocketClass, config), 'the scenarios in Node', SCENARIO_MS);
    });

    it('observes exactly what Chromium\'s page WebSocket observes', async () => {
      const chromiumResults = await inPage(page, `(${webSocketScenarios.toString()})(WebSocket, ${JSON.stringify(config)})`);
      expect(Object.keys(ours)).to.deep.equal(Object.keys(chromiumResults));
      for (const key of Object.keys(chromiumResults)) expect(ours[key], key).to.deep.equal(chromiumResults[key]);
    });

    it('observes what undici\'s WebSocket observes, where undici follows the standard', async () => {
      const undici = await within(webSocketScenarios(UndiciWebSocket as unknown as WebSocketClass, config), 'the scenarios on undici', SCENARIO_MS);
      expect(Object.keys(ours)).to.deep.equal(Object.keys(undici));
      const compared = Object.keys(undici).filter((key) => !UNDICI_DEPARTURES.includes(key));
      expect(compared.length).to.be.above(10);
      for (const key of compared) expect(ours[key], key).to.deep.equal(undici[key]);
    });
  });

  describe('WebSocketStream', () => {
    it('observes exactly what Chromium\'s WebSocketStream observes', async () => {
      expect(await page.evaluate('typeof WebSocketStream'), 'Chromium 124+ ships WebSocketStream').to.equal('function');
      const chromiumResults = await inPage(page,
        `(${webSocketStreamScenarios.toString()})(WebSocketStream, WebSocketError, ${JSON.stringify(config)})`);
      const ours = await within(webSocketStreamScenarios(
        WebSocketStream as unknown as WebSocketStreamClass, WebSocketError as unknown as WebSocketErrorClass, config,
      ), 'the scenarios in Node', SCENARIO_MS);
      expect(Object.keys(ours)).to.deep.equal(Object.keys(chromiumResults));
      for (const key of Object.keys(chromiumResults)) expect(ours[key], key).to.deep.equal(chromiumResults[key]);
    });
  });
});
