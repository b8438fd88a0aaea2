import { randomUUID } from 'node:crypto';
import type { OutboxMessage } from '../data/outbox-repository.js';
import type { OrderRow } from '../data/orders-repository.js';

/** `order.status_changed` for the order's owner, on `orders/{userId}/{orderId}/status`. */
export function statusChanged(order: Pick<OrderRow, 'id' | 'user_id' | 'status'>): OutboxMessage {
  return {
    topic: 'orderStatus',
    params: { userId: order.user_id, orderId: order.id },
    payload: {
      type: 'order.status_changed',
      id: randomUUID(),
      orderId: order.id,
      status: order.status,
      at: new Date().toISOString(),
    },
  };
}

/** `payment.intent_created`: payments is told what this order owes, and until when. */
export function intentCreated(order: OrderRow): OutboxMessage {
  return {
    topic: 'paymentIntents',
    payload: {
      type: 'payment.intent_created',
      id: randomUUID(),
      orderId: order.id,
      userId: order.user_id,
      amountMinor: order.total_minor,
      currency: order.currency,
      expiresAt: order.deadline.toISOString(),
      ...(order.pay_code ? { payCode: order.pay_code } : {}),
    },
  };
}

/** `payment.intent_cancelled`: the order can no longer be paid. */
export function intentCancelled(
  order: Pick<OrderRow, 'id'>,
  reason: 'cancelled' | 'expired',
): OutboxMessage {
  return {
    topic: 'paymentIntents',
    payload: {
      type: 'payment.intent_cancelled',
      id: randomUUID(),
      orderId: order.id,
      reason,
      at: new Date().toISOString(),
    },
  };
}

/** `refund.requested`: give (part of) a payment back: a refund asked for, or a void. */
export function refundRequested(refund: {
  refundId: string;
  orderId: string;
  paymentId: string;
  amountMinor: number;
  reason: string;
}): OutboxMessage {
  return { topic: 'refundRequests', payload: { type: 'refund.requested', ...refund } };
}

/** Status requests are answered per order; payments takes at most this many ids in one. */
export const maxStatusRequestOrders = 100;

/**
 * `payment.status_requested`: what became of these orders' payments (with `expire`: close the
 * intents nobody paid, so they can expire). One message per hundred orders.
 */
export function statusRequested(orderIds: readonly string[], expire: boolean): OutboxMessage[] {
  const messages: OutboxMessage[] = [];
  for (let start = 0; start < orderIds.length; start += maxStatusRequestOrders) {
    messages.push({
      topic: 'paymentStatusRequests',
      payload: {
        type: 'payment.status_requested',
        id: randomUUID(),
        orderIds: orderIds.slice(start, start + maxStatusRequestOrders),
        expire,
        at: new Date().toISOString(),
      },
    });
  }
  return messages;
}
