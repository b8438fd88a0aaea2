import { request } from './api.js';
import { keepCartToken } from './session.js';

/** The cart, as the orders service answers it (services/orders/README.md). */
export interface CartLine {
  productId: string;
  name: string;
  sku: string;
  quantity: number;
  unitPriceMinor: number;
  lineTotalMinor: number;
  available: number;
  problem: string | null;
}

export interface Cart {
  cartToken?: string;
  region: string;
  currency: string | null;
  lines: CartLine[];
  itemCount: number;
  totalMinor: number;
  checkoutReady: boolean;
  notices: Array<{ code: string; productId?: string }>;
}

/** The problems a line can have, as a shopper reads them. */
export const lineProblems: Record<string, string> = {
  insufficient_stock: 'Not enough in stock in your region for this quantity',
  product_not_found: 'This product is no longer sold',
  product_inactive: 'This product is not on sale right now',
  currency_mismatch: 'Priced in another currency than the rest of the cart',
};

async function cartCall(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<Cart> {
  const { body: cart, response } = await request<Cart>(path, {
    method,
    ...(body !== undefined ? { body } : {}),
  }).catch((error: { code?: string }) => {
    // A guest cart that is gone (expired, or merged in another tab): forget its token.
    if (error.code === 'cart_not_found') keepCartToken(undefined);
    throw error;
  });
  const token = response.headers.get('cart-token');
  if (token) keepCartToken(token);
  window.dispatchEvent(new CustomEvent('mercado:cart', { detail: cart }));
  return cart;
}

export const getCart = () => cartCall('GET', '/cart');
export const addToCart = (productId: string, quantity: number) =>
  cartCall('POST', '/cart/items', { productId, quantity });
export const setQuantity = (productId: string, quantity: number) =>
  cartCall('PATCH', `/cart/items/${encodeURIComponent(productId)}`, { quantity });
export const removeLine = (productId: string) =>
  cartCall('DELETE', `/cart/items/${encodeURIComponent(productId)}`);
export const setCartRegion = (region: string) => cartCall('PATCH', '/cart', { region });
