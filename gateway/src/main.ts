import { createLogger } from '@mercado/common/log';
import { createMetrics } from '@mercado/common/metrics';
import { handleShutdown, listen } from '@mercado/common/http';
import { runMain } from '@mercado/common/main';
import { buildGateway } from './app.js';
import { loadGatewayConfig } from './config.js';

runMain(async function main({ useLogger }) {
  const config = loadGatewayConfig();
  const log = createLogger({ name: 'gateway', level: config.LOG_LEVEL });
  useLogger(log);
  const metrics = createMetrics('gateway');
  let shuttingDown = (): boolean => false;
  const gateway = buildGateway({ config, log, metrics, isShuttingDown: () => shuttingDown() });
  if (!(await gateway.ready())) {
    log.warn('starting before the rate-limit store or the revocation list answered');
  }
  const server = await listen(gateway.app, { host: config.HOST, port: config.PORT });
  server.server.on('upgrade', gateway.upgrade);
  const shutdown = handleShutdown({
    log,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [
      { name: 'http server', run: () => server.close(config.SHUTDOWN_TIMEOUT_MS) },
      { name: 'upstream connections', run: () => gateway.close() },
    ],
  });
  shuttingDown = shutdown.shuttingDown;
  log.info(
    {
      url: server.url,
      services: Object.fromEntries(
        Object.entries(config.upstreams).map(([name, urls]) => [name, urls.length]),
      ),
      // Without MQTT_URL a disabled or demoted account keeps its tokens until they expire.
      revocations: config.MQTT_URL ? 'heard' : 'off',
    },
    'gateway listening',
  );
});
