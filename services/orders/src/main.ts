import { runDatabaseService } from '@mercado/common/main';
import {
  buildOrdersApp,
  consumePaymentResults,
  createOrderSweeper,
  loadOrdersConfig,
  ordersDeps,
  ordersMigrationsDir,
  ordersOutbox,
} from './app.js';

runDatabaseService({
  name: 'orders',
  loadConfig: loadOrdersConfig,
  migrationsDir: ordersMigrationsDir,
  async start(runtime) {
    const { config, db, log, mqtt } = runtime;
    const deps = ordersDeps(runtime);
    // Every replica relays its share of the outbox (SKIP LOCKED); none without MQTT_URL.
    const relay = ordersOutbox.startRelay(runtime);
    // One replica of the `orders` share group gets each payment result.
    const results = mqtt ? consumePaymentResults({ ...deps, mqtt }) : undefined;
    // Every replica sweeps, at once on start (the reconciliation of what happened while none
    // ran) and then periodically; SKIP LOCKED keeps them from expiring one order twice.
    const sweeper = createOrderSweeper({
      db,
      log,
      inventory: deps.inventory,
      batchSize: config.SWEEP_BATCH_SIZE,
      intervalMs: config.SWEEP_INTERVAL_MS,
      idempotencyKeyTtlHours: config.IDEMPOTENCY_KEY_TTL_HOURS,
      guestCartTtlDays: config.GUEST_CART_TTL_DAYS,
    });
    sweeper.start();
    return {
      app: buildOrdersApp({ ...runtime, catalog: deps.catalog, inventory: deps.inventory }),
      background: [
        ...(results ? [results] : []),
        { name: 'sweeper', stop: () => sweeper.stop() },
        ...(relay ? [relay] : []),
      ],
      describe: {
        regions: config.REGIONS,
        outboxRelayed: relay !== undefined,
        paymentResults: results !== undefined,
      },
    };
  },
});
