import type { Knex } from '@mercado/common/db';

export type PaymentOutcome = 'approved' | 'declined' | 'refused' | 'refunded';

export interface PaymentAttemptRow {
  event_id: string;
  order_id: string;
  outcome: PaymentOutcome;
  payment_id: string | null;
  request_id: string;
  amount_minor: number | null;
  currency: string | null;
  reason: string | null;
  card_brand: string | null;
  card_last4: string | null;
  at: Date;
}

export interface RefundRow {
  refund_id: string;
  order_id: string;
  payment_id: string;
  amount_minor: number;
  reason: string;
  requested_at: Date;
}

/** Records a message's id; false when it was recorded before (a repeat, to ignore). */
export async function recordInInbox(
  trx: Knex.Transaction,
  eventId: string,
  topic: string,
): Promise<boolean> {
  const rows = await trx('inbox')
    .insert({ event_id: eventId, topic })
    .onConflict('event_id')
    .ignore()
    .returning('event_id');
  return rows.length > 0;
}

export async function insertPaymentAttempt(
  trx: Knex.Transaction,
  attempt: PaymentAttemptRow,
): Promise<void> {
  await trx('payment_attempts').insert(attempt);
}

export async function findPaymentAttempts(db: Knex, orderId: string): Promise<PaymentAttemptRow[]> {
  return db<PaymentAttemptRow>('payment_attempts')
    .where({ order_id: orderId })
    .orderBy([
      { column: 'at', order: 'asc' },
      { column: 'event_id', order: 'asc' },
    ]);
}

/** Records a refund of `payment_id`; false when that payment was given back already. */
export async function insertRefund(
  trx: Knex.Transaction,
  refund: Omit<RefundRow, 'requested_at'>,
): Promise<boolean> {
  const rows = await trx('refunds')
    .insert(refund)
    .onConflict('payment_id')
    .ignore()
    .returning('refund_id');
  return rows.length > 0;
}

export async function findRefunds(db: Knex, orderId: string): Promise<RefundRow[]> {
  return db<RefundRow>('refunds').where({ order_id: orderId }).orderBy('requested_at');
}
