import type { Knex } from '@mercado/common/db';
import { defineOutbox, type OutboxMessage } from '@mercado/common/mqtt';
import type { NamedStatement } from './payments-repository.js';

/** Payments' outbox (sql/payments/0002_outbox.sql): results and refunds wait here until relayed. */
export const paymentsOutbox = defineOutbox('payments');

/** Whether an event is queued and not yet sent (the unsent rows are few: their index is partial). */
export async function isQueued(
  trx: Knex.Transaction,
  topic: string,
  eventId: string,
): Promise<boolean> {
  const row = await trx(paymentsOutbox.table)
    .whereNull('sent_at')
    .whereNull('failed_at')
    .where({ topic })
    .whereRaw("payload->>'id' = ?", [eventId])
    .first('id');
  return row !== undefined;
}

/**
 * The statement (`queued`) that queues `messages` (checked as paymentsOutbox.insert checks them)
 * once per row of `from`: in completePayment's `after`, only if the payment's outcome was recorded.
 */
export function queueStatement(messages: readonly OutboxMessage[], from: string): NamedStatement {
  const rows = paymentsOutbox.rows(messages);
  return {
    name: 'queued',
    sql: `insert into ${paymentsOutbox.table} (topic, payload)
          select v.topic, v.payload::jsonb
            from (values ${rows.map(() => '(?::text, ?::text)').join(', ')}) as v (topic, payload),
                 ${from}`,
    bindings: rows.flatMap((row) => [row.topic, row.payload]),
  };
}
