import type { Knex } from '@mercado/common/db';

export interface IdempotencyKeyRow {
  user_id: string;
  key: string;
  request_hash: Buffer;
  order_id: string;
  locked_at: Date | null;
  response_status: number | null;
  response_body: unknown;
  created_at: Date;
}

/**
 * How long a request may hold its key before another may take over: well past the longest a
 * checkout can run (its calls to products and inventory time out sooner), so only a request
 * whose replica died mid-way is taken over.
 */
const lockSeconds = 60;

export type KeyClaim =
  | { kind: 'claimed'; orderId: string }
  | { kind: 'answered'; status: number; body: unknown }
  | { kind: 'in_use' }
  | { kind: 'reused' };

/**
 * Takes `key` for a request with this body: a new key is claimed; a known one with another body
 * is `reused`, one answered already gives its answer, one being processed is `in_use` (unless
 * its holder has been gone longer than lockSeconds, when this request takes it over).
 */
export async function claimIdempotencyKey(
  db: Knex,
  claim: { userId: string; key: string; requestHash: Buffer; orderId: string },
): Promise<KeyClaim> {
  const [inserted] = await db('idempotency_keys')
    .insert({
      user_id: claim.userId,
      key: claim.key,
      request_hash: claim.requestHash,
      order_id: claim.orderId,
      locked_at: db.fn.now(),
    })
    .onConflict(['user_id', 'key'])
    .ignore()
    .returning('order_id');
  if (inserted) return { kind: 'claimed', orderId: claim.orderId };
  return db.transaction(async (trx) => {
    const row = await trx<IdempotencyKeyRow>('idempotency_keys')
      .where({ user_id: claim.userId, key: claim.key })
      .forUpdate()
      .first();
    // Deleted in between (older than the keys' lifetime): a fresh claim is the caller's retry.
    if (!row) return { kind: 'in_use' } as const;
    if (!row.request_hash.equals(claim.requestHash)) return { kind: 'reused' } as const;
    if (row.response_status !== null) {
      return { kind: 'answered', status: row.response_status, body: row.response_body } as const;
    }
    const taken = await trx('idempotency_keys')
      .where({ user_id: claim.userId, key: claim.key })
      .where((query) =>
        query
          .whereNull('locked_at')
          .orWhere('locked_at', '<', trx.raw(`now() - make_interval(secs => ?)`, [lockSeconds])),
      )
      .update({ locked_at: trx.fn.now() });
    return taken > 0
      ? ({ kind: 'claimed', orderId: row.order_id } as const)
      : ({ kind: 'in_use' } as const);
  });
}

/** Keeps the request's answer: from now on the key gives it again. */
export async function answerIdempotencyKey(
  db: Knex,
  key: { userId: string; key: string },
  answer: { status: number; body: unknown },
): Promise<void> {
  await db('idempotency_keys')
    .where({ user_id: key.userId, key: key.key })
    .update({
      locked_at: null,
      response_status: answer.status,
      response_body: JSON.stringify(answer.body),
    });
}

/** The request ended without an answer to keep (a service was unavailable): a retry may run. */
export async function unlockIdempotencyKey(
  db: Knex,
  key: { userId: string; key: string },
): Promise<void> {
  await db('idempotency_keys')
    .where({ user_id: key.userId, key: key.key })
    .update({ locked_at: null });
}

/** Keys older than `hours`; returns how many were deleted. */
export async function deleteOldIdempotencyKeys(db: Knex, hours: number): Promise<number> {
  return db('idempotency_keys')
    .where('created_at', '<', db.raw(`now() - make_interval(hours => ?)`, [hours]))
    .delete();
}
