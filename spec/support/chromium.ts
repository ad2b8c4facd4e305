/**
 * Debian's headless Chromium for the browser specs, driven by playwright-core (browsers cannot be
 * downloaded here). A missing binary fails the spec, never skips it.
 */
import * as fs from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium; .ci/run does this)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    ],
    // Starting a browser can take a while on a loaded CI machine: headroom, not a measurement.
    timeout: 60_000,
  });
}
