import { benchBroker } from './bench/broker.js';
import { benchCatalog } from './bench/catalog.js';
import { benchCheckout } from './bench/checkout.js';
import { benchGateway } from './bench/gateway.js';
import { benchPayments } from './bench/payments.js';
import { benchStock } from './bench/stock.js';
import { benchStorefront } from './bench/storefront.js';
import { startBenchSystem } from './bench/system.js';
import { benchTerminals } from './bench/terminals.js';

/** `npm run bench`: every benchmark, one system, one run (BENCH_SECONDS per measurement). */
const system = await startBenchSystem({ catalog: true, orders: true });
try {
  await benchGateway(system);
  await benchCatalog(system);
  await benchStock(system);
  await benchPayments(system);
  await benchCheckout(system);
  await benchTerminals(system);
  await benchStorefront(system);
} finally {
  await system.stop();
}
// The broker needs none of the system: it runs once the services are gone, on a quiet machine.
await benchBroker();
