import { createHash, randomUUID } from 'node:crypto';
import { AppError, type FieldError } from '@mercado/common/errors';
import { ordersError, ordersErrors } from '../errors.js';
import {
  answerIdempotencyKey,
  claimIdempotencyKey,
  unlockIdempotencyKey,
} from '../data/idempotency-repository.js';
import type { OrdersDeps } from './deps.js';

/** What a request under a key answers: the first answer, given again on every repeat. */
export interface OnceAnswer<T> {
  status: number;
  body: T;
  /** True when this is the stored answer of an earlier request with the same key. */
  replayed: boolean;
}

interface StoredProblem {
  code: string;
  detail?: string | undefined;
  errors?: FieldError[] | undefined;
}

/** The header that marks an answer given again for its Idempotency-Key (as Stripe's does). */
export const replayedHeader = 'idempotent-replayed';

/** A refusal the answer may be: kept for the key, and thrown again on a replay. */
function problemOf(error: AppError): StoredProblem {
  return {
    code: error.code,
    ...(error.detail !== undefined ? { detail: error.detail } : {}),
    ...(error.errors !== undefined ? { errors: error.errors } : {}),
  };
}

/** The kept refusal, as the error the middleware answers with. */
function replayedProblem(problem: StoredProblem): AppError {
  const options = {
    ...(problem.detail !== undefined ? { detail: problem.detail } : {}),
    ...(problem.errors !== undefined ? { errors: problem.errors } : {}),
    headers: { [replayedHeader]: 'true' },
  };
  return ordersErrors.error(problem.code as Parameters<typeof ordersErrors.error>[0], options);
}

/**
 * Runs `work` once per (user, Idempotency-Key), as Stripe does: the first request with the key
 * runs, with an id drawn for it (the order's, the refund's) that a retry of an unfinished request
 * gets again; its answer — or its refusal once it started — is kept and given to every later
 * request with the same key and body. The same key with another body (or for another route) is
 * 422 `idempotency_key_reused`; while the first still runs, another is 409
 * `idempotency_key_in_use`. `work` keeps its success answer itself, in its own transaction
 * (answerIdempotencyKey), so the answer and the change commit together; a failure that leaves no
 * answer (a service unavailable) keeps nothing: a retry runs again.
 */
export async function answerOnce<T>(
  deps: Pick<OrdersDeps, 'db' | 'log'>,
  request: { userId: string; key: string; request: unknown },
  work: (claim: { id: string }) => Promise<{ status: number; body: T }>,
): Promise<OnceAnswer<T>> {
  const { userId, key } = request;
  const claim = await claimIdempotencyKey(deps.db, {
    userId,
    key,
    requestHash: createHash('sha256').update(JSON.stringify(request.request)).digest(),
    orderId: randomUUID(),
  });
  switch (claim.kind) {
    case 'reused':
      throw ordersError('idempotency_key_reused');
    case 'in_use':
      throw ordersError('idempotency_key_in_use', { headers: { 'retry-after': '1' } });
    case 'answered':
      if (claim.status >= 400) throw replayedProblem(claim.body as StoredProblem);
      return { status: claim.status, body: claim.body as T, replayed: true };
  }
  try {
    const answer = await work({ id: claim.orderId });
    return { ...answer, replayed: false };
  } catch (error) {
    if (error instanceof AppError && error.status < 500) {
      await answerIdempotencyKey(
        deps.db,
        { userId, key },
        { status: error.status, body: problemOf(error) },
      );
    } else {
      await unlockIdempotencyKey(deps.db, { userId, key }).catch(function unlockFailed(cause) {
        // The lock lapses by itself; the retry waits for it.
        deps.log.warn({ err: cause }, 'idempotency key left locked');
      });
    }
    throw error;
  }
}
