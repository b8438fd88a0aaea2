import type { PaymentStatus } from '@mercado/common/contract';
import { withTransaction } from '@mercado/common/db';
import { lockOrder } from '../data/orders-repository.js';
import type { OrdersDeps } from './deps.js';
import { settleReservation } from './reservations.js';
import { moveOrder } from './transitions.js';

export type StatusOutcome = 'expired' | 'noted' | 'ignored';

const unpaid = new Set(['awaiting_payment', 'payment_failed']);

/**
 * Applies payments' answer about one order's payment (`payments/status/{orderId}`). `closed`
 * means no payment succeeded or is under way and none can start any more: an order still unpaid
 * expires (its stock released once that committed) — the only way an unpaid order expires, so
 * never after its payment succeeded. The other answers change nothing here: a succeeded payment's
 * result is published again before its answer and pays the order through the inbox; a processing
 * one's result follows; an open order may still be paid. Applying an answer twice changes nothing.
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
