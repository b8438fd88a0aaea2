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
import {
  buildInventoryApp,
  createReservationSweeper,
  inventoryMigrationsDir,
  loadInventoryConfig,
} from './app.js';

runMain(async function main() {
  const config = loadInventoryConfig();
  const log = createLogger({ name: 'inventory', level: config.LOG_LEVEL });
  const metrics = createMetrics('inventory');
  const db = createDb({
    url: config.DATABASE_URL,
    poolMax: config.DATABASE_POOL_MAX,
    log,
    metrics,
    name: 'mercado-inventory',
  });
  if (config.MIGRATE_ON_START) {
    const applied = await migrate(db, fileURLToPath(inventoryMigrationsDir));
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
  }
  let shuttingDown = () => false;
  const app = buildInventoryApp({ config, log, metrics, db, isShuttingDown: () => shuttingDown() });
  const server = await listen(app, { host: config.HOST, port: config.PORT });
  // Every replica sweeps; SKIP LOCKED keeps them from releasing the same reservation twice.
  const sweeper = createReservationSweeper({
    db,
    log,
    batchSize: config.SWEEP_BATCH_SIZE,
    intervalMs: config.SWEEP_INTERVAL_MS,
  });
  sweeper.start();
  const shutdown = handleShutdown({
    log,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [
      { name: 'sweeper', run: () => sweeper.stop() },
      { name: 'http', run: () => server.close(config.SHUTDOWN_TIMEOUT_MS) },
      { name: 'database', run: () => db.destroy() },
    ],
  });
  shuttingDown = shutdown.shuttingDown;
  log.info({ url: server.url, regions: config.REGIONS }, 'inventory service listening');
});
