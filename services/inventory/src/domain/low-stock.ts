import { randomUUID } from 'node:crypto';
import type { OutboxMessage } from '../data/outbox-repository.js';
import type { LowStockReached } from './events.js';

/** One stock row's available count and threshold before and after a change. */
export interface StockLevelChange {
  productId: string;
  sellerId: string;
  region: string;
  availableBefore: number;
  thresholdBefore: number;
  availableAfter: number;
  thresholdAfter: number;
}

function isLow(available: number, threshold: number): boolean {
  return available < threshold;
}

/** The outbox messages for the changes that made stock low; a threshold of 0 never is. */
export function lowStockMessages(
  changes: readonly StockLevelChange[],
  now: Date = new Date(),
): OutboxMessage[] {
  return changes
    .filter(
      (change) =>
        !isLow(change.availableBefore, change.thresholdBefore) &&
        isLow(change.availableAfter, change.thresholdAfter),
    )
    .map((change) => {
      const payload: LowStockReached = {
        type: 'inventory.low_stock_reached',
        id: randomUUID(),
        productId: change.productId,
        sellerId: change.sellerId,
        region: change.region,
        available: change.availableAfter,
        threshold: change.thresholdAfter,
        at: now.toISOString(),
      };
      return { topic: 'lowStock' as const, payload };
    });
}
