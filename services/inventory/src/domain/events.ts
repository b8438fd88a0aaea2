/**
 * The events the inventory service publishes (through its outbox). This is the contract consumers
 * code against: the topic, and the payload's type. It moves to the shared topics module once the
 * broker work brings one.
 */

export const lowStockTopic = 'inventory/low-stock';

/**
 * Published when a change takes a product's available stock in one region from at or above its
 * low-stock threshold to below it. Only the crossing is signalled: further falls while still
 * below the threshold are not, until stock has recovered to the threshold and falls again.
 */
export interface LowStockReached {
  type: 'inventory.low_stock_reached';
  /** Unique per event: consumers deduplicate on it (a relay may deliver twice). */
  id: string;
  productId: string;
  sellerId: string;
  region: string;
  available: number;
  threshold: number;
  /** When the crossing happened, ISO 8601. */
  at: string;
}
