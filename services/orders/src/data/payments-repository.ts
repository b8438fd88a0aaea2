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
  kind: 'void' | 'refund' | 'reversal';
  status: 'pending' | 'succeeded' | 'failed';
  requested_by: string;
  restock: Array<{ productId: string; quantity: number }>;
  restocked_at: Date | null;
  failure_reason: string | null;
  settled_at: Date | null;
  requested_at: Date;
}

/** What a new refund is; the rest has the table's defaults (pending, nothing restocked). */
export type NewRefund = Pick<
  RefundRow,
  'refund_id' | 'order_id' | 'payment_id' | 'amount_minor' | 'reason'
> &
  Partial<Pick<RefundRow, 'kind' | 'status' | 'requested_by' | 'restock' | 'settled_at'>>;

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

/**
 * Records a void of `payment_id` (a payment the order could not take, given back whole); false
 * when that payment was voided already.
 */
export async function insertVoid(
  trx: Knex.Transaction,
  refund: Pick<RefundRow, 'refund_id' | 'order_id' | 'payment_id' | 'amount_minor' | 'reason'>,
): Promise<boolean> {
  const { rows } = await trx.raw<{ rows: unknown[] }>(
    `insert into refunds (refund_id, order_id, payment_id, amount_minor, reason, kind)
     values (?, ?, ?, ?, ?, 'void')
     on conflict (payment_id) where kind = 'void' do nothing
     returning refund_id`,
    [refund.refund_id, refund.order_id, refund.payment_id, refund.amount_minor, refund.reason],
  );
  return rows.length > 0;
}

/** Records a refund asked for, or a reversal learnt from payments. */
export async function insertRefund(trx: Knex.Transaction, refund: NewRefund): Promise<void> {
  await trx('refunds').insert({
    ...refund,
    ...(refund.restock ? { restock: JSON.stringify(refund.restock) } : {}),
  });
}

export async function lockRefund(
  trx: Knex.Transaction,
  refundId: string,
): Promise<RefundRow | undefined> {
  return trx<RefundRow>('refunds').where({ refund_id: refundId }).forUpdate().first();
}

/** Records how a refund ended. */
export async function settleRefund(
  trx: Knex.Transaction,
  refundId: string,
  outcome: { status: 'succeeded' | 'failed'; failureReason?: string },
): Promise<void> {
  await trx('refunds')
    .where({ refund_id: refundId, status: 'pending' })
    .update({
      status: outcome.status,
      failure_reason: outcome.failureReason ?? null,
      settled_at: trx.fn.now(),
    });
}

/** Marks a refund's restock done (inventory answered); false when it was done already. */
export async function markRestocked(trx: Knex | Knex.Transaction, refundId: string): Promise<void> {
  await trx('refunds').where({ refund_id: refundId }).whereNull('restocked_at').update({
    restocked_at: trx.fn.now(),
  });
}

/** Refunds of succeeded orders whose restock inventory has not confirmed yet. */
export async function findUnrestockedRefunds(db: Knex, limit: number): Promise<RefundRow[]> {
  return db<RefundRow>('refunds')
    .where({ status: 'succeeded' })
    .whereNull('restocked_at')
    .whereRaw("restock <> '[]'::jsonb")
    .orderBy('settled_at')
    .limit(limit);
}

/**
 * Claims refunds pending since before `askedBefore` (asked for, or last asked again), stamping
 * them asked now; SKIP LOCKED, so replicas sweeping at once ask each once.
 */
export async function claimRefundsToAskAgain(
  trx: Knex.Transaction,
  askedBefore: Date,
  limit: number,
): Promise<RefundRow[]> {
  const { rows } = await trx.raw<{ rows: RefundRow[] }>(
    `update refunds set asked_at = now()
      where refund_id in (
        select refund_id from refunds
         where status = 'pending' and coalesce(asked_at, requested_at) < ?
         order by coalesce(asked_at, requested_at)
         limit ?
           for update skip locked)
      returning *`,
    [askedBefore, limit],
  );
  return rows;
}

export async function findRefunds(db: Knex, orderId: string): Promise<RefundRow[]> {
  return db<RefundRow>('refunds').where({ order_id: orderId }).orderBy('requested_at');
}
