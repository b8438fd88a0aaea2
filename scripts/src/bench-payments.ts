import { benchPayments } from './bench/payments.js';
import { startBenchSystem } from './bench/system.js';

/** `npm run bench:payments`: a payment's round trip over MQTT through the gateway, beside its ceilings. */
const system = await startBenchSystem({ catalog: false, payments: true });
try {
  await benchPayments(system);
} finally {
  await system.stop();
}
