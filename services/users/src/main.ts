import { runDatabaseService } from '@mercado/common/main';
import {
  buildUsersApp,
  ensureAdmin,
  loadUsersConfig,
  usersCredentials,
  usersDeps,
  usersMigrationsDir,
} from './app.js';
import { startTerminalPresence } from './consumers/terminal-status.js';
import { usersOutbox } from './data/outbox.js';

runDatabaseService({
  name: 'users',
  loadConfig: loadUsersConfig,
  migrationsDir: usersMigrationsDir,
  async start(runtime) {
    const { config, log, mqtt } = runtime;
    const presence = mqtt ? startTerminalPresence({ mqtt, log }) : undefined;
    const deps = { ...runtime, ...(await usersCredentials(config)), presence };
    if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) {
      const admin = await ensureAdmin(usersDeps(deps), {
        email: config.ADMIN_EMAIL,
        password: config.ADMIN_PASSWORD,
      });
      log.info({ userId: admin.userId, created: admin.created }, 'first admin ensured');
    }
    // Revocations are announced from every replica (SKIP LOCKED shares the rows).
    const relay = usersOutbox.startRelay(runtime);
    return {
      app: buildUsersApp(deps),
      background: [
        ...(presence ? [{ name: 'terminal presence', stop: () => presence.close() }] : []),
        ...(relay ? [relay] : []),
      ],
      describe: {
        kid: deps.keys.activeKid,
        terminalPresence: presence ? 'mqtt' : 'off',
        revocationsAnnounced: relay !== undefined,
      },
    };
  },
});
