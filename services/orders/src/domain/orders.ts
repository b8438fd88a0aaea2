import { z } from 'zod';
import { withTransaction } from '@mercado/common/db';
import type { Identity } from '@mercado/common/identity';
import { ordersError } from '../errors.js';
import {
  findOrder,
  findOrderLines,
  listOrders,
  listOrdersWithSeller,
  lockOrder,
  orderStatuses,
  type OrderLineRow,
  type OrderRow,
  type OrderStatus,
} from '../data/orders-repository.js';
import type { OrdersDeps } from './deps.js';
import { intentCancelled } from './events.js';
import { settleReservation } from './reservations.js';
import { actorOf, moveOrder } from './transitions.js';
import {
  loadOrderView,
  toLineView,
  toOrderSummary,
  type OrderSummaryView,
  type OrderView,
  type SoldOrderView,
} from './views.js';

const isAdmin = (identity: Identity) => identity.roles.includes('admin');

/** The order, if the caller may see it: its owner's, or any for an admin; else 404. */
async function visibleOrder(
  deps: OrdersDeps,
  identity: Identity,
  orderId: string,
): Promise<OrderRow> {
  const order = await findOrder(deps.db, orderId);
  if (!order || (order.user_id !== identity.userId && !isAdmin(identity))) {
    throw ordersError('order_not_found');
  }
  return order;
}

export async function getOrder(
  deps: OrdersDeps,
  identity: Identity,
  orderId: string,
): Promise<OrderView> {
  return loadOrderView(deps.db, await visibleOrder(deps, identity, orderId));
}

const cursorSchema = z.strictObject({ createdAt: z.iso.datetime(), id: z.uuid() });

/**
 * The caller's orders (an admin's: everyone's), newest first, `limit` a page, keyset-paginated on
 * (created, id) with a signed cursor bound to the filter.
 */
export async function findOrders(
  deps: OrdersDeps,
  identity: Identity,
  query: { status?: OrderStatus | undefined; limit: number; cursor?: string | undefined },
): Promise<{ items: OrderSummaryView[]; nextCursor: string | null }> {
  const userId = isAdmin(identity) ? undefined : identity.userId;
  return listingPage(
    deps,
    query,
    `${userId ?? '*'}|${query.status ?? '*'}`,
    (page) => listOrders(deps.db, { userId, ...page }),
    (rows) => rows.map(toOrderSummary),
  );
}

type PageRead = {
  status?: OrderStatus | undefined;
  after?: { createdAt: string; id: string } | undefined;
  limit: number;
};

/**
 * One page of a listing, newest first: the cursor read back (bound to `context`: the listing's
 * caller and filter), `limit` rows and one more read to tell whether a page follows, and the
 * cursor after it.
 */
async function listingPage<T>(
  deps: OrdersDeps,
  query: { status?: OrderStatus | undefined; limit: number; cursor?: string | undefined },
  context: string,
  read: (page: PageRead) => Promise<OrderRow[]>,
  view: (page: OrderRow[]) => T[] | Promise<T[]>,
): Promise<{ items: T[]; nextCursor: string | null }> {
  const after = query.cursor ? deps.cursors.decode(query.cursor, cursorSchema, context) : undefined;
  const rows = await read({ status: query.status, after, limit: query.limit + 1 });
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: await view(page),
    nextCursor:
      rows.length > query.limit && last
        ? deps.cursors.encode({ createdAt: last.created_at.toISOString(), id: last.id }, context)
        : null,
  };
}

/**
 * The orders holding items the seller sold (a seller: their own; an admin: any seller's), newest
 * first, keyset-paginated like the shopper's listing with a cursor bound to the seller and the
 * filter. Each comes with its shipping address (the seller ships it), the seller's own lines only,
 * and whether other sellers have items in it too (then an admin ships and refunds it).
 */
