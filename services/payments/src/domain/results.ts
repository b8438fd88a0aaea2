import { randomUUID } from 'node:crypto';
import type { PaymentResult } from '@mercado/common/contract';
import type { Knex } from '@mercado/common/db';
import type { RefusalReason } from '../errors.js';
import { appendPaymentEvent } from '../data/events-repository.js';
import { paymentsOutbox } from '../data/outbox.js';

/** Queues a result on `payments/results/{orderId}`, in the transaction that decided it. */
export async function publishResult(trx: Knex.Transaction, result: PaymentResult): Promise<void> {
  await paymentsOutbox.insert(trx, [
    { topic: 'paymentResults', params: { orderId: result.orderId }, payload: result },
  ]);
}

export interface Refusal {
  orderId: string;
  requestId: string;
  reason: RefusalReason;
  paymentId?: string | undefined;
}

/**
 * Answers a request payments did not try (`payment.refused`): audited and published, nothing else
 * stored, so the same request may be tried again once the reason is gone (its intent arrived, the
 * payment in progress failed).
 */
export async function refuse(
  db: Knex,
  refusal: Refusal,
  audit: 'payment_refused' | 'refund_refused' = 'payment_refused',
): Promise<PaymentResult> {
  const result: PaymentResult = {
    type: 'payment.refused',
    id: randomUUID(),
    requestId: refusal.requestId,
    orderId: refusal.orderId,
    ...(refusal.paymentId ? { paymentId: refusal.paymentId } : {}),
    reason: refusal.reason,
    at: new Date().toISOString(),
  };
  await db.transaction(async function recordRefusal(trx) {
    await appendPaymentEvent(trx, {
      type: audit,
      orderId: refusal.orderId,
      paymentId: refusal.paymentId,
      requestId: refusal.requestId,
      reason: refusal.reason,
    });
    await publishResult(trx, result);
  });
  return result;
}
