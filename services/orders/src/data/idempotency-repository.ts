import type { Knex, SessionLocks } from '@mercado/common/db';

export interface IdempotencyKeyRow {
  user_id: string;
  key: string;
  request_hash: Buffer;
  order_id: string;
  /** The token of the request holding the key now; null while nobody does. */
  claim: string | null;
  locked_at: Date | null;
  response_status: number | null;
  response_body: unknown;
  created_at: Date;
}

/** A key as the request holding it names it: `token` is the one it drew when it took the key. */
export interface HeldKey {
  userId: string;
  key: string;
  token: string;
}

export type KeyClaim =
  | { kind: 'claimed'; orderId: string; takenOver: boolean }
  | { kind: 'answered'; status: number; body: unknown }
  | { kind: 'in_use' }
  | { kind: 'reused' };

/**
 * Thrown by a write of a request that no longer holds its key: its replica's lock session was
 * lost, and another request took the key over. Nothing it wrote under the key may commit.
 */
export class KeyTakenOver extends Error {
  constructor() {
    super('the Idempotency-Key was taken over by another request');
    this.name = 'KeyTakenOver';
  }
}

/** The name of the key's lock on the replica's lock session (user ids are fixed-length uuids). */
function lockName(key: { userId: string; key: string }): string {
  return `idempotency:${key.userId}:${key.key}`;
}

/** What a key that is not free to take answers: reused with another body, or answered. */
function settled(row: IdempotencyKeyRow, requestHash: Buffer): KeyClaim | undefined {
  if (!row.request_hash.equals(requestHash)) return { kind: 'reused' };
  if (row.response_status !== null) {
    return { kind: 'answered', status: row.response_status, body: row.response_body };
  }
  return undefined;
}

/**
 * Takes `key` for a request with this body, holding the key's lock on this replica's lock
 * session (`locks`) while the request runs: a new key is claimed; a known one with another body
 * is `reused`, one answered already gives its answer. One not answered is `in_use` while its
 * lock is held — by a live replica, whose session holds it until its request ends — and taken
 * over at once when the lock is free: the replica that held it is gone (Postgres ended its
 * session and freed its locks) or gave it up. No time passing ever frees a key.
 */
export async function claimIdempotencyKey(
  db: Knex,
  locks: SessionLocks,
  claim: { userId: string; key: string; requestHash: Buffer; orderId: string; token: string },
): Promise<KeyClaim> {
  const lock = lockName(claim);
  if (!(await locks.tryLock(lock))) {
    const row = await db<IdempotencyKeyRow>('idempotency_keys')
      .where({ user_id: claim.userId, key: claim.key })
      .first();
    return (row && settled(row, claim.requestHash)) ?? { kind: 'in_use' };
  }
  try {
    const taken = await takeIdempotencyKey(db, claim);
    if (taken.kind !== 'claimed') await locks.unlock(lock);
    return taken;
  } catch (error) {
    await locks.unlock(lock);
    throw error;
  }
}

/** With the key's lock held: inserts the key, or takes the unanswered row over. */
async function takeIdempotencyKey(
  db: Knex,
  claim: { userId: string; key: string; requestHash: Buffer; orderId: string; token: string },
): Promise<KeyClaim> {
  const [inserted] = await db('idempotency_keys')
    .insert({
      user_id: claim.userId,
      key: claim.key,
      request_hash: claim.requestHash,
      order_id: claim.orderId,
      claim: claim.token,
      locked_at: db.fn.now(),
    })
    .onConflict(['user_id', 'key'])
    .ignore()
    .returning('order_id');
  if (inserted) return { kind: 'claimed', orderId: claim.orderId, takenOver: false };
  return db.transaction(async (trx) => {
    const row = await trx<IdempotencyKeyRow>('idempotency_keys')
      .where({ user_id: claim.userId, key: claim.key })
      .forUpdate()
      .first();
    // Deleted in between (older than the keys' lifetime): a fresh claim is the caller's retry.
    if (!row) return { kind: 'in_use' } as const;
    const done = settled(row, claim.requestHash);
    if (done) return done;
    await trx('idempotency_keys')
      .where({ user_id: claim.userId, key: claim.key })
      .update({ claim: claim.token, locked_at: trx.fn.now() });
    return { kind: 'claimed', orderId: row.order_id, takenOver: row.claim !== null } as const;
  });
}

/** The request has ended (answered or not): its replica gives the key's lock up. */
export async function releaseIdempotencyKey(locks: SessionLocks, key: HeldKey): Promise<void> {
  await locks.unlock(lockName(key));
}

/**
 * Locks the key's row in `trx` for the request holding it, so that no takeover can come between
 * this and the commit: throws KeyTakenOver when another request holds the key now.
 */
export async function holdIdempotencyKey(trx: Knex.Transaction, key: HeldKey): Promise<void> {
  const row = await trx('idempotency_keys')
    .where({ user_id: key.userId, key: key.key, claim: key.token })
    .whereNull('response_status')
    .forUpdate()
    .first('order_id');
  if (!row) throw new KeyTakenOver();
}

/**
 * Keeps the request's answer: from now on the key gives it again. Throws KeyTakenOver (and so
 * rolls its transaction back) when the request no longer holds the key.
 */
export async function answerIdempotencyKey(
  db: Knex,
  key: HeldKey,
  answer: { status: number; body: unknown },
): Promise<void> {
  const updated = await db('idempotency_keys')
    .where({ user_id: key.userId, key: key.key, claim: key.token })
    .whereNull('response_status')
    .update({
      claim: null,
      locked_at: null,
      response_status: answer.status,
      response_body: JSON.stringify(answer.body),
    });
  if (updated === 0) throw new KeyTakenOver();
}

/**
 * The request ended without an answer to keep (a service was unavailable): a retry may run.
 * Nothing when it no longer holds the key.
 */
export async function unlockIdempotencyKey(db: Knex, key: HeldKey): Promise<void> {
  await db('idempotency_keys')
    .where({ user_id: key.userId, key: key.key, claim: key.token })
    .update({ claim: null, locked_at: null });
}

/** Keys older than `hours`; returns how many were deleted. */
export async function deleteOldIdempotencyKeys(db: Knex, hours: number): Promise<number> {
  return db('idempotency_keys')
    .where('created_at', '<', db.raw(`now() - make_interval(hours => ?)`, [hours]))
    .delete();
}
