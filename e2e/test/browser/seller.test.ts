import t from 'tap';
import type { Shopper } from '../checkout/system.js';
import { checkAccessibility, launchBrowser, openPage, type TestPage } from './harness.js';
import { startStorefront } from './storefront.js';

/**
 * The seller's back office in a real Chromium against the whole shop: a seller (registered
 * through the API, signed in through the page) lists a product (refused inline first), edits its
 * price, stocks it per region, sees it low on stock, takes another off sale; sees the orders of
 * their items (placed and paid by shoppers through the API), ships and delivers one and refunds
 * part of another. Every page is checked for console errors, requests to other hosts (harness.ts)
 * and serious accessibility violations.
 */
const browser = await launchBrowser(t);
const shop = await startStorefront(t);
const { system } = shop;
const password = 'correct horse battery staple';

// The page's globals that the functions run in the page use (tests compile without the DOM
// library).
declare const document: { documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number };

/** A seller account, registered through the API. */
async function registerSeller(name: string): Promise<Shopper & { password: string }> {
  const email = `${name.toLowerCase()}-${crypto.randomUUID()}@e2e.example`;
  const answer = await system.api(undefined, 'POST', '/api/auth/register', {
    body: { email, password, name, roles: ['customer', 'seller'] },
  });
  if (answer.status !== 201) throw new Error(`registering gave ${answer.status}`);
  return { userId: answer.body.user.id, email, accessToken: answer.body.accessToken, password };
}

/** Signs in through the sign-in page, which then goes to `next`. */
async function signIn(page: TestPage, who: { email: string }, next: string): Promise<void> {
  await page.goto(`/signin?next=${encodeURIComponent(next)}`);
  await page.page.fill('#email', who.email);
  await page.page.fill('#password', password);
  await page.page.click('#signin-form button[type="submit"]');
  await page.page.waitForURL((url) => url.pathname === next);
}

const idle = (page: TestPage, selector: string) =>
  page.page.waitForSelector(`${selector}[aria-busy="false"]`, { state: 'attached' });

const catalogNames = async (page: TestPage, q: string) => {
  await page.goto(`/?q=${encodeURIComponent(q)}`);
  await idle(page, '#results');
  return page.page.locator('[data-product] .card-title').allTextContents();
};

