import type { Knex } from '@mercado/common/db';

export interface ThrottlePolicy {
  maxFailures: number;
  windowSeconds: number;
  lockoutSeconds: number;
}

/** Seconds until `key` may try again, or 0 when it is not locked. */
export async function lockedForSeconds(db: Knex, key: string): Promise<number> {
  const row = await db('login_throttle')
    .where({ key })
    .andWhere('locked_until', '>', db.fn.now())
    .first(db.raw('ceil(extract(epoch from locked_until - now()))::int as seconds'));
  return row ? Math.max(1, Number(row.seconds)) : 0;
}

/**
 * Counts one failure for `key` in one statement (safe under concurrent replicas): a failure after
 * the window restarts the count; reaching the limit locks the key for the lockout time.
 */
export async function recordFailure(db: Knex, key: string, policy: ThrottlePolicy): Promise<void> {
  await db.raw(
    `insert into login_throttle as t (key, failures, window_started_at, locked_until)
     values (:key, 1, now(), case when 1 >= :max then now() + make_interval(secs => :lockout) end)
     on conflict (key) do update set
       failures = case when t.window_started_at < now() - make_interval(secs => :window)
                       then 1 else t.failures + 1 end,
       window_started_at = case when t.window_started_at < now() - make_interval(secs => :window)
                                then now() else t.window_started_at end,
       locked_until = case
         when (case when t.window_started_at < now() - make_interval(secs => :window)
                    then 1 else t.failures + 1 end) >= :max
         then now() + make_interval(secs => :lockout)
         else t.locked_until end`,
    {
      key,
      max: policy.maxFailures,
      window: policy.windowSeconds,
      lockout: policy.lockoutSeconds,
    },
  );
}

export async function clearFailures(db: Knex, key: string): Promise<void> {
  await db('login_throttle').where({ key }).del();
}
