import { runDatabaseService } from '@mercado/common/main';
import {
  buildInventoryApp,
  createReservationSweeper,
  inventoryMigrationsDir,
  inventoryOutbox,
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
    // Every replica relays too, sharing the rows the same way; none without MQTT_URL.
    const relay = inventoryOutbox.startRelay(runtime);
    return {
      app: buildInventoryApp(runtime),
      background: [{ name: 'sweeper', stop: () => sweeper.stop() }, ...(relay ? [relay] : [])],
      describe: { regions: config.REGIONS, outboxRelayed: relay !== undefined },
    };
  },
});
