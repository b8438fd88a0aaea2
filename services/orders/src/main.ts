import { runDatabaseService } from '@mercado/common/main';
import { buildOrdersApp, loadOrdersConfig, ordersMigrationsDir } from './app.js';

runDatabaseService({
  name: 'orders',
  loadConfig: loadOrdersConfig,
  migrationsDir: ordersMigrationsDir,
  async start(runtime) {
    return { app: buildOrdersApp(runtime), describe: { regions: runtime.config.REGIONS } };
  },
});
