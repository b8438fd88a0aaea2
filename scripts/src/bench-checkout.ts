import { benchCheckout } from './bench/checkout.js';
import { startBenchSystem } from './bench/system.js';

/** `npm run bench:checkout`: cart → order → pay → paid through the gateway, beside its ceilings. */
const system = await startBenchSystem({ catalog: true, orders: true });
try {
  await benchCheckout(system);
} finally {
  await system.stop();
}
