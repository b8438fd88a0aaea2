import { runDatabaseService } from '@mercado/common/main';
import {
  buildInventoryApp,
  createReservationSweeper,
  inventoryMigrationsDir,
  inventoryOutbox,
  startStockAnswers,
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
    const answers = startStockAnswers(runtime);
    return {
      app: buildInventoryApp({ ...runtime, ...(answers ? { answers } : {}) }),
      background: [
        { name: 'sweeper', stop: () => sweeper.stop() },
        ...(relay ? [relay] : []),
        ...(answers ? [{ name: 'stock change feed', stop: () => answers.close() }] : []),
      ],
      describe: {
        regions: config.REGIONS,
        outboxRelayed: relay !== undefined,
        answerCache: answers ? 'on' : 'off',
      },
    };
  },
});
