import { createLogger, createMetrics, handleShutdown, runMain } from '@mercado/common';
import { createMercadoBroker, loadBrokerConfig } from './broker.js';
import { startListeners } from './listeners.js';

runMain(async function main() {
  const config = loadBrokerConfig();
  const log = createLogger({ name: 'broker', level: config.LOG_LEVEL });
  const metrics = createMetrics('broker');
  const broker = await createMercadoBroker({ config, log, metrics });
  const listeners = await startListeners(broker, { config, log, metrics });
  handleShutdown({
    log,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [
      // The broker first: it closes every client, which the servers would otherwise wait for.
      { name: 'broker', run: () => broker.close() },
      { name: 'listeners', run: () => listeners.close() },
    ],
  });
  log.info(
    {
      mqtt: listeners.mqttUrl,
      mqtts: listeners.mqttsUrl,
      ws: listeners.wsUrl,
      http: listeners.httpUrl,
    },
    'broker listening',
  );
});
