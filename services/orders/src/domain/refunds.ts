import { randomUUID } from 'node:crypto';
import type { PaymentResult } from '@mercado/common/contract';
import { withTransaction, type Knex } from '@mercado/common/db';
import type { Identity } from '@mercado/common/identity';
import { ordersError } from '../errors.js';
import {
  answerIdempotencyKey,
  holdIdempotencyKey,
  type HeldKey,
} from '../data/idempotency-repository.js';
import {
  appendOrderNote,
  findOrderLines,
  lockOrder,
  updateOrder,
  type OrderLineRow,
  type OrderRow,
  type OrderStatus,
} from '../data/orders-repository.js';
import {
  findRefunds,
  findUnrestockedRefunds,
  insertRefund,
  lockRefund,
  markRestocked,
  settleRefund,
  type RefundRow,
} from '../data/payments-repository.js';
import { insertOutboxMessages } from '../data/outbox-repository.js';
import type { OrdersDeps } from './deps.js';
import { refundRequested } from './events.js';
import { answerOnce, type OnceAnswer } from './idempotency.js';
import { assertSellerOfAll } from './orders.js';
import { actorOf, moveOrder } from './transitions.js';
import { loadOrderView, toRefundView, type OrderView, type RefundView } from './views.js';

export interface RefundRequest {
  amountMinor?: number | undefined;
  reason: string;
  /** The lines to put back in stock once refunded: true for every line's whole quantity. */
  restock?: true | Array<{ productId: string; quantity: number }> | undefined;
}

export interface RefundAnswer {
  refund: RefundView;
  order: OrderView;
}

/** The statuses of an order whose payment was captured and not all given back. */
const refundable = new Set<OrderStatus>(['paid', 'shipped', 'delivered', 'partially_refunded']);

/**
 * Refunds a paid order, in full or by a partial amount, under an Idempotency-Key (the same key and
 * body give the first answer again): by an admin, or the seller of every line of the order. The
 * refund is recorded pending and `refund.requested` goes to payments in the same transaction;
 * payments' result settles it (see applyRefundResult). Never more than was captured: under the
 * order's lock, what is refunded or pending is set against the order's total here, and payments
 * checks again under the payment's lock.
 */
export async function refundOrderOnce(
  deps: OrdersDeps,
  identity: Identity & { userId: string },
  orderId: string,
  key: string,
  request: RefundRequest,
): Promise<OnceAnswer<RefundAnswer>> {
  return answerOnce(
    deps,
    { userId: identity.userId, key, request: { refundOf: orderId, ...request } },
    async (claim) => ({
      status: 202,
      body: await requestRefund(deps, identity, orderId, claim, request),
    }),
  );
}

/** What is already refunded or on its way back of the order's payment. */
function heldBack(order: OrderRow, refunds: readonly RefundRow[]): number {
  return refunds
    .filter(
      (refund) =>
        refund.payment_id === order.payment_id &&
        refund.kind !== 'void' &&
        refund.status !== 'failed',
    )
    .reduce((sum, refund) => sum + Number(refund.amount_minor), 0);
}

/** The lines to restock, checked against what the order has and what other refunds restock. */
function restockLines(
  lines: readonly OrderLineRow[],
  refunds: readonly RefundRow[],
  wanted: RefundRequest['restock'],
): Array<{ productId: string; quantity: number }> {
  if (wanted === undefined) return [];
  const already = new Map<string, number>();
  for (const refund of refunds) {
    if (refund.status === 'failed') continue;
    for (const line of refund.restock) {
      already.set(line.productId, (already.get(line.productId) ?? 0) + line.quantity);
    }
  }
  const left = (productId: string) =>
    (lines.find((line) => line.product_id === productId)?.quantity ?? 0) -
    (already.get(productId) ?? 0);
  if (wanted === true) {
    return lines
      .map((line) => ({ productId: line.product_id, quantity: left(line.product_id) }))
      .filter((line) => line.quantity > 0);
  }
  const asked = new Map<string, number>();
  const errors = wanted.flatMap((line, index) => {
    const total = (asked.get(line.productId) ?? 0) + line.quantity;
    asked.set(line.productId, total);
    if (!lines.some((ordered) => ordered.product_id === line.productId)) {
      return [
        {
          path: `body.restock.${index}.productId`,
          code: 'restock_exceeds_ordered',
          message: 'the order has no line for this product',
        },
      ];
    }
    if (total > left(line.productId)) {
      return [
        {
          path: `body.restock.${index}.quantity`,
          code: 'restock_exceeds_ordered',
          message: `at most ${Math.max(left(line.productId), 0)} of this product may still go back`,
        },
      ];
    }
    return [];
  });
  if (errors.length > 0) throw ordersError('restock_exceeds_ordered', { errors });
  return [...asked].map(([productId, quantity]) => ({ productId, quantity }));
}

