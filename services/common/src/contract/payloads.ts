import { z } from 'zod';

/**
 * The payload of every Mercado MQTT topic. Objects are strict: a field a publisher adds without
 * changing the contract is refused, so a consumer never acts on data nobody agreed to carry.
 */

const id = z.uuid();

/** The key that makes processing idempotent: an HTTP Idempotency-Key, a terminal's own counter. */
const requestId = z.string().min(1).max(100);

/**
 * A terminal's own request id (nexo's ServiceID, a counter or a uuid): visible ASCII only, since
 * firmware prints it on receipts and payments logs it.
 */
const terminalRequestId = z.string().regex(/^[\x21-\x7e]{1,100}$/);

/** Integer minor units, never floats; the ceiling keeps sums far inside Number.MAX_SAFE_INTEGER. */
const amountMinor = z.int().positive().max(100_000_000_000);

/** ISO 4217 alphabetic code. */
const currency = z.string().regex(/^[A-Z]{3}$/);

/** ISO 8601 with `Z` or an offset, as `Date.prototype.toISOString` and Postgres write them. */
const timestamp = z.iso.datetime({ offset: true });

/**
 * A card as a shopper or terminal hands it over. Only its shape is checked here; whether it is
 * accepted (Luhn, expiry against today, test cards) is the payments service's decision, answered
 * as a declined result rather than a dropped message.
 */
export const cardSchema = z.strictObject({
  number: z.string().regex(/^\d{12,19}$/),
  expMonth: z.int().min(1).max(12),
  expYear: z.int().min(2000).max(2100),
  cvc: z.string().regex(/^\d{3,4}$/),
  holder: z.string().max(100).optional(),
});

/**
 * A card encrypted for the payments service: a JWE in compact serialization (five base64url parts),
 * made with one of the public keys payments announces on `payments/keys`, whose plaintext is a
 * `cardSchema` object. Only payments holds the private keys: the broker, Redis, outboxes and logs
 * only ever see this.
 */
export const encryptedCardSchema = z
  .string()
  .max(4_096)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);

/** A stable code: why a payment was declined, refused or refunded (`card_declined`, …). */
const code = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/);

/**
 * An order's pay code, as orders issues it: 8 characters of Crockford's base32 (no I, L, O or U),
 * shown to the shopper (grouped `K7QM-2XWP`) to pay the order at a shop's terminal.
 */
export const payCodeSchema = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{8}$/);

/** orders → payments: this order owes this amount until `expiresAt`; never a client's figure. */
export const paymentIntentCreatedSchema = z.strictObject({
  type: z.literal('payment.intent_created'),
  id,
  orderId: id,
  userId: id,
  amountMinor,
  currency,
  expiresAt: timestamp,
  /** The code a shop's terminal pays the order by; an order made before pay codes has none. */
  payCode: payCodeSchema.optional(),
});

/**
 * orders → payments: the order can no longer be paid (cancelled, expired). Payments refuses later
 * requests for it, and voids a payment that was approved while this was on its way.
 */
export const paymentIntentCancelledSchema = z.strictObject({
  type: z.literal('payment.intent_cancelled'),
  id,
  orderId: id,
  reason: z.enum(['cancelled', 'expired']),
  at: timestamp,
});

export const paymentIntentSchema = z.discriminatedUnion('type', [
  paymentIntentCreatedSchema,
  paymentIntentCancelledSchema,
]);

/**
 * gateway → payments: charge this order with this card; `requestId` is the idempotency key (the
 * HTTP Idempotency-Key, scoped by the gateway to the caller). Never an amount: the intent rules.
 */
export const paymentRequestSchema = z.strictObject({
  type: z.literal('payment.requested'),
  requestId,
  orderId: id,
  userId: id,
  card: encryptedCardSchema,
});

/**
 * payments → orders and the waiting gateway: one request's outcome, or a refund of a payment.
 * - `payment.approved`: charged (`paymentId`, `transactionId`);
 * - `payment.declined`: the processor said no (`reason`: card_declined, insufficient_funds,
 *   expired_card, incorrect_cvc, processing_error, invalid_card, amount_too_large, …);
 *   the order may be paid again until its deadline;
 * - `payment.refused`: payments did not try (`reason`: order_already_paid, payment_in_progress,
 *   order_not_payable, unknown_order, unreadable_card, …); nothing changes on the order;
 * - `payment.refunded`: money given back on a payment (`reason`: order_expired,
 *   order_cancelled, … ; `amountMinor` is the refunded amount).
 * Of the card, brand and last four only.
 */
