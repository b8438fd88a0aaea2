import { runDatabaseService } from '@mercado/common/main';
import {
  buildOrdersApp,
  loadOrdersConfig,
  ordersDeps,
  ordersMigrationsDir,
  startOrdersWork,
} from './app.js';

runDatabaseService({
  name: 'orders',
  loadConfig: loadOrdersConfig,
  migrationsDir: ordersMigrationsDir,
  async start(runtime) {
    const deps = ordersDeps(runtime);
    const work = startOrdersWork(runtime, deps);
    return {
      app: buildOrdersApp({
        ...runtime,
        catalog: deps.catalog,
        inventory: deps.inventory,
        keyLocks: deps.keyLocks,
      }),
      background: work.background,
      // Once no request runs: the keys they held are released as they end.
      afterRequests: [{ name: 'idempotency key locks', stop: () => deps.keyLocks.close() }],
      describe: {
        regions: runtime.config.REGIONS,
        outboxRelayed: work.relaying,
        paymentResults: work.consuming,
      },
    };
  },
});
