import { randomUUID } from 'node:crypto';
import t from 'tap';
import { eventually } from '@mercado/common/testing';
import { pastExpiry } from '@mercado/orders/testing';
import { launchBrowser, openPage } from './harness.js';
import { checkOut, payWith, shopperWithCart, startStorefront, statusIs } from './storefront.js';

/**
 * The order page's live connection in a real Chromium: what changes an order without the
 * shopper doing anything reaches the open page over MQTT (expiry, a refund), through a broker
 * restart (the indicator says reconnecting, then live) and through a renewed access token.
 */
const browser = await launchBrowser(t);
const shop = await startStorefront(t);
const { system } = shop;

// The page-side globals of the functions sent to the page (tests compile without the DOM).
declare const localStorage: {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
};

t.test('an unpaid order cancelled by its shopper: its stock released', async (t) => {
  const page = await openPage(t, browser, shop.url);
  const blanket = shop.products.find((product) => product.name === 'Manta de lana Estepa')!;
  await shopperWithCart(shop, page, blanket.id, 2);
  const orderId = await checkOut(page);
  await statusIs(page, 'awaiting_payment');
  page.page.once('dialog', (dialog) => void dialog.accept());
  await page.page.click('#cancel-order');
  await statusIs(page, 'cancelled');
  t.notOk(await page.page.isVisible('#pay-form'), 'nothing to pay');
  t.notOk(await page.page.isVisible('#cancel-order'), 'nothing to cancel');
  const settled = await system.settled(orderId, ['cancelled']);
  t.equal(settled.reservation, 'released', 'the stock back on sale');
});

t.test('an unpaid order expires on screen when its deadline passes', async (t) => {
  const page = await openPage(t, browser, shop.url);
  const novel = shop.products.find((product) => product.name === 'Novela El faro')!;
  await shopperWithCart(shop, page, novel.id);
  const orderId = await checkOut(page);
  await statusIs(page, 'awaiting_payment');
  await page.page.waitForSelector('#live-state[data-state="live"]');
  t.ok(await page.page.isVisible('#pay-form'));
  // The payment window's end, as if it had gone by (the sweeper closes the order).
  await pastExpiry(system.db.orders, [orderId]);
  await statusIs(page, 'expired');
  t.notOk(await page.page.isVisible('#pay-form'), 'nothing to pay any more');
  t.notOk(await page.page.isVisible('#pay-code'), 'no code to pay at a shop either');
  t.match(await page.page.textContent('#timeline'), 'Expired');
});

t.test('an admin refunds part of a paid order: the open page shows it', async (t) => {
  const page = await openPage(t, browser, shop.url);
  const lamp = shop.products.find((product) => product.name === 'Lámpara colgante Cielo')!;
  await shopperWithCart(shop, page, lamp.id);
  const orderId = await checkOut(page);
  await payWith(page, '4242 4242 4242 4242');
  await statusIs(page, 'paid');
  const refund = await system.shop.orders.call('POST', `/api/orders/${orderId}/refund`, {
    identity: { userId: randomUUID(), roles: ['admin'] },
    body: { amountMinor: 2_500, reason: 'damaged' },
    headers: { 'idempotency-key': randomUUID() },
  });
  t.equal(refund.status, 202, 'the refund on its way to payments', { body: refund.body });
  await statusIs(page, 'partially_refunded');
  await page.page.waitForSelector('#refunds [data-refund="succeeded"]');
  t.match(await page.page.textContent('#refunds'), '€25.00 — damaged (refunded)');
  t.equal(await page.page.textContent('#order-refunded'), '€25.00');
});

t.test(
  'the live connection: reconnecting while the broker is away, live again after it, and on a renewed token',
  async (t) => {
    const page = await openPage(t, browser, shop.url);
    const { page: tab } = page;
    const guide = shop.products.find((product) => product.name === 'Guía de jardines')!;
    await shopperWithCart(shop, page, guide.id);
    const orderId = await checkOut(page);
    await tab.waitForSelector('#live-state[data-state="live"]');

    await system.stopBroker();
    await tab.waitForSelector('#live-state[data-state="connecting"]');
    t.match(await tab.textContent('#live-state'), 'Reconnecting');
    await system.startBroker();
    await tab.waitForSelector('#live-state[data-state="live"]');

    // Another tab renews the session (its access token about to expire): this page's live
    // connection signs in again with the new token, and still hears the order.
    const session = async () =>
      JSON.parse((await tab.evaluate(() => localStorage.getItem('mercado.session')))!) as {
        accessToken: string;
        user: { id: string };
      };
    const before = await session();
    const browserClients = () =>
      system.broker.clientIds().filter((id) => id.startsWith(`web-${before.user.id}-`));
    const [connected] = browserClients();
    const other = await page.context.newPage();
    await other.goto(`${shop.url}/orders`);
    await other.evaluate(() => {
      const stored = JSON.parse(localStorage.getItem('mercado.session')!) as {
        accessExpiresAt: number;
      };
      stored.accessExpiresAt = 0;
      localStorage.setItem('mercado.session', JSON.stringify(stored));
    });
    await other.reload();
    await other.waitForSelector('[data-order]');
    const after = await session();
    t.not(after.accessToken, before.accessToken, 'a new token');
    const renewed = await eventually('the page connected again', () =>
      browserClients().find((id) => id !== connected),
    );
    await system.broker.subscribed(renewed, `orders/${after.user.id}/${orderId}/status`);
    await other.close();
    await pastExpiry(system.db.orders, [orderId]);
    await statusIs(page, 'expired');
  },
);
