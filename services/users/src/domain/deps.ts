import type { CursorCodec } from '@mercado/common/http';
import type { Knex } from '@mercado/common/db';
import type { Logger } from '@mercado/common/log';
import type { SigningKeys } from '../keys.js';
import type { PasswordHasher } from '../passwords.js';
import type { ThrottlePolicy } from '../data/throttle-repository.js';
import type { TerminalPresence } from './terminal-view.js';

/** What the users use cases need, passed in (never imported as singletons). */
export interface UsersDeps {
  db: Knex;
  log: Logger;
  keys: SigningKeys;
  hasher: PasswordHasher;
  /** Signs the admin listing's keyset cursors. */
  cursors: CursorCodec;
  /** Signs the terminal listing's keyset cursors. */
  terminalCursors: CursorCodec;
  /** Each terminal's presence, heard from the broker. */
  presence: TerminalPresence;
  /** The IANA zone whose calendar day is the terminals' `today` (TERMINALS_TIME_ZONE). */
  terminalsTimeZone: string;
  /** The clock that says which day `today` is (a test hands in its own). */
  now: () => Date;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  throttle: {
    account: ThrottlePolicy;
    ip: ThrottlePolicy;
  };
}
