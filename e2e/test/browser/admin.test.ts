import { randomUUID } from 'node:crypto';
import t from 'tap';
import { startStorefront } from './storefront.js';
import { connectMqtt } from '@mercado/common/mqtt';
import { eventually } from '@mercado/common/testing';
import { signUpAdmin, strongPassword } from '@mercado/users/testing';
import { checkAccessibility, launchBrowser, openPage, type TestPage } from './harness.js';
import type { Shopper } from '../checkout/system.js';

/**
 * The admin's back office in a real Chromium against the whole shop: users, orders and refunds,
 * payment terminals with their presence live over MQTT, categories, low stock — and the door: a
 * guest is sent to sign in, a customer told the pages are not for them. Every page is checked for
 * console errors, foreign requests (harness.ts) and serious accessibility violations.
 */
const browser = await launchBrowser(t);
// The system's broker takes browsers' tokens and verifies terminals at users, as in npm start.
const shop = await startStorefront(t, { terminalRegistry: 'users' });
const { system } = shop;

// The page's globals that the functions run in the page use (tests compile without the DOM
// library; these functions are sent to the page and run there).
declare const localStorage: { getItem(key: string): string | null };
declare const document: {
  documentElement: { scrollWidth: number };
  activeElement: { id: string } | null;
};
declare const window: { innerWidth: number };

const adminEmail = `admin-${randomUUID()}@e2e.example`;
const admin = await signUpAdmin(system.users, adminEmail);
const adminLogin = await system.api(undefined, 'POST', '/api/auth/login', {
  body: { email: adminEmail, password: strongPassword },
});
const adminApi: Shopper = {
  userId: admin.userId,
  email: adminEmail,
  accessToken: adminLogin.body.accessToken,
};

/** Signs in through the sign-in page, which then goes to `next`. */
async function signIn(page: TestPage, email: string, next: string): Promise<void> {
  await page.goto(`/signin?next=${encodeURIComponent(next)}`);
  await page.page.fill('#email', email);
  await page.page.fill('#password', strongPassword);
  await page.page.click('#signin-form button[type="submit"]');
  await page.page.waitForURL((url) => url.pathname + url.search === next);
}

/** A tab of its own with the admin signed in, on `path`. */
async function adminTab(
  test: Parameters<typeof openPage>[0],
  path: string,
  viewport: 'phone' | 'desktop' = 'desktop',
): Promise<TestPage> {
  const page = await openPage(test, browser, shop.url, { viewport });
  await signIn(page, adminEmail, path);
  return page;
}

t.test('the door: a guest is sent to sign in, a customer is told it is not for them', async (t) => {
  const guest = await openPage(t, browser, shop.url);
  await guest.goto('/admin/users');
  await guest.page.waitForURL((url) => url.pathname === '/signin');
  t.equal(new URL(guest.page.url()).searchParams.get('next'), '/admin/users', 'and comes back');

  const customer = await system.register('Cliente');
  const page = await openPage(t, browser, shop.url);
  await signIn(page, customer.email, '/admin/users');
  const refusal = page.page.locator('#not-admin');
  await refusal.waitFor();
  t.match(await refusal.textContent(), 'This page is not for you');
  t.equal(await page.page.locator('#users-table').count(), 0, 'no list behind it');
  t.equal(await page.page.locator('.admin-nav').count(), 0, 'nor the back office’s navigation');
  await checkAccessibility(t, page, 'an admin page, for a customer');
});

t.test('the dashboard links every section', async (t) => {
  const page = await adminTab(t, '/admin');
  await page.page.locator('#admin-sections').waitFor();
  t.same(
    await page.page
      .locator('#admin-sections a')
      .evaluateAll((links) =>
        links.map((link) => (link as unknown as { pathname: string }).pathname),
      ),
    ['/admin/users', '/admin/orders', '/admin/terminals', '/admin/categories', '/admin/low-stock'],
  );
  t.equal(
    await page.page.locator('#site-header a[href="/admin"]').textContent(),
    'Back office',
    'the header links here',
  );
  await checkAccessibility(t, page, 'the dashboard');

  // On a phone, every page fits the screen's width (wide tables scroll inside themselves).
  const phone = await adminTab(t, '/admin', 'phone');
  for (const [path, ready] of [
    ['/admin', '#admin-sections'],
    ['/admin/users', '#users-table[aria-busy="false"]'],
    ['/admin/orders', '#orders-table[aria-busy="false"]'],
    ['/admin/terminals', '#terminals[aria-busy="false"]'],
    ['/admin/categories', '#category-tree[aria-busy="false"]'],
    ['/admin/low-stock', '#low-stock-table[aria-busy="false"]'],
  ] as const) {
    await phone.goto(path);
    await phone.page.waitForSelector(ready, { state: 'attached' });
    const overflow = await phone.page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    t.ok(overflow <= 0, `${path} fits a phone's width`);
  }
  await checkAccessibility(t, phone, 'the low stock, on a phone');
});

