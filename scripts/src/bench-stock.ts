import { benchStock } from './bench/stock.js';
import { startBenchSystem } from './bench/system.js';

/** `npm run bench:stock`: a product's stock through the gateway, beside the proxied ceiling. */
const system = await startBenchSystem({ catalog: true });
try {
  await benchStock(system);
} finally {
  await system.stop();
}
