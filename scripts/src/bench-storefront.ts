import { benchStorefront } from './bench/storefront.js';
import { startBenchSystem } from './bench/system.js';

/** `npm run bench:storefront`: the catalog's first render and its bytes in headless Chromium. */
const system = await startBenchSystem({ catalog: true });
try {
  await benchStorefront(system);
} finally {
  await system.stop();
}