export const paymentResultSchema = z.strictObject({
  type: z.enum(['payment.approved', 'payment.declined', 'payment.refused', 'payment.refunded']),
  id,
  requestId,
  orderId: id,
  paymentId: id.optional(),
  amountMinor: amountMinor.optional(),
  currency: currency.optional(),
  transactionId: z.string().min(1).max(100).optional(),
  reason: code.optional(),
  cardBrand: z.string().min(1).max(40).optional(),
  cardLast4: z
    .string()
    .regex(/^\d{4}$/)
    .optional(),
  at: timestamp,
});

/**
 * orders → payments: give back (part of) a payment — a payment approved for an order that had
 * expired or been cancelled meanwhile is voided this way. `refundId` makes it idempotent.
 */
export const refundRequestSchema = z.strictObject({
  type: z.literal('refund.requested'),
  refundId: requestId,
  orderId: id,
  paymentId: id,
  amountMinor,
  reason: code,
});

/**
 * orders → payments: what became of these orders' payments? Orders asks on start and now and then
 * about its unpaid orders (a result may have been published while no orders replica listened), and
 * before it expires one. With `expire`, payments also closes each order's intent unless a payment
 * succeeded or is under way — atomically, so no payment can start after it — and answers
 * `closed`: only then does orders expire the order. Payments answers every order on
 * `payments/status/{orderId}`, and publishes a succeeded payment's result again first.
 */
export const paymentStatusRequestSchema = z.strictObject({
  type: z.literal('payment.status_requested'),
  id,
  orderIds: z.array(id).min(1).max(100),
  expire: z.boolean(),
  at: timestamp,
});

/**
 * payments → orders: one order's payment as payments sees it, answering the status request
 * `requestId`: `succeeded` (`paymentId`; its result is published again), `processing` (a result
 * will follow), `open` (nothing paid, a payment may still start), `closed` (nothing paid, and no
 * payment can start any more: the intent was cancelled, is past its expiry, or was closed by this
 * request), `unknown` (payments never received the order's intent: published while no payments
 * replica listened; orders sends it again).
 */
export const paymentStatusSchema = z.strictObject({
  type: z.literal('payment.status'),
  id,
  requestId: id,
  orderId: id,
  state: z.enum(['succeeded', 'processing', 'open', 'closed', 'unknown']),
  paymentId: id.optional(),
  at: timestamp,
});

/** JWK members that carry private key material (RFC 7518 §6): never on the broker. */
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

/**
 * payments → the gateway (retained): the public keys to encrypt cards for payments (a JWK set,
 * ECDH-ES key agreement). The first key is the one to use; the others are still accepted
 * (rotation: announce the new key first, retire the old one once no request can carry it).
 */
export const paymentKeysSchema = z.strictObject({
  type: z.literal('payments.keys'),
  keys: z
    .array(
      z
        .looseObject({
          kty: z.string().min(1).max(10),
          kid: z.string().min(1).max(100),
          alg: z.string().min(1).max(40),
          use: z.literal('enc'),
        })
        .refine((key) => privateMembers.every((member) => !(member in key)), {
          message: 'a public key only',
        }),
    )
    .min(1)
    .max(10),
  at: timestamp,
});

/**
 * A pay code as a terminal's keypad or scanner reads it: case, hyphens and the letters Crockford
 * reads as digits (I, L → 1; O → 0) are forgiven; payments normalizes it before looking it up.
 */
const typedPayCode = z.string().regex(/^[0-9A-Za-z-]{4,20}$/);

/** The registry's terminal id format (sql/users/0003_terminals.sql). */
export const terminalIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{2,63}$/);

/** A processor's transaction id (`sbx_ch_…`), as a terminal prints it on the receipt. */
const transactionId = z.string().min(1).max(100);

/**
 * terminal → payments: a card-present payment of a walk-in amount. `requestId` is the terminal's
 * own (nexo's ServiceID): unique per terminal over 48 hours, and a repeat gets the first answer.
 * The card is read by the terminal and encrypted for payments' key (`payments/keys`), as in
 * checkout: the broker only ever carries ciphertext. The terminal's id is the topic's, not here.
 */
export const terminalPaymentRequestSchema = z.strictObject({
  type: z.literal('terminal.payment_requested'),
  requestId: terminalRequestId,
  amountMinor,
  currency,
  card: encryptedCardSchema,
});

/**
 * terminal → payments: pay an online order by its pay code. No amount: the order's intent rules,
 * never a figure from the terminal.
 */
export const terminalOrderPaymentRequestSchema = z.strictObject({
  type: z.literal('terminal.order_payment_requested'),
  requestId: terminalRequestId,
  payCode: typedPayCode,
  card: encryptedCardSchema,
});

