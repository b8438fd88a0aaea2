import type { Knex } from '@mercado/common/db';
import { defineOutbox, type OutboxMessage } from '@mercado/common/mqtt';

export type { OutboxMessage } from '@mercado/common/mqtt';

/** The orders service's outbox: sql/orders' `outbox` table, the kit's template. */
export const ordersOutbox = defineOutbox('orders');

/**
 * Queues events in the caller's transaction: they exist if and only if the change committed. Each
 * is checked against the MQTT contract first; one it refuses throws, rolling the change back.
 */
export function insertOutboxMessages(
  trx: Knex.Transaction,
  messages: readonly OutboxMessage[],
): Promise<void> {
  return ordersOutbox.insert(trx, messages);
}
