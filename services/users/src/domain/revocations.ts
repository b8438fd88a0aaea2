import { randomUUID } from 'node:crypto';
import type { Knex } from '@mercado/common/db';
import {
  type AccountTokensRevoked,
  type TerminalCredentialsRevoked,
} from '@mercado/common/contract';
import type { UsersDeps } from './deps.js';
import {
  listRevocationsSince,
  revokeTokensIssuedUntilNow,
} from '../data/revocations-repository.js';
import { usersOutbox } from '../data/outbox.js';

/**
 * Refuses, everywhere, the access tokens issued to an account until now: the instant is stored on
 * the account (the gateway and the broker fetch recent ones when they start or reconnect) and
 * announced on `users/revocations` through the outbox, in the caller's transaction, so it is
 * announced exactly when it commits. The caller holds the account's row lock.
 */
export async function revokeAccountTokens(
  trx: Knex.Transaction,
  userId: string,
  reason: AccountTokensRevoked['reason'],
): Promise<void> {
  const revokedBefore = await revokeTokensIssuedUntilNow(trx, userId);
  const event: AccountTokensRevoked = {
    type: 'account.tokens_revoked',
    id: randomUUID(),
    userId,
    reason,
    revokedBefore: revokedBefore.toISOString(),
  };
  await usersOutbox.insert(trx, [{ topic: 'revocations', payload: event }]);
}

/** Announces that a terminal's old credentials no longer hold (the broker cuts it off). */
export async function announceTerminalRevoked(
  trx: Knex.Transaction,
  terminalId: string,
  reason: TerminalCredentialsRevoked['reason'],
): Promise<void> {
  const event: TerminalCredentialsRevoked = {
    type: 'terminal.credentials_revoked',
    id: randomUUID(),
    terminalId,
    reason,
    at: new Date().toISOString(),
  };
  await usersOutbox.insert(trx, [{ topic: 'revocations', payload: event }]);
}

export interface RevocationList {
  accounts: Array<{ userId: string; revokedBefore: string }>;
}

/**
 * The revocations that can still matter: those later than the longest-lived token issued before
 * them could have been (the access token lifetime, plus five minutes for clocks that disagree).
 * Older ones only refuse tokens that have expired anyway.
 */
export async function listRecentRevocations(deps: UsersDeps): Promise<RevocationList> {
  const rows = await listRevocationsSince(deps.db, deps.accessTokenTtlSeconds + 300);
  return {
    accounts: rows.map((row) => ({
      userId: row.id,
      revokedBefore: row.tokens_revoked_before.toISOString(),
    })),
  };
}
