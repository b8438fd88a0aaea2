import { fileURLToPath } from 'node:url';
import t from 'tap';
import { createDb, migrate, withTransaction, pingDb } from '@mercado/common/db';
import { fromPostgresError } from '@mercado/common/errors';
import { createMetrics } from '@mercado/common/metrics';
import { captureLogs, createTestDatabase } from '@mercado/common/testing';

const migrations = fileURLToPath(new URL('./fixtures/migrations', import.meta.url));

t.test('migrations apply once, in order, and a second run applies nothing', async (t) => {
  const { log } = captureLogs();
  const db = createDb({ url: await createTestDatabase(t), log });
  t.teardown(() => db.destroy());
  t.same(await migrate(db, migrations), ['0001_widgets.sql', '0002_widget_note.sql']);
  t.same(await migrate(db, migrations), []);
  const columns = await db('information_schema.columns')
    .where({ table_name: 'widgets' })
    .pluck('column_name');
  t.same(columns.sort(), ['id', 'name', 'note', 'quantity']);
  await pingDb(db);
});

t.test('replicas migrating at the same moment apply each migration exactly once', async (t) => {
  const { log } = captureLogs();
  const url = await createTestDatabase(t);
  const replicas = [1, 2, 3, 4, 5].map(() => createDb({ url, log }));
  t.teardown(() => Promise.all(replicas.map((db) => db.destroy())));
  // Every replica succeeds: none may fail on the others' bookkeeping tables.
  const applied = await Promise.all(replicas.map((db) => migrate(db, migrations)));
  t.equal(applied.flat().length, 2);
  t.equal(Number((await replicas[0]!('knex_migrations').count('* as n'))[0]!.n), 2);
});

t.test('Postgres errors are translated by SQLSTATE', async (t) => {
  const { log } = captureLogs();
  const db = createDb({ url: await createTestDatabase(t), log, metrics: createMetrics('test') });
  t.teardown(() => db.destroy());
  await migrate(db, migrations);
  await db('widgets').insert({ name: 'a', quantity: 1 });
  const duplicate = await db('widgets')
    .insert({ name: 'a', quantity: 1 })
    .catch((e: unknown) => e);
  t.match(fromPostgresError(duplicate), {
    code: 'conflict',
    status: 409,
    detail: 'violates widgets_name_key',
  });
  const negative = await db('widgets')
    .insert({ name: 'b', quantity: -1 })
    .catch((e: unknown) => e);
  t.match(fromPostgresError(negative), { code: 'constraint_violation', status: 422 });
  const badInt = await db('widgets')
    .where({ id: 'nope' })
    .catch((e: unknown) => e);
  t.match(fromPostgresError(badInt), { code: 'invalid_input', status: 400 });
  t.equal(fromPostgresError(new Error('plain')), undefined);
});

t.test(
  'withTransaction commits, rolls back on error, and retries serialization failures',
  async (t) => {
    const { log } = captureLogs();
    const db = createDb({ url: await createTestDatabase(t), log });
    t.teardown(() => db.destroy());
    await migrate(db, migrations);

    await withTransaction(db, (trx) => trx('widgets').insert({ name: 'kept', quantity: 1 }));
    await t.rejects(
      withTransaction(db, async (trx) => {
        await trx('widgets').insert({ name: 'gone', quantity: 1 });
        throw new Error('abort');
      }),
    );
    t.same(await db('widgets').orderBy('name').pluck('name'), ['kept']);

    let attempts = 0;
    const result = await withTransaction(db, async () => {
      attempts++;
      if (attempts < 3) throw Object.assign(new Error('could not serialize'), { code: '40001' });
      return 'done';
    });
    t.equal(result, 'done');
    t.equal(attempts, 3);

    // Real contention: serializable read-modify-write from 10 transactions at once all land.
    await db('widgets').insert({ name: 'counter', quantity: 0 });
    await Promise.all(
      Array.from({ length: 10 }, () =>
        withTransaction(
          db,
          async (trx) => {
            const row = await trx('widgets').where({ name: 'counter' }).first();
            await trx('widgets')
              .where({ name: 'counter' })
              .update({ quantity: row.quantity + 1 });
          },
          { isolationLevel: 'serializable', retries: 50 },
        ),
      ),
    );
    t.equal((await db('widgets').where({ name: 'counter' }).first()).quantity, 10);
  },
);

