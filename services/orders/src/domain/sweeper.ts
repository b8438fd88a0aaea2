import { withTransaction, type Knex } from '@mercado/common/db';
import type { Logger } from '@mercado/common/log';
import { deleteStaleGuestCarts } from '../data/carts-repository.js';
import { deleteOldIdempotencyKeys } from '../data/idempotency-repository.js';
import {
  claimExpiredOrders,
  findUnsettledOrders,
  type OrderRow,
} from '../data/orders-repository.js';
import type { Inventory } from './deps.js';
import { intentCancelled } from './events.js';
import { settleReservation } from './reservations.js';
import { moveOrder } from './transitions.js';

export interface SweepDeps {
  db: Knex;
  log: Logger;
  inventory: Inventory;
  /** Orders expired per transaction. */
  batchSize: number;
  idempotencyKeyTtlHours: number;
  guestCartTtlDays: number;
}

export interface SweepResult {
  expired: number;
  settled: number;
  keysDeleted: number;
  cartsDeleted: number;
}

/**
 * Expires every unpaid order past its expiry (its deadline plus the grace), in batches of
 * `batchSize`, each batch one transaction: `expired`, with `payment.intent_cancelled` (reason
 * expired) and `order.status_changed` from the outbox. Safe on every replica at once (SKIP
 * LOCKED: no order is expired twice, and one a payment result holds is left for the next sweep).
 * Then it settles reservations orders left `held` (commit the paid, release the others) and
 * deletes idempotency keys and guest carts past their lifetime.
 */
export async function sweepOrders(deps: SweepDeps): Promise<SweepResult> {
  let expired = 0;
  const toRelease: OrderRow[] = [];
  for (;;) {
    const batch = await withTransaction(deps.db, async (trx) => {
      const due = await claimExpiredOrders(trx, deps.batchSize);
      const moved: OrderRow[] = [];
      for (const order of due) {
        moved.push(
          await moveOrder(trx, order, {
            to: 'expired',
            cause: 'not paid by its deadline',
            actor: 'system:sweeper',
            events: [intentCancelled(order, 'expired')],
          }),
        );
      }
      return moved;
    });
    expired += batch.length;
    toRelease.push(...batch);
    if (batch.length < deps.batchSize) break;
  }
  for (const order of toRelease) await settleReservation(deps, order);
  if (expired > 0) deps.log.info({ expired, outcome: 'expired' }, 'orders expired');

  const unsettled = await findUnsettledOrders(deps.db, deps.batchSize);
  for (const order of unsettled) await settleReservation(deps, order);
  const keysDeleted = await deleteOldIdempotencyKeys(deps.db, deps.idempotencyKeyTtlHours);
  const cartsDeleted = await deleteStaleGuestCarts(deps.db, deps.guestCartTtlDays);
  return { expired, settled: unsettled.length, keysDeleted, cartsDeleted };
}

export interface OrderSweeper {
  /** Sweeps now and then every `intervalMs` until stopped; a sweep never overlaps the last one. */
  start(): void;
  /** Stops the timer and waits for a sweep in progress to finish. */
  stop(): Promise<void>;
  /** One sweep now (what the timer runs). */
  runOnce(): Promise<SweepResult>;
}

export function createOrderSweeper(deps: SweepDeps & { intervalMs: number }): OrderSweeper {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;

  const tick = () => {
    running = sweepOrders(deps)
      .catch(function sweepFailed(error: unknown) {
        // The next tick retries; a database outage shows in readiness and db metrics.
        deps.log.error({ err: error }, 'order sweep failed');
      })
      .finally(function sweepDone() {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, deps.intervalMs);
      });
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      // At once: on start-up this is the reconciliation of what happened while no replica ran.
      tick();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    runOnce: () => sweepOrders(deps),
  };
}
