/**
 * The events the inventory service publishes (through its outbox). Their topics and payload types
 * are the kit's MQTT contract (services/common/src/contract/contract.ts), which the broker enforces:
 * `inventory/low-stock`, published when a change takes a product's available stock in one region
 * from at or above its low-stock threshold to below it. Only the crossing is signalled: further
 * falls while still below the threshold are not, until stock has recovered to the threshold and
 * falls again. Each event's `id` is unique: consumers deduplicate on it (a relay may deliver twice).
 */
import { topics } from '@mercado/common/contract';

export type { LowStockReached } from '@mercado/common/contract';

export const lowStockTopic = topics.lowStock.build();
