import type { Knex } from '@mercado/common/db';

export interface ProductSettingsRow {
  product_id: string;
  seller_id: string;
  low_stock_threshold: number;
  created_at: Date;
  updated_at: Date;
}

export async function findProductSettings(
  db: Knex,
  productId: string,
): Promise<ProductSettingsRow | undefined> {
  return db<ProductSettingsRow>('product_settings').where({ product_id: productId }).first();
}

/**
 * Locks a product's settings row for a stock change, creating it first when the product has never
 * been stocked (two first stockings at once: one inserts, the other finds it).
 */
export async function lockProductSettings(
  trx: Knex.Transaction,
  productId: string,
  sellerId: string,
): Promise<ProductSettingsRow> {
  await trx('product_settings')
    .insert({ product_id: productId, seller_id: sellerId })
    .onConflict('product_id')
    .ignore();
  const row = await trx<ProductSettingsRow>('product_settings')
    .where({ product_id: productId })
    .forUpdate()
    .first();
  return row!;
}

/**
 * Share-locks the settings of the products a reservation touches, in product id order, so a
 * concurrent threshold change waits for the reservation (and vice versa): each sees the other's
 * outcome, and a low-stock crossing is signalled exactly once.
 */
export async function shareLockProductSettings(
  trx: Knex.Transaction,
  productIds: readonly string[],
): Promise<ProductSettingsRow[]> {
  return trx<ProductSettingsRow>('product_settings')
    .whereIn('product_id', productIds)
    .orderBy('product_id')
    .forShare();
}

export async function updateProductSettings(
  trx: Knex.Transaction,
  productId: string,
  changes: { sellerId: string; lowStockThreshold?: number },
): Promise<ProductSettingsRow> {
  const [row] = await trx<ProductSettingsRow>('product_settings')
    .where({ product_id: productId })
    .update({
      seller_id: changes.sellerId,
      ...(changes.lowStockThreshold !== undefined
        ? { low_stock_threshold: changes.lowStockThreshold }
        : {}),
      updated_at: trx.fn.now() as unknown as Date,
    })
    .returning('*');
  return row!;
}
