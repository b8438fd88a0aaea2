import type { OrdersDeps } from './deps.js';
import { markReservation, type OrderRow } from '../data/orders-repository.js';

const paidStatuses = new Set(['paid', 'shipped', 'delivered', 'partially_refunded', 'refunded']);
const closedStatuses = new Set(['cancelled', 'expired']);

/**
 * Tells inventory what became of an order's stock once the order's move committed: commit for a
 * paid order, release for a cancelled or expired one. Both are idempotent on inventory's side; a
 * failure is logged and left to the sweeper, which settles every order still `held` (so a move
 * never waits on inventory, and no reservation is left hanging).
 */
export async function settleReservation(
  deps: Pick<OrdersDeps, 'db' | 'log' | 'inventory'>,
  order: Pick<OrderRow, 'id' | 'status' | 'reservation'>,
): Promise<void> {
  if (order.reservation !== 'held') return;
  try {
    if (paidStatuses.has(order.status)) {
      const committed = await deps.inventory.commit(order.id);
      if (!committed) {
        // Inventory let the reservation go: the stock may be sold again. An operator looks.
        deps.log.error({ orderId: order.id, outcome: 'lost' }, 'paid order lost its reservation');
      }
      await markReservation(deps.db, order.id, 'held', committed ? 'committed' : 'lost');
    } else if (closedStatuses.has(order.status)) {
      await deps.inventory.release(order.id);
      await markReservation(deps.db, order.id, 'held', 'released');
    }
  } catch (error) {
    deps.log.warn({ orderId: order.id, err: error }, 'reservation left for the sweeper to settle');
  }
}
