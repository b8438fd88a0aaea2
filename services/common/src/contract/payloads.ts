import { z } from 'zod';

/**
 * The payload of every Mercado MQTT topic. Objects are strict: a field a publisher adds without
 * changing the contract is refused, so a consumer never acts on data nobody agreed to carry.
 */

const id = z.uuid();

/** The key that makes processing idempotent: an HTTP Idempotency-Key, a terminal's own counter. */
const requestId = z.string().min(1).max(100);

/** Integer minor units, never floats; the ceiling keeps sums far inside Number.MAX_SAFE_INTEGER. */
const amountMinor = z.int().positive().max(100_000_000_000);

/** ISO 4217 alphabetic code. */
const currency = z.string().regex(/^[A-Z]{3}$/);

/** ISO 8601 with `Z` or an offset, as `Date.prototype.toISOString` and Postgres write them. */
const timestamp = z.iso.datetime({ offset: true });

const reason = z.string().min(1).max(200);

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

/** orders → payments: this order owes this amount until `expiresAt`; never a client's figure. */
export const paymentIntentCreatedSchema = z.strictObject({
  type: z.literal('payment.intent_created'),
  id,
  orderId: id,
  userId: id,
  amountMinor,
  currency,
  expiresAt: timestamp,
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

/** terminal → payments: a card-present payment; the terminal's id is the topic's, not here. */
export const terminalPaymentRequestSchema = z.strictObject({
  type: z.literal('terminal.payment_requested'),
  requestId,
  amountMinor,
  currency,
  orderCode: z.string().min(1).max(64).optional(),
  card: cardSchema,
});

/** payments → one terminal: the outcome of one of its requests. */
export const terminalPaymentResultSchema = z.strictObject({
  type: z.enum(['terminal.payment_approved', 'terminal.payment_declined']),
  requestId,
  transactionId: z.string().min(1).max(100).optional(),
  reason: reason.optional(),
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
  // The registry's id format (sql/users/0003_terminals.sql).
  terminalId: z.string().regex(/^[a-z0-9][a-z0-9-]{2,63}$/),
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
export type TerminalPaymentResult = z.infer<typeof terminalPaymentResultSchema>;
export type TerminalStatus = z.infer<typeof terminalStatusSchema>;
export type OrderStatusChanged = z.infer<typeof orderStatusChangedSchema>;
export type LowStockReached = z.infer<typeof lowStockReachedSchema>;
export type AccountTokensRevoked = z.infer<typeof accountTokensRevokedSchema>;
export type TerminalCredentialsRevoked = z.infer<typeof terminalCredentialsRevokedSchema>;
export type Revocation = z.infer<typeof revocationSchema>;
