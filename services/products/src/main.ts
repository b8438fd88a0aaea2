import { fileURLToPath } from 'node:url';
import {
  createDb,
  createLogger,
  createMetrics,
  handleShutdown,
  listen,
  migrate,
  runMain,
} from '@mercado/common';
import { buildProductsApp, loadProductsConfig, productsMigrationsDir } from './app.js';

runMain(async function main() {
  const config = loadProductsConfig();
  const log = createLogger({ name: 'products', level: config.LOG_LEVEL });
  const metrics = createMetrics('products');
  const db = createDb({
    url: config.DATABASE_URL,
    poolMax: config.DATABASE_POOL_MAX,
    log,
    metrics,
    name: 'mercado-products',
  });
  if (config.MIGRATE_ON_START) {
    const applied = await migrate(db, fileURLToPath(productsMigrationsDir));
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
  }
  let shuttingDown = () => false;
  const app = buildProductsApp({ config, log, metrics, db, isShuttingDown: () => shuttingDown() });
  const server = await listen(app, { host: config.HOST, port: config.PORT });
  const shutdown = handleShutdown({
    log,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [
      { name: 'http', run: () => server.close(config.SHUTDOWN_TIMEOUT_MS) },
      { name: 'database', run: () => db.destroy() },
    ],
  });
  shuttingDown = shutdown.shuttingDown;
  log.info({ url: server.url }, 'products service listening');
});
