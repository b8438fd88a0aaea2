import { benchCatalog } from './bench/catalog.js';
import { startBenchSystem } from './bench/system.js';

/** `npm run bench:catalog`: catalog reads through the gateway, beside the proxied ceiling. */
const system = await startBenchSystem({ catalog: true });
try {
  await benchCatalog(system);
} finally {
  await system.stop();
}
