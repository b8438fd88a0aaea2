import { loadConfig } from '@mercado/common/config';
import { createLogger } from '@mercado/common/log';
import { runMain } from '@mercado/common/main';
import { repoRoot } from './local-state.js';
import { migrateEach, migrateEachSettings } from './migrate-each.js';

/**
 * Compose's one-shot `migrate` service (docker-compose.yml): applies every service's migrations
 * to its own database once, before any service starts (they run with MIGRATE_ON_START=false and
 * wait for it with `service_completed_successfully`). Exits 0 when every service is up to date,
 * 1 when one failed (each failure logged), 2 on a bad configuration.
 */
runMain(async function main({ useLogger }) {
  const config = loadConfig(migrateEachSettings);
  const log = createLogger({ name: 'migrate', level: config.LOG_LEVEL });
  useLogger(log);
  const outcomes = await migrateEach({
    urls: config,
    root: repoRoot,
    log,
  });
  // `migrations`: whose (the logger's own `service` is this process's name).
  for (const outcome of outcomes) {
    if ('error' in outcome) {
      log.error(
        { migrations: outcome.service, err: { message: outcome.error } },
        'migration failed',
      );
    } else {
      log.info({ migrations: outcome.service, applied: outcome.applied }, 'migrations up to date');
    }
  }
  process.exit(outcomes.some((outcome) => 'error' in outcome) ? 1 : 0);
});