export async function findSoldOrders(
  deps: OrdersDeps,
  identity: Identity & { userId: string },
  query: {
    seller?: string | undefined;
    status?: OrderStatus | undefined;
    limit: number;
    cursor?: string | undefined;
  },
): Promise<{ items: SoldOrderView[]; nextCursor: string | null }> {
  const sellerId = query.seller ?? identity.userId;
  if (sellerId !== identity.userId && !isAdmin(identity)) {
    throw ordersError('forbidden', { detail: 'A seller lists the orders of their own items' });
  }
  const context = `sold|${sellerId}|${query.status ?? '*'}`;
  const read = (page: PageRead) => listOrdersWithSeller(deps.db, { sellerId, ...page });
  return listingPage(deps, query, context, read, async (page) => {
    const lines = await findOrderLines(
      deps.db,
      page.map((row) => row.id),
    );
    return page.map((row) => {
      const all = lines.filter((line) => line.order_id === row.id);
      return {
        ...toOrderSummary(row),
        shippingAddress: row.shipping_address,
        lines: all.filter((line) => line.seller_id === sellerId).map(toLineView),
        otherSellers: all.some((line) => line.seller_id !== sellerId),
      };
    });
  });
}

export { orderStatuses };

/**
 * The shopper cancels an order they have not paid (awaiting payment, or after a declined
 * payment): payments is told it can no longer be paid, and the stock is released. A paid order
 * is refunded instead (409 here).
 */
export async function cancelOrder(
  deps: OrdersDeps,
  identity: Identity & { userId: string },
  orderId: string,
): Promise<OrderView> {
  const order = await withTransaction(deps.db, async (trx) => {
    const locked = await lockOrder(trx, orderId);
    if (!locked || (locked.user_id !== identity.userId && !isAdmin(identity))) {
      throw ordersError('order_not_found');
    }
    return moveOrder(trx, locked, {
      to: 'cancelled',
      cause: 'cancelled by the shopper',
      actor: actorOf(identity),
      events: [intentCancelled(locked, 'cancelled')],
    });
  });
  deps.log.info({ orderId, outcome: 'cancelled' }, 'order cancelled');
  await settleReservation(deps, order);
  return loadOrderView(deps.db, (await findOrder(deps.db, orderId))!);
}

/**
 * Who may ship, deliver or refund an order: an admin, or the seller of every line. A seller of
 * none does not learn the order exists (404); of some, 403 `not_order_seller`.
 */
export function assertSellerOfAll(
  identity: Identity,
  lines: readonly OrderLineRow[],
  what: 'ships' | 'refunds',
): void {
  if (isAdmin(identity)) return;
  const sellers = new Set(lines.map((line) => line.seller_id));
  if (!identity.userId || !sellers.has(identity.userId)) throw ordersError('order_not_found');
  if (sellers.size > 1) {
    throw ordersError('not_order_seller', {
      detail: `Other sellers have items in this order: an admin ${what} it`,
    });
  }
}

/**
 * Fulfilment: `shipped` (from paid) and `delivered` (from shipped), by an admin or the seller of
 * every line of the order. A seller of none of them does not learn the order exists (404).
 */
export async function fulfilOrder(
  deps: OrdersDeps,
  identity: Identity & { userId: string },
  orderId: string,
  to: 'shipped' | 'delivered',
): Promise<OrderView> {
  const order = await withTransaction(deps.db, async (trx) => {
    const locked = await lockOrder(trx, orderId);
    if (!locked) throw ordersError('order_not_found');
    if (!isAdmin(identity)) {
      assertSellerOfAll(identity, await findOrderLines(trx, [orderId]), 'ships');
    }
    return moveOrder(trx, locked, {
      to,
      cause: to === 'shipped' ? 'shipped by the seller' : 'delivered',
      actor: actorOf(identity),
    });
  });
  deps.log.info({ orderId, outcome: to }, `order ${to}`);
  return loadOrderView(deps.db, order);
}
