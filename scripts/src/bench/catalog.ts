import { loadDemoData } from '../demo/load.js';
import {
  benchAdminPassword,
  measureAtRate,
  measureMax,
  printTable,
  type BenchSystem,
  type Figures,
} from './system.js';

/**
 * Catalog reads through the gateway → products → Postgres, on the demo catalog (242 products),
 * next to the gateway → trivial upstream ceiling (the users service's JWKS: a constant JSON) in
 * the same run. Each route at full throughput, then at a fixed 1,000 req/s for its latency.
 */
export async function benchCatalog(system: BenchSystem): Promise<void> {
  await loadDemoData({
    baseUrl: system.gatewayUrl,
    admin: { email: 'root@bench.example', password: benchAdminPassword },
    demoPassword: 'a demo measuring passphrase',
    regions: ['north', 'south'],
  });
  const sample = (await (await fetch(`${system.gatewayUrl}/api/products?limit=1`)).json()) as {
    items: Array<{ id: string }>;
  };
  const productId = sample.items[0]!.id;
  const fresh = () => ({ 'cache-control': 'no-cache' });
  // The ceiling is proxied for real: no-cache keeps the micro-cache out of it.
  const ceiling = await measureMax(
    'gateway → trivial upstream',
    `${system.gatewayUrl}/api/auth/jwks.json`,
    fresh,
  );
  const rows: Array<Figures & { group: string; of?: number }> = [
    { ...ceiling, group: 'GET /api/auth/jwks.json (ceiling)' },
  ];
  const routes: Array<[string, string]> = [
    ['list, newest', '/api/products?limit=20'],
    ['list, category + price sort', '/api/products?category=electronica&sort=price_asc&limit=20'],
    ['search q=port', '/api/products?q=port&limit=20'],
    ['search q=lap (prefix)', '/api/products?q=lap&limit=20'],
    ['product detail', `/api/products/${productId}`],
    ['categories', '/api/categories'],
    ['stock of a product', `/api/inventory/${productId}`],
  ];
  // Each read twice: as shoppers send it (the gateway's micro-cache answers repeats), and with
  // `Cache-Control: no-cache`, which always reaches products and Postgres.
  for (const [label, path] of routes) {
    const url = `${system.gatewayUrl}${path}`;
    rows.push(
      { ...(await measureMax('max, cached', url)), group: label, of: ceiling.rps },
      { ...(await measureAtRate('1,000 req/s, cached', url, 1000)), group: label },
      { ...(await measureMax('max, no-cache', url, fresh)), group: label, of: ceiling.rps },
      { ...(await measureAtRate('1,000 req/s, no-cache', url, 1000, fresh)), group: label },
    );
  }
  printTable('Catalog benchmark (vs ref = share of the gateway → trivial upstream ceiling)', rows);
}
