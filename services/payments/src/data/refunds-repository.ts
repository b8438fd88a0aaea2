import type { Knex } from '@mercado/common/db';
import type { PaymentResult } from '@mercado/common/contract';

export interface RefundRow {
  id: string;
  payment_id: string;
  /** Null for a walk-in payment's reversal. */
  order_id: string | null;
  amount_minor: number;
  reason: string;
  status: 'pending' | 'succeeded' | 'failed';
  transaction_id: string | null;
  result: PaymentResult | null;
  /** A terminal's reversal: its request id (the terminal is the payment's), answered when it ends. */
  terminal_request_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export async function findRefund(
  db: Knex | Knex.Transaction,
  refundId: string,
): Promise<RefundRow | undefined> {
  return db<RefundRow>('refunds').where({ id: refundId }).first();
}

export async function insertPendingRefund(
  trx: Knex.Transaction,
  refund: {
    id: string;
    paymentId: string;
    orderId: string | null;
    amountMinor: number;
    reason: string;
    terminalRequestId?: string | undefined;
  },
): Promise<void> {
  await trx('refunds').insert({
    id: refund.id,
    payment_id: refund.paymentId,
    order_id: refund.orderId,
    amount_minor: refund.amountMinor,
    reason: refund.reason,
    terminal_request_id: refund.terminalRequestId ?? null,
  });
}

export async function completeRefund(
  trx: Knex.Transaction,
  refundId: string,
  outcome: { status: 'succeeded' | 'failed'; transactionId?: string; result: PaymentResult },
): Promise<boolean> {
  const updated = await trx('refunds')
    .where({ id: refundId, status: 'pending' })
    .update({
      status: outcome.status,
      transaction_id: outcome.transactionId ?? null,
      result: JSON.stringify(outcome.result),
      updated_at: trx.fn.now(),
    });
  // Only the first to settle a refund records it: a slow process and the recovery may both try.
  return updated > 0;
}

/** Refunds pending for longer than `olderThanMs`: their process died waiting for the processor. */
export async function findAbandonedRefunds(
  db: Knex,
  olderThanMs: number,
  limit: number,
): Promise<RefundRow[]> {
  return db<RefundRow>('refunds')
    .where({ status: 'pending' })
    .where('updated_at', '<', db.raw('now() - make_interval(secs => ?)', [olderThanMs / 1000]))
    .orderBy('updated_at')
    .limit(limit);
}
