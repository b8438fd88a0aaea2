import { startBenchSystem } from './bench/system.js';
import {
  benchSingleGatewayCapacity,
  benchTopologyCheckout,
  printCapacity,
} from './bench/topology.js';

/**
 * `npm run bench:topology`: the checkout's capacity on the one-gateway system, then through nginx
 * in the production topology (2 gateways), one after the other on the same machine.
 */
const system = await startBenchSystem({ catalog: true, orders: true });
let single;
try {
  single = await benchSingleGatewayCapacity(system.gatewayUrl);
} finally {
  await system.stop();
}
printCapacity(single, await benchTopologyCheckout());