t.test('users: found, given a role, disabled after a confirmation', async (t) => {
  const target = await system.register('Vendedora Futura');
  const page = await adminTab(t, '/admin/users');
  const { page: tab } = page;
  await tab.waitForSelector('#users-table[aria-busy="false"]', { state: 'attached' });
  await checkAccessibility(t, page, 'the users');

  await tab.fill('#user-q', target.email);
  await tab.click('#user-search button[type="submit"]');
  const row = tab.locator(`[data-user="${target.userId}"]`);
  await row.waitFor();
  await tab.waitForSelector('#users-table[aria-busy="false"]', { state: 'attached' });
  t.equal(await tab.locator('[data-user]').count(), 1, 'the one user searched for');

  // A role, by keyboard: the checkbox, then its form's button.
  await tab.focus(`#role-${target.userId}-seller`);
  await tab.keyboard.press('Space');
  const save = row.locator('button[type="submit"]');
  t.notOk(await save.isDisabled(), 'a change to save');
  await save.click();
  await tab.locator(`[data-user="${target.userId}"][data-roles="customer seller"]`).waitFor();
  const stored = await system.users.db('users').where({ id: target.userId }).first('roles');
  t.same([...stored.roles].sort(), ['customer', 'seller'], 'the users service has both roles');

  // Disabling asks first; cancelled, nothing happens.
  await row.locator('button', { hasText: 'Disable' }).click();
  const dialog = tab.locator('dialog.admin-dialog');
  await dialog.waitFor();
  t.match(await dialog.textContent(), target.email, 'the confirmation names the account');
  await tab.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  t.equal(await row.locator('[data-state]').getAttribute('data-state'), 'active');
  await checkAccessibility(t, page, 'the users, after a change');

  // By keyboard: the dialog's focus starts on Cancel; Tab, then Enter, confirms.
  await row.locator('button', { hasText: 'Disable' }).focus();
  await tab.keyboard.press('Enter');
  await dialog.waitFor();
  t.equal(
    await tab.evaluate(() => document.activeElement?.id),
    'confirm-no',
    'Cancel has the focus',
  );
  await tab.keyboard.press('Tab');
  await tab.keyboard.press('Enter');
  await tab.locator(`[data-user="${target.userId}"] [data-state="disabled"]`).waitFor();
  t.ok(
    await tab.locator(`[data-user="${target.userId}"] button`, { hasText: 'Enable' }).isVisible(),
    'it can be enabled again',
  );
  // Their next API call is refused (the gateway hears of the revocation within a second).
  const refused = await eventually('the disabled user’s token is refused', async () => {
    const me = await system.api(target, 'GET', '/api/users/me');
    return me.status === 401 ? me : undefined;
  });
  t.equal(refused.status, 401, 'the disabled user’s next call is refused');
  const login = await system.api(undefined, 'POST', '/api/auth/login', {
    body: { email: target.email, password: strongPassword },
  });
  t.equal(login.body.code, 'account_disabled', 'and they cannot sign in');
});

