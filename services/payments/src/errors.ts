import { defineErrors } from '@mercado/common/errors';

/**
 * Payments answers HTTP only for health, readiness and metrics: the kit's generic codes are all
 * it needs there. Its own codes are the reasons of its MQTT results, below.
 */
export const paymentsErrors = defineErrors({});

/** `payment.refused`: payments did not try; nothing changed (the same request may come again). */
export const refusalReasons = {
  unknown_order: 'No intent for this order (yet), or it belongs to another user',
  order_not_payable: "The order was cancelled or expired, or its intent's deadline has passed",
  order_already_paid: 'The order has a succeeded payment already',
  payment_in_progress: 'Another payment of this order is being processed',
  unreadable_card: 'The card could not be decrypted with any of payments’ keys',
  unknown_key: 'The card was encrypted for a key payments does not hold (any more)',
  invalid_card: 'The decrypted card is not a card (the contract’s cardSchema)',
  unknown_payment: 'A refund for a payment that does not exist, or of another order',
  payment_not_captured: 'A refund for a payment that did not succeed',
  refund_exceeds_captured: 'A refund for more than what is left of the payment',
  refund_failed: 'The processor could not give the money back; nothing was refunded',
} as const;

/** `payment.declined`: the processor said no; the order may be paid again until its deadline. */
export const declineReasons = {
  card_declined: 'The card was declined',
  insufficient_funds: 'The card has insufficient funds',
  expired_card: 'The card has expired',
  incorrect_cvc: 'The CVC is incorrect',
  processing_error: 'The processor failed; trying again may succeed',
  lost_card: 'The card was reported lost',
  stolen_card: 'The card was reported stolen',
  invalid_number: 'The number fails the Luhn check or no brand has it',
  invalid_cvc: 'The CVC has the wrong length for the brand',
  amount_too_small: 'Below the smallest amount the processor charges',
  amount_too_large: 'Above the largest amount the processor charges',
} as const;

/** `payment.refunded`: why money went back. */
export const refundReasons = {
  order_cancelled: 'The payment was approved for an order that was cancelled meanwhile',
  order_expired: 'The payment was approved for an order that expired meanwhile',
} as const;

/**
 * A terminal's answer `failure` (`errorCondition`), besides the decline reasons above (the
 * processor said no to the card) and the card refusals `unreadable_card`, `unknown_key` and
 * `invalid_card`. Stable, like nexo's ErrorCondition: firmware switches on them.
 */
export const terminalConditions = {
  unknown_pay_code: 'No open order has this pay code',
  order_not_payable: 'The order was cancelled or expired, or its deadline has passed',
  order_already_paid: 'The order is paid already (online or at another terminal)',
  payment_in_progress: 'Another payment of the order is being processed',
  unsupported_currency: 'Terminals do not take this currency (PAYMENTS_TERMINAL_CURRENCIES)',
  unreadable_card: 'The card could not be decrypted with any of payments’ keys',
  unknown_key: 'The card was encrypted for a key payments does not hold (any more)',
  invalid_card: 'The decrypted card is not a card (the contract’s cardSchema)',
  request_id_reused: 'This request id was used for another request in the last 48 hours',
  aborted: 'The payment was aborted before it was approved; nothing was charged',
  not_abortable: 'The request was already answered (approved or declined), or is no payment',
  unknown_transaction: 'No approved payment of this terminal has this transaction id',
  reversal_exceeds_captured: 'The reversal is more than what is left of the payment',
  reversal_failed: 'The processor could not give the money back; nothing was reversed',
  unknown_period: 'No reconciliation period of this terminal has this id',
} as const;

export type RefusalReason = keyof typeof refusalReasons;
export type TerminalCondition = keyof typeof terminalConditions;
export type DeclineReason = keyof typeof declineReasons;
