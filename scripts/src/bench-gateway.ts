import { benchGateway } from './bench/gateway.js';
import { startBenchSystem } from './bench/system.js';

/** `npm run bench:gateway`: the gateway's cost against calling a service directly. */
const system = await startBenchSystem({ catalog: false });
try {
  await benchGateway(system);
} finally {
  await system.stop();
}
