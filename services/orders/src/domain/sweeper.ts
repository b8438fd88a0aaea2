import { withTransaction, type Knex } from '@mercado/common/db';
import type { Logger } from '@mercado/common/log';
import { deleteStaleGuestCarts } from '../data/carts-repository.js';
import { deleteOldIdempotencyKeys } from '../data/idempotency-repository.js';
import { claimOrdersToCheck, findUnsettledOrders } from '../data/orders-repository.js';
import { insertOutboxMessages } from '../data/outbox-repository.js';
import { claimRefundsToAskAgain } from '../data/payments-repository.js';
import type { Inventory } from './deps.js';
import { refundRequested, statusRequested } from './events.js';
import { restockPending } from './refunds.js';
import { settleReservation } from './reservations.js';

export interface SweepDeps {
  db: Knex;
  log: Logger;
  inventory: Inventory;
  /** Orders claimed per transaction. */
  batchSize: number;
  /** How often payments is asked again about an unpaid order (PAYMENT_CHECK_INTERVAL_SECONDS). */
  checkIntervalSeconds: number;
  idempotencyKeyTtlHours: number;
  guestCartTtlDays: number;
}

export interface SweepOptions {
  /**
   * Ask about every unpaid order now, however recently it was asked about: a replica's first
   * sweep, the reconciliation of what happened while it did not run.
   */
  checkAll?: boolean;
}

export interface SweepResult {
  /** Unpaid orders past their expiry that payments was asked to close: each expires on its answer. */
  expiring: number;
  /** Unpaid orders not yet due that payments was asked about. */
  checked: number;
  /** Refunds still pending that payments was asked for again. */
  refundsAsked: number;
  settled: number;
  keysDeleted: number;
  cartsDeleted: number;
}

/**
 * One sweep (services/orders/README.md, "Expiry and reconciliation"):
 * - every unpaid order past its expiry (its deadline plus the grace) and not asked about since is
 *   sent to payments in a status request with `expire`; payments closes the intent unless a
 *   payment succeeded or is under way, and the order expires when its `closed` answer comes (see
 *   payment-status.ts) — never by orders alone, so never after its payment succeeded;
 * - every other unpaid order not asked about for `checkIntervalSeconds` (all of them with
 *   `checkAll`) is asked about: a result published while no orders replica listened is published
 *   again by payments, and applied once;
 * in batches of `batchSize`, each one transaction claiming its orders with SKIP LOCKED and
 * queueing its requests in the outbox, so replicas sweeping at once never ask twice. Then it
 * asks payments again for refunds still pending (asked, or last asked again, over
 * `checkIntervalSeconds` ago: payments refunds once by refund id), settles reservations orders
 * left `held` (commit the paid, release the others), makes the
 * restocks of refunds whose call to inventory failed, and deletes
 * idempotency keys and guest carts past their lifetime.
 */
export async function sweepOrders(
  deps: SweepDeps,
  options: SweepOptions = {},
): Promise<SweepResult> {
  const interval = options.checkAll ? 0 : deps.checkIntervalSeconds;
  // The database's clock, as every replica reads it; orders stamped in this sweep are after it.
  const { rows } = await deps.db.raw<{ rows: Array<{ before: Date }> }>(
    'select now() - make_interval(secs => ?) as before',
    [interval],
  );
  const askedBefore = rows[0]!.before;
  const ask = async (due: boolean): Promise<number> => {
    let asked = 0;
    for (;;) {
      const batch = await withTransaction(deps.db, async (trx) => {
        const ids = await claimOrdersToCheck(trx, { due, askedBefore, limit: deps.batchSize });
        if (ids.length > 0) await insertOutboxMessages(trx, statusRequested(ids, due));
        return ids.length;
      });
      asked += batch;
      if (batch < deps.batchSize) return asked;
    }
  };
  const expiring = await ask(true);
  const checked = await ask(false);
  if (expiring + checked > 0) {
    deps.log.info({ expiring, checked }, 'payments asked about unpaid orders');
  }

  const refundsAsked = await withTransaction(deps.db, async (trx) => {
    const pending = await claimRefundsToAskAgain(trx, askedBefore, deps.batchSize);
    await insertOutboxMessages(
      trx,
      pending.map((refund) =>
        refundRequested({
          refundId: refund.refund_id,
          orderId: refund.order_id,
          paymentId: refund.payment_id,
          amountMinor: Number(refund.amount_minor),
          reason: refund.reason,
        }),
      ),
    );
    return pending.length;
  });
  if (refundsAsked > 0) deps.log.info({ refunds: refundsAsked }, 'pending refunds asked again');

  const unsettled = await findUnsettledOrders(deps.db, deps.batchSize);
  for (const order of unsettled) await settleReservation(deps, order);
  await restockPending(deps, deps.batchSize);
  const keysDeleted = await deleteOldIdempotencyKeys(deps.db, deps.idempotencyKeyTtlHours);
  const cartsDeleted = await deleteStaleGuestCarts(deps.db, deps.guestCartTtlDays);
  return {
    expiring,
    checked,
    refundsAsked,
    settled: unsettled.length,
    keysDeleted,
    cartsDeleted,
  };
}

export interface OrderSweeper {
  /** Sweeps now and then every `intervalMs` until stopped; a sweep never overlaps the last one. */
  start(): void;
  /** Stops the timer and waits for a sweep in progress to finish. */
  stop(): Promise<void>;
  /** One sweep now (what the timer runs after its first). */
  runOnce(options?: SweepOptions): Promise<SweepResult>;
}

export function createOrderSweeper(deps: SweepDeps & { intervalMs: number }): OrderSweeper {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;

  let first = true;
  const tick = () => {
    running = sweepOrders(deps, { checkAll: first })
      .then(function swept() {
        first = false;
      })
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
      // At once, asking about every unpaid order: on start-up this is the reconciliation of what
      // happened while this replica did not run.
      tick();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    runOnce: (options) => sweepOrders(deps, options),
  };
}
