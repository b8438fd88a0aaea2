import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AppError } from '@mercado/common/errors';
import { withTransaction, type Knex } from '@mercado/common/db';
import { usersError } from '../errors.js';
import type { UsersDeps } from './deps.js';
import { toUserView, type UserView } from './user-view.js';
import { findUserByEmail, findUserById, type UserRow } from '../data/users-repository.js';
import { readTokenClaims } from '../data/revocations-repository.js';
import {
  findRefreshToken,
  insertRefreshToken,
  lockRefreshToken,
  markRefreshTokenUsed,
  revokeFamily,
} from '../data/refresh-tokens-repository.js';
import { clearFailures, lockedForSeconds, recordFailure } from '../data/throttle-repository.js';
import { normaliseEmail } from '../passwords.js';

export interface Session {
  user: UserView;
  tokenType: 'Bearer';
  accessToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  refreshToken: string;
  refreshTokenExpiresAt: string;
}

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * Issues an access token and a refresh token in `familyId` (a new family for a new sign-in). The
 * token's roles and `iat` come from one read of the account under a share lock (see
 * readTokenClaims), so a token issued while an admin disables or demotes the account is either
 * issued from the new state or refused with the other tokens revoked then.
 */
export async function openSession(
  deps: UsersDeps,
  db: Knex,
  user: UserRow,
  familyId: string = randomUUID(),
): Promise<Session> {
  const claims = await readTokenClaims(db, user.id);
  if (!claims || claims.disabled_at) throw usersError('account_disabled');
  const refreshToken = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + deps.refreshTokenTtlSeconds * 1000);
  await insertRefreshToken(db, {
    familyId,
    userId: user.id,
    tokenHash: hashToken(refreshToken),
    expiresAt,
  });
  const accessToken = await deps.keys.signAccessToken({
    userId: user.id,
    roles: claims.roles,
    issuedAt: claims.issued_at,
  });
  return {
    user: toUserView({ ...user, roles: claims.roles }),
    tokenType: 'Bearer',
    accessToken,
    expiresIn: deps.accessTokenTtlSeconds,
    refreshToken,
    refreshTokenExpiresAt: expiresAt.toISOString(),
  };
}

function throttled(seconds: number): AppError {
  return usersError('login_throttled', { headers: { 'retry-after': String(seconds) } });
}

/**
 * Signs a user in. Locked accounts and addresses are refused before any password work (argon2 is
 * the expensive part); an unknown email costs the same time as a wrong password.
 */
export async function login(
  deps: UsersDeps,
  input: { email: string; password: string; ip: string },
): Promise<Session> {
  const email = normaliseEmail(input.email);
  const accountKey = `account:${email}`;
  const ipKey = `ip:${input.ip}`;
  const wait = Math.max(
    await lockedForSeconds(deps.db, accountKey),
    await lockedForSeconds(deps.db, ipKey),
  );
  if (wait > 0) throw throttled(wait);

  const user = await findUserByEmail(deps.db, email);
  const valid = user
    ? await deps.hasher.verify(user.password_hash, input.password)
    : (await deps.hasher.burn(input.password), false);
  if (!user || !valid) {
    await recordFailure(deps.db, accountKey, deps.throttle.account);
    await recordFailure(deps.db, ipKey, deps.throttle.ip);
    deps.log.info({ outcome: 'login_failed' }, 'login failed');
    throw usersError('invalid_credentials');
  }
  if (user.disabled_at) throw usersError('account_disabled');
  await clearFailures(deps.db, accountKey);
  deps.log.info({ userId: user.id, outcome: 'login' }, 'signed in');
  return openSession(deps, deps.db, user);
}

type RefreshOutcome =
  | { kind: 'session'; session: Session }
  | { kind: 'reused'; familyId: string; userId: string }
  | { kind: 'invalid' }
  | { kind: 'disabled' };

/**
 * Exchanges a refresh token for a new pair, rotating it within its family. A token that was already
 * used means it leaked (or was replayed): the whole family is revoked, which signs out whoever holds
 * the newer token too. The revocation commits before the error is raised.
 */
export async function refresh(deps: UsersDeps, refreshToken: string): Promise<Session> {
  const outcome = await withTransaction(deps.db, async (trx): Promise<RefreshOutcome> => {
    const row = await lockRefreshToken(trx, hashToken(refreshToken));
    if (!row || row.revoked_at) return { kind: 'invalid' };
    if (row.used_at) {
      await revokeFamily(trx, row.family_id);
      return { kind: 'reused', familyId: row.family_id, userId: row.user_id };
    }
    if (row.expires_at.getTime() <= Date.now()) return { kind: 'invalid' };
    const user = await findUserById(trx, row.user_id);
    if (!user || user.disabled_at) {
      await revokeFamily(trx, row.family_id);
      return { kind: 'disabled' };
    }
    await markRefreshTokenUsed(trx, row.id);
    return { kind: 'session', session: await openSession(deps, trx, user, row.family_id) };
  });
  switch (outcome.kind) {
    case 'session':
      return outcome.session;
    case 'reused':
      deps.log.warn(
        { userId: outcome.userId, familyId: outcome.familyId, outcome: 'refresh_token_reused' },
        'refresh token reused; family revoked',
      );
      throw usersError('refresh_token_reused');
    case 'disabled':
      throw usersError('account_disabled');
    case 'invalid':
      throw usersError('invalid_refresh_token');
  }
}

/** Revokes the sign-in the refresh token belongs to. Unknown tokens are ignored (idempotent). */
export async function logout(deps: UsersDeps, refreshToken: string): Promise<void> {
  const row = await findRefreshToken(deps.db, hashToken(refreshToken));
  if (row) await revokeFamily(deps.db, row.family_id);
}
