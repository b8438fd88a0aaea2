import type { Knex } from '@mercado/common/db';

export interface CartRow {
  id: string;
  user_id: string | null;
  token_hash: Buffer | null;
  region: string;
  currency: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface CartLineRow {
  cart_id: string;
  product_id: string;
  quantity: number;
  unit_price_minor: number;
  added_at: Date;
}

export type CartKey = { id: string } | { userId: string } | { tokenHash: Buffer };

function whereKey(key: CartKey): Record<string, unknown> {
  if ('id' in key) return { id: key.id };
  return 'userId' in key ? { user_id: key.userId } : { token_hash: key.tokenHash };
}

export async function findCart(db: Knex, key: CartKey): Promise<CartRow | undefined> {
  return db<CartRow>('carts').where(whereKey(key)).first();
}

/** The cart, locked for the rest of the transaction: its writers take turns. */
export async function lockCart(trx: Knex.Transaction, key: CartKey): Promise<CartRow | undefined> {
  return trx<CartRow>('carts').where(whereKey(key)).forUpdate().first();
}

/** The user's cart, created empty in `region` if they have none; locked either way. */
export async function lockOrCreateUserCart(
  trx: Knex.Transaction,
  userId: string,
  region: string,
): Promise<CartRow> {
  await trx('carts').insert({ user_id: userId, region }).onConflict('user_id').ignore();
  return (await lockCart(trx, { userId }))!;
}

export async function insertGuestCart(
  trx: Knex.Transaction,
  tokenHash: Buffer,
  region: string,
): Promise<CartRow> {
  const [row] = await trx<CartRow>('carts')
    .insert({ token_hash: tokenHash, region })
    .returning('*');
  return row!;
}

export async function updateCart(
  trx: Knex.Transaction,
  cartId: string,
  change: { region?: string; currency?: string | null },
): Promise<void> {
  await trx('carts')
    .where({ id: cartId })
    .update({ ...change, updated_at: trx.fn.now() });
}

export async function deleteCart(trx: Knex.Transaction, cartId: string): Promise<void> {
  await trx('carts').where({ id: cartId }).delete();
}

export async function findCartLines(db: Knex, cartId: string): Promise<CartLineRow[]> {
  return db<CartLineRow>('cart_lines')
    .where({ cart_id: cartId })
    .orderBy([
      { column: 'added_at', order: 'asc' },
      { column: 'product_id', order: 'asc' },
    ]);
}

/** Sets a line's quantity and price, adding the line when the cart has none for the product. */
export async function upsertCartLine(
  trx: Knex.Transaction,
  line: { cartId: string; productId: string; quantity: number; unitPriceMinor: number },
): Promise<void> {
  await trx('cart_lines')
    .insert({
      cart_id: line.cartId,
      product_id: line.productId,
      quantity: line.quantity,
      unit_price_minor: line.unitPriceMinor,
    })
    .onConflict(['cart_id', 'product_id'])
    .merge(['quantity', 'unit_price_minor']);
}

export async function deleteCartLine(
  trx: Knex.Transaction,
  cartId: string,
  productId: string,
): Promise<boolean> {
  const deleted = await trx('cart_lines')
    .where({ cart_id: cartId, product_id: productId })
    .delete();
  return deleted > 0;
}

export async function deleteCartLines(trx: Knex.Transaction, cartId: string): Promise<void> {
  await trx('cart_lines').where({ cart_id: cartId }).delete();
}

/** Guest carts untouched since `days` ago; returns how many were deleted. */
export async function deleteStaleGuestCarts(db: Knex, days: number): Promise<number> {
  return db('carts')
    .whereNotNull('token_hash')
    .where('updated_at', '<', db.raw(`now() - make_interval(days => ?)`, [days]))
    .delete();
}
