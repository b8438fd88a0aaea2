import type { Knex } from '@mercado/common/db';

export interface TerminalRow {
  id: string;
  name: string;
  location: string | null;
  secret_hash: Buffer;
  secret_rotated_at: Date;
  created_at: Date;
  created_by: string;
  deleted_at: Date | null;
  deleted_by: string | null;
}

export interface NewTerminal {
  id: string;
  name: string;
  location: string | null;
  secretHash: Buffer;
  createdBy: string;
}

/** Fails with a unique violation on `terminals_pkey` when the id was ever used, deleted or not. */
export async function insertTerminal(db: Knex, terminal: NewTerminal): Promise<TerminalRow> {
  const [row] = await db<TerminalRow>('terminals')
    .insert({
      id: terminal.id,
      name: terminal.name,
      location: terminal.location,
      secret_hash: terminal.secretHash,
      created_by: terminal.createdBy,
    })
    .returning('*');
  return row!;
}

/** A terminal that has not been deleted. */
export async function findLiveTerminal(db: Knex, id: string): Promise<TerminalRow | undefined> {
  return db<TerminalRow>('terminals').where({ id }).whereNull('deleted_at').first();
}

/** Live terminals in id order, after `after` when given. */
export async function listLiveTerminals(
  db: Knex,
  query: { limit: number; after?: string },
): Promise<TerminalRow[]> {
  const builder = db<TerminalRow>('terminals')
    .select('*')
    .whereNull('deleted_at')
    .orderBy('id')
    .limit(query.limit);
  if (query.after !== undefined) builder.where('id', '>', query.after);
  return builder;
}

/** Replaces a live terminal's secret hash; undefined when there is no such live terminal. */
export async function replaceTerminalSecret(
  db: Knex,
  id: string,
  secretHash: Buffer,
): Promise<TerminalRow | undefined> {
  const [row] = await db<TerminalRow>('terminals')
    .where({ id })
    .whereNull('deleted_at')
    .update({ secret_hash: secretHash, secret_rotated_at: db.fn.now() })
    .returning('*');
  return row;
}

/** Marks a live terminal deleted; false when there is no such live terminal. */
export async function softDeleteTerminal(db: Knex, id: string, actorId: string): Promise<boolean> {
  const deleted = await db('terminals')
    .where({ id })
    .whereNull('deleted_at')
    .update({ deleted_at: db.fn.now(), deleted_by: actorId });
  return deleted > 0;
}
