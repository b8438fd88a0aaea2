import type { Knex } from '@mercado/common/db';

export interface OutboxMessage {
  topic: string;
  payload: unknown;
}

/** Queues messages in the caller's transaction: they exist if and only if the change committed. */
export async function insertOutboxMessages(
  trx: Knex.Transaction,
  messages: readonly OutboxMessage[],
): Promise<void> {
  if (messages.length === 0) return;
  await trx('outbox').insert(
    messages.map((message) => ({ topic: message.topic, payload: JSON.stringify(message.payload) })),
  );
}
