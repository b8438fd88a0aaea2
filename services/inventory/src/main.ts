import { runDatabaseService } from '@mercado/common';
import {
  buildInventoryApp,
  createReservationSweeper,
  inventoryMigrationsDir,
  loadInventoryConfig,
} from './app.js';

runDatabaseService({
  name: 'inventory',
  loadConfig: loadInventoryConfig,
  migrationsDir: inventoryMigrationsDir,
  async start(runtime) {
    const { config, db, log } = runtime;
    // Every replica sweeps; SKIP LOCKED keeps them from releasing the same reservation twice.
    const sweeper = createReservationSweeper({
      db,
      log,
      batchSize: config.SWEEP_BATCH_SIZE,
      intervalMs: config.SWEEP_INTERVAL_MS,
    });
    sweeper.start();
    return {
      app: buildInventoryApp(runtime),
      background: [{ name: 'sweeper', stop: () => sweeper.stop() }],
      describe: { regions: config.REGIONS },
    };
  },
});
