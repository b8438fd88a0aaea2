import { runDatabaseService } from '@mercado/common/main';
import {
  buildProductsApp,
  listenForCatalogChanges,
  loadProductsConfig,
  productsMigrationsDir,
} from './app.js';

runDatabaseService({
  name: 'products',
  loadConfig: loadProductsConfig,
  migrationsDir: productsMigrationsDir,
  start: async (runtime) => {
    const changes = listenForCatalogChanges(runtime);
    return {
      app: buildProductsApp({ ...runtime, ...(changes ? { changes } : {}) }),
      background: changes ? [{ name: 'catalog change feed', stop: () => changes.close() }] : [],
      describe: { answerCache: changes ? 'on' : 'off' },
    };
  },
});
