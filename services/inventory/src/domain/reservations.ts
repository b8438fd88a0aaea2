import { type FieldError } from '@mercado/common/errors';
import { type Knex } from '@mercado/common/db';
import { inventoryError } from '../errors.js';
import { withStockTransaction } from './stock-writes.js';
import type { InventoryDeps } from './deps.js';
import { assertKnownRegion } from './regions.js';
import { lowStockMessages, type StockLevelChange } from './low-stock.js';
import { toReservationView, type ReservationView } from './views.js';
import {
  findReservation,
  findReservationLines,
  insertReservation,
  insertReservationLines,
  lockReservation,
  setReservationStatus,
  type ReservationLineRow,
  type ReservationRow,
} from '../data/reservations-repository.js';
import { applyStockChanges, lockStockRows } from '../data/stock-repository.js';
import { shareLockProductSettings } from '../data/product-settings-repository.js';
import { appendMovements } from '../data/movements-repository.js';
import { insertOutboxMessages } from '../data/outbox-repository.js';

export interface ReservationLine {
  productId: string;
  quantity: number;
}

export interface ReservationRequest {
  orderId: string;
  region: string;
  /** Distinct product ids (the API refuses duplicates). */
  lines: ReservationLine[];
  ttlSeconds?: number;
}

function byProductId(a: { productId: string }, b: { productId: string }): number {
  return a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0;
}

/** Same region and the same quantity of the same products: a retry of the same reservation. */
function isSameRequest(
  existing: ReservationView,
  request: { region: string; lines: readonly ReservationLine[] },
): boolean {
  if (existing.region !== request.region || existing.lines.length !== request.lines.length) {
    return false;
  }
  const wanted = [...request.lines].sort(byProductId);
  return existing.lines.every(
    (line, i) => line.productId === wanted[i]!.productId && line.quantity === wanted[i]!.quantity,
  );
}

async function loadView(db: Knex, row: ReservationRow): Promise<ReservationView> {
  return toReservationView(row, await findReservationLines(db, [row.order_id]));
}

/**
 * Holds stock for an order: every line or none. Idempotent by order id: a repeat with the same
 * region and lines returns the existing reservation (whatever its status now) and changes
 * nothing; the same order id with other lines is a conflict.
 *
 * One transaction: the reservation row first (a concurrent duplicate waits on it), then the
 * products' settings (shared) and stock rows (exclusive), each in product id order, so concurrent
 * reservations never deadlock. Availability is checked on the locked rows; the table's CHECK
 * (reserved <= on_hand) is the final guard against overselling.
 */
export async function reserveStock(
  deps: InventoryDeps,
  request: ReservationRequest,
): Promise<{ created: boolean; reservation: ReservationView }> {
  assertKnownRegion(deps, request.region);
  const { orderId, region } = request;
  const lines = [...request.lines].sort(byProductId);
  const productIds = lines.map((line) => line.productId);

  const result = await withStockTransaction(deps, async (trx, touch) => {
    const inserted = await insertReservation(trx, {
      orderId,
      region,
      ttlSeconds: request.ttlSeconds ?? deps.reservationTtlSeconds,
    });
    if (!inserted) {
      const existing = await findReservation(trx, orderId);
      const view = await loadView(trx, existing!);
      if (!isSameRequest(view, request)) {
        throw inventoryError('reservation_conflict', {
          detail: 'This order already holds a reservation with other lines or another region',
        });
      }
      return { created: false, reservation: view, lowStock: 0 };
    }

    const settings = new Map(
      (await shareLockProductSettings(trx, productIds)).map((row) => [row.product_id, row]),
    );
    const stock = new Map(
      (
        await lockStockRows(
          trx,
          productIds.map((productId) => ({ productId, region })),
        )
      ).map((row) => [row.product_id, row]),
    );
    const shortages: FieldError[] = [];
    request.lines.forEach((line, index) => {
      const available = stock.get(line.productId)?.available ?? 0;
      if (available < line.quantity) {
        shortages.push({
          path: `body.lines.${index}.quantity`,
          message: `product ${line.productId}: ${line.quantity} requested, ${available} available`,
          code: 'insufficient_stock',
        });
      }
    });
    if (shortages.length > 0) {
      const short = request.lines.filter((_line, index) =>
        shortages.some((shortage) => shortage.path === `body.lines.${index}.quantity`),
      );
      throw inventoryError('insufficient_stock', {
        detail: `Not enough stock in ${region} for: ${short.map((line) => line.productId).join(', ')}`,
        errors: shortages,
      });
    }

    touch(productIds);
    const updated = await applyStockChanges(
      trx,
      lines.map((line) => ({
        productId: line.productId,
        region,
        onHandDelta: 0,
        reservedDelta: line.quantity,
      })),
    );
    await insertReservationLines(trx, orderId, lines);
    const changes: StockLevelChange[] = updated.map((row) => {
      const threshold = settings.get(row.product_id)!.low_stock_threshold;
      return {
        productId: row.product_id,
        sellerId: settings.get(row.product_id)!.seller_id,
        region,
        availableBefore: stock.get(row.product_id)!.available,
        thresholdBefore: threshold,
        availableAfter: row.available,
        thresholdAfter: threshold,
      };
    });
    const messages = lowStockMessages(changes);
    await insertOutboxMessages(trx, messages);
    return {
      created: true,
      reservation: toReservationView(
        inserted,
        lines.map((line) => ({
          order_id: orderId,
          product_id: line.productId,
          quantity: line.quantity,
        })),
      ),
      lowStock: messages.length,
    };
  });

  if (result.created) {
    deps.log.info(
      {
        orderId,
        region,
        lines: lines.length,
        lowStockSignals: result.lowStock,
        outcome: 'reserved',
      },
      'stock reserved',
    );
  }
  return { created: result.created, reservation: result.reservation };
}

