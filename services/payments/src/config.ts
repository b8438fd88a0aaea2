import {
  baseServiceSettings,
  databaseSettings,
  loadConfig,
  mqttSettings,
  outboxRelaySettings,
  setting,
} from '@mercado/common/config';
import { z } from 'zod';
import { cardKeysSetting } from './keys.js';

export const paymentsSettings = {
  ...baseServiceSettings,
  ...databaseSettings,
  /**
   * The private keys cards are decrypted with: a JSON array of P-256 or X25519 JWKs (each with a
   * kid); the first is announced as the one to use, the others are still accepted (rotation).
   */
  PAYMENTS_CARD_KEYS: cardKeysSetting,
  /** The key of the card fingerprint (HMAC-SHA256 of the number): the same card, the same print. */
  CARD_FINGERPRINT_KEY: setting.secret(32),
  /** The sandbox processor's amount limits, in minor units of any currency. */
  PROCESSOR_MIN_AMOUNT_MINOR: setting.int(50, 1, 100_000_000_000),
  PROCESSOR_MAX_AMOUNT_MINOR: setting.int(99_999_999, 1, 100_000_000_000),
  /** How long the sandbox's slow test card takes to answer. */
  PROCESSOR_SLOW_CARD_DELAY_MS: setting.int(5_000, 0, 120_000),
  /** How long the sandbox takes to answer a refund (a test keeps one under way this way). */
  PROCESSOR_REFUND_DELAY_MS: setting.int(0, 0, 120_000),
  /**
   * A payment still `processing` (or a refund still `pending`) after this long was abandoned by a
   * process that died mid-way: the processor is asked again, and it is settled (far above any
   * processor's answer).
   */
  PAYMENTS_ABANDONED_AFTER_MS: setting.int(600_000, 1_000, 86_400_000),
  /** How often each replica looks for abandoned payments. */
  PAYMENTS_RECOVERY_INTERVAL_MS: setting.int(60_000, 100, 3_600_000),
  /**
   * The currencies terminals take for a walk-in amount (ISO 4217, comma-separated); another is
   * answered `unsupported_currency`. An order paid by its pay code is in the order's currency.
   */
  PAYMENTS_TERMINAL_CURRENCIES: setting
    .list(['EUR'])
    .pipe(z.array(z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 codes, upper case')).min(1)),
  /** The broker: requests and intents come from it, results and the keys go to it. */
  ...mqttSettings,
  ...outboxRelaySettings,
};

export type PaymentsConfig = ReturnType<typeof loadPaymentsConfig>;

export function loadPaymentsConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(paymentsSettings, env);
}
