import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './chromium.js';
import { freePort } from './database-server.js';
import { repoRoot } from './local-state.js';

/**
 * `npm run screenshots`: the storefront's main pages, rendered by headless Chromium at a phone's
 * and a desktop's width into `docs/screenshots/` (the README shows them). By default it runs the
 * shop as `npm start` does — in a data directory of its own, on free ports, with the demo shop —
 * and stops it afterwards. With SCREENSHOTS_URL it photographs a shop already running there
 * instead, signing in as SCREENSHOTS_SHOPPER, SCREENSHOTS_SELLER and SCREENSHOTS_ADMIN
 * (`email:password` each). SCREENSHOTS_DIR writes elsewhere. Traffic goes to that one origin only.
 */
interface Account {
  email: string;
  password: string;
}

interface Shop {
  url: string;
  shopper: Account;
  seller: Account;
  admin: Account;
  stop(): Promise<void>;
}

const widths = {
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
  desktop: { viewport: { width: 1366, height: 900 }, isMobile: false, hasTouch: false },
} as const;

function account(setting: string | undefined, name: string): Account {
  const at = setting?.indexOf(':') ?? -1;
  if (!setting || at < 1) throw new Error(`${name} must be email:password`);
  return { email: setting.slice(0, at), password: setting.slice(at + 1) };
}

/** The shop as `npm start` runs it, in a throwaway data directory, until stop(). */
async function startShop(): Promise<Shop> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mercado-screenshots-'));
  const [port, mqttPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(repoRoot, 'scripts', 'dist', 'start.js')],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        MERCADO_DATA_DIR: dataDir,
        PORT: String(port),
        MQTT_PORT: String(mqttPort),
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const lines: string[] = [];
  const running = new Promise<string>((resolve, reject) => {
    for (const output of [child.stdout!, child.stderr!]) {
      createInterface({ input: output }).on('line', (line) => {
        lines.push(line);
        const match = /^Mercado is running at (\S+)/.exec(line);
        if (match) resolve(match[1]!);
      });
    }
    void exited.then(() => reject(new Error(`the shop stopped:\n${lines.slice(-20).join('\n')}`)));
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const url = await running;
    const secrets = JSON.parse(await readFile(path.join(dataDir, 'secrets.json'), 'utf8')) as {
      adminEmail: string;
      adminPassword: string;
      demoPassword: string;
    };
    return {
      url,
      shopper: { email: 'compras@mercado.local', password: secrets.demoPassword },
      seller: { email: 'ventas@tecnonorte.example', password: secrets.demoPassword },
      admin: { email: secrets.adminEmail, password: secrets.adminPassword },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function signIn(page: Page, url: string, who: Account): Promise<void> {
  await page.goto(`${url}/signin`);
  await page.fill('#email', who.email);
  await page.fill('#password', who.password);
  await page.click('#signin-form button[type="submit"]');
  await page.waitForURL(`${url}/`);
}

/** Every page's network quiet and its skeletons gone: what a shopper sees once it has loaded. */
async function settled(page: Page): Promise<void> {
  await page.waitForLoadState('networkidle');
  await page.locator('[aria-busy="true"]').first().waitFor({ state: 'detached' });
}

async function capture(browser: Browser, shop: Shop, outDir: string): Promise<string[]> {
  const written: string[] = [];
  for (const [width, options] of Object.entries(widths)) {
    const context = await browser.newContext({ ...options, locale: 'es-ES' });
    // Nothing but the shop's own origin.
    const origin = new URL(shop.url).origin;
    await context.route('**/*', (route) =>
      new URL(route.request().url()).origin === origin ? route.continue() : route.abort(),
    );
    const page = await context.newPage();
    const shot = async (name: string, pathname: string, ready?: string) => {
      await page.goto(`${shop.url}${pathname}`);
      if (ready) await page.waitForSelector(ready);
      await settled(page);
      const file = path.join(outDir, `${name}-${width}.png`);
      await page.screenshot({ path: file, type: 'png' });
      written.push(file);
    };
    await shot('catalog', '/', '[data-product]');
    const productHref = await page.getAttribute('[data-product] a', 'href');
    await shot('product', productHref!, '#add-to-cart');
    await signIn(page, shop.url, shop.shopper);
    await page.goto(`${shop.url}${productHref!}`);
    await page.click('#add-to-cart button[type="submit"]');
    await page.waitForSelector('.toast');
    await shot('cart', '/cart', '#cart-lines');
    await shot('checkout', '/checkout', '#checkout-total');
    await page.fill('#ship-name', 'Compras Demo');
    await page.fill('#ship-line1', 'Calle Mayor 1');
    await page.fill('#ship-city', 'Madrid');
    await page.fill('#ship-postal', '28013');
    await page.fill('#ship-country', 'ES');
    await page.click('#checkout-form button[type="submit"]');
    await page.waitForURL(/\/order\?id=/);
    await shot('order', new URL(page.url()).pathname + new URL(page.url()).search, '#pay-qr[src]');
    await shot('orders', '/orders', '[data-order]');
    await page.click('#site-header >> text=Sign out');
    await page.waitForURL(`${shop.url}/`);
    await signIn(page, shop.url, shop.seller);
    await shot('seller', '/seller');
    await page.click('#site-header >> text=Sign out');
    await page.waitForURL(`${shop.url}/`);
    await signIn(page, shop.url, shop.admin);
    await shot('admin', '/admin');
    await shot('admin-terminals', '/admin/terminals');
    await context.close();
  }
  return written;
}

async function main(): Promise<void> {
  const outDir = path.resolve(
    process.env.SCREENSHOTS_DIR ?? path.join(repoRoot, 'docs', 'screenshots'),
  );
  await mkdir(outDir, { recursive: true });
  const given = process.env.SCREENSHOTS_URL;
  const shop: Shop = given
    ? {
        url: given.replace(/\/$/, ''),
        shopper: account(process.env.SCREENSHOTS_SHOPPER, 'SCREENSHOTS_SHOPPER'),
        seller: account(process.env.SCREENSHOTS_SELLER, 'SCREENSHOTS_SELLER'),
        admin: account(process.env.SCREENSHOTS_ADMIN, 'SCREENSHOTS_ADMIN'),
        stop: async () => undefined,
      }
    : await startShop();
  const browser = await launchChromium();
  try {
    const written = await capture(browser, shop, outDir);
    for (const file of written) process.stdout.write(`${path.relative(process.cwd(), file)}\n`);
  } finally {
    await browser.close();
    await shop.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`screenshots: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
