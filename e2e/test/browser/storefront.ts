import { siteDir } from '@mercado/frontend/testing';
import { createCategory } from '@mercado/products/testing';
import type { TestPage } from './harness.js';
import {
  startCheckoutSystem,
  type CheckoutSystem,
  type CheckoutSystemOptions,
} from '../checkout/system.js';

/**
 * The whole shop for a browser: the checkout system (every part real, in this process) with the
 * gateway serving the built storefront (`SITE_DIR`, as in `npm start`), and a small catalog: two
 * top-level categories (one with a subcategory) and products in them, priced apart so that sorts
 * and price ranges tell, stocked differently per region (one sold out in the south).
 */
export interface Storefront {
  system: CheckoutSystem;
  url: string;
  categories: { home: { id: string }; lamps: { id: string }; books: { id: string } };
  products: Array<{ id: string; name: string; priceMinor: number; categoryId: string }>;
}

interface TestContext {
  teardown(fn: () => unknown): void;
}

export const catalogNames = [
  ['lamps', 'Lámpara de pie Aurora', 4_990],
  ['lamps', 'Lámpara de mesa Brisa', 2_450],
  ['lamps', 'Lámpara colgante Cielo', 8_900],
  ['home', 'Cojín de lino Duna', 1_590],
  ['home', 'Manta de lana Estepa', 6_400],
  ['books', 'Novela El faro', 1_990],
  ['books', 'Guía de jardines', 2_990],
  ['books', 'Atlas de estrellas', 3_500],
] as const;

/** The settings that make a system serve the storefront, with its live connections. */
export function storefrontOptions(options: CheckoutSystemOptions = {}): CheckoutSystemOptions {
  return { live: true, ...options, gatewayEnv: { SITE_DIR: siteDir, ...options.gatewayEnv } };
}

export async function startStorefront(
  t: TestContext,
  options: CheckoutSystemOptions & {
    extraProducts?: number;
    /** Another way to start the system (the terminals' one, say), given these options. */
    start?: (options: CheckoutSystemOptions) => Promise<CheckoutSystem>;
  } = {},
): Promise<Storefront> {
  const { extraProducts, start = (chosen) => startCheckoutSystem(t, chosen), ...rest } = options;
  const system = await start(storefrontOptions(rest));
  const products = system.shop.products;
  const home = await createCategory(products, 'hogar', 'Hogar');
  const lamps = await createCategory(products, 'lamparas', 'Lámparas', home.id);
  const books = await createCategory(products, 'libros', 'Libros');
  const categories = { home, lamps, books };
  const sold: Storefront['products'] = [];
  const sellerId = crypto.randomUUID();
  for (const [index, [category, name, priceMinor]] of catalogNames.entries()) {
    const product = await system.sell({
      sellerId,
      name,
      priceMinor,
      categoryId: categories[category].id,
      description: `${name}: un producto de la tienda de pruebas.`,
      imageUrls: ['/images/demo/iluminacion.svg'],
      stock: { north: 20 + index, south: index === 0 ? 0 : 5 },
    });
    sold.push({ id: product.id, name, priceMinor, categoryId: categories[category].id });
  }
  for (let index = 0; index < (extraProducts ?? 0); index++) {
    const product = await system.sell({
      sellerId,
      name: `Libreta ${String(index + 1).padStart(2, '0')}`,
      priceMinor: 500 + index,
      categoryId: books.id,
      stock: { north: 3 },
    });
    sold.push({
      id: product.id,
      name: product.name,
      priceMinor: 500 + index,
      categoryId: books.id,
    });
  }
  return { system, url: system.gateway.url, categories, products: sold };
}

// The page-side globals of the functions sent to the page (tests compile without the DOM).
declare const document: {
  getElementById(id: string): { dataset: Record<string, string> } | null;
};

/** A new shopper, registered through the page, signed in, with `quantity` of `productId` in the cart. */
export async function shopperWithCart(
  shop: Storefront,
  page: TestPage,
  productId: string,
  quantity = 1,
) {
  const { page: tab } = page;
  await page.goto('/register');
  await tab.fill('#name', 'Lucía Compradora');
  await tab.fill('#email', `lucia-${crypto.randomUUID()}@example.com`);
  await tab.fill('#password', 'correct horse battery staple');
  await tab.click('#register-form button[type="submit"]');
  await tab.waitForURL(`${shop.url}/`);
  await page.goto(`/product?id=${productId}`);
  await tab.fill('#quantity', String(quantity));
  await tab.click('#add-to-cart button[type="submit"]');
  await tab.waitForSelector('.toast:has-text("Added to your cart")');
}

export async function checkOut(page: TestPage): Promise<string> {
  const { page: tab } = page;
  await page.goto('/cart');
  await tab.click('#to-checkout');
  await tab.waitForURL(/\/checkout$/);
  await tab.waitForSelector('#checkout-total');
  await tab.fill('#ship-name', 'Lucía Compradora');
  await tab.fill('#ship-line1', 'Calle Mayor 1');
  await tab.fill('#ship-city', 'Madrid');
  await tab.fill('#ship-postal', '28013');
  await tab.fill('#ship-country', 'es');
  await tab.click('#checkout-form button[type="submit"]');
  await tab.waitForURL(/\/order\?id=/);
  return new URL(tab.url()).searchParams.get('id')!;
}

export async function statusIs(page: TestPage, status: string): Promise<void> {
  await page.page.waitForFunction(
    (wanted) => document.getElementById('order-status')?.dataset.status === wanted,
    status,
  );
}

export async function payWith(page: TestPage, number: string): Promise<void> {
  const { page: tab } = page;
  await tab.fill('#card-number', number);
  await tab.fill('#card-expiry', '12/34');
  await tab.fill('#card-cvc', '123');
  await tab.click('#pay-form button[type="submit"]');
}
