import type { Knex } from '@mercado/common/db';

export type PaymentEventType =
  | 'intent_received'
  | 'intent_cancelled'
  | 'payment_started'
  | 'payment_approved'
  | 'payment_declined'
  | 'payment_refused'
  | 'payment_refunded'
  | 'refund_refused'
  | 'payment_aborted'
  | 'period_closed';

export interface PaymentEvent {
  type: PaymentEventType;
  /** Null for a terminal's walk-in payment and its terminal's periods. */
  orderId: string | null;
  terminalId?: string | undefined;
  paymentId?: string | undefined;
  requestId?: string | undefined;
  amountMinor?: number | undefined;
  currency?: string | undefined;
  reason?: string | undefined;
}

/** What an audit event says of the payment it is about. */
export interface PaymentOfEvent {
  id: string;
  orderId: string | null;
  terminalId?: string | null | undefined;
  requestId: string;
  amountMinor: number;
  currency: string;
}

/** An audit event about `payment`: its ids, amount and currency, and the event's reason. */
export function paymentEvent(
  type: PaymentEventType,
  payment: PaymentOfEvent,
  reason: string | undefined,
): PaymentEvent {
  return {
    type,
    orderId: payment.orderId,
    terminalId: payment.terminalId ?? undefined,
    paymentId: payment.id,
    requestId: payment.requestId,
    amountMinor: payment.amountMinor,
    currency: payment.currency,
    reason,
  };
}

export interface PaymentEventRow {
  id: number;
  type: PaymentEventType;
  order_id: string | null;
  terminal_id: string | null;
  payment_id: string | null;
  request_id: string | null;
  amount_minor: number | null;
  currency: string | null;
  reason: string | null;
  at: Date;
}

/** Appends to the audit log (sql/payments: the table refuses UPDATE, DELETE and TRUNCATE). */
export async function appendPaymentEvent(
  trx: Knex.Transaction,
  event: PaymentEvent,
): Promise<void> {
  await trx('payment_events').insert(eventColumns(event));
}

/** An event as the audit table's columns (`at` is the database's `now()`). */
export function eventColumns(event: PaymentEvent) {
  return {
    type: event.type,
    order_id: event.orderId,
    payment_id: event.paymentId ?? null,
    request_id: event.requestId ?? null,
    amount_minor: event.amountMinor ?? null,
    currency: event.currency ?? null,
    reason: event.reason ?? null,
    terminal_id: event.terminalId ?? null,
  };
}
