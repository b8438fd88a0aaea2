import type { Knex } from '@mercado/common/db';
import type { Identity } from '@mercado/common/identity';
import { ordersError } from '../errors.js';
import {
  setMoveContext,
  updateOrder,
  type OrderRow,
  type OrderStatus,
} from '../data/orders-repository.js';
import { insertOutboxMessages, type OutboxMessage } from '../data/outbox-repository.js';
import { statusChanged } from './events.js';

/**
 * The moves an order's status can make: sql/orders' `order_transitions`, which the database
 * enforces (a test checks the two agree). Checked here first so callers get a clear 409.
 */
export const orderTransitions: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  awaiting_payment: ['paid', 'payment_failed', 'cancelled', 'expired'],
  payment_failed: ['paid', 'cancelled', 'expired'],
  paid: ['shipped', 'partially_refunded', 'refunded'],
  shipped: ['delivered', 'partially_refunded', 'refunded'],
  delivered: ['partially_refunded', 'refunded'],
  partially_refunded: ['shipped', 'delivered', 'refunded'],
  refunded: [],
  cancelled: [],
  expired: [],
};

/** Who made a change, as the history records it: `user:{id}`, `service:{name}` or `system:{what}`. */
export function actorOf(identity: Identity): string {
  if (identity.service) return `service:${identity.service}`;
  return `user:${identity.userId ?? 'anonymous'}`;
}

export interface Move {
  to: OrderStatus;
  cause: string;
  actor: string;
  /** Columns that change with the status. */
  change?: Partial<
    Pick<OrderRow, 'payment_id' | 'failure_reason' | 'reservation' | 'refunded_minor'>
  >;
  /** Events that go out with this move, beside `order.status_changed`. */
  events?: OutboxMessage[];
}

/**
 * Moves a locked order to `to` in the caller's transaction: the history row (written by the
 * database's trigger from the cause and actor set here) and `order.status_changed` commit with it.
 */
export async function moveOrder(
  trx: Knex.Transaction,
  order: OrderRow,
  move: Move,
): Promise<OrderRow> {
  if (!orderTransitions[order.status].includes(move.to)) {
    throw ordersError('order_state_conflict', {
      detail: `The order is ${order.status}; it cannot become ${move.to}`,
    });
  }
  await setMoveContext(trx, { cause: move.cause, actor: move.actor });
  const moved = await updateOrder(trx, order.id, { ...move.change, status: move.to }, order.status);
  if (!moved) {
    throw ordersError('order_state_conflict', { detail: 'The order changed meanwhile; retry' });
  }
  await insertOutboxMessages(trx, [...(move.events ?? []), statusChanged(moved)]);
  return moved;
}
