import type { Knex } from '@mercado/common/db';
import { defineOutbox } from '@mercado/common/mqtt';

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
