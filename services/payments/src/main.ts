import { runDatabaseService } from '@mercado/common/main';
import {
  buildPaymentsApp,
  loadPaymentsConfig,
  paymentsDeps,
  paymentsMigrationsDir,
  startPaymentsWork,
} from './app.js';

runDatabaseService({
  name: 'payments',
  loadConfig: loadPaymentsConfig,
  migrationsDir: paymentsMigrationsDir,
  async start(runtime) {
    const deps = await paymentsDeps(runtime);
    // Every replica consumes (the broker's $share groups split the messages) and relays (SKIP
    // LOCKED shares the outbox rows).
    const work = startPaymentsWork(runtime, deps);
    return {
      app: buildPaymentsApp(runtime),
      background: work.background,
      describe: {
        // Not `card…`: the logger censors card fields by name.
        activeKid: deps.keyring.activeKid,
        keys: deps.keyring.publicKeys.length,
        mqtt: runtime.mqtt ? 'on' : 'off',
      },
    };
  },
});
