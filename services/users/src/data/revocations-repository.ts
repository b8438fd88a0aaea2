import type { Knex } from '@mercado/common/db';
import type { Role } from '@mercado/common/identity';

/**
 * Moves the account's revocation instant to now, by the database's clock and to the
 * millisecond (what access tokens' `iat` carry); returns it. Run after the row is locked.
 */
export async function revokeTokensIssuedUntilNow(
  trx: Knex.Transaction,
  userId: string,
): Promise<Date> {
  const [row] = await trx('users')
    .where({ id: userId })
    .update({ tokens_revoked_before: trx.raw("date_trunc('milliseconds', clock_timestamp())") })
    .returning<Array<{ tokens_revoked_before: Date }>>('tokens_revoked_before');
  return row!.tokens_revoked_before;
}

/** Accounts whose revocation is later than `since`. */
export async function listRevocationsSince(
  db: Knex,
  sinceSeconds: number,
): Promise<Array<{ id: string; tokens_revoked_before: Date }>> {
  return db('users')
    .select('id', 'tokens_revoked_before')
    .whereRaw('tokens_revoked_before > now() - make_interval(secs => ?)', [sinceSeconds])
    .orderBy('tokens_revoked_before');
}

export interface TokenClaimsRow {
  roles: Role[];
  disabled_at: Date | null;
  issued_at: Date;
}

/**
 * What a new access token may say, read under a share lock with the instant it is issued at
 * (the database's clock, to the millisecond). A change that revokes tokens locks the row for
 * update, so it waits for this read or this read waits for it: a token is never issued from an
 * account's state older than its revocation with an `iat` later than it.
 */
export async function readTokenClaims(
  db: Knex,
  userId: string,
): Promise<TokenClaimsRow | undefined> {
  return db('users')
    .select(
      'roles',
      'disabled_at',
      db.raw("date_trunc('milliseconds', clock_timestamp()) as issued_at"),
    )
    .where({ id: userId })
    .forShare()
    .first();
}