export async function getReservation(
  deps: InventoryDeps,
  orderId: string,
): Promise<ReservationView> {
  const row = await findReservation(deps.db, orderId);
  if (!row) throw inventoryError('reservation_not_found');
  return loadView(deps.db, row);
}

/** Locks the stock rows a reservation holds, in the global order every writer uses. */
async function lockLinesStock(
  trx: Knex.Transaction,
  region: string,
  lines: readonly ReservationLineRow[],
): Promise<void> {
  await lockStockRows(
    trx,
    lines.map((line) => ({ productId: line.product_id, region })),
  );
}

/**
 * The order was paid: the held units leave the shop. For each line on hand and reserved both drop
 * by its quantity (available is unchanged), with a `commit` movement in the ledger. Idempotent:
 * committing a committed reservation returns it unchanged. A reservation that was released or
 * expired cannot be committed (its stock may be sold to someone else by now).
 */
export async function commitReservation(
  deps: InventoryDeps,
  caller: string,
  orderId: string,
): Promise<ReservationView> {
  const result = await withStockTransaction(deps, async (trx, touch) => {
    const row = await lockReservation(trx, orderId);
    if (!row) throw inventoryError('reservation_not_found');
    const lines = await findReservationLines(trx, [orderId]);
    if (row.status === 'committed') return { changed: false, view: toReservationView(row, lines) };
    if (row.status !== 'active') {
      throw inventoryError('reservation_conflict', {
        detail: `The reservation is ${row.status} and can no longer be committed`,
      });
    }
    touch(lines.map((line) => line.product_id));
    await lockLinesStock(trx, row.region, lines);
    await applyStockChanges(
      trx,
      lines.map((line) => ({
        productId: line.product_id,
        region: row.region,
        onHandDelta: -line.quantity,
        reservedDelta: -line.quantity,
      })),
    );
    await appendMovements(
      trx,
      lines.map((line) => ({
        productId: line.product_id,
        region: row.region,
        delta: -line.quantity,
        kind: 'commit' as const,
        reason: 'order paid',
        actor: `service:${caller}`,
        orderId,
      })),
    );
    const [committed] = await setReservationStatus(trx, [orderId], 'committed');
    return { changed: true, view: toReservationView(committed!, lines) };
  });
  if (result.changed) {
    deps.log.info({ orderId, outcome: 'committed' }, 'reservation committed');
  }
  return result.view;
}

/**
 * The order was cancelled or its payment declined: the held units become available again.
 * Idempotent: releasing a released (or expired) reservation returns it unchanged. A committed
 * reservation cannot be released: its units have left (a refund restocks through an adjustment).
 */
