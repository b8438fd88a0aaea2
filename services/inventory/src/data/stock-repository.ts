import type { Knex } from '@mercado/common/db';

export interface StockRow {
  product_id: string;
  region: string;
  on_hand: number;
  reserved: number;
  available: number;
  updated_at: Date;
}

export interface StockKey {
  productId: string;
  region: string;
}

/** A change to apply to one stock row; either delta may be zero. */
export interface StockChange extends StockKey {
  onHandDelta: number;
  reservedDelta: number;
}

export async function findStockByProduct(db: Knex, productId: string): Promise<StockRow[]> {
  return db<StockRow>('stock').where({ product_id: productId }).orderBy('region');
}

/** Creates the (product, region) row with nothing on hand when it does not exist yet. */
export async function ensureStockRow(trx: Knex.Transaction, key: StockKey): Promise<void> {
  await trx('stock')
    .insert({ product_id: key.productId, region: key.region })
    .onConflict(['product_id', 'region'])
    .ignore();
}

/**
 * Locks stock rows in one global order, (product id, region), whatever order the caller gives.
 * Every writer locks this way, so two writers never wait on each other in a cycle (no deadlocks).
 * Rows that do not exist are simply absent from the result.
 */
export async function lockStockRows(
  trx: Knex.Transaction,
  keys: readonly StockKey[],
): Promise<StockRow[]> {
  if (keys.length === 0) return [];
  return trx<StockRow>('stock')
    .whereIn(
      ['product_id', 'region'],
      keys.map((key) => [key.productId, key.region]),
    )
    .orderBy([
      { column: 'product_id', order: 'asc' },
      { column: 'region', order: 'asc' },
    ])
    .forUpdate();
}

/** Locks every stock row of one product (all regions), in the global order. */
export async function lockProductStock(
  trx: Knex.Transaction,
  productId: string,
): Promise<StockRow[]> {
  return trx<StockRow>('stock')
    .where({ product_id: productId })
    .orderBy([
      { column: 'product_id', order: 'asc' },
      { column: 'region', order: 'asc' },
    ])
    .forUpdate();
}

/**
 * Applies changes to rows the caller has locked, in one statement. The table's checks (on hand and
 * reserved never negative, reserved never above on hand) are the final guard.
 */
export async function applyStockChanges(
  trx: Knex.Transaction,
  changes: readonly StockChange[],
): Promise<StockRow[]> {
  if (changes.length === 0) return [];
  const payload = JSON.stringify(
    changes.map((change) => ({
      product_id: change.productId,
      region: change.region,
      on_hand_delta: change.onHandDelta,
      reserved_delta: change.reservedDelta,
    })),
  );
  const result = await trx.raw<{ rows: StockRow[] }>(
    `update stock s
        set on_hand = s.on_hand + c.on_hand_delta,
            reserved = s.reserved + c.reserved_delta,
            updated_at = now()
       from jsonb_to_recordset(?::jsonb)
            as c(product_id uuid, region text, on_hand_delta integer, reserved_delta integer)
      where s.product_id = c.product_id and s.region = c.region
      returning s.*`,
    [payload],
  );
  return result.rows;
}

export interface LowStockRow extends StockRow {
  seller_id: string;
  low_stock_threshold: number;
}

export interface LowStockQuery {
  sellerId?: string;
  region?: string;
  limit: number;
  after?: StockKey;
}

/** Rows whose available stock is below their product's threshold, keyset-paginated on (product, region). */
export async function listLowStock(db: Knex, query: LowStockQuery): Promise<LowStockRow[]> {
  const builder = db<LowStockRow>('stock as s')
    .join('product_settings as p', 'p.product_id', 's.product_id')
    .select('s.*', 'p.seller_id', 'p.low_stock_threshold')
    .whereRaw('s.available < p.low_stock_threshold')
    .orderBy([
      { column: 's.product_id', order: 'asc' },
      { column: 's.region', order: 'asc' },
    ])
    .limit(query.limit);
  if (query.sellerId) builder.where('p.seller_id', query.sellerId);
  if (query.region) builder.where('s.region', query.region);
  if (query.after) {
    builder.whereRaw('(s.product_id, s.region) > (?::uuid, ?)', [
      query.after.productId,
      query.after.region,
    ]);
  }
  return builder;
}
