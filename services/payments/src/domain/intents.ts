import type { PaymentIntentCancelled, PaymentIntentCreated } from '@mercado/common/contract';
import { withTransaction } from '@mercado/common/db';
import { appendPaymentEvent } from '../data/events-repository.js';
import { cancelIntent, recordIntent } from '../data/intents-repository.js';
import { capturedPaymentsForUpdate } from '../data/payments-repository.js';
import type { PaymentsDeps } from './deps.js';
import { refundPayment } from './refunds.js';

/** An order owes this amount until its deadline: recorded once, audited once. */
export async function receiveIntent(
  deps: PaymentsDeps,
  intent: PaymentIntentCreated,
): Promise<{ recorded: boolean }> {
  const recorded = await withTransaction(deps.db, async function recordOwed(trx) {
    const changed = await recordIntent(trx, intent);
    if (changed) {
      await appendPaymentEvent(trx, {
        type: 'intent_received',
        orderId: intent.orderId,
        amountMinor: intent.amountMinor,
        currency: intent.currency,
      });
    }
    return changed;
  });
  deps.log.info({ orderId: intent.orderId, recorded }, 'payment intent received');
  return { recorded };
}

/**
 * The order can no longer be paid: later requests are refused, and a payment that succeeded before
 * this arrived is refunded in full (reason order_cancelled / order_expired), so an order is never
 * left charged and cancelled. A payment still being processed is refunded when it completes (it
 * reads the intent after this commits).
 */
export async function receiveIntentCancellation(
  deps: PaymentsDeps,
  cancellation: PaymentIntentCancelled,
): Promise<{ cancelled: boolean; refunded: string[] }> {
  const { changed, captured } = await withTransaction(
    deps.db,
    async function recordCancellation(trx) {
      const changed = await cancelIntent(
        trx,
        cancellation.orderId,
        cancellation.reason,
        cancellation.at,
      );
      if (!changed) return { changed, captured: [] };
      await appendPaymentEvent(trx, {
        type: 'intent_cancelled',
        orderId: cancellation.orderId,
        reason: cancellation.reason,
      });
      return { changed, captured: await capturedPaymentsForUpdate(trx, cancellation.orderId) };
    },
  );
  const refunded: string[] = [];
  for (const payment of captured) {
    await voidPayment(deps, payment.id, cancellation.reason);
    refunded.push(payment.id);
  }
  deps.log.info(
    { orderId: cancellation.orderId, cancelled: changed, refunded: refunded.length },
    'payment intent cancelled',
  );
  return { cancelled: changed, refunded };
}

/** Gives back all that is left of a payment approved for an order that is no longer payable. */
export async function voidPayment(
  deps: PaymentsDeps,
  paymentId: string,
  why: 'cancelled' | 'expired',
): Promise<void> {
  await refundPayment(deps, {
    // One void per payment, whoever starts it and however often: the refund id is its key.
    refundId: `void-${paymentId}`,
    paymentId,
    reason: why === 'cancelled' ? 'order_cancelled' : 'order_expired',
  });
}