t.test(
  'a seller adds a product (refused inline first), edits its price, stocks it, sees it low, takes another off sale',
  async (t) => {
    const seller = await registerSeller('Sofia');
    const page = await openPage(t, browser, shop.url);
    const { page: tab } = page;
    await signIn(page, seller, '/seller');
    await idle(page, '#products');
    t.match(await tab.textContent('#no-products'), 'no products yet');
    await idle(page, '#low-stock');
    await checkAccessibility(t, page, 'my products, none yet');

    // A new product: the page's own checks first, next to each field; nothing is sent.
    await tab.click('#add-product');
    await tab.waitForURL(/\/seller\/product$/);
    await tab.waitForSelector('#product-form');
    await tab.fill('#product-name', 'Farol de jardín Selva');
    await tab.fill('#product-sku', 'FAROL 1');
    await tab.fill('#product-priceMinor', '0');
    await tab.selectOption('#product-categoryId', { label: 'Hogar › Lámparas' });
    await tab.fill('#product-description', 'Farol solar para el jardín.');
    await tab.click('#add-image');
    await tab.fill('#image-0', '/images/demo/jardin.svg');
    await tab.press('#image-0', 'Tab');
    await tab.waitForSelector('#image-list img[src="/images/demo/jardin.svg"]');
    await tab.click('#add-image');
    await tab.fill('#image-1', 'ftp://elsewhere/farol.png');
    await tab.click('#product-form button[type="submit"]');
    t.ok(await tab.locator('#product-sku.is-invalid').isVisible(), 'the SKU is refused');
    t.match(await tab.textContent('#product-sku-problem'), 'no spaces');
    t.match(await tab.textContent('#product-priceMinor-problem'), 'A price above zero');
    t.match(await tab.textContent('#image-1-problem'), 'http(s) URL');
    t.equal(
      await tab.evaluate(() => (globalThis as any).document.activeElement.id),
      'product-sku',
      'the first field at fault has the focus',
    );
    await checkAccessibility(t, page, 'the product form with its problems');
    await tab.fill('#product-sku', 'FAROL-1');
    await tab.fill('#product-priceMinor', '19.90');
    await tab.click('#image-list li:nth-child(2) button');
    await tab.click('#product-form button[type="submit"]');
    await tab.waitForURL(/\/seller\/product\?id=/);
    const id = new URL(tab.url()).searchParams.get('id')!;
    await tab.waitForSelector('#stock-table');
    t.notOk(await tab.locator('.is-invalid').count(), 'no problem left');
    t.match(await tab.textContent('#product-title'), 'Edit Farol de jardín Selva');
    t.same(await catalogNames(page, 'Selva'), ['Farol de jardín Selva'], 'in the catalog search');

    // Its price changed, and its stock set in a region, with a low-stock threshold.
    await page.goto(`/seller/product?id=${id}`);
    await idle(page, '#editor');
    t.equal(await tab.inputValue('#product-priceMinor'), '19.90');
    t.equal(await tab.inputValue('#product-sku'), 'FAROL-1');
    await tab.fill('#product-priceMinor', '24.50');
    await tab.click('#product-form button[type="submit"]');
    await tab.waitForSelector('#current-price >> text=€24.50');
    await idle(page, '#stock-levels');
    await tab.selectOption('#stock-region', 'south');
    await tab.fill('#stock-onHand', '7');
    await tab.click('#stock-form button[type="submit"]');
    t.match(await tab.textContent('#stock-reason-problem'), 'Say why', 'a reason is asked for');
    await tab.fill('#stock-reason', 'Stock count');
    await tab.fill('#stock-lowStockThreshold', '10');
    await tab.click('#stock-form button[type="submit"]');
    await tab.waitForSelector('#stock-table tr[data-region="south"] td[data-on-hand] >> text=7');
    t.match(await tab.textContent('#stock-table caption'), '10');
    await checkAccessibility(t, page, 'a product with its stock');

    // The shopper's product page shows the new price and the stock in the region.
    await page.goto(`/product?id=${id}`);
    await idle(page, '#product');
    t.equal(await tab.textContent('#price'), '€24.50');
    t.match(await tab.textContent('#stock tr[data-region="south"]'), '7');

    // The low-stock list: 7 available in the south, under 10.
    await page.goto('/seller');
    await idle(page, '#low-stock');
    const low = tab.locator(`#low-stock-table tr[data-low-stock="${id}"][data-region="south"]`);
    t.match(await low.textContent(), 'Farol de jardín Selva');
    t.match(await low.textContent(), '7');
    t.match(await low.textContent(), '10');
    await checkAccessibility(t, page, 'my products and the low-stock list');

    // A second product with the same SKU: the catalog's refusal, next to the SKU.
    await tab.click('#add-product');
    await tab.waitForSelector('#product-form');
    page.allowFailedResponse('/api/products', 409);
    await tab.fill('#product-name', 'Farol de pared Bruma');
    await tab.fill('#product-sku', 'FAROL-1');
    await tab.fill('#product-priceMinor', '12');
    await tab.click('#product-form button[type="submit"]');
    await tab.waitForSelector('#product-sku.is-invalid');
    t.match(await tab.textContent('#product-sku-problem'), /SKU|sku/, 'sku_taken, inline');
    await tab.fill('#product-sku', 'FAROL-2');
    await tab.click('#product-form button[type="submit"]');
    await tab.waitForURL(/\/seller\/product\?id=/);
    const bruma = new URL(tab.url()).searchParams.get('id')!;

    // Taken off sale: it leaves the catalog, and stays in the seller's list.
    await page.goto('/seller');
    await idle(page, '#products');
    const row = tab.locator(`tr[data-product="${bruma}"]`);
    await row.locator('[data-action="deactivate"]').click();
    await tab.waitForSelector(`tr[data-product="${bruma}"][data-active="false"]`);
    t.match(await tab.locator(`tr[data-product="${bruma}"]`).textContent(), 'Not on sale');
    t.same(await catalogNames(page, 'Bruma'), [], 'no longer in the catalog');
    await page.goto('/seller');
    await idle(page, '#products');
    t.equal(
      await tab.getAttribute(`tr[data-product="${bruma}"]`, 'data-active'),
      'false',
      'still listed for its seller, off sale',
    );
    t.equal(await tab.getAttribute(`tr[data-product="${id}"]`, 'data-active'), 'true');
  },
);

