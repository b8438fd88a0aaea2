import type { Knex } from '@mercado/common/db';

export interface IntentRow {
  order_id: string;
  user_id: string | null;
  amount_minor: number | null;
  currency: string | null;
  expires_at: Date | null;
  cancelled_reason: 'cancelled' | 'expired' | null;
  cancelled_at: Date | null;
  pay_code: string | null;
  created_at: Date;
}

export interface NewIntent {
  orderId: string;
  userId: string;
  amountMinor: number;
  currency: string;
  expiresAt: string;
  payCode?: string | undefined;
}

/**
 * Records what an order owes; true when this changed the row (a new intent, or the amounts of one
 * whose cancellation came first). A repeat of an intent, or another for the same order, changes
 * nothing: the first one rules.
 */
export async function recordIntent(trx: Knex.Transaction, intent: NewIntent): Promise<boolean> {
  const result = await trx.raw<{ rowCount: number }>(
    `insert into intents (order_id, user_id, amount_minor, currency, expires_at, pay_code)
     values (?, ?, ?, ?, ?, ?)
     on conflict (order_id) do update
        set user_id = excluded.user_id, amount_minor = excluded.amount_minor,
            currency = excluded.currency, expires_at = excluded.expires_at,
            pay_code = excluded.pay_code
      where intents.amount_minor is null`,
    [
      intent.orderId,
      intent.userId,
      intent.amountMinor,
      intent.currency,
      intent.expiresAt,
      intent.payCode ?? null,
    ],
  );
  return result.rowCount === 1;
}

/** Marks the order as no longer payable; true when it was not already. */
export async function cancelIntent(
  trx: Knex.Transaction,
  orderId: string,
  reason: 'cancelled' | 'expired',
  at: string,
): Promise<boolean> {
  const result = await trx.raw<{ rowCount: number }>(
    `insert into intents (order_id, cancelled_reason, cancelled_at) values (?, ?, ?)
     on conflict (order_id) do update
        set cancelled_reason = excluded.cancelled_reason, cancelled_at = excluded.cancelled_at
      where intents.cancelled_reason is null`,
    [orderId, reason, at],
  );
  return result.rowCount === 1;
}

/**
 * The order's intent, share-locked: a cancellation (which updates the row) waits for the payment
 * that read it, and a payment that reads it after a cancellation sees the cancellation.
 */
export async function findIntentLocked(
  trx: Knex.Transaction,
  orderId: string,
): Promise<IntentRow | undefined> {
  return trx<IntentRow>('intents').where({ order_id: orderId }).forShare().first();
}

/**
 * The intents a terminal's pay code names, share-locked as findIntentLocked. Orders issues each
 * code once; the caller refuses a code that names none, or (never expected) more than one.
 */
export async function findIntentsByPayCodeLocked(
  trx: Knex.Transaction,
  payCode: string,
): Promise<IntentRow[]> {
  return trx<IntentRow>('intents').where({ pay_code: payCode }).forShare().limit(2);
}