t.test(
  'a statement running longer than DATABASE_STATEMENT_TIMEOUT_MS is cancelled by Postgres and translated',
  async (t) => {
    const { log } = captureLogs();
    const db = createDb({ url: await createTestDatabase(t), log, statementTimeoutMs: 100 });
    t.teardown(() => db.destroy());
    const cancelled = await db.raw('select pg_sleep(30)').catch((error: unknown) => error);
    t.match(cancelled, { code: '57014' }, 'cancelled by the server (query_canceled)');
    t.match(fromPostgresError(cancelled), {
      code: 'database_timeout',
      status: 503,
      headers: { 'retry-after': '1' },
    });
    t.same(
      (await db.raw<{ rows: unknown[] }>('show statement_timeout')).rows,
      [{ statement_timeout: '100ms' }],
      'set on the connection itself',
    );
    t.same((await db.raw<{ rows: unknown[] }>('select 1 as ok')).rows, [{ ok: 1 }], 'usable after');
  },
);

t.test(
  'a transaction left idle longer than DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS is ended by Postgres, and what it wrote is gone',
  async (t) => {
    const { log, lines } = captureLogs();
    const url = await createTestDatabase(t);
    const db = createDb({ url, log, idleInTransactionTimeoutMs: 200 });
    const observer = createDb({ url, log: captureLogs().log });
    t.teardown(() => Promise.all([db.destroy(), observer.destroy()]));
    await migrate(db, migrations);

    const trx = await db.transaction();
    await trx('widgets').insert({ name: 'abandoned', quantity: 1 });
    const pid = (await trx.raw<{ rows: Array<{ pid: number }> }>('select pg_backend_pid() as pid'))
      .rows[0]!.pid;
    // The event itself: the server ends the backend (its row leaves pg_stat_activity). The
    // deadline only bounds a failing run (a session nobody ends), it times nothing.
    const giveUpAt = Date.now() + 30_000;
    for (;;) {
      const { rows } = await observer.raw<{ rows: unknown[] }>(
        'select 1 from pg_stat_activity where pid = ?',
        [pid],
      );
      if (rows.length === 0) break;
      if (Date.now() > giveUpAt) throw new Error('the server never ended the idle transaction');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const failed = await trx('widgets')
      .insert({ name: 'too late', quantity: 1 })
      .catch((error: unknown) => error);
    t.ok(failed instanceof Error, 'the transaction cannot go on');
    await trx.rollback().catch(() => undefined);
    t.same(await observer('widgets').pluck('name'), [], 'nothing it wrote was committed');
    t.same(
      (await db.raw<{ rows: unknown[] }>('select 1 as ok')).rows,
      [{ ok: 1 }],
      'the pool goes on with a new connection',
    );
    t.match(
      lines.find((line) => line.msg === 'database connection error'),
      { level: 'error', err: { code: '25P03' } },
      'the ended session is logged with its SQLSTATE',
    );
  },
);

t.test(
  'the kit parses int8 as a number on its own connections only: another pg user in the process is unaffected',
  async (t) => {
    const { log } = captureLogs();
    const url = await createTestDatabase(t);
    const db = createDb({ url, log });
    t.teardown(() => db.destroy());
    t.strictSame(
      (
        await db.raw<{ rows: unknown[] }>(
          'select 9007199254740991::int8 as big, count(*) as n from pg_class where false',
        )
      ).rows,
      [{ big: 9007199254740991, n: 0 }],
      'the kit: counts and ids as numbers',
    );
    // Imported after the kit's db module, in the same process.
    const { default: pg } = await import('pg');
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    t.teardown(() => other.end());
    t.strictSame(
      (await other.query('select 9223372036854775807::int8 as big')).rows,
      [{ big: '9223372036854775807' }],
      'a plain pg client keeps node-postgres defaults (int8 as a string)',
    );
    t.equal(
      pg.types.getTypeParser(pg.types.builtins.INT8, 'text')('42'),
      '42',
      'global parsers untouched',
    );
  },
);

t.test(
  'migrations run without the connection timeouts, and the pool keeps them afterwards',
  async (t) => {
    const { log } = captureLogs();
    // migrate() holds one connection for its lock and knex migrates on another.
    const db = createDb({
      url: await createTestDatabase(t),
      log,
      poolMax: 2,
      statementTimeoutMs: 100,
    });
    t.teardown(() => db.destroy());
    const slow = fileURLToPath(new URL('./fixtures/slow-migrations', import.meta.url));
    t.same(await migrate(db, slow), ['0001_slow.sql']);
    // Both pooled connections at once, the lock's among them.
    const [a, b] = await Promise.all([db.transaction(), db.transaction()]);
    for (const trx of [a!, b!]) {
      t.same((await trx.raw<{ rows: unknown[] }>('show statement_timeout')).rows, [
        { statement_timeout: '100ms' },
      ]);
      await trx.commit();
    }
    t.match(await db.raw('select pg_sleep(1)').catch((error: unknown) => error), { code: '57014' });
  },
);
