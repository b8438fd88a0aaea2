import type { Knex, Logger } from '@mercado/common';
import type { SigningKeys } from '../keys.js';
import type { PasswordHasher } from '../passwords.js';
import type { ThrottlePolicy } from '../data/throttle-repository.js';

/** What the users use cases need, passed in (never imported as singletons). */
export interface UsersDeps {
  db: Knex;
  log: Logger;
  keys: SigningKeys;
  hasher: PasswordHasher;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  throttle: {
    account: ThrottlePolicy;
    ip: ThrottlePolicy;
  };
}
