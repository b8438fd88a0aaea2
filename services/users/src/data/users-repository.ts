import type { Knex } from '@mercado/common/db';
import type { Role } from '@mercado/common/identity';

export interface UserRow {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  roles: Role[];
  disabled_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface NewUser {
  email: string;
  name: string;
  passwordHash: string;
  roles: Role[];
}

export async function insertUser(db: Knex, user: NewUser): Promise<UserRow> {
  const [row] = await db<UserRow>('users')
    .insert({
      email: user.email,
      name: user.name,
      password_hash: user.passwordHash,
      roles: user.roles,
    })
    .returning('*');
  return row!;
}

export async function findUserByEmail(db: Knex, email: string): Promise<UserRow | undefined> {
  return db<UserRow>('users').where({ email }).first();
}

export async function findUserById(db: Knex, id: string): Promise<UserRow | undefined> {
  return db<UserRow>('users').where({ id }).first();
}

export async function lockUserById(
  trx: Knex.Transaction,
  id: string,
): Promise<UserRow | undefined> {
  return trx<UserRow>('users').where({ id }).forUpdate().first();
}

export interface UserChanges {
  name?: string;
  passwordHash?: string;
  roles?: Role[];
  disabled?: boolean;
}

export async function updateUser(
  db: Knex,
  id: string,
  changes: UserChanges,
): Promise<UserRow | undefined> {
  const patch: Record<string, unknown> = { updated_at: db.fn.now() };
  if (changes.name !== undefined) patch.name = changes.name;
  if (changes.passwordHash !== undefined) patch.password_hash = changes.passwordHash;
  if (changes.roles !== undefined) patch.roles = changes.roles;
  if (changes.disabled !== undefined) {
    // Keep the first disabling time when disabled twice.
    patch.disabled_at = changes.disabled ? db.raw('coalesce(disabled_at, now())') : null;
  }
  const [row] = await db<UserRow>('users').where({ id }).update(patch).returning('*');
  return row;
}

export interface UserListQuery {
  q?: string;
  role?: Role;
  disabled?: boolean;
  limit: number;
  after?: { createdAt: Date; id: string };
}

/** Newest first, keyset-paginated on (created_at, id): stable under inserts, no OFFSET scans. */
export async function listUsers(db: Knex, query: UserListQuery): Promise<UserRow[]> {
  const builder = db<UserRow>('users')
    .select('*')
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(query.limit);
  if (query.q) {
    const pattern = `%${query.q.replace(/[\\%_]/g, (match) => `\\${match}`)}%`;
    builder.where((where) => where.whereILike('email', pattern).orWhereILike('name', pattern));
  }
  if (query.role) builder.whereRaw('? = any(roles)', [query.role]);
  if (query.disabled !== undefined) {
    if (query.disabled) builder.whereNotNull('disabled_at');
    else builder.whereNull('disabled_at');
  }
  if (query.after) {
    builder.whereRaw('(created_at, id) < (?, ?)', [query.after.createdAt, query.after.id]);
  }
  return builder;
}
