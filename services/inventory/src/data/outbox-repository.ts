import type { Knex } from '@mercado/common/db';
import { defineOutbox, type OutboxMessage } from '@mercado/common/mqtt';

export type { OutboxMessage } from '@mercado/common/mqtt';

/** The inventory service's outbox: sql/inventory's `outbox` table, the kit's template. */
export const inventoryOutbox = defineOutbox('inventory');

/**
 * Queues events in the caller's transaction: they exist if and only if the change committed. Each
 * is checked against the MQTT contract first; one it refuses throws, rolling the change back.
 */
export function insertOutboxMessages(
  trx: Knex.Transaction,
  messages: readonly OutboxMessage[],
): Promise<void> {
  return inventoryOutbox.insert(trx, messages);
}