t.test('orders: filtered by status, one refunded in part, seen settling', async (t) => {
  const shopper = await system.register('Compradora');
  const paid = await system.buyAndPay(shopper);
  const paidToo = await system.buyAndPay(shopper);
  const unpaid = await system.placeOrder(shopper, [
    { productId: shop.products[1]!.id, quantity: 1 },
  ]);
  await system.settled(paid.order.id, ['paid']);
  await system.settled(paidToo.order.id, ['paid']);

  const page = await adminTab(t, '/admin/orders');
  const { page: tab } = page;
  await tab.locator(`[data-order="${unpaid.id}"]`).waitFor();
  await tab.waitForSelector('#orders-table[aria-busy="false"]', { state: 'attached' });
  await checkAccessibility(t, page, 'the orders');

  await tab.selectOption('#order-status', 'paid');
  await tab.waitForURL(/\/admin\/orders\?status=paid$/);
  await tab.locator(`[data-order="${paid.order.id}"]`).waitFor();
  await tab.waitForSelector('#orders-table[aria-busy="false"]', { state: 'attached' });
  const statuses = await tab.locator('[data-order] [data-status]').allTextContents();
  t.ok(statuses.length >= 2 && statuses.every((status) => status === 'paid'), 'paid ones only');
  t.equal(await tab.locator(`[data-order="${paidToo.order.id}"]`).count(), 1);
  t.equal(await tab.locator(`[data-order="${unpaid.id}"]`).count(), 0, 'not the unpaid one');
  await tab.selectOption('#order-status', 'awaiting_payment');
  await tab.locator(`[data-order="${unpaid.id}"]`).waitFor();
  await tab.goBack();
  await tab.locator(`[data-order="${paid.order.id}"]`).waitFor();
  t.equal(await tab.inputValue('#order-status'), 'paid', 'back: the paid ones again');

  await tab.click(`[data-order="${paid.order.id}"] a`);
  await tab.waitForURL(/\/admin\/order\?id=/);
  await tab.locator('#order-status[data-status="paid"]').waitFor();
  t.equal(await tab.locator('#order-lines tbody tr').count(), 1, 'its line');
  t.ok((await tab.locator('#order-history tbody tr').count()) >= 2, 'its history');
  t.equal(await tab.locator('#order-payments tbody tr').count(), 1, 'its payment');
  await checkAccessibility(t, page, 'an order');

  // Part of it: a reason is asked for first.
  const total = paid.order.totalMinor;
  const part = Math.floor(total / 2);
  await tab.check('#refund-partial');
  await tab.fill('#refund-amount', (part / 100).toFixed(2));
  await tab.click('#refund-form button[type="submit"]');
  await tab.locator('#refund-reason.is-invalid').waitFor();
  t.match(await tab.textContent('#refund-reason-problem'), 'Choose why');
  await tab.selectOption('#refund-reason', 'damaged');
  await tab.click('#refund-form button[type="submit"]');
  // Payments refunds it over MQTT; the page shows the order once it has settled.
  await tab.locator('#order-status[data-status="partially_refunded"]').waitFor();
  t.equal(await tab.locator('[data-refund] [data-status="succeeded"]').count(), 1);
  t.match(await tab.textContent('#order-refunded'), (part / 100).toFixed(2));
  const stored = await system.order(shopper, paid.order.id);
  t.equal(stored.status, 'partially_refunded');
  t.equal(stored.refundedMinor, part, 'the amount asked for');
  t.equal(stored.refunds[0].reason, 'damaged');
  await checkAccessibility(t, page, 'an order, partly refunded');
});

t.test('terminals: registered with a secret shown once, presence followed live', async (t) => {
  const page = await adminTab(t, '/admin/terminals');
  const { page: tab } = page;
  await tab.locator('#live-state[data-state="live"]').waitFor();
  await tab.waitForSelector('#terminals[aria-busy="false"]', { state: 'attached' });
  await checkAccessibility(t, page, 'the terminals');

  const id = `caja-${randomUUID().slice(0, 8)}`;
  await tab.fill('#terminal-name', 'Caja 1');
  await tab.fill('#terminal-id', id);
  await tab.fill('#terminal-location', 'Calle Mayor 1, Madrid');
  await tab.click('#terminal-form button[type="submit"]');
  await tab.locator('#secret-panel').waitFor();
  const secret = await tab.inputValue('#secret-value');
  t.match(secret, /^[\w-]{43}$/, 'the secret, once');
  const example = (await tab.textContent('#mosquitto-example')) ?? '';
  for (const part of [
    `T=${id}`,
    `-i terminal-${id}`,
    `-u terminal:${id}`,
    'mosquitto_pub',
    '-r -t terminals/$T/status',
    '"status":"online"',
    'mosquitto_sub',
    '--will-topic terminals/$T/status --will-retain',
  ]) {
    t.ok(example.includes(part), `the example has ${part}`);
  }
  t.ok(example.includes(secret), 'with its secret');
  const presence = (status: string) =>
    tab.locator(`[data-presence="${id}"] [data-status="${status}"]`);
  await presence('unknown').waitFor();
  await checkAccessibility(t, page, 'the terminals, with a secret shown');

  // The terminal connects as its README says: its retained status, and an offline last will.
  const offline = JSON.stringify({ type: 'terminal.status', status: 'offline' });
  const terminal = await connectMqtt(shop.system.broker.url, {
    clientId: `terminal-${id}`,
    username: `terminal:${id}`,
    password: secret,
    reconnectPeriod: 0,
    will: { topic: `terminals/${id}/status`, payload: Buffer.from(offline), qos: 1, retain: true },
  });
  t.teardown(() => terminal.endAsync(true));
  await terminal.publishAsync(
    `terminals/${id}/status`,
    JSON.stringify({ type: 'terminal.status', status: 'online', at: new Date().toISOString() }),
    { qos: 1, retain: true },
  );
  await presence('online').waitFor();
  t.pass('online, without reloading the page');

  // A session renewed in another tab: the live connection is made again with the new token.
  // What the next WebSocket sends, from its first frame (its CONNECT carries the token).
  const sent: Buffer[] = [];
  let heard = () => undefined as void;
  tab.once('websocket', (socket) =>
    socket.on('framesent', (frame) => {
      sent.push(Buffer.from(frame.payload));
      heard();
    }),
  );
  const other = await page.context.newPage();
  await other.goto(new URL(`/signin?next=${encodeURIComponent('/admin')}`, shop.url).href);
  await other.fill('#email', adminEmail);
  await other.fill('#password', strongPassword);
  await other.click('#signin-form button[type="submit"]');
  await other.waitForURL((url) => url.pathname === '/admin');
  const renewed = Buffer.from(
    await other.evaluate(
      () =>
        (JSON.parse(localStorage.getItem('mercado.session') ?? '{}') as { accessToken: string })
          .accessToken,
    ),
  );
  await other.close();
  await new Promise<void>((resolve) => {
    heard = () => {
      if (sent.some((frame) => frame.includes(renewed))) resolve();
    };
    heard();
  });
  t.pass('it connected again with the renewed token');
  await tab.locator('#live-state[data-state="live"]').waitFor();

  // The connection drops: the broker publishes its last will.
  terminal.stream.destroy();
  await presence('offline').waitFor();
  t.pass('offline, without reloading the page');

  // The secret is never shown again.
  await page.goto('/admin/terminals');
  await tab.locator(`[data-terminal="${id}"]`).waitFor();
  t.equal(await tab.locator('#secret-panel').count(), 0, 'no secret after a reload');
  t.notOk((await tab.content()).includes(secret), 'the page holds no secret');
  await presence('offline').waitFor();
  t.pass('the retained status, heard on subscribing');
});