async function requestRefund(
  deps: OrdersDeps,
  identity: Identity & { userId: string },
  orderId: string,
  claim: { id: string; key: HeldKey },
  request: RefundRequest,
): Promise<RefundAnswer> {
  const answer = await withTransaction(deps.db, async (trx) => {
    // First, so that no takeover of the key comes between here and the commit.
    await holdIdempotencyKey(trx, claim.key);
    const order = await lockOrder(trx, orderId);
    if (!order) throw ordersError('order_not_found');
    const lines = await findOrderLines(trx, [orderId]);
    assertSellerOfAll(identity, lines, 'refunds');
    if (!refundable.has(order.status) || !order.payment_id) {
      throw ordersError('order_state_conflict', {
        detail: `The order is ${order.status}: only a paid order is refunded`,
      });
    }
    const refunds = await findRefunds(trx, orderId);
    const left = Number(order.total_minor) - heldBack(order, refunds);
    const amountMinor = request.amountMinor ?? left;
    if (left <= 0 || amountMinor > left) {
      throw ordersError('refund_exceeds_captured', {
        detail: `At most ${Math.max(left, 0)} (minor units of ${order.currency}) is left to refund`,
      });
    }
    const restock = restockLines(lines, refunds, request.restock);
    const actor = actorOf(identity);
    await insertRefund(trx, {
      refund_id: claim.id,
      order_id: orderId,
      payment_id: order.payment_id,
      amount_minor: amountMinor,
      reason: request.reason,
      kind: 'refund',
      requested_by: actor,
      restock,
    });
    await insertOutboxMessages(trx, [
      refundRequested({
        refundId: claim.id,
        orderId,
        paymentId: order.payment_id,
        amountMinor,
        reason: request.reason,
      }),
    ]);
    await appendOrderNote(trx, order, {
      cause: `refund requested: ${amountMinor} ${order.currency} (${request.reason})`,
      actor,
    });
    const refund = (await lockRefund(trx, claim.id))!;
    const body: RefundAnswer = {
      refund: toRefundView(refund),
      order: await loadOrderView(trx, order),
    };
    await answerIdempotencyKey(trx, claim.key, { status: 202, body });
    return body;
  });
  deps.log.info(
    { orderId, refundId: claim.id, amountMinor: answer.refund.amountMinor, outcome: 'requested' },
    'refund requested',
  );
  return answer;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What applying a refund's result did, for the caller to finish after its commit. */
export interface RefundApplied {
  order?: OrderRow;
  /** A refund that succeeded with lines to put back in stock. */
  restock?: RefundRow;
}

/**
 * Applies a refund's result in the caller's transaction (the inbox made it once): `refunded` for
 * a refund orders asked for settles it, adds it to what the order had given back and moves the
 * order to `partially_refunded` or `refunded`; one orders never asked for of the order's own
 * payment (a reversal made at a shop's terminal) is recorded and applied the same way; the void of
 * another payment changes no status. `refused` for a refund orders asked for fails it: the amount
 * is no longer held back.
 */
export async function applyRefundResult(
  trx: Knex.Transaction,
  order: OrderRow,
  result: PaymentResult,
): Promise<RefundApplied> {
  const known = uuidPattern.test(result.requestId)
    ? await lockRefund(trx, result.requestId)
    : undefined;
  const payments = 'service:payments';
  if (result.type === 'payment.refused') {
    if (known?.status !== 'pending') return {};
    await settleRefund(trx, known.refund_id, {
      status: 'failed',
      failureReason: result.reason ?? 'refund_failed',
    });
    await appendOrderNote(trx, order, {
      cause: `refund failed: ${result.reason ?? 'refund_failed'}`,
      actor: payments,
    });
    return {};
  }
  const cause = `payment refunded: ${result.amountMinor ?? known?.amount_minor ?? ''} ${order.currency} (${result.reason ?? known?.reason ?? 'refund'})`;
  let refund = known;
  if (!refund) {
    // Not one orders asked for. Of another payment (payments' own void of a payment the order
    // could not take): a note. Of the order's own payment: a reversal made at a shop's terminal,
    // recorded and applied as a refund.
    if (!result.paymentId || !result.amountMinor || result.paymentId !== order.payment_id) {
      await appendOrderNote(trx, order, { cause, actor: payments });
      return {};
    }
    const settledAt = new Date();
    refund = {
      refund_id: uuidPattern.test(result.requestId) ? result.requestId : randomUUID(),
      order_id: order.id,
      payment_id: result.paymentId,
      amount_minor: result.amountMinor,
      reason: result.reason ?? 'reversal',
      kind: 'reversal',
      status: 'succeeded',
      requested_by: payments,
      restock: [],
      restocked_at: null,
      failure_reason: null,
      settled_at: settledAt,
      requested_at: settledAt,
    };
    await insertRefund(trx, {
      refund_id: refund.refund_id,
      order_id: order.id,
      payment_id: refund.payment_id,
      amount_minor: refund.amount_minor,
      reason: refund.reason,
      kind: 'reversal',
      status: 'succeeded',
      requested_by: payments,
      settled_at: settledAt,
    });
  } else if (refund.status === 'pending') {
    await settleRefund(trx, refund.refund_id, { status: 'succeeded' });
  } else {
    return {};
  }
  if (refund.kind === 'void' || refund.payment_id !== order.payment_id) {
    await appendOrderNote(trx, order, { cause, actor: payments });
    return {};
  }
  const refunded = Math.min(
    Number(order.total_minor),
    Number(order.refunded_minor) + Number(result.amountMinor ?? refund.amount_minor),
  );
  const to: OrderStatus = refunded >= Number(order.total_minor) ? 'refunded' : 'partially_refunded';
  let moved: OrderRow;
  if (order.status === to) {
    moved = (await updateOrder(trx, order.id, { refunded_minor: refunded }))!;
    await appendOrderNote(trx, moved, { cause, actor: payments });
  } else {
    moved = await moveOrder(trx, order, {
      to,
      cause,
      actor: payments,
      change: { refunded_minor: refunded },
    });
  }
  return {
    order: moved,
    ...(refund.restock.length > 0 && !refund.restocked_at ? { restock: refund } : {}),
  };
}

/** Puts a refunded order's lines back in stock through inventory, once (its refund id). */
export async function restockRefund(
  deps: Pick<OrdersDeps, 'db' | 'log' | 'inventory'>,
  refund: Pick<RefundRow, 'refund_id' | 'order_id' | 'restock'>,
): Promise<void> {
  const done = await deps.inventory.restock(refund.order_id, refund.refund_id, refund.restock);
  // Refused for good (logged by the client): marked, so the sweeper does not ask for ever.
  await markRestocked(deps.db, refund.refund_id);
  deps.log.info(
    { orderId: refund.order_id, refundId: refund.refund_id, restocked: done },
    'refund restocked',
  );
}

/** The sweeper's pass: restocks whose call failed (inventory unavailable) are made again. */
export async function restockPending(
  deps: Pick<OrdersDeps, 'db' | 'log' | 'inventory'>,
  limit: number,
): Promise<number> {
  const pending = await findUnrestockedRefunds(deps.db, limit);
  for (const refund of pending) {
    await restockRefund(deps, refund).catch((error: unknown) =>
      deps.log.warn({ err: error, refundId: refund.refund_id }, 'restock not made yet'),
    );
  }
  return pending.length;
}
