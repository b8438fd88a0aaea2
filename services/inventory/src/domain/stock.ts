import { z } from 'zod';
import { AppError } from '@mercado/common/errors';
import { type Identity } from '@mercado/common/identity';
import { inventoryError } from '../errors.js';
import type { InventoryDeps } from './deps.js';
import { withStockTransaction } from './stock-writes.js';
import { assertKnownRegion } from './regions.js';
import { actorOf } from './actors.js';
import { lowStockMessages, type StockLevelChange } from './low-stock.js';
import {
  toStockLevelView,
  toStockRowView,
  type ProductStockView,
  type StockRowView,
} from './views.js';
import {
  applyStockChanges,
  ensureStockRow,
  findStockByProduct,
  listLowStock,
  lockProductStock,
  lockStockRows,
  type StockRow,
} from '../data/stock-repository.js';
import {
  findProductSettings,
  lockProductSettings,
  updateProductSettings,
} from '../data/product-settings-repository.js';
import { appendMovements } from '../data/movements-repository.js';
import { insertOutboxMessages } from '../data/outbox-repository.js';

/** The most a row may hold on hand: far above any shop's stock, far below the int4 limit. */
export const maxOnHand = 1_000_000_000;

/**
 * A product's stock in every configured region, zeros where it was never stocked. It does not
 * consult the catalog: a product inventory never heard of simply has no stock.
 */
export async function getProductStock(
  deps: InventoryDeps,
  productId: string,
): Promise<ProductStockView> {
  const [rows, settings] = await Promise.all([
    findStockByProduct(deps.db, productId),
    findProductSettings(deps.db, productId),
  ]);
  const byRegion = new Map(rows.map((row) => [row.region, row]));
  return {
    productId,
    lowStockThreshold: settings?.low_stock_threshold ?? 0,
    regions: deps.regions.map((region) => toStockLevelView(region, byRegion.get(region))),
  };
}

export type StockChangeRequest = {
  productId: string;
  region: string;
  reason: string;
  lowStockThreshold?: number;
} & ({ onHand: number; delta?: undefined } | { delta: number; onHand?: undefined });

/**
 * A seller (of this product) or an admin sets the count on hand in one region, or adjusts it by a
 * delta, with a reason; optionally also the product's low-stock threshold. The ledger gets one
 * movement in the same transaction. Stock on hand can never drop below what is reserved.
 */
export async function changeStock(
  deps: InventoryDeps,
  caller: Identity,
  request: StockChangeRequest,
): Promise<StockRowView> {
  const { productId, region } = request;
  assertKnownRegion(deps, region);
  const [product] = await deps.catalog.findProducts([productId]);
  if (!product || product.id !== productId) throw inventoryError('unknown_product');
  if (!caller.roles.includes('admin') && product.sellerId !== caller.userId) {
    throw inventoryError('not_owner');
  }
  const kind = request.onHand !== undefined ? 'set' : 'adjust';

  const result = await withStockTransaction(deps, async (trx, touch) => {
    touch([productId]);
    // Settings first, then stock rows: the order every writer follows.
    const settings = await lockProductSettings(trx, productId, product.sellerId);
    const thresholdBefore = settings.low_stock_threshold;
    const thresholdAfter = request.lowStockThreshold ?? thresholdBefore;
    await ensureStockRow(trx, { productId, region });
    // A new threshold can make other regions low too, so then every region is locked and checked.
    const locked =
      thresholdAfter === thresholdBefore
        ? await lockStockRows(trx, [{ productId, region }])
        : await lockProductStock(trx, productId);
    const before = locked.find((row) => row.region === region)!;
    const onHandAfter = kind === 'set' ? request.onHand! : before.on_hand + request.delta!;
    if (onHandAfter < before.reserved) {
      throw inventoryError('negative_stock', {
        detail: `On hand would be ${onHandAfter} while ${before.reserved} are reserved`,
      });
    }
    if (onHandAfter > maxOnHand) {
      throw new AppError('validation_failed', {
        errors: [
          {
            path: kind === 'set' ? 'body.onHand' : 'body.delta',
            message: `would take stock on hand above ${maxOnHand}`,
            code: 'too_big',
          },
        ],
      });
    }
    const delta = onHandAfter - before.on_hand;
    const [after] = await applyStockChanges(trx, [
      { productId, region, onHandDelta: delta, reservedDelta: 0 },
    ]);
    await appendMovements(trx, [
      { productId, region, delta, kind, reason: request.reason, actor: actorOf(caller) },
    ]);
    await updateProductSettings(trx, productId, {
      sellerId: product.sellerId,
      ...(request.lowStockThreshold !== undefined
        ? { lowStockThreshold: request.lowStockThreshold }
        : {}),
    });
    const changes: StockLevelChange[] = locked.map((row: StockRow) => ({
      productId,
      sellerId: product.sellerId,
      region: row.region,
      availableBefore: row.available,
      thresholdBefore,
      availableAfter: row.region === region ? after!.available : row.available,
      thresholdAfter,
    }));
    const messages = lowStockMessages(changes);
    await insertOutboxMessages(trx, messages);
    return { row: after!, threshold: thresholdAfter, lowStock: messages.length };
  });

  deps.log.info(
    {
      productId,
      region,
      kind,
      onHand: result.row.on_hand,
      actor: actorOf(caller),
      lowStockSignals: result.lowStock,
      outcome: 'stock_changed',
    },
    'stock changed',
  );
  return toStockRowView(result.row, result.threshold);
}

export interface LowStockPage {
  items: Array<StockRowView & { sellerId: string }>;
  nextCursor: string | null;
}

/** A low-stock page ends at (productId, region) of its last row. */
const lowStockCursorKey = z.tuple([z.uuid(), z.string().min(1).max(64)]);

/**
 * Stock rows whose available count is below their product's threshold: a seller sees their own
 * products, an admin everyone's. Only regions where the product was ever stocked are listed.
 */
export async function findLowStock(
  deps: InventoryDeps,
  caller: Identity,
  query: { region?: string; limit: number; cursor?: string },
): Promise<LowStockPage> {
  if (query.region !== undefined) assertKnownRegion(deps, query.region);
  const isAdmin = caller.roles.includes('admin');
  // A cursor continues only the listing it came from (same viewer scope, same region).
  const context = `${isAdmin ? '*' : caller.userId}|${query.region ?? ''}`;
  const after = query.cursor
    ? deps.cursors.decode(query.cursor, lowStockCursorKey, context)
    : undefined;
  const rows = await listLowStock(deps.db, {
    ...(isAdmin ? {} : { sellerId: caller.userId! }),
    ...(query.region !== undefined ? { region: query.region } : {}),
    limit: query.limit + 1,
    ...(after ? { after: { productId: after[0], region: after[1] } } : {}),
  });
  const items = rows.slice(0, query.limit).map((row) => ({
    ...toStockRowView(row, row.low_stock_threshold),
    sellerId: row.seller_id,
  }));
  const last = items[items.length - 1];
  return {
    items,
    nextCursor:
      rows.length > query.limit && last
        ? deps.cursors.encode([last.productId, last.region], context)
        : null,
  };
}
