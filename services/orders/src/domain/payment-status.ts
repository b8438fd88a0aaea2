import type { PaymentStatus } from '@mercado/common/contract';
import { withTransaction } from '@mercado/common/db';
import { lockOrder } from '../data/orders-repository.js';
import { insertOutboxMessages } from '../data/outbox-repository.js';
import type { OrdersDeps } from './deps.js';
import { intentCreated } from './events.js';
import { settleReservation } from './reservations.js';
import { moveOrder } from './transitions.js';

export type StatusOutcome = 'expired' | 'intent_sent' | 'noted' | 'ignored';

const unpaid = new Set(['awaiting_payment', 'payment_failed']);

/**
 * Applies payments' answer about one order's payment (`payments/status/{orderId}`). `closed`
 * means no payment succeeded or is under way and none can start any more: an order still unpaid
 * expires (its stock released once that committed) — the only way an unpaid order expires, so
 * never after its payment succeeded. The other answers change nothing here: a succeeded payment's
 * result is published again before its answer and pays the order through the inbox; a processing
 * one's result follows; an open order may still be paid. `unknown`: payments never got the
 * order's intent (published while no payments replica listened, so nobody kept it) — an unpaid
 * order's intent is queued again. Applying an answer twice changes nothing (an intent twice is
 * recorded once).
 */
export async function applyPaymentStatus(
  deps: Pick<OrdersDeps, 'db' | 'log' | 'inventory'>,
  topicOrderId: string,
  status: PaymentStatus,
): Promise<StatusOutcome> {
  if (status.orderId !== topicOrderId) {
    deps.log.warn({ eventId: status.id, outcome: 'ignored' }, 'payment status for another topic');
    return 'ignored';
  }
  if (status.state === 'unknown') return sendIntentAgain(deps, status);
  if (status.state !== 'closed') return 'noted';
  const expired = await withTransaction(deps.db, async (trx) => {
    const order = await lockOrder(trx, status.orderId);
    if (!order || !unpaid.has(order.status)) return undefined;
    return moveOrder(trx, order, {
      to: 'expired',
      cause: 'not paid by its deadline',
      actor: 'system:sweeper',
    });
  });
  deps.log.info(
    { eventId: status.id, orderId: status.orderId, outcome: expired ? 'expired' : 'ignored' },
    'payment status applied',
  );
  if (!expired) return 'ignored';
  await settleReservation(deps, expired);
  return 'expired';
}

/** Queues the intent of an order payments never heard of again, while the order is unpaid. */
async function sendIntentAgain(
  deps: Pick<OrdersDeps, 'db' | 'log'>,
  status: PaymentStatus,
): Promise<StatusOutcome> {
  const sent = await withTransaction(deps.db, async (trx) => {
    const order = await lockOrder(trx, status.orderId);
    if (!order || !unpaid.has(order.status)) return false;
    await insertOutboxMessages(trx, [intentCreated(order)]);
    return true;
  });
  deps.log.info(
    { eventId: status.id, orderId: status.orderId, outcome: sent ? 'intent_sent' : 'ignored' },
    'payment status applied',
  );
  return sent ? 'intent_sent' : 'ignored';
}
