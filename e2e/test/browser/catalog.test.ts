import t from 'tap';
import {
  checkAccessibility,
  launchBrowser,
  openPage,
  transferredBytes,
  type TestPage,
} from './harness.js';
import { startStorefront } from './storefront.js';

/**
 * The storefront's catalog, product page and cart in a real Chromium against the whole shop:
 * what a guest does before checking out. Every page is checked for console errors, requests to
 * other hosts (harness.ts) and serious accessibility violations.
 */
const browser = await launchBrowser(t);
const shop = await startStorefront(t, { extraProducts: 14 });

const cardNames = (page: TestPage) =>
  page.page.locator('[data-product] .card-title').allTextContents();

// The page's globals that the functions run in the page use (tests compile without the DOM
// library; these functions are sent to the page and run there).
declare const document: {
  getElementById(id: string): { value: string } | null;
  documentElement: { scrollWidth: number };
};
declare const window: { innerWidth: number };
declare const localStorage: { getItem(key: string): string | null };

/** Every card's stock line filled in (none still checking). */
async function stockShown(page: TestPage): Promise<void> {
  await page.page
    .locator('[data-availability]', { hasText: 'Checking stock' })
    .first()
    .waitFor({ state: 'detached' });
}

async function settled(page: TestPage): Promise<void> {
  await page.page.waitForSelector('#results[aria-busy="false"]', { state: 'attached' });
}

t.test(
  'a guest browses: search with suggestions, categories, price range, sort, load more, back and forward, a shared link',
  async (t) => {
    const page = await openPage(t, browser, shop.url);
    const { page: tab } = page;
    await page.goto('/');
    await settled(page);
    t.equal(await tab.locator('[data-product]').count(), 12, 'a first page of twelve');
    t.ok(await tab.locator('#load-more').isVisible(), 'more to load');
    const newest = tab.locator('[data-product]', { hasText: 'Libreta 14' });
    t.match(await newest.textContent(), '€5.13', 'newest first; the price in the shopper’s locale');
    await stockShown(page);
    t.match(await newest.textContent(), 'In stock in north', 'the stock in the region');
    await checkAccessibility(t, page, 'the catalog');

    // Suggestions as you type, from the catalog.
    await tab.fill('#search', 'Bri');
    await tab.waitForSelector('#search-suggestions option[value="Lámpara de mesa Brisa"]', {
      state: 'attached',
    });
    await tab.fill('#search', 'Brisa');
    await tab.press('#search', 'Enter');
    await tab.waitForURL(/\/\?q=Brisa$/);
    await settled(page);
    t.same(await cardNames(page), ['Lámpara de mesa Brisa']);
    t.equal(await tab.textContent('#results-title'), 'Results for “Brisa”');

    // A category, then every page of it.
    await tab.click('#categories >> text=Libros');
    await tab.waitForURL(/\/\?q=Brisa&category=libros$/);
    await settled(page);
    t.same(await cardNames(page), [], 'the search stays: nothing called Brisa among the books');
    await tab.fill('#search', '');
    await tab.press('#search', 'Enter');
    await tab.waitForURL(/\/\?category=libros$/);
    await settled(page);
    t.equal(await tab.textContent('#results-title'), 'Libros');
    t.equal(await tab.locator('[data-product]').count(), 12);
    await tab.click('#load-more');
    await tab.locator('[data-product]').nth(16).waitFor({ state: 'attached' });
    await settled(page);
    t.ok(await tab.locator('#load-more').isHidden(), 'all seventeen books: nothing more');

    // Sort and a price range, each its own history entry.
    await tab.selectOption('#sort', 'price_asc');
    await tab.waitForURL(/category=libros&sort=price_asc$/);
    await settled(page);
    t.equal((await cardNames(page))[0], 'Libreta 01', 'cheapest first');
    await tab.fill('#min-price', '19');
    await tab.fill('#max-price', '30');
    await tab.click('#price-filter button[type="submit"]');
    await tab.waitForURL(/category=libros&minPrice=1900&maxPrice=3000&sort=price_asc$/);
    await settled(page);
    t.same(await cardNames(page), ['Novela El faro', 'Guía de jardines']);
    t.equal(await tab.inputValue('#min-price'), '19', 'the range shown as it is applied');

    // A price range the page refuses before asking.
    await tab.fill('#min-price', '40');
    await tab.click('#price-filter button[type="submit"]');
    t.match(await tab.textContent('#price-problem'), '“From” must not be above “To”');
    t.match(tab.url(), /minPrice=1900/, 'nothing asked, nothing changed');

    await tab.goBack();
    await tab.waitForURL(/category=libros&sort=price_asc$/);
    await settled(page);
    t.equal((await cardNames(page))[0], 'Libreta 01', 'back: the sorted books again');
    t.equal(await tab.inputValue('#min-price'), '', 'and no range');
    await tab.goBack();
    await tab.waitForURL(/\/\?category=libros$/);
    await settled(page);
    t.equal(await tab.inputValue('#sort'), '', 'back again: unsorted');
    await tab.goForward();
    await tab.waitForURL(/sort=price_asc$/);
    await settled(page);
    t.equal(await tab.inputValue('#sort'), 'price_asc', 'forward: sorted');

    // A shared link shows what its sender saw.
    const shared = await openPage(t, browser, shop.url);
    await shared.goto('/?category=libros&minPrice=1900&maxPrice=3000&sort=price_asc');
    await settled(shared);
    t.same(await cardNames(shared), ['Novela El faro', 'Guía de jardines']);

    // The region: the stock shown is the shopper's region's.
    await page.goto('/?category=lamparas');
    await settled(page);
    const aurora = tab.locator('[data-product]', { hasText: 'Lámpara de pie Aurora' });
    t.match(await aurora.textContent(), '€49.90');
    await stockShown(page);
    t.match(await aurora.textContent(), 'In stock in north');
    await tab.waitForSelector('#region option[value="south"]', { state: 'attached' });
    await tab.selectOption('#region', 'south');
    await tab.locator('[data-availability]', { hasText: 'south' }).first().waitFor();
    t.match(await aurora.textContent(), 'Out of stock in south');
  },
);

