import { ConfigError } from '@mercado/common/config';
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
import { consumeTerminalTransactions } from './consumers/terminal-transactions.js';
import { usersOutbox } from './data/outbox.js';
import { timeZoneKnown } from './data/terminal-transactions-repository.js';

runDatabaseService({
  name: 'users',
  loadConfig: loadUsersConfig,
  migrationsDir: usersMigrationsDir,
  async start(runtime) {
    const { config, db, log, mqtt } = runtime;
    if (!(await timeZoneKnown(db, config.TERMINALS_TIME_ZONE))) {
      throw new ConfigError(['TERMINALS_TIME_ZONE is not a time zone this Postgres knows']);
    }
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
    // Payments' terminal transactions, for the admin's list: one replica of the group gets each.
    const transactions = mqtt ? consumeTerminalTransactions({ db, mqtt, log }) : undefined;
    return {
      app: buildUsersApp(deps),
      background: [
        ...(transactions ? [transactions] : []),
        ...(presence ? [{ name: 'terminal presence', stop: () => presence.close() }] : []),
        ...(relay ? [relay] : []),
      ],
      describe: {
        kid: deps.keys.activeKid,
        terminalPresence: presence ? 'mqtt' : 'off',
        terminalTransactions: transactions ? 'mqtt' : 'off',
        terminalsTimeZone: config.TERMINALS_TIME_ZONE,
        revocationsAnnounced: relay !== undefined,
      },
    };
  },
});
