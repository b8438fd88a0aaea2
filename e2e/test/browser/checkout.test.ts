import t from 'tap';
import { runSimulator, startTerminalSystem } from '../terminals/till.js';
import { checkAccessibility, launchBrowser, openPage } from './harness.js';
import { checkOut, payWith, shopperWithCart, startStorefront, statusIs } from './storefront.js';

/**
 * The checkout in a real Chromium against the whole shop, live status over MQTT over WebSocket
 * at the shop's own /mqtt: a shopper registers, checks out, pays with the declining card, sees
 * why, pays with another and sees "paid" arrive; a terminal pays an order by its code and the
 * shopper's open page turns paid by itself.
 */
const browser = await launchBrowser(t);

t.test('check out, a declined card and why, another card, paid live', async (t) => {
  const shop = await startStorefront(t);
  const page = await openPage(t, browser, shop.url);
  const { page: tab } = page;
  const lamp = shop.products.find((product) => product.name === 'Lámpara de mesa Brisa')!;
  // A guest searches, adds to the cart, and registers from it: the cart comes along.
  await page.goto('/');
  await tab.fill('#search', 'Brisa');
  await tab.press('#search', 'Enter');
  await tab.waitForSelector(`[data-product="${lamp.id}"]`);
  await tab.click(`[data-product="${lamp.id}"] a`);
  await tab.waitForSelector('#add-to-cart');
  await tab.fill('#quantity', '2');
  await tab.click('#add-to-cart button[type="submit"]');
  await tab.waitForSelector('.toast:has-text("Added to your cart")');
  await page.goto('/cart');
  await tab.click('text=create an account');
  await tab.fill('#name', 'Lucía Compradora');
  await tab.fill('#email', `lucia-${crypto.randomUUID()}@example.com`);
  await tab.fill('#password', 'correct horse battery staple');
  await tab.click('#register-form button[type="submit"]');
  await tab.waitForURL(/\/cart$/);
  await tab.waitForSelector('#to-checkout');

  // The checkout form's own checks, then the order.
  await page.goto('/checkout');
  await tab.waitForSelector('#checkout-total');
  t.equal(await tab.textContent('#checkout-total'), '€49.00');
  await tab.click('#checkout-form button[type="submit"]');
  t.match(await tab.textContent('#ship-name-problem'), 'Enter the name to ship to.');
  await checkAccessibility(t, page, 'the checkout with its problems');
  const orderId = await checkOut(page);

  await statusIs(page, 'awaiting_payment');
  await tab.waitForSelector('#live-state[data-state="live"]');
  t.match(await tab.textContent('#deadline'), /Pay within \d+:\d\d/, 'the countdown');
  t.match(await tab.textContent('#pay-code'), /^[0-9A-Z]{4}-[0-9A-Z]{4}$/, 'the pay code');
  await tab.waitForSelector('#pay-qr[src^="data:image/png;base64,"]');
  t.pass('its QR code, drawn in the page');
  t.match(await tab.textContent('#card-hint'), '4242 4242 4242 4242 (approved)');
  await checkAccessibility(t, page, 'the order awaiting payment');

  // The form's checks: a typo in the number, a past expiry, a short code.
  await tab.fill('#card-number', '4242 4242 4242 4241');
  await tab.fill('#card-expiry', '01/20');
  await tab.fill('#card-cvc', '12');
  await tab.click('#pay-form button[type="submit"]');
  t.match(await tab.textContent('#card-number-problem'), 'This card number has a typo.');
  t.match(await tab.textContent('#card-expiry-problem'), 'This card has expired.');
  t.match(await tab.textContent('#card-cvc-problem'), 'The 3 digits on the back.');

  page.allowFailedResponse(`/api/orders/${orderId}/payments`, 402);
  await payWith(page, '4000 0000 0000 0002');
  await tab.waitForSelector('#pay-notice:has-text("Payment declined: the card was declined")');
  await statusIs(page, 'payment_failed');
  t.ok(await tab.isVisible('#pay-form'), 'another card can be tried');

  await payWith(page, '4242 4242 4242 4242');
  await statusIs(page, 'paid');
  t.notOk(await tab.isVisible('#pay-form'), 'nothing more to pay');
  t.match(await tab.textContent('#timeline'), /Payment failed[\s\S]*Paid/);
  t.match(
    await tab.textContent('#payments'),
    /declined \(the card was declined\)[\s\S]*approved, visa ending 4242/,
  );
  const paid = await shop.system.db.orders('orders').where({ id: orderId }).first();
  t.equal(paid.status, 'paid', 'paid in orders’ own database');

  // My orders lists it, paid.
  await page.goto('/orders');
  await tab.waitForSelector(`[data-order="${orderId}"] [data-status="paid"]`);
  await checkAccessibility(t, page, 'my orders');
});

t.test('a terminal pays the order by its code: the shopper’s open page turns paid', async (t) => {
  let terminalSystem: Awaited<ReturnType<typeof startTerminalSystem>> | undefined;
  const shop = await startStorefront(t, {
    start: async (options) => (terminalSystem = await startTerminalSystem(t, options)),
  });
  const page = await openPage(t, browser, shop.url);
  const { page: tab } = page;
  const atlas = shop.products.find((product) => product.name === 'Atlas de estrellas')!;
  await shopperWithCart(shop, page, atlas.id);
  await checkOut(page);
  await statusIs(page, 'awaiting_payment');
  await tab.waitForSelector('#live-state[data-state="live"]');
  const code = await tab.textContent('#pay-code');

  const terminal = await terminalSystem!.registerTerminal('Caja 1');
  const paying = runSimulator(['pay', '--code', code!], {
    ...terminalSystem!.env,
    TERMINAL_ID: terminal.id,
    TERMINAL_SECRET: terminal.secret,
  });
  const done = await paying.finished;
  t.equal(done.code, 0, 'the terminal approved it', { stderr: done.stderr });
  // Nothing done on the page: the status event arrives over its live connection.
  await statusIs(page, 'paid');
  t.notOk(await tab.isVisible('#pay-form'));
});