t.test('on a phone: the same catalog, nothing wider than the screen', async (t) => {
  const page = await openPage(t, browser, shop.url, { viewport: 'phone' });
  await page.goto('/');
  await settled(page);
  t.equal(await page.page.locator('[data-product]').count(), 12);
  t.ok(
    await page.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    'no horizontal scrolling',
  );
  await checkAccessibility(t, page, 'the catalog on a phone');
});

t.test(
  'a guest adds to the cart, changes it, registers: the cart comes along, the stock is checked',
  async (t) => {
    const page = await openPage(t, browser, shop.url);
    const { page: tab } = page;
    const blanket = shop.products.find((product) => product.name === 'Manta de lana Estepa')!;
    await page.goto(`/product?id=${blanket.id}`);
    await tab.waitForSelector('#add-to-cart');
    t.equal(await tab.textContent('h1'), 'Manta de lana Estepa');
    t.match(await tab.textContent('#stock'), /north \(yours\)\s*24/);
    await checkAccessibility(t, page, 'the product page');
    await tab.fill('#quantity', '2');
    await tab.click('#add-to-cart button[type="submit"]');
    await tab.waitForSelector('.toast:has-text("Added to your cart")');
    t.equal(await tab.textContent('#cart-count'), '2');

    await page.goto('/cart');
    await tab.waitForSelector('#cart-lines');
    t.equal(await tab.inputValue(`#quantity-${blanket.id}`), '2');
    t.equal(await tab.textContent('#cart-total'), '€128.00');
    await checkAccessibility(t, page, 'the cart');
    await tab.fill(`#quantity-${blanket.id}`, '3');
    await tab.press(`#quantity-${blanket.id}`, 'Tab');
    await tab.locator('#cart-total', { hasText: '€192.00' }).waitFor();

    // A second line, then removed again.
    const novel = shop.products.find((product) => product.name === 'Novela El faro')!;
    await page.goto(`/product?id=${novel.id}`);
    await tab.click('#add-to-cart button[type="submit"]');
    await tab.waitForSelector('.toast:has-text("Added to your cart")');
    await page.goto('/cart');
    await tab.locator('#cart-total', { hasText: '€211.90' }).waitFor();
    await tab.click(`[data-line="${novel.id}"] button:has-text("Remove")`);
    await tab.locator(`[data-line="${novel.id}"]`).waitFor({ state: 'detached' });
    t.equal(await tab.textContent('#cart-total'), '€192.00', 'the line gone, the total with it');

    // More than the region has: refused, and the cart as it was.
    page.allowFailedResponse(`/api/cart/items/${blanket.id}`, 409);
    await tab.fill(`#quantity-${blanket.id}`, '999');
    await tab.press(`#quantity-${blanket.id}`, 'Tab');
    await tab.waitForSelector('.toast:has-text("Not enough in stock")');
    await tab.waitForFunction(
      (id) => document.getElementById(`quantity-${id}`)?.value === '3',
      blanket.id,
    );

    // Register from the cart: the form's own checks first, then back to the cart, merged.
    await tab.click('text=create an account');
    await tab.waitForURL(/\/register\?next=\/cart$/);
    await tab.click('#register-form button[type="submit"]');
    t.ok(await tab.locator('#name.is-invalid').isVisible(), 'the name is asked for');
    t.match(await tab.textContent('#name-problem'), 'Enter your name.');
    t.match(await tab.textContent('#password-problem'), 'At least 10 characters.');
    await checkAccessibility(t, page, 'the register form with its problems');
    await tab.fill('#name', 'Ana Compradora');
    await tab.fill('#email', `ana-${crypto.randomUUID()}@example.com`);
    await tab.fill('#password', 'correct horse battery staple');
    await tab.click('#register-form button[type="submit"]');
    await tab.waitForURL(/\/cart$/);
    await tab.waitForSelector('#cart-lines');
    t.equal(await tab.inputValue(`#quantity-${blanket.id}`), '3', 'the guest cart came along');
    t.match(await tab.textContent('#site-header'), 'Ana Compradora');
    t.equal(
      await tab.evaluate(() => localStorage.getItem('mercado.cartToken')),
      null,
      'the guest token is forgotten once merged',
    );

    await tab.click('#site-header >> text=Sign out');
    await tab.waitForURL(/\/$/);
    await tab.waitForSelector('#site-header >> text=Sign in');
    t.equal(await tab.evaluate(() => localStorage.getItem('mercado.session')), null);
  },
);

