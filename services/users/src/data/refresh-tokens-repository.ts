import type { Knex } from '@mercado/common/db';

export interface RefreshTokenRow {
  id: string;
  family_id: string;
  user_id: string;
  token_hash: Buffer;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
}

export async function insertRefreshToken(
  db: Knex,
  token: { familyId: string; userId: string; tokenHash: Buffer; expiresAt: Date },
): Promise<void> {
  await db('refresh_tokens').insert({
    family_id: token.familyId,
    user_id: token.userId,
    token_hash: token.tokenHash,
    expires_at: token.expiresAt,
  });
}

/** Locks the token's row so two refreshes of one token are decided one after the other. */
export async function lockRefreshToken(
  trx: Knex.Transaction,
  tokenHash: Buffer,
): Promise<RefreshTokenRow | undefined> {
  return trx<RefreshTokenRow>('refresh_tokens')
    .where({ token_hash: tokenHash })
    .forUpdate()
    .first();
}

export async function findRefreshToken(
  db: Knex,
  tokenHash: Buffer,
): Promise<RefreshTokenRow | undefined> {
  return db<RefreshTokenRow>('refresh_tokens').where({ token_hash: tokenHash }).first();
}

export async function markRefreshTokenUsed(trx: Knex.Transaction, id: string): Promise<void> {
  await trx('refresh_tokens').where({ id }).update({ used_at: trx.fn.now() });
}

export async function revokeFamily(db: Knex, familyId: string): Promise<number> {
  return db('refresh_tokens')
    .where({ family_id: familyId })
    .whereNull('revoked_at')
    .update({ revoked_at: db.fn.now() });
}

export async function revokeAllForUser(db: Knex, userId: string): Promise<number> {
  return db('refresh_tokens')
    .where({ user_id: userId })
    .whereNull('revoked_at')
    .update({ revoked_at: db.fn.now() });
}
