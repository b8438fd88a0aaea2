import { get, query, request, send } from './api.js';
import type { Product, ProductPage, ProductStock } from './catalog-api.js';

/**
 * The seller's back office calls: their own products (inactive ones too), the stock per region and
 * the low-stock list (services/inventory), and the orders holding their items, with fulfilment and
 * refunds (services/orders). Shapes as the services' OpenAPI documents describe them.
 */
export interface ProductFields {
  sku: string;
  name: string;
  description: string;
  priceMinor: number;
  currency: string;
  categoryId: string | null;
  imageUrls: string[];
  active: boolean;
}

export const myProducts = (sellerId: string, cursor?: string) =>
  get<ProductPage>(`/products${query({ seller: sellerId, status: 'all', limit: 50, cursor })}`);

/**
 * One of the seller's products as it is now: a catalog read may be kept by the browser for half a
 * minute, which would show the seller their change undone; `no-cache` asks the shop itself.
 */
export const ownProduct = async (id: string) =>
  (
    await request<Product>(`/products/${encodeURIComponent(id)}`, {
      headers: { 'cache-control': 'no-cache' },
    })
  ).body;

export const createProduct = (fields: ProductFields) => send<Product>('POST', '/products', fields);

export const changeProduct = (id: string, fields: Partial<ProductFields>) =>
  send<Product>('PATCH', `/products/${encodeURIComponent(id)}`, fields);

export const deactivateProduct = (id: string) =>
  send<undefined>('DELETE', `/products/${encodeURIComponent(id)}`);

export interface StockChange {
  onHand: number;
  reason: string;
  lowStockThreshold?: number;
}

export const setStock = (productId: string, region: string, change: StockChange) =>
  send<ProductStock['regions'][number]>(
    'PUT',
    `/inventory/${encodeURIComponent(productId)}/${encodeURIComponent(region)}`,
    change,
  );

export interface LowStockRow {
  productId: string;
  sellerId: string;
  region: string;
  onHand: number;
  reserved: number;
  available: number;
  lowStockThreshold: number;
  updatedAt: string;
}

export const lowStock = (cursor?: string) =>
  get<{ items: LowStockRow[]; nextCursor: string | null }>(
    `/inventory/low-stock${query({ limit: 50, cursor })}`,
  );

export type OrderStatus =
  | 'awaiting_payment'
  | 'payment_failed'
  | 'paid'
  | 'shipped'
  | 'delivered'
  | 'partially_refunded'
  | 'refunded'
  | 'cancelled'
  | 'expired';

export interface OrderLine {
  productId: string;
  sellerId: string;
  name: string;
  sku: string;
  unitPriceMinor: number;
  quantity: number;
  lineTotalMinor: number;
}

export interface ShippingAddress {
  name: string;
  line1: string;
  line2?: string;
  city: string;
  postalCode: string;
  country: string;
}

/** An order as the seller of some of its items sees it (`GET /api/orders/sold`). */
export interface SoldOrder {
  id: string;
  userId: string;
  status: OrderStatus;
  region: string;
  currency: string;
  totalMinor: number;
  refundedMinor: number;
  itemCount: number;
  createdAt: string;
  updatedAt: string;
  shippingAddress: ShippingAddress;
  /** The seller's own lines. */
  lines: OrderLine[];
  /** Other sellers have items in it: an admin ships and refunds it. */
  otherSellers: boolean;
}

export interface Refund {
  refundId: string;
  status: 'pending' | 'succeeded' | 'failed';
  amountMinor: number;
  reason: string;
}

/** The whole order, as fulfilment and refunds answer it. */
export interface OrderAnswer {
  id: string;
  status: OrderStatus;
  refundedMinor: number;
  updatedAt: string;
  refunds: Refund[];
}

export const soldOrders = (status?: string, cursor?: string) =>
  get<{ items: SoldOrder[]; nextCursor: string | null }>(
    `/orders/sold${query({ status, limit: 20, cursor })}`,
  );

export const fulfil = (orderId: string, step: 'ship' | 'deliver') =>
  send<OrderAnswer>('POST', `/orders/${encodeURIComponent(orderId)}/${step}`);

export const refundReasons = {
  customer_request: 'The customer asked',
  damaged: 'Damaged',
  not_delivered: 'Not delivered',
  wrong_item: 'Wrong item',
  duplicate: 'Duplicate order',
  out_of_stock: 'Out of stock',
  other: 'Other',
} as const;

export interface RefundRequest {
  amountMinor?: number;
  reason: keyof typeof refundReasons;
  restock?: true;
}

/** A refund under `key` (the same key and body again answer the first answer: safe to retry). */
export const refund = (orderId: string, body: RefundRequest, key: string) =>
  send<{ refund: Refund; order: OrderAnswer }>(
    'POST',
    `/orders/${encodeURIComponent(orderId)}/refund`,
    body,
    { 'idempotency-key': key },
  );
