import { createHash, randomUUID } from 'node:crypto';
import { withTransaction } from '@mercado/common/db';
import { AppError, type FieldError } from '@mercado/common/errors';
import { ordersError, ordersErrors } from '../errors.js';
import { deleteCartLines, findCart, findCartLines, updateCart } from '../data/carts-repository.js';
import {
  answerIdempotencyKey,
  claimIdempotencyKey,
  unlockIdempotencyKey,
} from '../data/idempotency-repository.js';
import { insertOrder, setMoveContext, type ShippingAddress } from '../data/orders-repository.js';
import { insertOutboxMessages } from '../data/outbox-repository.js';
import type { OrdersDeps } from './deps.js';
import { intentCreated, statusChanged } from './events.js';
import { loadOrderView, type OrderView } from './views.js';

export interface CheckoutRequest {
  shippingAddress: ShippingAddress;
}

/** What a checkout answers: the order, or the refusal, as first given for its key. */
export interface CheckoutAnswer {
  status: number;
  body: OrderView;
  /** True when this is the stored answer of an earlier request with the same key. */
  replayed: boolean;
}

interface StoredProblem {
  code: string;
  detail?: string | undefined;
  errors?: FieldError[] | undefined;
}

/**
 * Stock stays reserved a minute longer than orders ever waits for a payment (deadline plus
 * grace), so a payment approved at the last moment always finds its reservation to commit.
 */
const reservationMarginSeconds = 60;

function hashRequest(request: CheckoutRequest): Buffer {
  return createHash('sha256').update(JSON.stringify(request)).digest();
}

/** A refusal the answer may be: kept for the key, and thrown again on a replay. */
function problemOf(error: AppError): StoredProblem {
  return {
    code: error.code,
    ...(error.detail !== undefined ? { detail: error.detail } : {}),
    ...(error.errors !== undefined ? { errors: error.errors } : {}),
  };
}

/** The header that marks an answer given again for its Idempotency-Key (as Stripe's does). */
export const replayedHeader = 'idempotent-replayed';

/** The kept refusal, as the error the middleware answers with. */
function replayedProblem(problem: StoredProblem): AppError {
  const options = {
    ...(problem.detail !== undefined ? { detail: problem.detail } : {}),
    ...(problem.errors !== undefined ? { errors: problem.errors } : {}),
    headers: { [replayedHeader]: 'true' },
  };
  return ordersErrors.error(problem.code as Parameters<typeof ordersErrors.error>[0], options);
}

/**
 * Checkout under an Idempotency-Key (Stripe's contract): the first request with the key runs,
 * and its answer — the order, or a refusal once processing started — is kept and given to every
 * later request with the same key and body. The same key with another body is 422
 * `idempotency_key_reused`; while the first is still running, another is 409
 * `idempotency_key_in_use`. A failure that leaves no answer (a service unavailable) keeps
 * nothing: a retry runs again, for the same order id, so inventory holds one reservation.
 */
export async function placeOrderOnce(
  deps: OrdersDeps,
  userId: string,
  key: string,
  request: CheckoutRequest,
): Promise<CheckoutAnswer> {
  const claim = await claimIdempotencyKey(deps.db, {
    userId,
    key,
    requestHash: hashRequest(request),
    orderId: randomUUID(),
  });
  switch (claim.kind) {
    case 'reused':
      throw ordersError('idempotency_key_reused');
    case 'in_use':
      throw ordersError('idempotency_key_in_use', { headers: { 'retry-after': '1' } });
    case 'answered':
      if (claim.status >= 400) throw replayedProblem(claim.body as StoredProblem);
      return { status: claim.status, body: claim.body as OrderView, replayed: true };
  }
  try {
    const order = await placeOrder(deps, { userId, key, orderId: claim.orderId }, request);
    return { status: 201, body: order, replayed: false };
  } catch (error) {
    if (error instanceof AppError && error.status < 500) {
      await answerIdempotencyKey(
        deps.db,
        { userId, key },
        {
          status: error.status,
          body: problemOf(error),
        },
      );
    } else {
      await unlockIdempotencyKey(deps.db, { userId, key }).catch(function unlockFailed(cause) {
        // The lock lapses by itself; the retry waits for it.
        deps.log.warn({ err: cause }, 'idempotency key left locked');
      });
    }
    throw error;
  }
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
  claim: { userId: string; key: string; orderId: string },
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

  const view = await withTransaction(deps.db, async (trx) => {
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
      },
      lines,
    );
    await insertOutboxMessages(trx, [intentCreated(order), statusChanged(order)]);
    await deleteCartLines(trx, cart.id);
    await updateCart(trx, cart.id, { currency: null });
    const placed = await loadOrderView(trx, order);
    await answerIdempotencyKey(trx, claim, { status: 201, body: placed });
    return placed;
  });
  deps.log.info(
    { orderId, userId, lines: lines.length, outcome: 'awaiting_payment' },
    'order placed',
  );
  return view;
}
