import type { Knex } from '@mercado/common/db';
import {
  findOrderHistory,
  findOrderLines,
  type OrderLineRow,
  type OrderRow,
  type OrderStatus,
  type ShippingAddress,
} from '../data/orders-repository.js';
import {
  findPaymentAttempts,
  findRefunds,
  type PaymentOutcome,
  type RefundRow,
} from '../data/payments-repository.js';

export interface OrderSummaryView {
  id: string;
  userId: string;
  status: OrderStatus;
  region: string;
  currency: string;
  totalMinor: number;
  itemCount: number;
  deadline: string;
  /** What a shop's terminal pays the order by (grouped for people: `K7QM-2XWP`). */
  payCode: string | null;
  /** What was given back of its payment. */
  refundedMinor: number;
  createdAt: string;
  updatedAt: string;
}

export interface OrderView extends OrderSummaryView {
  shippingAddress: ShippingAddress;
  failureReason: string | null;
  lines: Array<{
    productId: string;
    sellerId: string;
    name: string;
    sku: string;
    unitPriceMinor: number;
    quantity: number;
    lineTotalMinor: number;
  }>;
  history: Array<{
    from: OrderStatus | null;
    to: OrderStatus;
    cause: string;
    actor: string;
    at: string;
  }>;
  /** Of the card, brand and last four only. */
  payments: Array<{
    paymentId: string | null;
    outcome: PaymentOutcome;
    reason: string | null;
    amountMinor: number | null;
    cardBrand: string | null;
    cardLast4: string | null;
    at: string;
  }>;
  refunds: RefundView[];
}

/** An order as the seller of some of its items sees it: their lines only, and where it goes. */
export interface SoldOrderView extends OrderSummaryView {
  shippingAddress: ShippingAddress;
  /** The seller's own lines. */
  lines: OrderView['lines'];
  /** Other sellers have items in it too: an admin ships, delivers and refunds it. */
  otherSellers: boolean;
}

export interface RefundView {
  refundId: string;
  paymentId: string;
  /** `refund` (asked for), `reversal` (made at a shop's terminal) or `void` (payments gave back a
   * payment the order could not take). */
  kind: 'void' | 'refund' | 'reversal';
  status: 'pending' | 'succeeded' | 'failed';
  amountMinor: number;
  reason: string;
  requestedBy: string;
  restock: Array<{ productId: string; quantity: number }>;
  failureReason: string | null;
  requestedAt: string;
  settledAt: string | null;
}

export function toRefundView(refund: RefundRow): RefundView {
  return {
    refundId: refund.refund_id,
    paymentId: refund.payment_id,
    kind: refund.kind,
    status: refund.status,
    amountMinor: refund.amount_minor,
    reason: refund.reason,
    requestedBy: refund.requested_by,
    restock: refund.restock,
    failureReason: refund.failure_reason,
    requestedAt: refund.requested_at.toISOString(),
    settledAt: refund.settled_at?.toISOString() ?? null,
  };
}

export function toOrderSummary(row: OrderRow): OrderSummaryView {
  return {
    id: row.id,
    userId: row.user_id,
    status: row.status,
    region: row.region,
    currency: row.currency,
    totalMinor: row.total_minor,
    itemCount: row.item_count,
    deadline: row.deadline.toISOString(),
    payCode: row.pay_code,
    refundedMinor: Number(row.refunded_minor),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toLineView(line: OrderLineRow): OrderView['lines'][number] {
  return {
    productId: line.product_id,
    sellerId: line.seller_id,
    name: line.name,
    sku: line.sku,
    unitPriceMinor: line.unit_price_minor,
    quantity: line.quantity,
    lineTotalMinor: line.line_total_minor,
  };
}

/** The whole order: lines, totals, every move, every payment result and refund. */
export async function loadOrderView(db: Knex, row: OrderRow): Promise<OrderView> {
  const [lines, history, attempts, refunds] = await Promise.all([
    findOrderLines(db, [row.id]),
    findOrderHistory(db, row.id),
    findPaymentAttempts(db, row.id),
    findRefunds(db, row.id),
  ]);
  return {
    ...toOrderSummary(row),
    shippingAddress: row.shipping_address,
    failureReason: row.failure_reason,
    lines: lines.map(toLineView),
    history: history.map((entry) => ({
      from: entry.from_status,
      to: entry.to_status,
      cause: entry.cause,
      actor: entry.actor,
      at: entry.at.toISOString(),
    })),
    payments: attempts.map((attempt) => ({
      paymentId: attempt.payment_id,
      outcome: attempt.outcome,
      reason: attempt.reason,
      amountMinor: attempt.amount_minor,
      cardBrand: attempt.card_brand,
      cardLast4: attempt.card_last4,
      at: attempt.at.toISOString(),
    })),
    refunds: refunds.map(toRefundView),
  };
}
