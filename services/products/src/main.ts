import { runDatabaseService } from '@mercado/common/main';
import {
  buildProductsApp,
  startCatalogAnswers,
  loadProductsConfig,
  productsMigrationsDir,
} from './app.js';

runDatabaseService({
  name: 'products',
  loadConfig: loadProductsConfig,
  migrationsDir: productsMigrationsDir,
  start: async (runtime) => {
    const answers = startCatalogAnswers(runtime);
    return {
      app: buildProductsApp({ ...runtime, ...(answers ? { answers } : {}) }),
      background: answers ? [{ name: 'catalog change feed', stop: () => answers.close() }] : [],
      describe: { answerCache: answers ? 'on' : 'off' },
    };
  },
});
