import t from 'tap';
import { answerCacheLookups } from '@mercado/common/testing';
import {
  admin,
  createCategory,
  createProduct,
  seller,
  startProducts,
  type ProductsHarness,
} from './helpers.js';

const lookups = (service: { url: string }) => answerCacheLookups(service.url);

/** Reads `path` until `done` holds (a notification from another replica takes a moment). */
async function eventually(
  products: ProductsHarness,
  path: string,
  done: (body: any) => boolean,
): Promise<any> {
  let body: any;
  for (let attempt = 0; attempt < 100; attempt++) {
    body = (await products.call('GET', path)).body;
    if (done(body)) return body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return body;
}

t.test('a repeated public read is answered from memory, byte for byte', async (t) => {
  const products = await startProducts(t);
  const lamp = await createProduct(products, seller(), { name: 'Lámpara de pie' });
  for (const path of [
    '/api/products?limit=5',
    `/api/products/${lamp.id}`,
    '/api/categories',
    '/api/products?q=lam',
  ]) {
    const before = await lookups(products);
    const first = await products.call('GET', path);
    const second = await products.call('GET', path);
    const after = await lookups(products);
    t.equal(first.status, 200, `${path}: 200`);
    t.same(second.body, first.body, `${path}: the same body`);
    t.equal(second.headers.get('etag'), first.headers.get('etag'), `${path}: the same ETag`);
    t.equal(
      second.headers.get('cache-control'),
      first.headers.get('cache-control'),
      `${path}: the same Cache-Control`,
    );
    t.same(after, { hit: before.hit + 1, miss: before.miss + 1 }, `${path}: one miss, one hit`);
    const revalidated = await products.call('GET', path, {
      headers: { 'if-none-match': first.headers.get('etag')! },
    });
    t.equal(revalidated.status, 304, `${path}: a kept answer still answers If-None-Match`);
  }

  const head = await fetch(`${products.url}/api/categories`, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(await head.text(), '', 'HEAD from memory has no body');

  const refused = await products.call('GET', '/api/products?limit=100000');
  t.equal(refused.status, 400);
  t.equal((await products.call('GET', '/api/products?limit=100000')).status, 400, 'never kept');
});

t.test('a write is seen at once by its replica and within moments by the others', async (t) => {
  const one = await startProducts(t);
  const two = await startProducts(t, {}, one.config.DATABASE_URL);
  const alice = seller();
  const lamp = await createProduct(one, alice, { name: 'Lamp stand', priceMinor: 5000 });
  const paths = ['/api/products', `/api/products/${lamp.id}`, '/api/products?q=lamp'];
  const priceIn = (body: any) => (body.items ? body.items[0]?.priceMinor : body.priceMinor);

  // Both replicas hold every answer.
  for (const replica of [one, two]) {
    for (const path of paths) {
      await replica.call('GET', path);
      t.equal(priceIn((await replica.call('GET', path)).body), 5000, `${path}: held`);
    }
  }

  const changed = await one.call('PATCH', `/api/products/${lamp.id}`, {
    identity: alice,
    body: { priceMinor: 4500 },
  });
  t.equal(changed.status, 200);
  for (const path of paths) {
    t.equal(
      priceIn((await one.call('GET', path)).body),
      4500,
      `${path}: the writer reads it at once`,
    );
    const seen = await eventually(two, path, (body) => priceIn(body) === 4500);
    t.equal(priceIn(seen), 4500, `${path}: the other replica drops its kept answer`);
  }

  // Any writer counts, not only the service: an operator's SQL notifies through the trigger.
  await one.db('products').where({ id: lamp.id }).update({ price_minor: 3900 });
  for (const replica of [one, two]) {
    for (const path of paths) {
      const seen = await eventually(replica, path, (body) => priceIn(body) === 3900);
      t.equal(priceIn(seen), 3900, `${path}: an operator's change reaches every replica`);
    }
  }

  // Categories too, and a deactivation empties the listings.
  await one.call('GET', '/api/categories');
  await two.call('GET', '/api/categories');
  await createCategory(two, 'hogar', 'Hogar');
  const tree = await eventually(one, '/api/categories', (body) => body.items.length === 1);
  t.equal(tree.items[0]?.slug, 'hogar', 'a new category reaches the other replica');
  t.equal(
    (await one.call('DELETE', `/api/products/${lamp.id}`, { identity: admin() })).status,
    204,
  );
  const gone = await eventually(two, '/api/products', (body) => body.items.length === 0);
  t.same(gone.items, [], 'a deactivated product leaves every listing');
  t.equal((await two.call('GET', `/api/products/${lamp.id}`)).status, 404);
});

t.test('without the change feed nothing is kept between reads', async (t) => {
  const products = await startProducts(t, { ANSWER_CACHE_ENTRIES: '0' });
  await createProduct(products, seller());
  await products.call('GET', '/api/products');
  await products.call('GET', '/api/products');
  t.same(await lookups(products), { hit: 0, miss: 0 }, 'the cache is off');
  t.equal((await products.call('GET', '/api/products')).status, 200);
});
