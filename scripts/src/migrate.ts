import { existsSync } from 'node:fs';
import path from 'node:path';
import { createDb, migrate } from '@mercado/common/db';
import { createLogger } from '@mercado/common/log';
import { openDatabaseServer } from './database-server.js';
import { loadOrCreateSecrets } from './local-secrets.js';
import { dataDirectory, repoRoot } from './local-state.js';
import { databaseUrl, ensureDatabases } from './postgres.js';
import { databases } from './processes.js';

/**
 * `npm run migrate`: applies every service's pending migrations (`sql/<service>/*.sql`, in name
 * order) to its database on DATABASE_URL (a server URL), or on the embedded Postgres of `npm start`
 * (started for the occasion, or shared with a launcher that is running). Services also migrate
 * themselves on start unless MIGRATE_ON_START=false; this is for when that is turned off.
 */
async function main(): Promise<void> {
  const env = process.env;
  const dataDir = dataDirectory(env);
  const password = env.DATABASE_URL
    ? ''
    : (await loadOrCreateSecrets(dataDir)).secrets.postgresPassword;
  const server = await openDatabaseServer({
    env,
    dataDir,
    password,
    shareRunning: true,
    log: (line) => process.stderr.write(`postgres | ${line}\n`),
  });
  let failed = false;
  try {
    process.stdout.write(`migrating on ${server.description}\n`);
    const owned = databases();
    await ensureDatabases(
      server.url,
      owned.map((entry) => entry.database),
    );
    const log = createLogger({ name: 'migrate', level: 'warn' });
    for (const { name, database, migrations } of owned) {
      const directory = path.join(repoRoot, migrations);
      if (!existsSync(directory)) {
        process.stdout.write(`${name}: no migrations (${migrations} does not exist)\n`);
        continue;
      }
      const db = createDb({
        url: databaseUrl(server.url, database),
        log,
        poolMax: 2,
        name: 'mercado-migrate',
      });
      try {
        const applied = await migrate(db, directory);
        process.stdout.write(
          applied.length > 0 ? `${name}: applied ${applied.join(', ')}\n` : `${name}: up to date\n`,
        );
      } catch (error) {
        failed = true;
        process.stderr.write(`${name}: migration failed: ${(error as Error).message}\n`);
      } finally {
        await db.destroy();
      }
    }
  } finally {
    await server.stop();
  }
  // An explicit exit, with the code that says whether every migration applied.
  process.exit(failed ? 1 : 0);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `migrate failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
