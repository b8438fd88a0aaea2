import { defineErrors } from '@mercado/common/errors';

/** The orders service's own error codes (the kit's generic ones come with them). */
export const ordersErrors = defineErrors({
  // The cart
  cart_token_invalid: { status: 400, title: 'The Cart-Token header is not a cart token' },
  cart_not_found: { status: 404, title: 'No cart has this cart token' },
  line_not_found: { status: 404, title: 'The cart has no line for this product' },
  product_not_found: { status: 422, title: 'The product does not exist' },
  product_inactive: { status: 422, title: 'The product is not on sale' },
  unknown_region: { status: 422, title: 'The region is not one this shop ships from' },
  insufficient_stock: { status: 409, title: 'Not enough stock available' },
  currency_mismatch: { status: 409, title: 'A cart holds products of one currency' },
  cart_full: { status: 409, title: 'The cart holds as many lines as it may' },
  // Checkout
  cart_empty: { status: 409, title: 'The cart is empty' },
  idempotency_key_required: {
    status: 400,
    title: 'An Idempotency-Key header (1-255 printable characters) is required',
  },
  idempotency_key_reused: {
    status: 422,
    title: 'This Idempotency-Key was used with another request body',
  },
  idempotency_key_in_use: {
    status: 409,
    title: 'A request with this Idempotency-Key is still being processed; retry',
  },
  // Orders
  order_not_found: { status: 404, title: 'No such order' },
  order_state_conflict: {
    status: 409,
    title: 'The order is not in a state that allows this',
  },
  refund_exceeds_captured: {
    status: 409,
    title: 'A refund is never more than what is left of the order’s payment',
  },
  restock_exceeds_ordered: {
    status: 422,
    title: 'A refund restocks only what the order has and no other refund restocks',
  },
  not_order_seller: {
    status: 403,
    title: "Only the seller of all the order's items (or an admin) may do this",
  },
});

export const ordersError = ordersErrors.error;
