import { withTransaction, type Knex } from '@mercado/common/db';
import { type Logger } from '@mercado/common/log';
import {
  claimExpiredReservations,
  findReservationLines,
  setReservationStatus,
} from '../data/reservations-repository.js';
import { applyStockChanges, lockStockRows, type StockChange } from '../data/stock-repository.js';

export interface SweepDeps {
  db: Knex;
  log: Logger;
  /** Reservations expired per transaction. */
  batchSize: number;
}

/**
 * Releases every active reservation past its deadline, in batches of `batchSize`, each batch one
 * transaction; their status becomes `expired`. Safe to run on every replica at once (rows are
 * claimed with SKIP LOCKED, so no reservation is released twice). Returns how many it expired.
 */
export async function sweepExpiredReservations(deps: SweepDeps): Promise<number> {
  let total = 0;
  for (;;) {
    const expired = await withTransaction(deps.db, async (trx) => {
      const due = await claimExpiredReservations(trx, deps.batchSize);
      if (due.length === 0) return 0;
      const regionOf = new Map(due.map((row) => [row.order_id, row.region]));
      const lines = await findReservationLines(
        trx,
        due.map((row) => row.order_id),
      );
      // Several reservations may hold the same row: one change per (product, region).
      const changes = new Map<string, StockChange>();
      for (const line of lines) {
        const region = regionOf.get(line.order_id)!;
        const key = `${line.product_id}\u0000${region}`;
        const change = changes.get(key) ?? {
          productId: line.product_id,
          region,
          onHandDelta: 0,
          reservedDelta: 0,
        };
        change.reservedDelta -= line.quantity;
        changes.set(key, change);
      }
      await lockStockRows(trx, [...changes.values()]);
      await applyStockChanges(trx, [...changes.values()]);
      await setReservationStatus(
        trx,
        due.map((row) => row.order_id),
        'expired',
      );
      return due.length;
    });
    total += expired;
    if (expired < deps.batchSize) break;
  }
  if (total > 0) deps.log.info({ expired: total, outcome: 'expired' }, 'reservations expired');
  return total;
}

export interface ReservationSweeper {
  /** Sweeps every `intervalMs` until stopped; a sweep never overlaps the previous one. */
  start(): void;
  /** Stops the timer and waits for a sweep in progress to finish. */
  stop(): Promise<void>;
  /** One sweep now (what the timer runs); returns how many reservations it expired. */
  runOnce(): Promise<number>;
}

export function createReservationSweeper(
  deps: SweepDeps & { intervalMs: number },
): ReservationSweeper {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(function sweepTick() {
      running = sweepExpiredReservations(deps)
        .catch(function sweepFailed(error: unknown) {
          // The next tick retries; a database outage shows in readiness and db metrics.
          deps.log.error({ err: error }, 'reservation sweep failed');
        })
        .finally(function sweepDone() {
          running = undefined;
          schedule();
        });
    }, deps.intervalMs);
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    runOnce: () => sweepExpiredReservations(deps),
  };
}
