import { AppError, isUniqueViolation } from '@mercado/common/errors';
import { withTransaction } from '@mercado/common/db';
import { type Role } from '@mercado/common/identity';
import { usersError } from '../errors.js';
import type { UsersDeps } from './deps.js';
import { openSession, type Session } from './sessions.js';
import { toUserView, type UserView } from './user-view.js';
import { findUserByEmail, findUserById, insertUser, updateUser } from '../data/users-repository.js';
import { revokeAllForUser } from '../data/refresh-tokens-repository.js';
import { checkPasswordPolicy, normaliseEmail } from '../passwords.js';

export interface Registration {
  email: string;
  password: string;
  name: string;
  roles: Array<Extract<Role, 'customer' | 'seller'>>;
}

/** Creates an account (customer, seller or both) and signs it in. */
export async function register(deps: UsersDeps, input: Registration): Promise<Session> {
  const email = normaliseEmail(input.email);
  checkPasswordPolicy(input.password, email);
  const passwordHash = await deps.hasher.hash(input.password);
  try {
    return await withTransaction(deps.db, async (trx) => {
      const user = await insertUser(trx, {
        email,
        name: input.name.trim(),
        passwordHash,
        roles: [...new Set(input.roles)],
      });
      deps.log.info({ userId: user.id, outcome: 'registered' }, 'account created');
      return openSession(deps, trx, user);
    });
  } catch (error) {
    if (isUniqueViolation(error, 'users_email_key')) throw usersError('email_taken');
    throw error;
  }
}

export async function getProfile(deps: UsersDeps, userId: string): Promise<UserView> {
  const user = await findUserById(deps.db, userId);
  if (!user) throw new AppError('not_found');
  return toUserView(user);
}

export interface ProfileChanges {
  name?: string;
  currentPassword?: string;
  newPassword?: string;
}

/**
 * Updates the caller's own profile. A password change needs the current password and signs out
 * every session (all refresh tokens are revoked).
 */
export async function updateProfile(
  deps: UsersDeps,
  userId: string,
  changes: ProfileChanges,
): Promise<UserView> {
  const user = await findUserById(deps.db, userId);
  if (!user) throw new AppError('not_found');
  let passwordHash: string | undefined;
  if (changes.newPassword !== undefined) {
    const current = changes.currentPassword ?? '';
    if (!(await deps.hasher.verify(user.password_hash, current))) {
      throw usersError('invalid_credentials', {
        detail: 'The current password is wrong',
      });
    }
    checkPasswordPolicy(changes.newPassword, user.email, 'body.newPassword');
    passwordHash = await deps.hasher.hash(changes.newPassword);
  }
  const updated = await withTransaction(deps.db, async (trx) => {
    const row = await updateUser(trx, userId, {
      ...(changes.name !== undefined ? { name: changes.name.trim() } : {}),
      ...(passwordHash !== undefined ? { passwordHash } : {}),
    });
    if (passwordHash !== undefined) await revokeAllForUser(trx, userId);
    return row;
  });
  if (!updated) throw new AppError('not_found');
  return toUserView(updated);
}

/**
 * Makes sure the first admin exists, from ADMIN_EMAIL/ADMIN_PASSWORD. An existing account with that
 * email gains the admin role; its password is left alone (the environment is not a reset channel).
 */
export async function ensureAdmin(
  deps: UsersDeps,
  input: { email: string; password: string },
): Promise<{ created: boolean; userId: string }> {
  const email = normaliseEmail(input.email);
  checkPasswordPolicy(input.password, email, 'ADMIN_PASSWORD');
  const existing = await findUserByEmail(deps.db, email);
  if (existing) {
    if (!existing.roles.includes('admin')) {
      await updateUser(deps.db, existing.id, { roles: [...existing.roles, 'admin'] });
    }
    return { created: false, userId: existing.id };
  }
  const passwordHash = await deps.hasher.hash(input.password);
  try {
    const user = await insertUser(deps.db, {
      email,
      name: 'Administrator',
      passwordHash,
      roles: ['admin'],
    });
    return { created: true, userId: user.id };
  } catch (error) {
    // Another replica created it at the same moment.
    if (isUniqueViolation(error, 'users_email_key')) return ensureAdmin(deps, input);
    throw error;
  }
}
