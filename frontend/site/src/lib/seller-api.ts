import { get, query, request, send } from './api.js';
import type { Product, ProductPage, ProductStock } from './catalog-api.js';
import type { Order, OrderLine, OrderStatus } from './orders-api.js';

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

export const soldOrders = (status?: string, cursor?: string) =>
  get<{ items: SoldOrder[]; nextCursor: string | null }>(
    `/orders/sold${query({ status, limit: 20, cursor })}`,
  );

export const fulfil = (orderId: string, step: 'ship' | 'deliver') =>
  send<Order>('POST', `/orders/${encodeURIComponent(orderId)}/${step}`);
