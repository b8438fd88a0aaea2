import { withTransaction, type Knex } from '@mercado/common/db';
import type { InventoryDeps } from './deps.js';

/**
 * Runs a use case's transaction that may change stock, and afterwards — committed, rolled back or
 * unknown — tells this replica's stock answers that the products it touched may have changed
 * (`deps.stockChanged`). The database notifies every replica on commit too (sql/inventory's
 * `stock_changed` trigger), a moment later; this makes a replica read its own writes at once,
 * before the writer gets its response. A spurious retirement costs one recomputed answer.
 */
export async function withStockTransaction<T>(
  deps: Pick<InventoryDeps, 'db' | 'stockChanged'>,
  work: (trx: Knex.Transaction, touch: (productIds: Iterable<string>) => void) => Promise<T>,
): Promise<T> {
  const touched = new Set<string>();
  try {
    return await withTransaction(deps.db, (trx) =>
      work(trx, function touch(productIds) {
        for (const productId of productIds) touched.add(productId);
      }),
    );
  } finally {
    if (touched.size > 0) deps.stockChanged(touched);
  }
}
