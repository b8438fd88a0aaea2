import { get, query, request, send } from './api.js';

/** An order, as the orders service answers it (services/orders/README.md). */
export interface OrderLine {
  productId: string;
  sellerId: string;
  name: string;
  sku: string;
  unitPriceMinor: number;
  quantity: number;
  lineTotalMinor: number;
}

/** Every status an order can be in, in the order of its life. */
export const orderStatuses = [
  'awaiting_payment',
  'payment_failed',
  'paid',
  'shipped',
  'delivered',
  'partially_refunded',
  'refunded',
  'cancelled',
  'expired',
] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export interface Refund {
  refundId: string;
  paymentId: string;
  kind: string;
  status: 'pending' | 'succeeded' | 'failed';
  amountMinor: number;
  reason: string;
  requestedBy: string | null;
  restock: unknown;
  failureReason: string | null;
  requestedAt: string;
  settledAt: string | null;
}

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  region: string;
  currency: string;
  totalMinor: number;
  refundedMinor: number;
  itemCount: number;
  deadline: string | null;
  payCode: string | null;
  createdAt: string;
  updatedAt: string;
  shippingAddress: Record<string, string>;
  failureReason: string | null;
  lines: OrderLine[];
  history: Array<{ from: string | null; to: string; cause: string; actor: string; at: string }>;
  payments: Array<{
    paymentId: string;
    outcome: string;
    reason: string | null;
    amountMinor: number;
    cardBrand: string | null;
    cardLast4: string | null;
    at: string;
  }>;
  refunds: Refund[];
}

export type OrderSummary = Pick<
  Order,
  | 'id'
  | 'userId'
  | 'status'
  | 'region'
  | 'currency'
  | 'totalMinor'
  | 'refundedMinor'
  | 'itemCount'
  | 'deadline'
  | 'payCode'
  | 'createdAt'
  | 'updatedAt'
>;

export const statusLabels: Record<string, string> = {
  awaiting_payment: 'Awaiting payment',
  payment_failed: 'Payment failed',
  paid: 'Paid',
  shipped: 'Shipped',
  delivered: 'Delivered',
  cancelled: 'Cancelled',
  expired: 'Expired',
  refunded: 'Refunded',
  partially_refunded: 'Partially refunded',
};

export const statusColors: Record<string, string> = {
  awaiting_payment: 'warning',
  payment_failed: 'danger',
  paid: 'success',
  shipped: 'info',
  delivered: 'success',
  cancelled: 'secondary',
  expired: 'secondary',
  refunded: 'secondary',
  partially_refunded: 'info',
};

/** Why a refund is made: the orders service's codes, in words. */
export const refundReasons = {
  customer_request: 'At the customer’s request',
  damaged: 'Damaged',
  not_delivered: 'Not delivered',
  wrong_item: 'Wrong item',
  duplicate: 'Duplicate order',
  out_of_stock: 'Out of stock',
  other: 'Other reason',
} as const;
export type RefundReason = keyof typeof refundReasons;

export interface RefundBody {
  amountMinor?: number;
  reason: RefundReason;
  restock?: boolean;
}

export const refundStatuses: Record<string, string> = {
  pending: 'on its way',
  succeeded: 'refunded',
  failed: 'failed',
};

/** Whether the shopper may still pay: awaiting payment or failed, before the deadline. */
export function payable(order: Pick<Order, 'status' | 'deadline'>, now = Date.now()): boolean {
  return (
    (order.status === 'awaiting_payment' || order.status === 'payment_failed') &&
    (order.deadline === null || new Date(order.deadline).getTime() > now)
  );
}

export const getOrder = (id: string) => get<Order>(`/orders/${encodeURIComponent(id)}`);

export const listOrders = (options: { status?: string; cursor?: string; limit?: number } = {}) =>
  get<{ items: OrderSummary[]; nextCursor: string | null }>(`/orders${query(options)}`);

export const placeOrder = (shippingAddress: Record<string, string>, key: string) =>
  send<Order>('POST', '/orders', { shippingAddress }, { 'idempotency-key': key });

/**
 * A refund (a seller's of their order, or an admin's) under `key`: the same key and body again get
 * the first answer, so a retry is safe.
 */
export const refundOrder = (id: string, key: string, body: RefundBody) =>
  send<{ refund: Refund; order: Order }>('POST', `/orders/${encodeURIComponent(id)}/refund`, body, {
    'idempotency-key': key,
  });

export const cancelOrder = (id: string) =>
  send<Order>('POST', `/orders/${encodeURIComponent(id)}/cancel`);

/** The payment's answer: 200 approved, 202 still under way; a decline is ApiError 402. */
export async function payOrder(
  id: string,
  encryptedCard: string,
  key: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { body, response } = await request<Record<string, unknown>>(
    `/orders/${encodeURIComponent(id)}/payments`,
    { method: 'POST', body: { encryptedCard }, headers: { 'idempotency-key': key } },
  );
  return { status: response.status, body };
}
