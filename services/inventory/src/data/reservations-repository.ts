import type { Knex } from '@mercado/common/db';

export type ReservationStatus = 'active' | 'committed' | 'released' | 'expired';

export interface ReservationRow {
  order_id: string;
  region: string;
  status: ReservationStatus;
  expires_at: Date;
  created_at: Date;
  updated_at: Date;
}

export interface ReservationLineRow {
  order_id: string;
  product_id: string;
  quantity: number;
}

/**
 * Inserts an active reservation, or returns undefined when the order already has one. A concurrent
 * insert of the same order waits here until the other transaction ends, so exactly one proceeds.
 */
export async function insertReservation(
  trx: Knex.Transaction,
  reservation: { orderId: string; region: string; ttlSeconds: number },
): Promise<ReservationRow | undefined> {
  const [row] = await trx<ReservationRow>('reservations')
    .insert({
      order_id: reservation.orderId,
      region: reservation.region,
      expires_at: trx.raw(`now() + make_interval(secs => ?)`, [
        reservation.ttlSeconds,
      ]) as unknown as Date,
    })
    .onConflict('order_id')
    .ignore()
    .returning('*');
  return row;
}

export async function findReservation(
  db: Knex,
  orderId: string,
): Promise<ReservationRow | undefined> {
  return db<ReservationRow>('reservations').where({ order_id: orderId }).first();
}

export async function lockReservation(
  trx: Knex.Transaction,
  orderId: string,
): Promise<ReservationRow | undefined> {
  return trx<ReservationRow>('reservations').where({ order_id: orderId }).forUpdate().first();
}

export async function insertReservationLines(
  trx: Knex.Transaction,
  orderId: string,
  lines: ReadonlyArray<{ productId: string; quantity: number }>,
): Promise<void> {
  await trx('reservation_lines').insert(
    lines.map((line) => ({
      order_id: orderId,
      product_id: line.productId,
      quantity: line.quantity,
    })),
  );
}

export async function findReservationLines(
  db: Knex,
  orderIds: readonly string[],
): Promise<ReservationLineRow[]> {
  if (orderIds.length === 0) return [];
  return db<ReservationLineRow>('reservation_lines')
    .whereIn('order_id', orderIds)
    .orderBy([
      { column: 'order_id', order: 'asc' },
      { column: 'product_id', order: 'asc' },
    ]);
}

export async function setReservationStatus(
  trx: Knex.Transaction,
  orderIds: readonly string[],
  status: ReservationStatus,
): Promise<ReservationRow[]> {
  return trx<ReservationRow>('reservations')
    .whereIn('order_id', orderIds)
    .update({ status, updated_at: trx.fn.now() as unknown as Date })
    .returning('*');
}

/**
 * Claims up to `limit` active reservations whose deadline has passed (by the database's clock, the
 * same for every replica). SKIP LOCKED lets sweepers on every replica run at once: each claims
 * rows no other holds, and a reservation being committed or released right now is left alone.
 */
export async function claimExpiredReservations(
  trx: Knex.Transaction,
  limit: number,
): Promise<ReservationRow[]> {
  return trx<ReservationRow>('reservations')
    .where({ status: 'active' })
    .where('expires_at', '<=', trx.fn.now())
    .orderBy([
      { column: 'expires_at', order: 'asc' },
      { column: 'order_id', order: 'asc' },
    ])
    .limit(limit)
    .forUpdate()
    .skipLocked();
}
