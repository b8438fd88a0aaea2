import {
  listAllProducts,
  loadBenchDemo,
  measureAtRate,
  measureCeiling,
  measureCeilingAtRate,
  measureMax,
  measureMaxOver,
  printTable,
  type BenchSystem,
  type TableRow,
} from './system.js';

/**
 * Catalog reads through the gateway → products → Postgres, on the demo catalog (242 products),
 * next to the gateway → trivial upstream ceiling (the users service's JWKS: a constant JSON) in
 * the same run. Each read three ways:
 * - as shoppers send it: the gateway's 1 s micro-cache answers repeats;
 * - with `Cache-Control: no-cache`: past the gateway's cache to the products service, which
 *   answers from its coherent answer cache (kept until the catalog changes);
 * - over thousands of different queries (more than the answer cache holds, cycled): every request
 *   is computed by products and Postgres — the cost of a cache miss.
 * Throughput with 50 connections, then latency at a fixed 1,000 req/s from an open-loop generator.
 */
export async function benchCatalog(system: BenchSystem): Promise<void> {
  await loadBenchDemo(system);
  const catalog = await demoCatalog(system.gatewayUrl);
  const fresh = () => ({ 'cache-control': 'no-cache' });
  const ceiling = await measureCeiling(system);
  const rows: TableRow[] = [
    { ...ceiling, group: 'GET /api/auth/jwks.json (ceiling)' },
    {
      ...(await measureCeilingAtRate(system, '1,000 req/s', 1000)),
      group: 'GET /api/auth/jwks.json (ceiling)',
    },
  ];
  const limits = Array.from({ length: 50 }, (_, index) => index + 1);
  const routes: Array<{ label: string; path: string; variants?: string[] }> = [
    {
      label: 'list, newest',
      path: '/api/products?limit=20',
      variants: ['newest', 'price_asc', 'price_desc'].flatMap((sort) =>
        limits.flatMap((limit) =>
          Array.from({ length: 30 }, (_, step) => step).map(
            (step) => `/api/products?sort=${sort}&limit=${limit}&minPrice=${step * 500}`,
          ),
        ),
      ),
    },
    {
      label: 'list, category + price sort',
      path: '/api/products?category=electronica&sort=price_asc&limit=20',
      variants: catalog.categories.flatMap((slug) =>
        limits.flatMap((limit) =>
          ['price_asc', 'price_desc', 'newest'].map(
            (sort) => `/api/products?category=${slug}&sort=${sort}&limit=${limit}`,
          ),
        ),
      ),
    },
    {
      label: 'search q=port',
      path: '/api/products?q=port&limit=20',
      variants: catalog.prefixes.flatMap((prefix) =>
        limits.map((limit) => `/api/products?q=${encodeURIComponent(prefix)}&limit=${limit}`),
      ),
    },
    { label: 'search q=lap (prefix)', path: '/api/products?q=lap&limit=20' },
    { label: 'product detail', path: `/api/products/${catalog.productId}` },
    { label: 'categories', path: '/api/categories' },
  ];
  for (const { label, path, variants } of routes) {
    const url = `${system.gatewayUrl}${path}`;
    rows.push(
      { ...(await measureMax('max, as sent', url)), group: label, of: ceiling.rps },
      { ...(await measureAtRate('1,000 req/s, as sent', url, 1000)), group: label },
      { ...(await measureMax('max, no-cache', url, fresh)), group: label, of: ceiling.rps },
      { ...(await measureAtRate('1,000 req/s, no-cache', url, 1000, fresh)), group: label },
    );
    if (variants) {
      rows.push({
        ...(await measureMaxOver(
          `max, ${variants.length} queries`,
          system.gatewayUrl,
          variants,
          fresh,
        )),
        group: label,
        of: ceiling.rps,
      });
    }
  }
  printTable('Catalog benchmark (vs ref = share of the gateway → trivial upstream ceiling)', rows);
}

/** A product id, the category slugs and 3–5 letter word prefixes of the loaded demo catalog. */
async function demoCatalog(gatewayUrl: string) {
  const products = await listAllProducts(gatewayUrl);
  const names = products.map((product) => product.name);
  const productId = products[0]!.id;
  const tree = (await (await fetch(`${gatewayUrl}/api/categories`)).json()) as {
    items: Array<{ slug: string; children: Array<{ slug: string }> }>;
  };
  const categories = tree.items.flatMap((node) => [
    node.slug,
    ...node.children.map((child) => child.slug),
  ]);
  const words = names.flatMap((name) => name.toLowerCase().split(/[^\p{L}\p{N}]+/u));
  const prefixes = [
    ...new Set(
      words.flatMap((word) =>
        [3, 4, 5].filter((n) => word.length >= n).map((n) => word.slice(0, n)),
      ),
    ),
  ];
  return { productId, categories, prefixes };
}
