import { withTransaction } from '@mercado/common/db';
import { AppError, isUniqueViolation, type FieldError } from '@mercado/common/errors';
import { ordersError } from '../errors.js';
import { deleteCartLines, findCart, findCartLines, updateCart } from '../data/carts-repository.js';
import {
  answerIdempotencyKey,
  holdIdempotencyKey,
  type HeldKey,
} from '../data/idempotency-repository.js';
import { insertOrder, setMoveContext, type ShippingAddress } from '../data/orders-repository.js';
import { insertOutboxMessages } from '../data/outbox-repository.js';
import type { OrdersDeps } from './deps.js';
import { intentCreated, statusChanged } from './events.js';
import { answerOnce, type OnceAnswer } from './idempotency.js';
import { newPayCode } from './pay-codes.js';
import { loadOrderView, type OrderView } from './views.js';

export interface CheckoutRequest {
  shippingAddress: ShippingAddress;
}

/**
 * Stock stays reserved a minute longer than orders ever waits for a payment (deadline plus
 * grace), so a payment approved at the last moment always finds its reservation to commit.
 */
const reservationMarginSeconds = 60;

/**
 * Checkout under an Idempotency-Key (Stripe's contract, see idempotency.ts): the first request
 * with the key runs, and its answer — the order, or a refusal once processing started — is kept
 * and given to every later request with the same key and body. A failure that leaves no answer (a
 * service unavailable) keeps nothing: a retry runs again, for the same order id, so inventory
 * holds one reservation.
 */
export async function placeOrderOnce(
  deps: OrdersDeps,
  userId: string,
  key: string,
  request: CheckoutRequest,
): Promise<OnceAnswer<OrderView>> {
  return answerOnce(deps, { userId, key, request }, async (claim) => ({
    status: 201,
    body: await placeOrder(deps, { userId, orderId: claim.id, key: claim.key }, request),
  }));
}

/**
 * The checkout: the user's cart becomes an order awaiting payment. Prices come from the catalog
 * now (the cart's are only shown); every line must be on sale in the cart's currency; inventory
 * holds all the lines or none in the cart's region; then, in one transaction, the order and its
 * lines, its first history row, `payment.intent_created` (the amount computed here, never a
 * client's) and `order.status_changed` in the outbox, the emptied cart and the key's answer.
 */
async function placeOrder(
  deps: OrdersDeps,
  claim: { userId: string; orderId: string; key: HeldKey },
  request: CheckoutRequest,
): Promise<OrderView> {
  const { userId, orderId } = claim;
  const cart = await findCart(deps.db, { userId });
  const cartLines = cart ? await findCartLines(deps.db, cart.id) : [];
  if (!cart || cartLines.length === 0) throw ordersError('cart_empty');

  const products = new Map(
    (await deps.catalog.findProducts(cartLines.map((line) => line.product_id))).map((product) => [
      product.id,
      product,
    ]),
  );
  const problems: Array<
    FieldError & { code: 'product_not_found' | 'product_inactive' | 'currency_mismatch' }
  > = [];
  cartLines.forEach((line, index) => {
    const product = products.get(line.product_id);
    const path = `cart.lines.${index}.productId`;
    if (!product) {
      problems.push({
        path,
        code: 'product_not_found',
        message: `product ${line.product_id} no longer exists`,
      });
    } else if (!product.active) {
      problems.push({
        path,
        code: 'product_inactive',
        message: `product ${line.product_id} is not on sale`,
      });
    } else if (product.currency !== cart.currency) {
      problems.push({
        path,
        code: 'currency_mismatch',
        message: `product ${line.product_id} is priced in ${product.currency}, the cart is in ${cart.currency}`,
      });
    }
  });
  if (problems.length > 0) {
    throw ordersError(problems[0]!.code, {
      detail: 'Some lines of the cart cannot be ordered; the cart shows which',
      errors: problems,
    });
  }

  const { paymentWindowSeconds, expiryGraceSeconds } = deps.settings;
  const reserved = await deps.inventory.reserve({
    orderId,
    region: cart.region,
    lines: cartLines.map((line) => ({ productId: line.product_id, quantity: line.quantity })),
    ttlSeconds: paymentWindowSeconds + expiryGraceSeconds + reservationMarginSeconds,
  });
  if (!reserved.ok) {
    throw ordersError('insufficient_stock', {
      detail: `Not enough stock in ${cart.region} for every line`,
      errors: reserved.shortages.map((shortage) => ({
        path: `cart.lines.${shortage.index}.quantity`,
        message: shortage.message,
        code: 'insufficient_stock',
      })),
    });
  }

  // The deadlines count from the reservation's own, so orders never waits past it.
  const held = Date.parse(reserved.reservation.expiresAt) - reservationMarginSeconds * 1000;
  const expiresAt = new Date(held);
  const deadline = new Date(held - expiryGraceSeconds * 1000);
  const lines = cartLines.map((line) => {
    const product = products.get(line.product_id)!;
    return {
      product_id: product.id,
      seller_id: product.sellerId,
      name: product.name,
      sku: product.sku,
      unit_price_minor: product.priceMinor,
      quantity: line.quantity,
    };
  });
  const totalMinor = lines.reduce((sum, line) => sum + line.unit_price_minor * line.quantity, 0);
  if (totalMinor <= 0) {
    throw new AppError('constraint_violation', { detail: 'An order must cost something' });
  }

  // A pay code already taken (1 in 2^40 per order placed) rolls back: the order is placed again
  // with another.
  const placeWithPayCode = () =>
    withTransaction(deps.db, async (trx) => {
      // First, so that no takeover of the key comes between here and the commit.
      await holdIdempotencyKey(trx, claim.key);
      await setMoveContext(trx, { cause: 'checkout', actor: `user:${userId}` });
      const order = await insertOrder(
        trx,
        {
          id: orderId,
          user_id: userId,
          region: cart.region,
          currency: cart.currency!,
          total_minor: totalMinor,
          item_count: lines.reduce((sum, line) => sum + line.quantity, 0),
          shipping_address: request.shippingAddress,
          deadline,
          expires_at: expiresAt,
          pay_code: newPayCode(),
        },
        lines,
      );
      await insertOutboxMessages(trx, [intentCreated(order), statusChanged(order)]);
      await deleteCartLines(trx, cart.id);
      await updateCart(trx, cart.id, { currency: null });
      const placed = await loadOrderView(trx, order);
      await answerIdempotencyKey(trx, claim.key, { status: 201, body: placed });
      return placed;
    });
  let view: OrderView | undefined;
  for (let attempt = 0; view === undefined; attempt++) {
    view = await placeWithPayCode().catch((error: unknown) => {
      if (attempt < 3 && isUniqueViolation(error, 'orders_pay_code_key')) return undefined;
      throw error;
    });
  }
  deps.log.info(
    { orderId, userId, lines: lines.length, outcome: 'awaiting_payment' },
    'order placed',
  );
  return view;
}
