/** `@mercado/common/db`: the one knex pool, transactions, migrations, change notifications. */
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
