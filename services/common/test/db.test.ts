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
