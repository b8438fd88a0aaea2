import { randomUUID } from 'node:crypto';
import { topics, type PaymentResult } from '@mercado/common/contract';
import type { Knex } from '@mercado/common/db';
import type { OutboxMessage } from '@mercado/common/mqtt';
import type { RefusalReason } from '../errors.js';
import { appendPaymentEvent } from '../data/events-repository.js';
import { isQueued, paymentsOutbox } from '../data/outbox.js';

/** A result as the outbox message on `payments/results/{orderId}`. */
export function resultMessage(result: PaymentResult): OutboxMessage {
  return { topic: 'paymentResults', params: { orderId: result.orderId }, payload: result };
}

/** Queues a result on `payments/results/{orderId}`, in the transaction that decided it. */
export async function publishResult(trx: Knex.Transaction, result: PaymentResult): Promise<void> {
  await paymentsOutbox.insert(trx, [resultMessage(result)]);
}

/**
 * Publishes a stored result again for a repeated request, unless it is still waiting in the
 * outbox (then it goes out anyway, once): the repeat of a request that was delivered again after
 * its first handler's process died, say. Returns whether it queued it.
 */
export async function publishAgain(trx: Knex.Transaction, result: PaymentResult): Promise<boolean> {
  const topic = topics.paymentResults.build({ orderId: result.orderId });
  if (await isQueued(trx, topic, result.id)) return false;
  await publishResult(trx, result);
  return true;
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
