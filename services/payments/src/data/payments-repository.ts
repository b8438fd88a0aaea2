import type { Knex } from '@mercado/common/db';
import type { PaymentResult } from '@mercado/common/contract';

export type PaymentStatus = 'requires_payment' | 'processing' | 'succeeded' | 'failed' | 'refunded';

export interface PaymentRow {
  id: string;
  order_id: string;
  request_id: string;
  user_id: string;
  amount_minor: number;
  currency: string;
  status: PaymentStatus;
  method: 'card';
  card_brand: string;
  card_last4: string;
  card_fingerprint: string;
  decline_code: string | null;
  transaction_id: string | null;
  refunded_minor: number;
  result: PaymentResult | null;
  created_at: Date;
  updated_at: Date;
}

export interface NewPayment {
  id: string;
  orderId: string;
  requestId: string;
  userId: string;
  amountMinor: number;
  currency: string;
  cardBrand: string;
  cardLast4: string;
  cardFingerprint: string;
}

export async function findPaymentByRequest(
  db: Knex | Knex.Transaction,
  orderId: string,
  requestId: string,
): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ order_id: orderId, request_id: requestId }).first();
}

/** The order's payment that is being processed or has succeeded, if any (at most one exists). */
export async function findLivePayment(
  db: Knex | Knex.Transaction,
  orderId: string,
): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments')
    .where({ order_id: orderId })
    .whereIn('status', ['processing', 'succeeded', 'refunded'])
    .first();
}

export async function findPaymentForUpdate(
  trx: Knex.Transaction,
  paymentId: string,
): Promise<PaymentRow | undefined> {
  return trx<PaymentRow>('payments').where({ id: paymentId }).forUpdate().first();
}

/** Succeeded payments of an order with money left to give back, locked. */
export async function capturedPaymentsForUpdate(
  trx: Knex.Transaction,
  orderId: string,
): Promise<PaymentRow[]> {
  return trx<PaymentRow>('payments')
    .where({ order_id: orderId, status: 'succeeded' })
    .whereRaw('refunded_minor < amount_minor')
    .forUpdate();
}

/**
 * Inserts the payment as `processing`. Two unique indexes make this the last guard: one payment
 * per (order, request id) (`payments_request_once`) and one processing-or-succeeded payment per
 * order (`payments_one_live_per_order`); a violation is the caller's to interpret.
 */
export async function insertProcessingPayment(
  trx: Knex.Transaction,
  payment: NewPayment,
): Promise<void> {
  await trx('payments').insert({
    id: payment.id,
    order_id: payment.orderId,
    request_id: payment.requestId,
    user_id: payment.userId,
    amount_minor: payment.amountMinor,
    currency: payment.currency,
    status: 'processing',
    card_brand: payment.cardBrand,
    card_last4: payment.cardLast4,
    card_fingerprint: payment.cardFingerprint,
  });
}

export async function completePayment(
  trx: Knex.Transaction,
  paymentId: string,
  outcome:
    | { status: 'succeeded'; transactionId: string; result: PaymentResult }
    | { status: 'failed'; declineCode: string; result: PaymentResult },
): Promise<boolean> {
  const updated = await trx('payments')
    .where({ id: paymentId, status: 'processing' })
    .update({
      status: outcome.status,
      transaction_id: outcome.status === 'succeeded' ? outcome.transactionId : null,
      decline_code: outcome.status === 'failed' ? outcome.declineCode : null,
      result: JSON.stringify(outcome.result),
      updated_at: trx.fn.now(),
    });
  return updated === 1;
}

/**
 * Payments left `processing` for longer than `olderThanMs`: their process died between the row
 * and the processor's answer (the slowest answer is far shorter).
 */
export async function findAbandonedPayments(
  db: Knex,
  olderThanMs: number,
  limit: number,
): Promise<PaymentRow[]> {
  return db<PaymentRow>('payments')
    .where({ status: 'processing' })
    .where('updated_at', '<', db.raw('now() - make_interval(secs => ?)', [olderThanMs / 1000]))
    .orderBy('updated_at')
    .limit(limit);
}

/** Adds to (or, negative, takes back from) what was refunded; `refunded` once all of it is. */
export async function addRefunded(
  trx: Knex.Transaction,
  paymentId: string,
  deltaMinor: number,
): Promise<void> {
  await trx('payments')
    .where({ id: paymentId })
    .update({
      refunded_minor: trx.raw('refunded_minor + ?', [deltaMinor]),
      status: trx.raw(
        "case when refunded_minor + ? = amount_minor then 'refunded' else 'succeeded' end",
        [deltaMinor],
      ),
      updated_at: trx.fn.now(),
    });
}
