import { z } from 'zod';
import { AppError } from '@mercado/common/errors';
import { withTransaction } from '@mercado/common/db';
import { type Role } from '@mercado/common/identity';
import { usersError } from '../errors.js';
import type { UsersDeps } from './deps.js';
import { toUserView, type UserView } from './user-view.js';
import {
  listUsers,
  lockUserById,
  updateUser,
  type UserListQuery,
} from '../data/users-repository.js';
import { revokeAllForUser } from '../data/refresh-tokens-repository.js';
import { revokeAccountTokens } from './revocations.js';

export interface UserPage {
  items: UserView[];
  nextCursor: string | null;
}

/** A page ends at (createdAt, id) of its last user; the next page starts after it. */
const cursorKey = z.tuple([z.iso.datetime(), z.uuid()]);

function afterCursor(deps: UsersDeps, cursor: string): { createdAt: Date; id: string } {
  const [createdAt, id] = deps.cursors.decode(cursor, cursorKey);
  return { createdAt: new Date(createdAt), id };
}

export async function searchUsers(
  deps: UsersDeps,
  query: Omit<UserListQuery, 'after'> & { cursor?: string },
): Promise<UserPage> {
  const { cursor, ...rest } = query;
  const rows = await listUsers(deps.db, {
    ...rest,
    limit: query.limit + 1,
    ...(cursor ? { after: afterCursor(deps, cursor) } : {}),
  });
  const items = rows.slice(0, query.limit).map(toUserView);
  const last = items[items.length - 1];
  return {
    items,
    nextCursor:
      rows.length > query.limit && last ? deps.cursors.encode([last.createdAt, last.id]) : null,
  };
}

export interface AdminChanges {
  roles?: Role[];
  disabled?: boolean;
  name?: string;
}

/**
 * An admin changes another user's roles, name or disabled flag. Disabling signs the user out
 * everywhere (refresh tokens revoked); disabling, or taking a role away, also revokes the access
 * tokens already issued (announced, and refused by the gateway and the broker within a second).
 * An admin cannot disable or demote themselves, so the system never loses its last admin by
 * accident.
 */
export async function changeUser(
  deps: UsersDeps,
  actorId: string,
  userId: string,
  changes: AdminChanges,
): Promise<UserView> {
  if (actorId === userId) {
    if (changes.disabled === true || (changes.roles && !changes.roles.includes('admin'))) {
      throw usersError('cannot_modify_self');
    }
  }
  const updated = await withTransaction(deps.db, async (trx) => {
    const current = await lockUserById(trx, userId);
    if (!current) return undefined;
    const row = await updateUser(trx, userId, {
      ...(changes.roles ? { roles: [...new Set(changes.roles)] } : {}),
      ...(changes.disabled !== undefined ? { disabled: changes.disabled } : {}),
      ...(changes.name !== undefined ? { name: changes.name.trim() } : {}),
    });
    if (changes.disabled === true) await revokeAllForUser(trx, userId);
    const roleTaken = changes.roles && current.roles.some((role) => !changes.roles!.includes(role));
    if (changes.disabled === true || roleTaken) {
      await revokeAccountTokens(
        trx,
        userId,
        changes.disabled === true ? 'disabled' : 'roles_changed',
      );
    }
    return row;
  });
  if (!updated) throw new AppError('not_found');
  deps.log.info(
    { actorId, userId, outcome: 'user_changed', fields: Object.keys(changes) },
    'user changed by admin',
  );
  return toUserView(updated);
}
