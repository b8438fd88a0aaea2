import type { Knex } from '@mercado/common/db';
import type { Logger } from '@mercado/common/log';
import type { WalkInStatements } from '../data/walk-ins-repository.js';
import type { CardKeyring } from '../keys.js';
import type { CardProcessor } from './processor.js';

/** What payments' use cases work with: passed in, never module state. */
export interface PaymentsDeps {
  db: Knex;
  log: Logger;
  keyring: CardKeyring;
  processor: CardProcessor;
  /** CARD_FINGERPRINT_KEY. */
  fingerprintKey: string;
  /** PAYMENTS_TERMINAL_CURRENCIES. */
  terminalCurrencies: readonly string[];
  /** A walk-in payment's two statements, batched with the others under way. */
  walkIns: WalkInStatements;
  /** Now, for intents' deadlines (a test moves it). */
  now: () => Date;
}
