import { randomBytes } from 'node:crypto';
import type { Card } from '@mercado/common/contract';
import type { DeclineReason } from '../errors.js';
import { detectBrand, passesLuhn } from './cards.js';

/**
 * The card processor payments charges through. The sandbox below answers as a real acquirer's
 * test mode does; a real processor is another implementation of this interface. `paymentId` and
 * `refundId` are the idempotency keys a real processor takes, so a retry never charges twice.
 */
export interface CardProcessor {
  charge(request: ChargeRequest): Promise<ChargeOutcome>;
  /**
   * The answer the processor gave a charge with this payment id, or undefined if it never got
   * one: how payments learns what became of a charge whose process died waiting for it.
   */
  retrieve(paymentId: string): Promise<ChargeOutcome | undefined>;
  refund(request: RefundRequest): Promise<RefundOutcome>;
}

export interface ChargeRequest {
  paymentId: string;
  amountMinor: number;
  currency: string;
  card: Card;
}

export type ChargeOutcome =
  { approved: true; transactionId: string } | { approved: false; declineCode: DeclineReason };

export interface RefundRequest {
  refundId: string;
  transactionId: string;
  amountMinor: number;
  currency: string;
}

export type RefundOutcome = { refunded: true; transactionId: string } | { refunded: false };

/** The sandbox's test cards and what each answers (as Stripe's test mode answers them). */
export const sandboxTestCards = {
  '4242424242424242': 'approved',
  '5555555555554444': 'approved',
  '378282246310005': 'approved',
  '4000000000000002': 'card_declined',
  '4000000000009995': 'insufficient_funds',
  '4000000000000069': 'expired_card',
  '4000000000000127': 'incorrect_cvc',
  '4000000000000119': 'processing_error',
  '4000000000009987': 'lost_card',
  '4000000000009979': 'stolen_card',
  /** Approved, after PROCESSOR_SLOW_CARD_DELAY_MS. */
  '4000000000007775': 'slow',
} as const satisfies Record<string, DeclineReason | 'approved' | 'slow'>;

export interface SandboxOptions {
  /** Today, for the expiry check. */
  now: () => Date;
  minAmountMinor: number;
  maxAmountMinor: number;
  slowCardDelayMs: number;
  /** How long every refund takes (0: at once). */
  refundDelayMs?: number;
  /** How the slow card (and a delayed refund) waits (a test holds it until it has looked at the payment meanwhile). */
  wait?: (ms: number) => Promise<void>;
}

/** Whether a card is past the last day of its expiry month (UTC), as card networks reckon it. */
export function isExpired(card: Pick<Card, 'expMonth' | 'expYear'>, now: Date): boolean {
  const firstDayAfter = Date.UTC(card.expYear, card.expMonth, 1); // month is 0-based: the next one
  return now.getTime() >= firstDayAfter;
}

/**
 * What any processor checks before it asks the issuer: the number (Luhn, a brand that issues that
 * length), the expiry, the CVC's length for the brand, and the amount limits.
 */
export function cardProblem(
  card: Card,
  amountMinor: number,
  { now, minAmountMinor, maxAmountMinor }: Omit<SandboxOptions, 'slowCardDelayMs' | 'wait'>,
): DeclineReason | undefined {
  const brand = detectBrand(card.number);
  if (!passesLuhn(card.number) || !brand.lengthValid) return 'invalid_number';
  if (isExpired(card, now())) return 'expired_card';
  if (card.cvc.length !== brand.cvcLength) return 'invalid_cvc';
  if (amountMinor < minAmountMinor) return 'amount_too_small';
  if (amountMinor > maxAmountMinor) return 'amount_too_large';
  return undefined;
}

const transactionId = (kind: 'ch' | 're') => `sbx_${kind}_${randomBytes(12).toString('hex')}`;

/**
 * The sandbox processor: every valid card not in `sandboxTestCards` is approved; each test card
 * answers as listed (the slow one after a delay). No money moves and nothing leaves the process.
 */
export function createSandboxProcessor(options: SandboxOptions): CardProcessor {
  const wait =
    options.wait ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // What it answered, by payment id, as a processor keeps its idempotency keys (this process's
  // lifetime only: the sandbox moves no money, so one it forgot was never charged anywhere).
  const answered = new Map<string, ChargeOutcome>();
  // And what it refunded, by refund id: asked again under the same id, it refunds once.
  const refunded = new Map<string, RefundOutcome>();
  async function decide({ amountMinor, card }: ChargeRequest): Promise<ChargeOutcome> {
    const problem = cardProblem(card, amountMinor, options);
    if (problem) return { approved: false, declineCode: problem };
    const behaviour = (sandboxTestCards as Record<string, string>)[card.number] ?? 'approved';
    if (behaviour === 'slow') await wait(options.slowCardDelayMs);
    else if (behaviour !== 'approved') {
      return { approved: false, declineCode: behaviour as DeclineReason };
    }
    return { approved: true, transactionId: transactionId('ch') };
  }
  return {
    async charge(request) {
      const earlier = answered.get(request.paymentId);
      if (earlier) return earlier;
      const outcome = await decide(request);
      answered.set(request.paymentId, outcome);
      return outcome;
    },
    async retrieve(paymentId) {
      return answered.get(paymentId);
    },
    async refund(request) {
      const earlier = refunded.get(request.refundId);
      if (earlier) return earlier;
      if (options.refundDelayMs) await wait(options.refundDelayMs);
      const outcome = refunded.get(request.refundId) ?? {
        refunded: true as const,
        transactionId: transactionId('re'),
      };
      refunded.set(request.refundId, outcome);
      return outcome;
    },
  };
}