/**
 * terminal → payments: what became of my request `ofRequestId`? A terminal that got no answer asks
 * this rather than sending the request again blindly (nexo's TransactionStatus).
 */
export const terminalStatusRequestSchema = z.strictObject({
  type: z.literal('terminal.status_requested'),
  requestId: terminalRequestId,
  ofRequestId: terminalRequestId,
});

/** terminal → payments: abort my payment request `ofRequestId`, unless it was approved already. */
export const terminalAbortRequestSchema = z.strictObject({
  type: z.literal('terminal.abort_requested'),
  requestId: terminalRequestId,
  ofRequestId: terminalRequestId,
});

/**
 * terminal → payments: reverse one of this terminal's approved payments, by the transaction id its
 * result carried: all that is left of it, or `amountMinor` of it.
 */
export const terminalReversalRequestSchema = z.strictObject({
  type: z.literal('terminal.reversal_requested'),
  requestId: terminalRequestId,
  transactionId,
  amountMinor: amountMinor.optional(),
  reason: code.optional(),
});

/**
 * terminal → payments: the totals of this terminal's open period (`totals`), or of a closed one
 * (`totals` with its `periodId`); `close` closes the open period, answers its totals under its id,
 * and opens the next — a shop's end of day.
 */
export const terminalReconciliationRequestSchema = z.strictObject({
  type: z.literal('terminal.reconciliation_requested'),
  requestId: terminalRequestId,
  action: z.enum(['totals', 'close']),
  periodId: id.optional(),
});

/** Everything a terminal may ask on `terminals/{terminalId}/requests`. */
export const terminalRequestSchema = z.discriminatedUnion('type', [
  terminalPaymentRequestSchema,
  terminalOrderPaymentRequestSchema,
  terminalStatusRequestSchema,
  terminalAbortRequestSchema,
  terminalReversalRequestSchema,
  terminalReconciliationRequestSchema,
]);

const count = z.int().min(0).max(1_000_000_000);
/** Sums of many amounts: wider than one amount, still far inside Number.MAX_SAFE_INTEGER. */
const sumMinor = z.int().min(0).max(1_000_000_000_000_000);
const tally = z.strictObject({ count, amountMinor: sumMinor });

/** One currency's totals of a terminal's period. */
export const terminalTotalsSchema = z.strictObject({
  currency,
  approved: tally,
  declined: tally,
  reversed: tally,
});

/** A terminal's reconciliation period: its id, bounds and totals by currency. */
export const terminalPeriodSchema = z.strictObject({
  periodId: id,
  openedAt: timestamp,
  closedAt: timestamp.optional(),
  totals: z.array(terminalTotalsSchema).max(200),
});

/**
 * payments → one terminal: the answer to one of its requests, as nexo answers (Result and
 * ErrorCondition): `result` is `success` or `failure`, and a failure has a stable
 * `errorCondition` (`card_declined`, `unknown_pay_code`, `aborted`, … — payments' README lists
 * them). What the answer carries depends on `request`.
 */
const terminalAnswerSchema = z.strictObject({
  type: z.literal('terminal.result'),
  id,
  requestId,
  request: z.enum(['payment', 'order_payment', 'status', 'abort', 'reversal', 'reconciliation']),
  result: z.enum(['success', 'failure']),
  errorCondition: code.optional(),
  /** Payment and reversal: the processor's transaction (a reversal's own, and `reversedTransactionId`). */
  transactionId: transactionId.optional(),
  reversedTransactionId: transactionId.optional(),
  paymentId: id.optional(),
  /** An order payment: the order paid. */
  orderId: id.optional(),
  amountMinor: amountMinor.optional(),
  currency: currency.optional(),
  cardBrand: z.string().min(1).max(40).optional(),
  cardLast4: z
    .string()
    .regex(/^\d{4}$/)
    .optional(),
  /** Status and abort: the request asked about. */
  ofRequestId: requestId.optional(),
  /** Status: `processed` (with `original`, the first answer), `in_progress` or `not_found`. */
  state: z.enum(['processed', 'in_progress', 'not_found']).optional(),
  /** Reconciliation. */
  period: terminalPeriodSchema.optional(),
  at: timestamp,
});

export const terminalResultSchema = terminalAnswerSchema.extend({
  original: terminalAnswerSchema.optional(),
});

/**
 * payments → users: a terminal's transaction was recorded — a payment approved or declined, or a
 * reversal — for the admin's list of terminals (their last transactions and today's totals).
 */