t.test(
  'a seller sees the orders of their items: ships and delivers one, refunds part of another',
  async (t) => {
    const seller = await registerSeller('Mateo');
    const made = await system.api(seller, 'POST', '/api/products', {
      body: { sku: 'BANCO-1', name: 'Banco de roble Tierra', priceMinor: 4_000, currency: 'EUR' },
    });
    t.equal(made.status, 201);
    const bench = made.body;
    const stocked = await system.api(seller, 'PUT', `/api/inventory/${bench.id}/north`, {
      body: { onHand: 10, reason: 'first count' },
    });
    t.equal(stocked.status, 200);
    const shopper = await system.register('Lucía');
    const first = await system.buyAndPay(shopper, undefined, {
      lines: [{ productId: bench.id, quantity: 1 }],
    });
    const second = await system.buyAndPay(shopper, undefined, {
      lines: [{ productId: bench.id, quantity: 2 }],
    });
    await system.settled(first.order.id, ['paid']);
    await system.settled(second.order.id, ['paid']);
    // Another seller's order is never shown.
    const other = await system.buyAndPay(shopper);
    await system.settled(other.order.id, ['paid']);

    const page = await openPage(t, browser, shop.url);
    const { page: tab } = page;
    await signIn(page, seller, '/seller');
    await tab.click('nav[aria-label="Back office"] >> text=Orders');
    await tab.waitForURL(/\/seller\/orders$/);
    await idle(page, '#orders');
    t.same(
      await tab
        .locator('[data-order]')
        .evaluateAll((cards) =>
          cards.map((card) => (card as unknown as { dataset: { order: string } }).dataset.order),
        ),
      [second.order.id, first.order.id],
      'exactly the orders of their items, newest first',
    );
    const card = (orderId: string) => tab.locator(`[data-order="${orderId}"]`);
    t.match(await card(first.order.id).textContent(), 'Banco de roble Tierra');
    t.match(await card(first.order.id).textContent(), 'Madrid', 'where it goes');
    await checkAccessibility(t, page, 'the orders of my items');

    await card(first.order.id).locator('[data-action="ship"]').click();
    await tab.waitForSelector(`[data-order="${first.order.id}"] [data-status="shipped"]`);
    await card(first.order.id).locator('[data-action="deliver"]').click();
    await tab.waitForSelector(`[data-order="${first.order.id}"] [data-status="delivered"]`);
    t.equal(await card(first.order.id).locator('[data-action]').count(), 0, 'nothing more to do');

    // Part of the second order refunded: more than it cost is refused inline first.
    const refundForm = card(second.order.id).locator('form[data-refund]');
    await card(second.order.id).locator('summary').click();
    await refundForm.locator('input[name="amountMinor"]').fill('100');
    await refundForm.locator('select[name="reason"]').selectOption('damaged');
    await refundForm.locator('button[type="submit"]').click();
    t.match(
      await refundForm.locator('.invalid-feedback').first().textContent(),
      'up to 80.00',
      'not more than the order',
    );
    await refundForm.locator('input[name="amountMinor"]').fill('25');
    await refundForm.locator('button[type="submit"]').click();
    await tab.waitForSelector(`[data-order="${second.order.id}"] [data-refund-pending]`);
    await checkAccessibility(t, page, 'an order with its refund pending');
    // The refund travels to payments over MQTT and back: wait for the order to have moved.
    await system.settled(second.order.id, ['partially_refunded']);
    await tab.click('#refresh-orders');
    await tab.waitForSelector(
      `[data-order="${second.order.id}"] [data-status="partially_refunded"]`,
    );
    t.match(await card(second.order.id).locator('[data-totals]').textContent(), 'refunded €25.00');
    const order = await system.order(shopper, second.order.id);
    t.match(order, { status: 'partially_refunded', refundedMinor: 2_500 });

    // By status, from the filter.
    await tab.selectOption('#status-filter', 'delivered');
    await tab.waitForURL(/status=delivered/);
    await idle(page, '#orders');
    t.equal(await tab.locator('[data-order]').count(), 1);
    t.equal(await tab.locator(`[data-order="${first.order.id}"]`).count(), 1);
  },
);

t.test('on a phone the back office fits; a shopper and a guest are told or sent', async (t) => {
  const seller = await registerSeller('Pilar');
  const phone = await openPage(t, browser, shop.url, { viewport: 'phone' });
  await signIn(phone, seller, '/seller/orders');
  await idle(phone, '#orders');
  for (const path of ['/seller/orders', '/seller', '/seller/product']) {
    await phone.goto(path);
    await phone.page.waitForSelector('main [aria-busy="false"]', { state: 'attached' });
    t.ok(
      await phone.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      `${path}: no sideways scrolling`,
    );
  }
  await checkAccessibility(t, phone, 'the product form on a phone');

  const shopper = await system.register('Elena');
  const page = await openPage(t, browser, shop.url);
  await page.goto('/seller');
  await page.page.waitForURL(/\/signin\?next=%2Fseller$/);
  await page.page.fill('#email', shopper.email);
  await page.page.fill('#password', password);
  await page.page.click('#signin-form button[type="submit"]');
  await page.page.waitForURL(/\/seller$/);
  await idle(page, '#products');
  t.match(await page.page.textContent('#products'), 'This page is for sellers');
  await checkAccessibility(t, page, 'the back office for a shopper');
});
