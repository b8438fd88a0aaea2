import { createHash, randomUUID } from 'node:crypto';
import { AppError, type FieldError } from '@mercado/common/errors';
import { ordersError, ordersErrors } from '../errors.js';
import {
  answerIdempotencyKey,
  claimIdempotencyKey,
  KeyTakenOver,
  releaseIdempotencyKey,
  unlockIdempotencyKey,
  type HeldKey,
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

/** A retry is told to come back: the key is held by a request still running. */
function keyInUse(): AppError {
  return ordersError('idempotency_key_in_use', { headers: { 'retry-after': '1' } });
}

/**
 * Runs `work` once per (user, Idempotency-Key), as Stripe does: the first request with the key
 * runs, with an id drawn for it (the order's, the refund's) that a retry of an unfinished request
 * gets again; its answer — or its refusal once it started — is kept and given to every later
 * request with the same key and body. The same key with another body (or for another route) is
 * 422 `idempotency_key_reused`; while the first still runs, another is 409
 * `idempotency_key_in_use`. `work` keeps its success answer itself, in its own transaction
 * (holdIdempotencyKey first, answerIdempotencyKey last), so the answer and the change commit
 * together, and only while the request still holds the key; a failure that leaves no answer (a
 * service unavailable) keeps nothing: a retry runs again.
 *
 * "Still runs" is the replica's lock on the key (its lock session, `deps.keyLocks`), held until
 * the request ends: a retry after its replica died takes the key over at once (README,
 * "Idempotency"). A request taken over while it ran (its replica's lock session was lost) keeps
 * nothing and answers 409 `idempotency_key_in_use`: its retry gets the answer of the request that
 * took the key.
 */
export async function answerOnce<T>(
  deps: Pick<OrdersDeps, 'db' | 'log' | 'keyLocks'>,
  request: { userId: string; key: string; request: unknown },
  work: (claim: { id: string; key: HeldKey }) => Promise<{ status: number; body: T }>,
): Promise<OnceAnswer<T>> {
  const { userId, key } = request;
  const held: HeldKey = { userId, key, token: randomUUID() };
  const claim = await claimIdempotencyKey(deps.db, deps.keyLocks, {
    userId,
    key,
    requestHash: createHash('sha256').update(JSON.stringify(request.request)).digest(),
    orderId: randomUUID(),
    token: held.token,
  });
  switch (claim.kind) {
    case 'reused':
      throw ordersError('idempotency_key_reused');
    case 'in_use':
      throw keyInUse();
    case 'answered':
      if (claim.status >= 400) throw replayedProblem(claim.body as StoredProblem);
      return { status: claim.status, body: claim.body as T, replayed: true };
  }
  if (claim.takenOver) {
    deps.log.info(
      { userId, id: claim.orderId, outcome: 'taken_over' },
      'idempotency key taken over from a request whose replica is gone',
    );
  }
  try {
    const answer = await work({ id: claim.orderId, key: held });
    return { ...answer, replayed: false };
  } catch (error) {
    if (error instanceof KeyTakenOver) throw tookOver(deps, userId, claim.orderId);
    if (error instanceof AppError && error.status < 500) {
      const kept = await answerIdempotencyKey(deps.db, held, {
        status: error.status,
        body: problemOf(error),
      }).then(
        () => true,
        (cause: unknown) => {
          if (cause instanceof KeyTakenOver) return false;
          throw cause;
        },
      );
      if (!kept) throw tookOver(deps, userId, claim.orderId);
    } else {
      await unlockIdempotencyKey(deps.db, held).catch(function unlockFailed(cause) {
        // Its lock is released below: the retry takes the key over.
        deps.log.warn({ err: cause }, 'idempotency key left claimed');
      });
    }
    throw error;
  } finally {
    await releaseIdempotencyKey(deps.keyLocks, held);
  }
}

/** The request lost its key while it ran: nothing of it was kept. */
function tookOver(deps: Pick<OrdersDeps, 'log'>, userId: string, id: string): AppError {
  deps.log.warn(
    { userId, id, outcome: 'taken_over' },
    'idempotency key was taken over while this request ran; its answer was not kept',
  );
  return keyInUse();
}
