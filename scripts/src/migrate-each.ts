import path from 'node:path';
import { setting } from '@mercado/common/config';
import { createDb, migrate } from '@mercado/common/db';
import type { Logger } from '@mercado/common/log';
import { databases } from './processes.js';

/** The variable that holds one service's own database URL, for Compose's `migrate`. */
export function databaseUrlVariable(service: string): string {
  return `${service.toUpperCase()}_DATABASE_URL`;
}

/**
 * The settings of Compose's one-shot `migrate` (compose-migrate.ts): every service that owns a
 * database (processes.ts) by its own URL, `{SERVICE}_DATABASE_URL`, each with that service's own
 * role. Applied as that role, every table belongs to the role the service runs as, exactly as if
 * the service had migrated itself; no superuser password is needed (docs/operations.md).
 */
export const migrateEachSettings = {
  LOG_LEVEL: setting.logLevel(),
  ...Object.fromEntries(
    databases().map(({ name }) => [databaseUrlVariable(name), setting.url()] as const),
  ),
};

/** What became of one service's migrations. */
export type MigrationOutcome =
  { service: string; applied: string[] } | { service: string; error: string };

/**
 * Applies every service's pending migrations (`sql/<service>/`, in name order) to its own
 * database, one service after another; a failure is reported and the others still run. Each
 * service's migrations run under knex's lock (the kit's `migrate`), so a service replica started
 * with MIGRATE_ON_START=true at the same moment cannot apply one twice.
 */
export async function migrateEach(options: {
  urls: Readonly<Record<string, string>>;
  /** Where `sql/` is: the repository root, or the image's /app. */
  root: string;
  log: Logger;
}): Promise<MigrationOutcome[]> {
  const outcomes: MigrationOutcome[] = [];
  for (const { name, migrations } of databases()) {
    const url = options.urls[databaseUrlVariable(name)];
    if (!url) {
      outcomes.push({ service: name, error: `${databaseUrlVariable(name)} is not set` });
      continue;
    }
    const db = createDb({ url, log: options.log, poolMax: 2, name: `mercado-migrate-${name}` });
    try {
      outcomes.push({
        service: name,
        applied: await migrate(db, path.join(options.root, migrations)),
      });
    } catch (error) {
      outcomes.push({ service: name, error: (error as Error).message });
    } finally {
      await db.destroy();
    }
  }
  return outcomes;
}
