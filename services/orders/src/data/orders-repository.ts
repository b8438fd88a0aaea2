import type { Knex } from '@mercado/common/db';

export const orderStatuses = [
  'awaiting_payment',
  'payment_failed',
  'paid',
  'shipped',
  'delivered',
  'cancelled',
  'expired',
  'partially_refunded',
  'refunded',
] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export type ReservationState = 'held' | 'committed' | 'released' | 'lost';

export interface ShippingAddress {
  name: string;
  line1: string;
  line2?: string | undefined;
  city: string;
  postalCode: string;
  country: string;
}

export interface OrderRow {
  id: string;
  user_id: string;
  status: OrderStatus;
  region: string;
  currency: string;
  total_minor: number;
  item_count: number;
  shipping_address: ShippingAddress;
  deadline: Date;
  expires_at: Date;
  /** When payments was last asked about this unpaid order (sql/orders/0005_payment_checks.sql). */
  payment_checked_at: Date | null;
  reservation: ReservationState;
  payment_id: string | null;
  failure_reason: string | null;
  /** What a terminal shows the order by (sql/orders/0006); null for an order placed before. */
  pay_code: string | null;
  /** What was given back of its payment. */
  refunded_minor: number;
  created_at: Date;
  updated_at: Date;
}

export interface OrderLineRow {
  order_id: string;
  product_id: string;
  seller_id: string;
  name: string;
  sku: string;
  unit_price_minor: number;
  quantity: number;
  line_total_minor: number;
}

export interface OrderHistoryRow {
  id: number;
  order_id: string;
  from_status: OrderStatus | null;
  to_status: OrderStatus;
  cause: string;
  actor: string;
  at: Date;
}

/**
 * Who moves an order and why, for the rest of the transaction: sql/orders' trigger writes them
 * into the history row of every move, and refuses a move without them.
 */
export async function setMoveContext(
  trx: Knex.Transaction,
  context: { cause: string; actor: string },
): Promise<void> {
  await trx.raw(
    `select set_config('mercado.order_cause', ?, true), set_config('mercado.order_actor', ?, true)`,
    [context.cause, context.actor],
  );
}

export async function insertOrder(
  trx: Knex.Transaction,
  order: Omit<
    OrderRow,
    | 'status'
    | 'reservation'
    | 'payment_id'
    | 'failure_reason'
    | 'payment_checked_at'
    | 'refunded_minor'
    | 'created_at'
    | 'updated_at'
  >,
  lines: ReadonlyArray<Omit<OrderLineRow, 'order_id' | 'line_total_minor'>>,
): Promise<OrderRow> {
  const [row] = await trx<OrderRow>('orders')
    .insert({ ...order, shipping_address: JSON.stringify(order.shipping_address) as never })
    .returning('*');
  await trx('order_lines').insert(lines.map((line) => ({ ...line, order_id: order.id })));
  return row!;
}

export async function findOrder(db: Knex, orderId: string): Promise<OrderRow | undefined> {
  return db<OrderRow>('orders').where({ id: orderId }).first();
}

export async function lockOrder(
  trx: Knex.Transaction,
  orderId: string,
): Promise<OrderRow | undefined> {
  return trx<OrderRow>('orders').where({ id: orderId }).forUpdate().first();
}

/**
 * Changes an order; with `fromStatus`, only while it still has that status (undefined when it
 * moved meanwhile: a move is never applied twice, whatever locks the caller took).
 */
export async function updateOrder(
  trx: Knex.Transaction,
  orderId: string,
  change: Partial<
    Pick<OrderRow, 'status' | 'reservation' | 'payment_id' | 'failure_reason' | 'refunded_minor'>
  >,
  fromStatus?: OrderStatus,
): Promise<OrderRow | undefined> {
  const [row] = await trx<OrderRow>('orders')
    .where({ id: orderId, ...(fromStatus ? { status: fromStatus } : {}) })
    .update({ ...change, updated_at: trx.fn.now() as unknown as Date })
    .returning('*');
  return row;
}

export async function findOrderLines(
  db: Knex,
  orderIds: readonly string[],
): Promise<OrderLineRow[]> {
  if (orderIds.length === 0) return [];
  return db<OrderLineRow>('order_lines')
    .whereIn('order_id', orderIds)
    .orderBy([
      { column: 'order_id', order: 'asc' },
      { column: 'product_id', order: 'asc' },
    ]);
}

export async function findOrderHistory(db: Knex, orderId: string): Promise<OrderHistoryRow[]> {
  return db<OrderHistoryRow>('order_history').where({ order_id: orderId }).orderBy('id');
}

/** A note on the order's history that does not move it (a refund requested, say). */
export async function appendOrderNote(
  trx: Knex.Transaction,
  order: Pick<OrderRow, 'id' | 'status'>,
  note: { cause: string; actor: string },
): Promise<void> {
  await trx('order_history').insert({
    order_id: order.id,
    from_status: order.status,
    to_status: order.status,
    ...note,
  });
}

