import { runDatabaseService } from '@mercado/common';
import {
  buildUsersApp,
  ensureAdmin,
  loadUsersConfig,
  usersCredentials,
  usersDeps,
  usersMigrationsDir,
} from './app.js';

runDatabaseService({
  name: 'users',
  loadConfig: loadUsersConfig,
  migrationsDir: usersMigrationsDir,
  async start(runtime) {
    const { config, log } = runtime;
    const deps = { ...runtime, ...(await usersCredentials(config)) };
    if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) {
      const admin = await ensureAdmin(usersDeps(deps), {
        email: config.ADMIN_EMAIL,
        password: config.ADMIN_PASSWORD,
      });
      log.info({ userId: admin.userId, created: admin.created }, 'first admin ensured');
    }
    return { app: buildUsersApp(deps), describe: { kid: deps.keys.activeKid } };
  },
});
