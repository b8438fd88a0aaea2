import t from 'tap';
import { admin, createProduct, customer, seller, startProducts } from './helpers.js';

/**
 * `GET /api/products?seller=…&status=inactive|all`: a seller's back office lists their products
 * that are not on sale too; nobody else sees them (the public catalog stays active only).
 */
t.test('a seller lists their own inactive products; nobody else can', async (t) => {
  const products = await startProducts(t);
  const ana = seller();
  const bea = seller();
  await createProduct(products, ana, { name: 'On sale' });
  const withdrawn = await createProduct(products, ana, { name: 'Withdrawn' });
  await createProduct(products, ana, { name: 'Draft', active: false });
  await createProduct(products, bea, { name: 'Not hers', active: false });
  t.equal(
    (await products.call('DELETE', `/api/products/${withdrawn.id}`, { identity: ana })).status,
    204,
  );
  const names = (body: any) => body.items.map((item: any) => item.name);

  const publicList = await products.call('GET', `/api/products?seller=${ana.userId}`);
  t.same(names(publicList.body), ['On sale'], 'the catalog: active only');
  t.match(publicList.headers.get('cache-control'), /^public/);

  const all = await products.call('GET', `/api/products?seller=${ana.userId}&status=all`, {
    identity: ana,
  });
  t.equal(all.status, 200);
  t.same(names(all.body), ['Draft', 'Withdrawn', 'On sale'], 'all of hers, newest first');
  t.same(
    all.body.items.map((item: any) => item.active),
    [false, false, true],
  );
  t.equal(all.headers.get('cache-control'), 'private, no-cache', 'never kept for others');

  const inactive = await products.call(
    'GET',
    `/api/products?seller=${ana.userId}&status=inactive`,
    { identity: ana },
  );
  t.same(names(inactive.body), ['Draft', 'Withdrawn']);

  // Keyset pages of the seller's listing, its cursor bound to it.
  const first = await products.call(
    'GET',
    `/api/products?seller=${ana.userId}&status=all&limit=2`,
    { identity: ana },
  );
  t.same(names(first.body), ['Draft', 'Withdrawn']);
  const second = await products.call(
    'GET',
    `/api/products?seller=${ana.userId}&status=all&limit=2&cursor=${first.body.nextCursor}`,
    { identity: ana },
  );
  t.same(names(second.body), ['On sale']);
  t.equal(second.body.nextCursor, null);
  const reused = await products.call(
    'GET',
    `/api/products?seller=${ana.userId}&limit=2&cursor=${first.body.nextCursor}`,
  );
  t.match(
    reused,
    { status: 400, body: { errors: [{ path: 'query.cursor', code: 'invalid_cursor' }] } },
    'a cursor of the seller’s listing does not page the public one',
  );

  // Nobody else: anonymous 401, another seller or a customer 403, even with her id.
  for (const [who, identity, status, code] of [
    ['anonymous', undefined, 401, 'unauthorized'],
    ['another seller', bea, 403, 'forbidden'],
    ['a customer', customer(), 403, 'forbidden'],
  ] as const) {
    const refused = await products.call(
      'GET',
      `/api/products?seller=${ana.userId}&status=all`,
      identity ? { identity } : {},
    );
    t.match(refused, { status, body: { code } }, `${who} is refused`);
    t.notOk(JSON.stringify(refused.body).includes('Draft'), `${who} learns nothing`);
  }
  const noSeller = await products.call('GET', '/api/products?status=inactive', { identity: ana });
  t.match(noSeller, { status: 403, body: { code: 'forbidden' } }, 'a seller names themselves');
  t.match(
    await products.call('GET', '/api/products?status=hidden', { identity: ana }),
    { status: 400, body: { code: 'validation_failed', errors: [{ path: 'query.status' }] } },
    'an unknown status is refused',
  );

  const everyone = await products.call('GET', '/api/products?status=inactive', {
    identity: admin(),
  });
  t.same(names(everyone.body), ['Not hers', 'Draft', 'Withdrawn'], 'an admin sees every one');
});