export async function releaseReservation(
  deps: InventoryDeps,
  orderId: string,
): Promise<ReservationView> {
  const result = await withStockTransaction(deps, async (trx, touch) => {
    const row = await lockReservation(trx, orderId);
    if (!row) throw inventoryError('reservation_not_found');
    const lines = await findReservationLines(trx, [orderId]);
    if (row.status === 'released' || row.status === 'expired') {
      return { changed: false, view: toReservationView(row, lines) };
    }
    if (row.status === 'committed') {
      throw inventoryError('reservation_conflict', {
        detail: 'The reservation is committed (paid) and can no longer be released',
      });
    }
    touch(lines.map((line) => line.product_id));
    await lockLinesStock(trx, row.region, lines);
    await applyStockChanges(
      trx,
      lines.map((line) => ({
        productId: line.product_id,
        region: row.region,
        onHandDelta: 0,
        reservedDelta: -line.quantity,
      })),
    );
    const [released] = await setReservationStatus(trx, [orderId], 'released');
    return { changed: true, view: toReservationView(released!, lines) };
  });
  if (result.changed) {
    deps.log.info({ orderId, outcome: 'released' }, 'reservation released');
  }
  return result.view;
}

/**
 * The paid order was refunded: units it took go back on hand (available grows by them), with a
 * `restock` movement in the ledger. Once per `restockId` (orders' refund id): a repeat answers the
 * reservation unchanged. Only a committed reservation, and never more units of a product than the
 * order took, across all its restocks.
 */
export async function restockReservation(
  deps: InventoryDeps,
  caller: string,
  orderId: string,
  restock: { restockId: string; lines: Array<{ productId: string; quantity: number }> },
): Promise<ReservationView> {
  const result = await withStockTransaction(deps, async (trx, touch) => {
    const row = await lockReservation(trx, orderId);
    if (!row) throw inventoryError('reservation_not_found');
    const lines = await findReservationLines(trx, [orderId]);
    const done = await trx('restocks').where({ order_id: orderId });
    if (done.some((earlier: { id: string }) => earlier.id === restock.restockId)) {
      return { changed: false, view: toReservationView(row, lines) };
    }
    if (await trx('restocks').where({ id: restock.restockId }).first()) {
      throw inventoryError('reservation_conflict', {
        detail: 'This restockId put back units of another order',
      });
    }
    if (row.status !== 'committed') {
      throw inventoryError('reservation_conflict', {
        detail: `The reservation is ${row.status}: only a paid order's units can be put back`,
      });
    }
    const returned = new Map<string, number>();
    for (const earlier of done as Array<{
      lines: Array<{ productId: string; quantity: number }>;
    }>) {
      for (const line of earlier.lines) {
        returned.set(line.productId, (returned.get(line.productId) ?? 0) + line.quantity);
      }
    }
    const errors: FieldError[] = [];
    restock.lines.forEach((line, index) => {
      const took = lines.find((taken) => taken.product_id === line.productId)?.quantity ?? 0;
      const left = took - (returned.get(line.productId) ?? 0);
      returned.set(line.productId, (returned.get(line.productId) ?? 0) + line.quantity);
      if (line.quantity > left) {
        errors.push({
          path: `body.lines.${index}.quantity`,
          code: 'restock_exceeds_committed',
          message: `the order took ${took} of this product, ${Math.max(left, 0)} may still go back`,
        });
      }
    });
    if (errors.length > 0) throw inventoryError('restock_exceeds_committed', { errors });
    const productIds = restock.lines.map((line) => line.productId);
    touch(productIds);
    await lockStockRows(
      trx,
      productIds.map((productId) => ({ productId, region: row.region })),
    );
    await applyStockChanges(
      trx,
      restock.lines.map((line) => ({
        productId: line.productId,
        region: row.region,
        onHandDelta: line.quantity,
        reservedDelta: 0,
      })),
    );
    await appendMovements(
      trx,
      restock.lines.map((line) => ({
        productId: line.productId,
        region: row.region,
        delta: line.quantity,
        kind: 'restock' as const,
        reason: 'order refunded',
        actor: `service:${caller}`,
        orderId,
      })),
    );
    await trx('restocks').insert({
      id: restock.restockId,
      order_id: orderId,
      lines: JSON.stringify(restock.lines),
    });
    return { changed: true, view: toReservationView(row, lines) };
  });
  if (result.changed) {
    deps.log.info(
      { orderId, restockId: restock.restockId, outcome: 'restocked' },
      'units restocked',
    );
  }
  return result.view;
}