export const terminalTransactionSchema = z.strictObject({
  type: z.literal('terminal.transaction_recorded'),
  id,
  terminalId: terminalIdSchema,
  kind: z.enum(['payment', 'reversal']),
  outcome: z.enum(['approved', 'declined', 'reversed']),
  amountMinor,
  currency,
  transactionId: transactionId.optional(),
  orderId: id.optional(),
  periodId: id,
  reason: code.optional(),
  cardBrand: z.string().min(1).max(40).optional(),
  cardLast4: z
    .string()
    .regex(/^\d{4}$/)
    .optional(),
  at: timestamp,
});

/** A terminal's presence: published retained on connect, and as its last will. */
export const terminalStatusSchema = z.strictObject({
  type: z.literal('terminal.status'),
  status: z.enum(['online', 'offline']),
  at: timestamp.optional(),
});

/** orders → the owner's browser and the gateway: an order moved to a new status. */
export const orderStatusChangedSchema = z.strictObject({
  type: z.literal('order.status_changed'),
  id,
  orderId: id,
  status: z.string().min(1).max(40),
  at: timestamp,
});

/**
 * inventory → products, orders, gateway: a product's available stock in one region fell below its
 * threshold. Exactly what services/inventory writes; `region` has the format its stock table
 * enforces, and both counts come from non-negative integer columns.
 */
export const lowStockReachedSchema = z.strictObject({
  type: z.literal('inventory.low_stock_reached'),
  id,
  productId: id,
  sellerId: id,
  region: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
  available: z.int().min(0),
  threshold: z.int().min(0),
  at: timestamp,
});

/**
 * users → every gateway replica (and every broker node, which reads it in-process): access
 * tokens issued to this account at or before `revokedBefore` (their `iat`, to the millisecond)
 * are refused from now on, because the account was disabled or lost a role.
 */
export const accountTokensRevokedSchema = z.strictObject({
  type: z.literal('account.tokens_revoked'),
  id,
  userId: id,
  reason: z.enum(['disabled', 'roles_changed']),
  revokedBefore: timestamp,
});

/**
 * users → every broker node: a terminal was deleted or given a new secret at `at`; connections
 * made with the old credentials are closed, and the old secret is refused.
 */
export const terminalCredentialsRevokedSchema = z.strictObject({
  type: z.literal('terminal.credentials_revoked'),
  id,
  terminalId: terminalIdSchema,
  reason: z.enum(['deleted', 'secret_rotated']),
  at: timestamp,
});

/** What the users service announces on `users/revocations`, one of the two above. */
export const revocationSchema = z.discriminatedUnion('type', [
  accountTokensRevokedSchema,
  terminalCredentialsRevokedSchema,
]);

export type Card = z.infer<typeof cardSchema>;
export type PaymentIntentCreated = z.infer<typeof paymentIntentCreatedSchema>;
export type PaymentIntentCancelled = z.infer<typeof paymentIntentCancelledSchema>;
export type PaymentIntent = z.infer<typeof paymentIntentSchema>;
export type PaymentRequested = z.infer<typeof paymentRequestSchema>;
export type PaymentResult = z.infer<typeof paymentResultSchema>;
export type RefundRequested = z.infer<typeof refundRequestSchema>;
export type PaymentStatusRequested = z.infer<typeof paymentStatusRequestSchema>;
export type PaymentStatus = z.infer<typeof paymentStatusSchema>;
export type PaymentKeys = z.infer<typeof paymentKeysSchema>;
export type TerminalPaymentRequested = z.infer<typeof terminalPaymentRequestSchema>;
export type TerminalOrderPaymentRequested = z.infer<typeof terminalOrderPaymentRequestSchema>;
export type TerminalStatusRequested = z.infer<typeof terminalStatusRequestSchema>;
export type TerminalAbortRequested = z.infer<typeof terminalAbortRequestSchema>;
export type TerminalReversalRequested = z.infer<typeof terminalReversalRequestSchema>;
export type TerminalReconciliationRequested = z.infer<typeof terminalReconciliationRequestSchema>;
export type TerminalRequest = z.infer<typeof terminalRequestSchema>;
export type TerminalTotals = z.infer<typeof terminalTotalsSchema>;
export type TerminalPeriod = z.infer<typeof terminalPeriodSchema>;
export type TerminalResult = z.infer<typeof terminalResultSchema>;
export type TerminalTransaction = z.infer<typeof terminalTransactionSchema>;
export type TerminalStatus = z.infer<typeof terminalStatusSchema>;
export type OrderStatusChanged = z.infer<typeof orderStatusChangedSchema>;
export type LowStockReached = z.infer<typeof lowStockReachedSchema>;
export type AccountTokensRevoked = z.infer<typeof accountTokensRevokedSchema>;
export type TerminalCredentialsRevoked = z.infer<typeof terminalCredentialsRevokedSchema>;
export type Revocation = z.infer<typeof revocationSchema>;
