import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Headless Chromium for the developer commands that load the storefront (screenshots, its
 * benchmark): Debian's (`CHROMIUM_PATH`, or /usr/bin/chromium), without its background
 * connections to Google's services, which this machine's closed network refuses.
 */
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: apt-get install -y chromium`);
  }
  return chromium.launch({ executablePath, headless: true, args: chromiumArgs });
}
