import type { CursorCodec, Knex, Logger } from '@mercado/common';
import type { SigningKeys } from '../keys.js';
import type { PasswordHasher } from '../passwords.js';
import type { ThrottlePolicy } from '../data/throttle-repository.js';

/** What the users use cases need, passed in (never imported as singletons). */
export interface UsersDeps {
  db: Knex;
  log: Logger;
  keys: SigningKeys;
  hasher: PasswordHasher;
  /** Signs the admin listing's keyset cursors. */
  cursors: CursorCodec;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  throttle: {
    account: ThrottlePolicy;
    ip: ThrottlePolicy;
  };
}
