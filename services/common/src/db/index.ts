/**
 * `@mercado/common/db`: the one knex pool, transactions, migrations, change notifications, locks
 * that live as long as the process.
 */
export {
  createDb,
  withTransaction,
  migrate,
  pingDb,
  SqlMigrationSource,
  type Knex,
  type DbOptions,
  type TransactionOptions,
} from './db.js';
export { listenForChanges, type ChangeFeed, type ChangeFeedOptions } from './change-feed.js';
export { batches, type Batches, type BatchesOptions } from './batches.js';
export { openSessionLocks, type SessionLocks, type SessionLocksOptions } from './session-locks.js';