t.test('a product that does not exist: said so, not a blank page', async (t) => {
  const page = await openPage(t, browser, shop.url);
  page.allowFailedResponse(/\/api\/(products|inventory)\//, 404);
  await page.goto(`/product?id=${crypto.randomUUID()}`);
  await page.page.waitForSelector('#product[aria-busy="false"]', { state: 'attached' });
  t.equal(
    await page.page.textContent('#product-status'),
    'This product does not exist (any more).',
  );
});

t.test(
  'the home page: JS and CSS under 250 KB compressed, hashed names cached for a year, the page revalidated; prices in the shopper’s own locale',
  async (t) => {
    const page = await openPage(t, browser, shop.url, { locale: 'de-DE' });
    const headers = new Map<string, Record<string, string>>();
    page.page.on('response', (response) => headers.set(response.url(), response.headers()));
    await page.goto('/?category=lamparas');
    await settled(page);
    const bytes = await transferredBytes(page);
    const code = (bytes.script?.bytes ?? 0) + (bytes.stylesheet?.bytes ?? 0);
    t.ok(code > 0 && code < 250 * 1024, `JS + CSS on the wire: ${code} bytes`);
    // The build compresses every file of 512 bytes or more (smaller ones gain nothing).
    const plain = page.transfers.filter(
      (transfer) =>
        (transfer.type === 'script' || transfer.type === 'stylesheet') &&
        transfer.encoding === 'identity' &&
        transfer.bodyBytes >= 512,
    );
    t.same(plain, [], 'every script and stylesheet worth it sent compressed');
    const assets = [...headers].filter(([url]) => new URL(url).pathname.startsWith('/assets/'));
    t.ok(assets.length >= 2, 'the page’s scripts and stylesheet');
    for (const [url, answer] of assets) {
      t.match(new URL(url).pathname, /^\/assets\/[\w-]+-[A-Z0-9]{8}\.(js|css)$/, 'a hashed name');
      t.equal(answer['cache-control'], 'public, max-age=31536000, immutable', url);
    }
    t.equal(headers.get(`${shop.url}/?category=lamparas`)?.['cache-control'], 'no-cache');
    const aurora = page.page.locator('[data-product]', { hasText: 'Lámpara de pie Aurora' });
    t.match(await aurora.textContent(), /49,90\s€/, 'euros as a German reader writes them');
  },
);

t.test(
  'stock that ran out since it went in the cart: said on the line, checkout held',
  async (t) => {
    const page = await openPage(t, browser, shop.url);
    const { page: tab } = page;
    const cushion = shop.products.find((product) => product.name === 'Cojín de lino Duna')!;
    await page.goto(`/product?id=${cushion.id}`);
    await tab.fill('#quantity', '3');
    await tab.click('#add-to-cart button[type="submit"]');
    await tab.waitForSelector('.toast:has-text("Added to your cart")');
    // Another shopper bought most of it meanwhile: one left in the north.
    const product = await shop.system.shop.products
      .db('products')
      .where({ id: cushion.id })
      .first();
    await shop.system.shop.stock({ id: cushion.id, sellerId: product.seller_id }, 'north', 1);
    await page.goto('/cart');
    await tab.waitForSelector('#cart-lines');
    t.match(
      await tab.textContent(`[data-line="${cushion.id}"] [data-problem]`),
      'Not enough in stock in your region for this quantity (1 available)',
    );
    t.match(await tab.textContent('#cart-blocked'), 'Fix the lines marked above');
    t.notOk(await tab.isVisible('#to-checkout'), 'no way to check out as it is');
    await checkAccessibility(t, page, 'a cart with a problem');
    await page.goto('/signin');
    await checkAccessibility(t, page, 'the sign-in page');
  },
);
