import { benchTerminals } from './bench/terminals.js';
import { startBenchSystem } from './bench/system.js';

/**
 * `npm run bench:terminals`: 1,000 registered terminals paying walk-in amounts over MQTT at a
 * steady rate, beside bare aedes answering the same fleet with an echo.
 */
const system = await startBenchSystem({ catalog: false, payments: true, statements: true });
try {
  await benchTerminals(system);
} finally {
  await system.stop();
}
