import { randomUUID } from 'node:crypto';
import type { PaymentResult } from '@mercado/common/contract';
import { withTransaction } from '@mercado/common/db';
import type { Logger } from '@mercado/common/log';
import {
  appendOrderNote,
  lockOrder,
  updateOrder,
  type OrderRow,
} from '../data/orders-repository.js';
import {
  insertPaymentAttempt,
  insertVoid,
  recordInInbox,
  type PaymentOutcome,
} from '../data/payments-repository.js';
import { insertOutboxMessages } from '../data/outbox-repository.js';
import type { OrdersDeps } from './deps.js';
import { refundRequested } from './events.js';
import { applyRefundResult, restockRefund } from './refunds.js';
import { settleReservation } from './reservations.js';
import { moveOrder } from './transitions.js';

const payments = 'service:payments';

export type ResultOutcome =
  'duplicate' | 'unknown_order' | 'paid' | 'payment_failed' | 'refund_requested' | 'recorded';

const unpaid = new Set(['awaiting_payment', 'payment_failed']);
const paid = new Set(['paid', 'shipped', 'delivered', 'partially_refunded', 'refunded']);

/**
 * Applies one payment result, exactly once: its event id goes into the inbox in the same
 * transaction as its effect, so a repeat finds it there and changes nothing.
 * - approved: an unpaid order becomes `paid` (and inventory commits its stock once that
 *   committed), even past its expiry: payments approves only while the intent is open, and an
 *   order expires only once payments closed it. An order that can no longer be paid (cancelled
 *   while the payment was processing) is never "charged and cancelled": it gets a
 *   `refund.requested` (a void, reason order_cancelled / order_expired) recorded on it; so does a
 *   second payment of a paid order.
 * - declined: an unpaid order becomes (or stays) `payment_failed` with the reason; it may be paid
 *   again until its deadline.
 * - refunded: a refund orders asked for (or a reversal at a shop's terminal) is settled and the
 *   order becomes partially_refunded or refunded (refunds.ts); a void is noted.
 * - refused (payments did not try): recorded; the refund it answers, if any, failed.
 */
export async function applyPaymentResult(
  deps: Pick<OrdersDeps, 'db' | 'log' | 'inventory'>,
  topicOrderId: string,
  result: PaymentResult,
): Promise<ResultOutcome> {
  const log: Logger = deps.log;
  if (result.orderId !== topicOrderId) {
    log.warn({ eventId: result.id, outcome: 'ignored' }, 'payment result for another topic');
    return 'unknown_order';
  }
  const applied = await withTransaction(deps.db, async (trx) => {
    if (!(await recordInInbox(trx, result.id, `payments/results/${topicOrderId}`))) {
      return { outcome: 'duplicate' as const };
    }
    const order = await lockOrder(trx, result.orderId);
    if (!order) return { outcome: 'unknown_order' as const };
    const outcome = result.type.slice('payment.'.length) as PaymentOutcome;
    await insertPaymentAttempt(trx, {
      event_id: result.id,
      order_id: order.id,
      outcome,
      payment_id: result.paymentId ?? null,
      request_id: result.requestId,
      amount_minor: result.amountMinor ?? null,
      currency: result.currency ?? null,
      reason: result.reason ?? null,
      card_brand: result.cardBrand ?? null,
      card_last4: result.cardLast4 ?? null,
      at: new Date(result.at),
    });

    const refund = async (current: OrderRow, reason: string) => {
      const paymentId = result.paymentId!;
      const refundId = randomUUID();
      const amountMinor = result.amountMinor ?? current.total_minor;
      if (
        await insertVoid(trx, {
          refund_id: refundId,
          order_id: current.id,
          payment_id: paymentId,
          amount_minor: amountMinor,
          reason,
        })
      ) {
        await insertOutboxMessages(trx, [
          refundRequested({ refundId, orderId: current.id, paymentId, amountMinor, reason }),
        ]);
        await appendOrderNote(trx, current, {
          cause: `refund requested: ${reason}`,
          actor: 'system:orders',
        });
      }
      return { outcome: 'refund_requested' as const, order: current };
    };

    switch (result.type) {
      case 'payment.approved': {
        if (!result.paymentId) return { outcome: 'recorded' as const };
        // Unpaid, even past its expiry: payments approved it while the intent was open (an order
        // expires only once payments closed its intent, see payment-status.ts), so it is paid.
        if (unpaid.has(order.status)) {
          const moved = await moveOrder(trx, order, {
            to: 'paid',
            cause: 'payment approved',
            actor: payments,
            change: { payment_id: result.paymentId, failure_reason: null },
          });
          return { outcome: 'paid' as const, order: moved };
        }
        if (paid.has(order.status)) {
          if (order.payment_id === result.paymentId) return { outcome: 'recorded' as const };
          return refund(order, 'duplicate_payment');
        }
        return refund(order, order.status === 'cancelled' ? 'order_cancelled' : 'order_expired');
      }
      case 'payment.declined': {
        const reason = result.reason ?? 'card_declined';
        if (order.status === 'awaiting_payment') {
          const moved = await moveOrder(trx, order, {
            to: 'payment_failed',
            cause: `payment declined: ${reason}`,
            actor: payments,
            change: { failure_reason: reason },
          });
          return { outcome: 'payment_failed' as const, order: moved };
        }
        if (order.status === 'payment_failed') {
          await updateOrder(trx, order.id, { failure_reason: reason });
          return { outcome: 'payment_failed' as const };
        }
        return { outcome: 'recorded' as const };
      }
      case 'payment.refunded':
      case 'payment.refused': {
        // The answer to a refund (or a reversal at a terminal); a refused payment is only noted.
        const applied = await applyRefundResult(trx, order, result);
        return { outcome: 'recorded' as const, ...applied };
      }
      default:
        return { outcome: 'recorded' as const };
    }
  });
  log.info(
    { eventId: result.id, orderId: result.orderId, type: result.type, outcome: applied.outcome },
    'payment result applied',
  );
  if ('order' in applied && applied.order) {
    // Paid: inventory commits its stock (a cancelled one's goes back, if it is still held).
    await settleReservation(deps, applied.order);
  }
  if ('restock' in applied && applied.restock) {
    // Refunded with lines to put back: inventory restocks them once (the sweeper retries).
    await restockRefund(deps, applied.restock).catch((error: unknown) =>
      log.warn({ err: error, orderId: result.orderId }, 'restock not made yet'),
    );
  }
  return applied.outcome;
}
