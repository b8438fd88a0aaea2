import { runDatabaseService } from '@mercado/common';
import { buildProductsApp, loadProductsConfig, productsMigrationsDir } from './app.js';

runDatabaseService({
  name: 'products',
  loadConfig: loadProductsConfig,
  migrationsDir: productsMigrationsDir,
  start: async (runtime) => ({ app: buildProductsApp(runtime) }),
});
