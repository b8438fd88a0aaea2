import { createLogger } from '@mercado/common/log';
import { createMetrics } from '@mercado/common/metrics';
import { handleShutdown } from '@mercado/common/http';
import { runMain } from '@mercado/common/main';
import {
  createMercadoBroker,
  createTerminalVerifier,
  loadBrokerConfig,
  startListeners,
} from './index.js';

runMain(async function main({ useLogger }) {
  const config = loadBrokerConfig();
  const log = createLogger({ name: 'broker', level: config.LOG_LEVEL });
  useLogger(log);
  const metrics = createMetrics('broker');
  const verifyTerminal = config.USERS_URL
    ? createTerminalVerifier({
        usersUrl: config.USERS_URL,
        internalSecret: config.INTERNAL_SECRET,
        cacheTtlMs: config.TERMINAL_CHECK_TTL_MS,
      })
    : undefined;
  if (!verifyTerminal) log.warn('USERS_URL is not set: no payment terminal can connect');
  const broker = await createMercadoBroker({
    config,
    log,
    metrics,
    ...(verifyTerminal ? { verifyTerminal } : {}),
  });
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
      mqttProxy: listeners.mqttProxyUrl,
      mqtts: listeners.mqttsUrl,
      ws: listeners.wsUrl,
      http: listeners.httpUrl,
    },
    'broker listening',
  );
});
