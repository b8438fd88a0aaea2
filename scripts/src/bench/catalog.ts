import { measureExpressTrivial } from './ceilings.js';
import type { ReportFigure, ReportSection } from './report.js';
import {
  connections,
  type Figures,
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
 * The report compares each throughput with the Express trivial upstream measured first, and each
 * latency at 1,000 req/s with the gateway → trivial upstream's at the same rate.
 *
 * `report` (npm run bench): the latency of the shoppers' requests as sent is left out (the
 * gateway's micro-cache answers them: the ceiling's own latency at that rate, within noise), to
 * keep the whole run near ten minutes.
 */
export async function benchCatalog(
  system: BenchSystem,
  { report = false }: { report?: boolean } = {},
): Promise<ReportSection[]> {
  await loadBenchDemo(system);
  const catalog = await demoCatalog(system.gatewayUrl);
  const fresh = () => ({ 'cache-control': 'no-cache' });
  const express = await measureExpressTrivial();
  const ceiling = await measureCeiling(system);
  const ceilingAtRate = await measureCeilingAtRate(system, '1,000 req/s', 1000);
  const rows: TableRow[] = [
    { ...express, label: 'max', group: 'ceiling: Express trivial' },
    { ...ceiling, group: 'GET /api/auth/jwks.json (ceiling)' },
    { ...ceilingAtRate, group: 'GET /api/auth/jwks.json (ceiling)' },
  ];
  const atRate = { name: 'gateway → trivial upstream at 1,000 req/s', ...ceilingAtRate };
  const figures: ReportFigure[] = [
    { ...ceiling, label: 'gateway → trivial upstream, max' },
    { ...ceilingAtRate, label: 'gateway → trivial upstream, 1,000 req/s', ceiling: null },
  ];
  const add = (group: string, measured: Figures, of?: number) => {
    rows.push({ ...measured, group, ...(of ? { of } : {}) });
    const fixedRate = measured.label.includes('req/s');
    figures.push({
      ...measured,
      label: `${group}: ${measured.label}`,
      ...(fixedRate ? { compare: 'p99' as const, ceiling: atRate } : {}),
    });
  };
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
    add(label, await measureMax('max, as sent', url), ceiling.rps);
    if (!report) add(label, await measureAtRate('1,000 req/s, as sent', url, 1000));
    add(label, await measureMax('max, no-cache', url, fresh), ceiling.rps);
    add(label, await measureAtRate('1,000 req/s, no-cache', url, 1000, fresh));
    if (variants) {
      const over = `max, ${variants.length} queries`;
      add(label, await measureMaxOver(over, system.gatewayUrl, variants, fresh), ceiling.rps);
    }
  }
  printTable('Catalog benchmark (vs ref = share of the gateway → trivial upstream ceiling)', rows);
  return [
    {
      group: 'Catalog reads through the gateway',
      label:
        'The demo catalog (242 products) through the gateway → products → Postgres: as shoppers ' +
        'send each read (the gateway’s 1 s micro-cache answers repeats), with `Cache-Control: ' +
        'no-cache` (products’ answer cache), and over thousands of different queries (every one ' +
        `computed). Throughput with ${connections} connections (autocannon); latency at a steady ` +
        '1,000 req/s from the open-loop generator.',
      ceiling: express,
      figures,
    },
  ];
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
