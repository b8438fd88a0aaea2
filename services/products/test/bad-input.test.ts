import t from 'tap';
import { expectProblemAnswer, expectRefusals, type RefusalCase } from '@mercado/common/testing';
import {
  admin,
  counts,
  createCategory,
  createProduct,
  seller,
  service,
  startProducts,
} from './helpers.js';

t.test('bad input gets a 4xx with a stable code and writes nothing', async (t) => {
  const products = await startProducts(t);
  const alice = seller();
  const boss = admin();
  const shoes = await createCategory(products, 'zapatos', 'Zapatos');
  const kids = await createCategory(products, 'ninos', 'Niños', shoes.id);
  const own = await createProduct(products, alice, {
    sku: 'OWN-1',
    name: 'Botas',
    categoryId: shoes.id,
    priceMinor: 4500,
  });
  const unknownId = '9d2f0c1e-5b7a-4c3d-8e6f-1a2b3c4d5e6f';
  const valid = { sku: 'NEW-1', name: 'Sandalias', priceMinor: 1999, currency: 'EUR' };
  const before = await counts(products);
  const ownBefore = await products.db('products').where({ id: own.id }).first();
  const categoriesBefore = await products.db('categories').orderBy('id');

  const create = (
    name: string,
    body: unknown,
    paths: string[],
    status = 400,
    code = 'validation_failed',
  ): RefusalCase => ({
    name,
    method: 'POST',
    path: '/api/products',
    body,
    identity: alice,
    status,
    code,
    paths,
  });
  const cases: RefusalCase[] = [
    create('negative price', { ...valid, priceMinor: -100 }, ['body.priceMinor']),
    create('zero price', { ...valid, priceMinor: 0 }, ['body.priceMinor']),
    create('absurd price', { ...valid, priceMinor: 100_000_000_001 }, ['body.priceMinor']),
    create('float price', { ...valid, priceMinor: 19.99 }, ['body.priceMinor']),
    create('price as a string', { ...valid, priceMinor: '1999' }, ['body.priceMinor']),
    create('price beyond 2^53', { ...valid, priceMinor: 2 ** 60 }, ['body.priceMinor']),
    create('lower-case currency', { ...valid, currency: 'eur' }, ['body.currency']),
    create('four-letter currency', { ...valid, currency: 'EURO' }, ['body.currency']),
    create('made-up currency', { ...valid, currency: 'XYZ' }, ['body.currency']),
    create(
      'unknown category',
      { ...valid, categoryId: unknownId },
      ['body.categoryId'],
      422,
      'unknown_category',
    ),
    create('malformed category id', { ...valid, categoryId: 'shoes' }, ['body.categoryId']),
    create('missing fields', {}, ['body.sku', 'body.name', 'body.priceMinor', 'body.currency']),
    create('blank name', { ...valid, name: '   ' }, ['body.name']),
    create('oversized name', { ...valid, name: 'x'.repeat(201) }, ['body.name']),
    create('oversized description', { ...valid, description: 'x'.repeat(5001) }, [
      'body.description',
    ]),
    create('NUL in the name', { ...valid, name: 'Sanda\u0000lias' }, ['body.name']),
    create('sku with spaces', { ...valid, sku: 'NEW 1' }, ['body.sku']),
    create('oversized sku', { ...valid, sku: 'S'.repeat(65) }, ['body.sku']),
    create('empty sku', { ...valid, sku: '' }, ['body.sku']),
    create('image over ftp', { ...valid, imageUrls: ['ftp://img.example/a.jpg'] }, [
      'body.imageUrls.0',
    ]),
    create('protocol-relative image', { ...valid, imageUrls: ['//evil.example/a.jpg'] }, [
      'body.imageUrls.0',
    ]),
    create('relative image climbing out', { ...valid, imageUrls: ['images/../../a.jpg'] }, [
      'body.imageUrls.0',
    ]),
    create('javascript image', { ...valid, imageUrls: ['javascript:alert(1)'] }, [
      'body.imageUrls.0',
    ]),
    create(
      'eleven images',
      { ...valid, imageUrls: Array.from({ length: 11 }, (_, i) => `https://img.example/${i}.jpg`) },
      ['body.imageUrls'],
    ),
    create('nested attributes', { ...valid, attributes: { size: { eu: 42 } } }, [
      'body.attributes.size',
    ]),
    create('attributes as an array', { ...valid, attributes: ['red'] }, ['body.attributes']),
    create(
      'too many attributes',
      {
        ...valid,
        attributes: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])),
      },
      ['body.attributes'],
    ),
    create('oversized attribute value', { ...valid, attributes: { color: 'r'.repeat(501) } }, [
      'body.attributes.color',
    ]),
    {
      name: 'attribute key that is not a name',
      method: 'POST',
      path: '/api/products',
      // A literal `{ __proto__: ... }` would set the prototype; JSON text makes an own key.
      rawBody: JSON.stringify(valid).replace(/}$/, ',"attributes":{"__proto__":"x"}}'),
      identity: alice,
      status: 400,
      code: 'validation_failed',
      paths: ['body.attributes.__proto__'],
    },
    create('sellerId that is not an id', { ...valid, sellerId: 'me' }, ['body.sellerId']),
    create('unknown fields', { ...valid, stock: 5, isFeatured: true }, [
      'body.stock',
      'body.isFeatured',
    ]),
    create('wrong types', { ...valid, active: 'yes', imageUrls: 'x' }, [
      'body.imageUrls',
      'body.active',
    ]),
    {
      name: 'duplicate sku',
      method: 'POST',
      path: '/api/products',
      body: { ...valid, sku: 'OWN-1' },
      identity: alice,
      status: 409,
      code: 'sku_taken',
    },
    {
      name: 'malformed JSON',
      method: 'POST',
      path: '/api/products',
      rawBody: '{"sku": "A",',
      identity: alice,
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'missing body',
      method: 'POST',
      path: '/api/products',
      identity: alice,
      status: 400,
      code: 'validation_failed',
      paths: ['body'],
    },
    {
      name: 'a JSON array',
      method: 'POST',
      path: '/api/products',
      body: [valid],
      identity: alice,
      status: 400,
      code: 'validation_failed',
      paths: ['body'],
    },
    {
      name: 'not JSON at all',
      method: 'POST',
      path: '/api/products',
      rawBody: 'sku=A',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      identity: alice,
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'oversized body',
      method: 'POST',
      path: '/api/products',
      body: { ...valid, description: 'x'.repeat(200_000) },
      identity: alice,
      status: 413,
      code: 'payload_too_large',
    },
    {
      name: 'patch with a malformed id',
      method: 'PATCH',
      path: '/api/products/not-a-uuid',
      body: { priceMinor: 1 },
      identity: alice,
      status: 400,
      code: 'validation_failed',
      paths: ['params.id'],
    },
    {
      name: 'patch an unknown product',
      method: 'PATCH',
      path: `/api/products/${unknownId}`,
      body: { priceMinor: 1 },
      identity: alice,
      status: 404,
      code: 'not_found',
    },
    {
      name: 'empty patch',
      method: 'PATCH',
      path: `/api/products/${own.id}`,
      body: {},
      identity: alice,
      status: 400,
      code: 'validation_failed',
      paths: ['body'],
    },
    {
      name: 'patch cannot move a product to another seller',
      method: 'PATCH',
      path: `/api/products/${own.id}`,
      body: { sellerId: boss.userId },
      identity: boss,
      status: 400,
      code: 'validation_failed',
      paths: ['body.sellerId'],
    },
    {
      name: 'patch to a zero price',
      method: 'PATCH',
      path: `/api/products/${own.id}`,
      body: { priceMinor: 0, name: '' },
      identity: alice,
      status: 400,
      code: 'validation_failed',
      paths: ['body.name', 'body.priceMinor'],
    },
    {
      name: 'patch to an unknown category',
      method: 'PATCH',
      path: `/api/products/${own.id}`,
      body: { categoryId: unknownId, priceMinor: 1 },
      identity: alice,
      status: 422,
      code: 'unknown_category',
      paths: ['body.categoryId'],
    },
    {
      name: 'patch with malformed JSON',
      method: 'PATCH',
      path: `/api/products/${own.id}`,
      rawBody: '{"priceMinor": 1',
      identity: alice,
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'delete with a malformed id',
      method: 'DELETE',
      path: '/api/products/123',
      identity: alice,
      status: 400,
      code: 'validation_failed',
      paths: ['params.id'],
    },
    {
      name: 'delete an unknown product',
      method: 'DELETE',
      path: `/api/products/${unknownId}`,
      identity: alice,
      status: 404,
      code: 'not_found',
    },
    {
      name: 'read with a malformed id',
      method: 'GET',
      path: `/api/products/${encodeURIComponent("1' or '1'='1")}`,
      status: 400,
      code: 'validation_failed',
      paths: ['params.id'],
    },
    {
      name: 'read an unknown product',
      method: 'GET',
      path: `/api/products/${unknownId}`,
      status: 404,
      code: 'not_found',
    },
    {
      name: 'replace is not a method here',
      method: 'PUT',
      path: `/api/products/${own.id}`,
      body: valid,
      identity: alice,
      status: 405,
      code: 'method_not_allowed',
    },
    ...(
      [
        ['limit too large', 'limit=100000', ['query.limit']],
        ['limit zero', 'limit=0', ['query.limit']],
        ['limit not a number', 'limit=ten', ['query.limit']],
        ['limit in exponent form', 'limit=1e1', ['query.limit']],
        ['negative minimum price', 'minPrice=-1', ['query.minPrice']],
        ['fractional maximum price', 'maxPrice=10.5', ['query.maxPrice']],
        ['minimum above maximum', 'minPrice=500&maxPrice=100', ['query.minPrice']],
        ['unknown sort', 'sort=cheapest', ['query.sort']],
        ['malformed seller', 'seller=alice', ['query.seller']],
        ['malformed category', `category=${encodeURIComponent('Zapatos!')}`, ['query.category']],
        ['lower-case currency filter', 'currency=eur', ['query.currency']],
        ['q given twice', 'q=a&q=b', ['query.q']],
        ['oversized q', `q=${'a'.repeat(201)}`, ['query.q']],
        ['unknown parameter', 'page=2', ['query.page']],
        ['malformed cursor', 'cursor=%27%3B--', ['query.cursor']],
      ] as Array<[string, string, string[]]>
    ).map(([name, query, paths]): RefusalCase => ({
      name,
      method: 'GET',
      path: `/api/products?${query}`,
      status: 400,
      code: 'validation_failed',
      paths,
    })),
    {
      name: 'category with a bad slug',
      method: 'POST',
      path: '/api/categories',
      body: { slug: 'Not A Slug', name: 'Bad' },
      identity: boss,
      status: 400,
      code: 'validation_failed',
      paths: ['body.slug'],
    },
    {
      name: 'category with an oversized name and an unknown field',
      method: 'POST',
      path: '/api/categories',
      body: { slug: 'ok', name: 'n'.repeat(101), icon: 'x' },
      identity: boss,
      status: 400,
      code: 'validation_failed',
      paths: ['body.name', 'body.icon'],
    },
    {
      name: 'category under an unknown parent',
      method: 'POST',
      path: '/api/categories',
      body: { slug: 'nueva', name: 'Nueva', parentId: unknownId },
      identity: boss,
      status: 422,
      code: 'unknown_category',
      paths: ['body.parentId'],
    },
    {
      name: 'category slug taken by a rename',
      method: 'PATCH',
      path: `/api/categories/${kids.id}`,
      body: { slug: 'zapatos' },
      identity: boss,
      status: 409,
      code: 'slug_taken',
      paths: ['body.slug'],
    },
    {
      name: 'category patch with a malformed id',
      method: 'PATCH',
      path: '/api/categories/zapatos',
      body: { name: 'X' },
      identity: boss,
      status: 400,
      code: 'validation_failed',
      paths: ['params.id'],
    },
    {
      name: 'category patch of an unknown category',
      method: 'PATCH',
      path: `/api/categories/${unknownId}`,
      body: { parentId: shoes.id },
      identity: boss,
      status: 404,
      code: 'not_found',
    },
    {
      name: 'category moved under its own child',
      method: 'PATCH',
      path: `/api/categories/${shoes.id}`,
      body: { parentId: kids.id },
      identity: boss,
      status: 422,
      code: 'category_cycle',
      paths: ['body.parentId'],
    },
    {
      name: 'delete a category in use',
      method: 'DELETE',
      path: `/api/categories/${shoes.id}`,
      identity: boss,
      status: 409,
      code: 'category_in_use',
    },
    {
      name: 'delete an unknown category',
      method: 'DELETE',
      path: `/api/categories/${unknownId}`,
      identity: boss,
      status: 404,
      code: 'not_found',
    },
    {
      name: 'category by a seller',
      method: 'DELETE',
      path: `/api/categories/${kids.id}`,
      identity: alice,
      status: 403,
      code: 'forbidden',
    },
    {
      name: 'lookup with a malformed id',
      method: 'POST',
      path: '/internal/products/lookup',
      body: { ids: [own.id, 'nope'] },
      identity: service('orders'),
      status: 400,
      code: 'validation_failed',
      paths: ['body.ids.1'],
    },
    {
      name: 'lookup with an unknown field',
      method: 'POST',
      path: '/internal/products/lookup',
      body: { ids: [own.id], prices: true },
      identity: service('orders'),
      status: 400,
      code: 'validation_failed',
      paths: ['body.prices'],
    },
    {
      name: 'unknown route',
      method: 'GET',
      path: '/api/products/a/b',
      status: 404,
      code: 'not_found',
    },
  ];

  await expectRefusals(t, products.call, cases);

  t.same(await counts(products), before, 'nothing was written by any bad request');
  t.same(await products.db('products').where({ id: own.id }).first(), ownBefore);
  t.same(await products.db('categories').orderBy('id'), categoriesBefore);
  t.notOk(
    products.logs.lines.some((line) => line.level === 'error'),
    'no bad input reached the server-error path',
  );
});

