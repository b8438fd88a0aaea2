import type { Express } from 'express';
import { buildHttpApp } from '@mercado/common/http';
import { pingDb, type Knex } from '@mercado/common/db';
import type { Logger } from '@mercado/common/log';
import type { Metrics } from '@mercado/common/metrics';
import type { MqttClient, OutboxRuntime } from '@mercado/common/mqtt';
import type { BackgroundTask } from '@mercado/common/main';
import type { PaymentsConfig } from './config.js';
import { paymentsOutbox } from './data/outbox.js';
import { walkInStatements } from './data/walk-ins-repository.js';
import { consumePaymentIntents } from './consumers/payment-intents.js';
import { consumePaymentRequests } from './consumers/payment-requests.js';
import { consumeRefundRequests } from './consumers/refund-requests.js';
import { consumeStatusRequests } from './consumers/status-requests.js';
import { consumeTerminalRequests } from './consumers/terminal-requests.js';
import type { PaymentsDeps } from './domain/deps.js';
import { createSandboxProcessor, type CardProcessor } from './domain/processor.js';
import { startPaymentRecovery } from './domain/recovery.js';
import { announceCardKeys, type KeyAnnouncement } from './key-announcement.js';
import { loadCardKeyring } from './keys.js';

export { loadPaymentsConfig, paymentsSettings, type PaymentsConfig } from './config.js';
export {
  paymentsErrors,
  refusalReasons,
  declineReasons,
  refundReasons,
  terminalConditions,
  type RefusalReason,
  type TerminalCondition,
  type DeclineReason,
} from './errors.js';
export { paymentsOutbox } from './data/outbox.js';
export {
  createSandboxProcessor,
  sandboxTestCards,
  type CardProcessor,
  type ChargeOutcome,
  type ChargeRequest,
  type RefundOutcome,
  type RefundRequest,
  type SandboxOptions,
} from './domain/processor.js';
export { detectBrand, passesLuhn, cardFingerprint, type CardBrand } from './domain/cards.js';
export { requestPayment, type PaymentAnswer } from './domain/payments.js';
export { receiveIntent, receiveIntentCancellation } from './domain/intents.js';
export { recoverAbandonedPayments, type RecoveryOptions } from './domain/recovery.js';
export { refundPayment, type RefundAnswer, type RefundAsk } from './domain/refunds.js';
export { answerStatusRequest } from './domain/status.js';
export { handleTerminalRequest, normalizePayCode } from './domain/terminals.js';
export { announceCardKeys, type KeyAnnouncement } from './key-announcement.js';
export type { PaymentsDeps } from './domain/deps.js';

export const paymentsMigrationsDir = new URL('../../../sql/payments', import.meta.url);

export interface PaymentsRuntime {
  config: PaymentsConfig;
  log: Logger;
  metrics: Metrics;
  db: Knex;
  mqtt: MqttClient | undefined;
  isShuttingDown?: () => boolean;
}

/**
 * The use cases' dependencies from the runtime: the keyring of PAYMENTS_CARD_KEYS and the sandbox
 * processor (a test may hand in another processor, or a clock).
 */
export async function paymentsDeps(
  { config, db, log }: PaymentsRuntime,
  overrides: { processor?: CardProcessor; now?: () => Date } = {},
): Promise<PaymentsDeps> {
  const now = overrides.now ?? (() => new Date());
  return {
    db,
    log,
    keyring: await loadCardKeyring(config.PAYMENTS_CARD_KEYS),
    processor:
      overrides.processor ??
      createSandboxProcessor({
        now,
        minAmountMinor: config.PROCESSOR_MIN_AMOUNT_MINOR,
        maxAmountMinor: config.PROCESSOR_MAX_AMOUNT_MINOR,
        slowCardDelayMs: config.PROCESSOR_SLOW_CARD_DELAY_MS,
        refundDelayMs: config.PROCESSOR_REFUND_DELAY_MS,
      }),
    fingerprintKey: config.CARD_FINGERPRINT_KEY,
    terminalCurrencies: config.PAYMENTS_TERMINAL_CURRENCIES,
    walkIns: walkInStatements(db),
    now,
  };
}

export interface PaymentsWork {
  background: BackgroundTask[];
  keys: KeyAnnouncement | undefined;
}

/**
 * Payments' work beside its HTTP app, as main runs it: the card keys announced on every
 * connection, the consumers of intents, requests, refunds, status requests and terminals' requests,
 * the recovery of
 * payments abandoned mid-charge, and the outbox relay. Without MQTT there is nothing to do but
 * wait for a broker (the rows wait too).
 */
export function startPaymentsWork(runtime: PaymentsRuntime, deps: PaymentsDeps): PaymentsWork {
  const { config, mqtt } = runtime;
  // Every replica looks; only one records each abandoned payment's outcome.
  const recovery = startPaymentRecovery(deps, {
    abandonedAfterMs: config.PAYMENTS_ABANDONED_AFTER_MS,
    intervalMs: config.PAYMENTS_RECOVERY_INTERVAL_MS,
  });
  const relay = paymentsOutbox.startRelay(runtime as OutboxRuntime);
  if (!mqtt) return { background: [recovery, ...(relay ? [relay] : [])], keys: undefined };
  const keys = announceCardKeys({ mqtt, log: runtime.log, keyring: deps.keyring });
  const withMqtt = { ...deps, mqtt };
  return {
    keys,
    background: [
      // Consumers first: what they are handling finishes, and its results are relayed.
      consumePaymentRequests(withMqtt),
      consumePaymentIntents(withMqtt),
      consumeRefundRequests(withMqtt),
      consumeStatusRequests(withMqtt),
      consumeTerminalRequests(withMqtt),
      { name: 'card key announcement', stop: () => keys.stop() },
      recovery,
      ...(relay ? [relay] : []),
    ],
  };
}

/**
 * Payments' HTTP app: health, readiness (its database) and metrics only. Payments is reached over
 * MQTT alone; no route of it is public, and the gateway has none to it.
 */
export function buildPaymentsApp({
  config,
  log,
  metrics,
  db,
  isShuttingDown,
}: PaymentsRuntime): Express {
  return buildHttpApp({
    name: 'payments',
    log,
    metrics,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    readiness: { database: () => pingDb(db) },
    ...(isShuttingDown ? { isShuttingDown } : {}),
    routes() {},
  });
}