t.test('categories: created inside another, renamed, deleted; a refusal said', async (t) => {
  const page = await adminTab(t, '/admin/categories');
  const { page: tab } = page;
  page.allowFailedResponse(new RegExp(`/api/categories/${shop.categories.books.id}$`), 409);
  await tab.locator(`[data-category="${shop.categories.lamps.id}"]`).waitFor();
  await checkAccessibility(t, page, 'the categories');

  await tab.fill('#category-name', 'Jardín');
  t.equal(await tab.inputValue('#category-slug'), 'jardin', 'a slug made from the name');
  await tab.click('#category-form button[type="submit"]');
  const garden = tab.locator('#categories-root > li', { hasText: 'Jardín' });
  await garden.waitFor();

  await tab.fill('#category-name', 'Macetas');
  await tab.selectOption('#category-parent', { label: 'Jardín' });
  await tab.click('#category-form button[type="submit"]');
  const pots = garden.locator('ul > li', { hasText: 'Macetas' });
  await pots.waitFor();
  t.pass('inside its parent');

  await pots.locator('button', { hasText: 'Rename' }).click();
  const rename = pots.locator('input[name="name"]');
  await rename.fill('Macetas de barro');
  await rename.press('Enter');
  await garden.locator('ul > li [data-name]', { hasText: 'Macetas de barro' }).waitFor();
  t.pass('renamed');

  const books = tab.locator(`[data-category="${shop.categories.books.id}"]`);
  await books.locator(':scope > div > button', { hasText: 'Delete' }).click();
  await tab.click('#confirm-yes');
  await tab
    .locator(`#category-problem-${shop.categories.books.id}`, { hasText: 'still has products' })
    .waitFor();
  t.equal(await books.count(), 1, 'a category with products stays');

  const renamed = garden.locator('ul > li', { hasText: 'Macetas de barro' });
  await renamed.locator('button', { hasText: 'Delete' }).click();
  await tab.click('#confirm-yes');
  await renamed.waitFor({ state: 'detached' });
  const tree = await system.api(undefined, 'GET', '/api/categories');
  const gardenNode = (tree.body.items as Array<{ slug: string; children: unknown[] }>).find(
    (node) => node.slug === 'jardin',
  );
  t.same(gardenNode?.children, [], 'deleted in the catalog');
  await checkAccessibility(t, page, 'the categories, after changes');
});

t.test('low stock across sellers', async (t) => {
  const [low, alsoLow] = [shop.products[2]!, shop.products[5]!];
  for (const product of [low, alsoLow]) {
    const set = await system.api(adminApi, 'PUT', `/api/inventory/${product.id}/north`, {
      body: { onHand: 2, reason: 'stock count', lowStockThreshold: 5 },
    });
    t.equal(set.status, 200, `${product.name} set low`);
  }
  const page = await adminTab(t, '/admin/low-stock');
  const { page: tab } = page;
  const row = tab.locator(`[data-low-stock="${low.id}/north"]`);
  await row.waitFor();
  await row.locator('a', { hasText: low.name }).waitFor();
  t.match(await row.textContent(), 'north');
  await tab.locator(`[data-low-stock="${alsoLow.id}/north"]`).waitFor();
  await checkAccessibility(t, page, 'the low stock');
});
