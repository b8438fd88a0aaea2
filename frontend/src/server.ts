import { loadConfig } from '@mercado/common/config';
import { buildHttpApp, handleShutdown, listen, serveStaticSite } from '@mercado/common/http';
import { createLogger } from '@mercado/common/log';
import { runMain } from '@mercado/common/main';
import { createMetrics } from '@mercado/common/metrics';
import { frontendSettings } from './config.js';

/**
 * A frontend replica (`npm run start -w frontend`, one container of Compose's `frontend`): the
 * built site (`frontend/build.mjs`) served as the kit's static handler serves it — clean paths,
 * pages revalidated with the site's CSP, hashed assets immutable, precompressed files — with
 * health, readiness and metrics like every process, behind the load balancer. Nothing else: the
 * pages call `/api/` and `/mqtt`, which the load balancer routes to the gateways and brokers.
 */
runMain(async function main({ useLogger }) {
  const config = loadConfig(frontendSettings);
  const log = createLogger({ name: 'frontend', level: config.LOG_LEVEL });
  useLogger(log);
  const metrics = createMetrics('frontend');
  let shuttingDown = (): boolean => false;
  const site = serveStaticSite({ dir: config.SITE_DIR });
  const app = buildHttpApp({
    name: 'frontend',
    log,
    metrics,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    isShuttingDown: () => shuttingDown(),
    routes(routes) {
      routes.use(site);
    },
  });
  const server = await listen(app, { host: config.HOST, port: config.PORT });
  const shutdown = handleShutdown({
    log,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [{ name: 'http server', run: () => server.close(config.SHUTDOWN_TIMEOUT_MS) }],
  });
  shuttingDown = shutdown.shuttingDown;
  log.info({ url: server.url, site: config.SITE_DIR }, 'frontend listening');
});