t.test('search text with SQL, regex or LIKE metacharacters is harmless', async (t) => {
  const products = await startProducts(t);
  const alice = seller();
  await createProduct(products, alice, { name: 'Table lamp', description: 'Drop-in bulb' });
  await createProduct(products, alice, { name: 'Mesa', description: '100% roble' });
  const before = await counts(products);

  const cases: Array<[string, string[]]> = [
    ["'; drop table products; --", []],
    ['.*(', []],
    ['%_\\', []],
    ['%', []],
    ["' or 1=1 --", []],
    ['table)|(lamp', ['Table lamp']],
    ['lamp:*&!', ['Table lamp']],
    ['\\x00 table', []],
    ['$1 ?? :: <-> table', []],
    ['100%', ['Mesa']],
    ['tab*', ['Table lamp']],
    ['[a-z]+', []],
    ['🙂 lamp', ['Table lamp']],
  ];
  for (const [q, expected] of cases) {
    const response = await products.call('GET', `/api/products?q=${encodeURIComponent(q)}`);
    t.equal(response.status, 200, `${JSON.stringify(q)}: 200`);
    t.same(
      response.body.items.map((item: { name: string }) => item.name),
      expected,
      `${JSON.stringify(q)}: matched as words`,
    );
  }
  // Postgres text cannot hold NUL: the router refuses it in any field, search terms included.
  expectProblemAnswer(
    t,
    await products.call('GET', `/api/products?q=${encodeURIComponent('mesa\u0000')}`),
    {
      name: 'NUL in the search text',
      status: 400,
      code: 'validation_failed',
      paths: ['query.q'],
    },
  );
  t.same(await counts(products), before, 'the table is intact and unchanged');
  t.notOk(products.logs.lines.some((line) => line.level === 'error'));
});
