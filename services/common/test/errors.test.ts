import t from 'tap';
import { createDb } from '@mercado/common/db';
import {
  AppError,
  defineErrors,
  fromPostgresError,
  genericErrors,
  isForeignKeyViolation,
} from '@mercado/common/errors';
import { captureLogs, createTestDatabase } from '@mercado/common/testing';

t.test('a component catalogues its own codes beside the generic ones', async (t) => {
  const shopErrors = defineErrors({
    basket_full: { status: 409, title: 'The basket holds 100 lines at most' },
  });
  const full = shopErrors.error('basket_full', { detail: '100 lines' });
  t.type(full, AppError);
  t.match(full, { code: 'basket_full', status: 409, title: 'The basket holds 100 lines at most' });
  t.equal(full.detail, '100 lines');
  t.match(shopErrors.error('not_found'), { code: 'not_found', status: 404 }, 'generic codes too');
  t.same(
    Object.keys(shopErrors.entries),
    [...Object.keys(genericErrors), 'basket_full'],
    'the generic codes first, then its own',
  );
  t.throws(
    // @ts-expect-error a generic code means one thing everywhere: no component redefines it
    () => defineErrors({ not_found: { status: 410, title: 'Gone' } }),
    /not_found is one of the kit's codes/,
  );
  t.throws(() => defineErrors({ 'Bad-Code': { status: 400, title: 'x' } }), /snake_case/);
  t.match(new AppError('conflict'), { code: 'conflict', status: 409 });
});

t.test('a foreign-key violation is translated by SQLSTATE 23503, both ways', async (t) => {
  const { log } = captureLogs();
  const db = createDb({ url: await createTestDatabase(t), log });
  t.teardown(() => db.destroy());
  await db.raw(`
    create table shelves (id int primary key);
    create table books (id int primary key, shelf_id int not null
      constraint books_shelf_id_fkey references shelves on delete restrict);
    insert into shelves values (1);
    insert into books values (1, 1);`);

  const missing = await db('books')
    .insert({ id: 2, shelf_id: 99 })
    .catch((e: unknown) => e);
  t.match(fromPostgresError(missing), {
    code: 'reference_conflict',
    status: 409,
    detail: 'violates books_shelf_id_fkey',
  });
  t.ok(isForeignKeyViolation(missing, 'books_shelf_id_fkey'), 'named by its constraint');
  t.ok(isForeignKeyViolation(missing), 'or any');
  t.notOk(isForeignKeyViolation(missing, 'other_fkey'));

  const stillUsed = await db('shelves')
    .where({ id: 1 })
    .delete()
    .catch((e: unknown) => e);
  t.match(fromPostgresError(stillUsed), { code: 'reference_conflict', status: 409 });
  t.ok(isForeignKeyViolation(stillUsed, 'books_shelf_id_fkey'));
  t.same(await db('books').count('* as n'), [{ n: '1' }], 'nothing was written');
});

t.test('NUL the database refuses is a 400, the last guard behind the router', async (t) => {
  const { log } = captureLogs();
  const db = createDb({ url: await createTestDatabase(t), log });
  t.teardown(() => db.destroy());
  await db.raw('create table notes (id int primary key, body text, facts jsonb)');
  const inText = await db('notes')
    .insert({ id: 1, body: 'a\u0000b' })
    .catch((e: unknown) => e);
  t.match(inText, { code: '22021' }, 'Postgres text cannot hold NUL');
  t.match(fromPostgresError(inText), { code: 'invalid_input', status: 400 });
  const inJson = await db('notes')
    .insert({ id: 2, facts: JSON.stringify({ note: 'a\u0000b' }) })
    .catch((e: unknown) => e);
  t.match(inJson, { code: '22P05' }, 'nor can jsonb');
  t.match(fromPostgresError(inJson), { code: 'invalid_input', status: 400 });
  t.same(await db('notes').count('* as n'), [{ n: '0' }]);
});
