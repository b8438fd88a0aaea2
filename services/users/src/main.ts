import { fileURLToPath } from 'node:url';
import {
  createDb,
  createLogger,
  createMetrics,
  handleShutdown,
  listen,
  migrate,
  runMain,
} from '@mercado/common';
import {
  buildUsersApp,
  ensureAdmin,
  loadUsersConfig,
  usersCredentials,
  usersDeps,
  usersMigrationsDir,
} from './app.js';

runMain(async function main() {
  const config = loadUsersConfig();
  const log = createLogger({ name: 'users', level: config.LOG_LEVEL });
  const metrics = createMetrics('users');
  const { keys, hasher } = await usersCredentials(config);
  const db = createDb({
    url: config.DATABASE_URL,
    poolMax: config.DATABASE_POOL_MAX,
    log,
    metrics,
    name: 'mercado-users',
  });
  if (config.MIGRATE_ON_START) {
    const applied = await migrate(db, fileURLToPath(usersMigrationsDir));
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
  }
  let shuttingDown = () => false;
  const deps = { config, log, metrics, db, keys, hasher, isShuttingDown: () => shuttingDown() };
  if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) {
    const admin = await ensureAdmin(usersDeps(deps), {
      email: config.ADMIN_EMAIL,
      password: config.ADMIN_PASSWORD,
    });
    log.info({ userId: admin.userId, created: admin.created }, 'first admin ensured');
  }
  const server = await listen(buildUsersApp(deps), { host: config.HOST, port: config.PORT });
  const shutdown = handleShutdown({
    log,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [
      { name: 'http', run: () => server.close(config.SHUTDOWN_TIMEOUT_MS) },
      { name: 'database', run: () => db.destroy() },
    ],
  });
  shuttingDown = shutdown.shuttingDown;
  log.info({ url: server.url, kid: keys.activeKid }, 'users service listening');
});