/** A page of orders, newest first, after the keyset position `after`. */
export async function listOrders(
  db: Knex,
  filter: {
    userId?: string | undefined;
    status?: OrderStatus | undefined;
    after?: { createdAt: string; id: string } | undefined;
    limit: number;
  },
): Promise<OrderRow[]> {
  const query = db<OrderRow>('orders as o').select('o.*');
  if (filter.userId) query.where('o.user_id', filter.userId);
  return newestFirst(query, filter);
}

/** The listings' common part: a status, and one page newest first after the keyset `after`. */
function newestFirst(
  query: Knex.QueryBuilder<OrderRow, OrderRow[]>,
  filter: {
    status?: OrderStatus | undefined;
    after?: { createdAt: string; id: string } | undefined;
    limit: number;
  },
): Promise<OrderRow[]> {
  if (filter.status) query.where('o.status', filter.status);
  if (filter.after) {
    query.whereRaw('(o.created_at, o.id) < (?::timestamptz, ?::uuid)', [
      filter.after.createdAt,
      filter.after.id,
    ]);
  }
  return query
    .orderBy([
      { column: 'o.created_at', order: 'desc' },
      { column: 'o.id', order: 'desc' },
    ])
    .limit(filter.limit);
}

/**
 * A page of the orders holding at least one line sold by `sellerId`, newest first, after the
 * keyset position `after` (order_lines_seller_idx finds the seller's lines).
 */
export async function listOrdersWithSeller(
  db: Knex,
  filter: {
    sellerId: string;
    status?: OrderStatus | undefined;
    after?: { createdAt: string; id: string } | undefined;
    limit: number;
  },
): Promise<OrderRow[]> {
  const query = db<OrderRow>('orders as o')
    .select('o.*')
    .whereExists(
      db('order_lines as l')
        .select(db.raw('1'))
        .whereRaw('l.order_id = o.id')
        .where('l.seller_id', filter.sellerId),
    );
  return newestFirst(query, filter);
}

/** Which unpaid orders to ask payments about (see claimOrdersToCheck). */
export interface CheckClaim {
  /** Past their expiry (to be closed, then expired), or not yet (only asked about). */
  due: boolean;
  /** Orders asked about before this instant (by the database's clock) are asked again. */
  askedBefore: Date;
  limit: number;
}

/**
 * Claims up to `limit` unpaid orders to ask payments about, and stamps them asked
 * (`payment_checked_at`), in the caller's transaction. Due: past their expiry and not asked since
 * it passed (or before `askedBefore`). Not due: not asked (or, never asked, not created) since
 * before `askedBefore`. SKIP LOCKED lets every replica claim at once, each orders no other holds;
 * the stamp keeps the next batch (and the next replica) from asking again.
 */
export async function claimOrdersToCheck(
  trx: Knex.Transaction,
  { due, askedBefore, limit }: CheckClaim,
): Promise<string[]> {
  const unpaid = trx<OrderRow>('orders')
    .select('id')
    .whereIn('status', ['awaiting_payment', 'payment_failed'])
    .orderBy([
      { column: 'expires_at', order: 'asc' },
      { column: 'id', order: 'asc' },
    ])
    .limit(limit)
    .forUpdate()
    .skipLocked();
  if (due) {
    unpaid.where('expires_at', '<=', trx.fn.now()).where(function notAskedSinceDue() {
      this.whereNull('payment_checked_at')
        .orWhereRaw('payment_checked_at < expires_at')
        .orWhere('payment_checked_at', '<', askedBefore);
    });
  } else {
    unpaid
      .where('expires_at', '>', trx.fn.now())
      .whereRaw('coalesce(payment_checked_at, created_at) < ?', [askedBefore]);
  }
  const ids = (await unpaid).map((row) => row.id);
  if (ids.length > 0) {
    await trx('orders').whereIn('id', ids).update({ payment_checked_at: trx.fn.now() });
  }
  return ids;
}

/** Orders whose reservation inventory has still to commit (paid) or release (cancelled, expired). */
export async function findUnsettledOrders(db: Knex, limit: number): Promise<OrderRow[]> {
  return db<OrderRow>('orders')
    .where({ reservation: 'held' })
    .whereNotIn('status', ['awaiting_payment', 'payment_failed'])
    .orderBy('id')
    .limit(limit);
}

/** Sets the reservation's state once inventory did what it says, unless it moved meanwhile. */
export async function markReservation(
  db: Knex,
  orderId: string,
  from: ReservationState,
  to: ReservationState,
): Promise<void> {
  await db('orders').where({ id: orderId, reservation: from }).update({ reservation: to });
}
