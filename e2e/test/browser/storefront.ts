import { siteDir } from '@mercado/frontend/testing';
import { createCategory } from '@mercado/products/testing';
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
