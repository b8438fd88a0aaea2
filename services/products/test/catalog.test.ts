import t from 'tap';
import {
  productLookupPath,
  productLookupRequestSchema,
  productLookupResponseSchema,
} from '@mercado/common/contract';
import { signIdentity } from '@mercado/common/identity';
import {
  admin,
  counts,
  createCategory,
  createProduct,
  customer,
  seller,
  service,
  startProducts,
} from './helpers.js';

const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

t.test('a seller lists, reads, changes and deactivates their own product', async (t) => {
  const products = await startProducts(t);
  const shoes = await createCategory(products, 'zapatos', 'Zapatos');
  const alice = seller();

  const created = await products.call('POST', '/api/products', {
    identity: alice,
    body: {
      sku: 'RUN-42',
      name: '  Zapatillas de running  ',
      description: 'Ligeras, para asfalto.',
      priceMinor: 8999,
      currency: 'EUR',
      categoryId: shoes.id,
      imageUrls: ['https://img.example/run-42.jpg', '/images/demo/deportes.svg'],
      attributes: { talla: 42, color: 'rojo', impermeable: false, tags: ['running', 'asfalto'] },
    },
  });
  t.equal(created.status, 201);
  t.equal(created.headers.get('location'), `/api/products/${created.body.id}`);
  t.equal(created.headers.get('cache-control'), 'no-store');
  const product = created.body;
  t.same(product, {
    id: product.id,
    sellerId: alice.userId,
    sku: 'RUN-42',
    name: 'Zapatillas de running',
    description: 'Ligeras, para asfalto.',
    priceMinor: 8999,
    currency: 'EUR',
    categoryId: shoes.id,
    imageUrls: ['https://img.example/run-42.jpg', '/images/demo/deportes.svg'],
    attributes: { talla: 42, color: 'rojo', impermeable: false, tags: ['running', 'asfalto'] },
    active: true,
    createdAt: product.createdAt,
    updatedAt: product.updatedAt,
  });
  t.match(product.createdAt, iso);

  const anonymousRead = await products.call('GET', `/api/products/${product.id}`);
  t.equal(anonymousRead.status, 200);
  t.same(anonymousRead.body, product);

  const changed = await products.call('PATCH', `/api/products/${product.id}`, {
    identity: alice,
    body: { priceMinor: 7999, categoryId: null, attributes: { talla: 43 } },
  });
  t.equal(changed.status, 200);
  t.same(changed.body, {
    ...product,
    priceMinor: 7999,
    categoryId: null,
    attributes: { talla: 43 },
    updatedAt: changed.body.updatedAt,
  });
  t.ok(changed.body.updatedAt >= product.updatedAt);

  const deleted = await products.call('DELETE', `/api/products/${product.id}`, {
    identity: alice,
  });
  t.equal(deleted.status, 204);
  t.equal(deleted.body, undefined);
  const row = await products.db('products').where({ id: product.id }).first();
  t.equal(row.active, false, 'DELETE deactivates; the row stays for orders that refer to it');

  const gone = await products.call('GET', `/api/products/${product.id}`);
  t.equal(gone.status, 404, 'an inactive product is not shown to the public');
  t.equal(gone.body.code, 'not_found');
  const ownView = await products.call('GET', `/api/products/${product.id}`, { identity: alice });
  t.equal(ownView.status, 200, 'its seller still sees it');
  t.equal(ownView.body.active, false);
  t.equal(ownView.headers.get('cache-control'), 'private, no-cache');
  const adminView = await products.call('GET', `/api/products/${product.id}`, {
    identity: admin(),
  });
  t.equal(adminView.status, 200, 'an admin sees it too');
  const otherSeller = await products.call('GET', `/api/products/${product.id}`, {
    identity: seller(),
  });
  t.equal(otherSeller.status, 404);

  const again = await products.call('DELETE', `/api/products/${product.id}`, { identity: alice });
  t.equal(again.status, 204, 'deactivating twice is harmless');

  const reactivated = await products.call('PATCH', `/api/products/${product.id}`, {
    identity: alice,
    body: { active: true },
  });
  t.equal(reactivated.status, 200);
  t.equal((await products.call('GET', `/api/products/${product.id}`)).status, 200);

  t.match(
    products.logs.lines.find((line) => line.msg === 'product created'),
    { productId: product.id, sellerId: alice.userId, outcome: 'created' },
  );
  t.notOk(products.logs.text().includes('Zapatillas'), 'logs carry ids, never product content');
});

t.test('sellers cannot touch each other’s products; admins can', async (t) => {
  const products = await startProducts(t);
  const alice = seller();
  const bob = seller();
  const boss = admin();
  const bobs = await createProduct(products, bob, { sku: 'B-1', name: 'Bob’s lamp' });
  const before = await products.db('products').where({ id: bobs.id }).first();

  const patch = await products.call('PATCH', `/api/products/${bobs.id}`, {
    identity: alice,
    body: { priceMinor: 1 },
  });
  t.equal(patch.status, 403);
  t.match(patch.body, { code: 'not_owner', status: 403 });
  const remove = await products.call('DELETE', `/api/products/${bobs.id}`, { identity: alice });
  t.equal(remove.status, 403);
  t.equal(remove.body.code, 'not_owner');
  t.same(await products.db('products').where({ id: bobs.id }).first(), before, 'nothing changed');

  const asCustomer = await products.call('POST', '/api/products', {
    identity: customer(),
    body: { sku: 'C-1', name: 'Nope', priceMinor: 100, currency: 'EUR' },
  });
  t.equal(asCustomer.status, 403);
  t.equal(asCustomer.body.code, 'forbidden');
  const anonymous = await products.call('PATCH', `/api/products/${bobs.id}`, {
    body: { priceMinor: 1 },
  });
  t.equal(anonymous.status, 401);
  t.equal(anonymous.body.code, 'unauthorized');

  const forSomeoneElse = await products.call('POST', '/api/products', {
    identity: alice,
    body: { sellerId: bob.userId, sku: 'X-1', name: 'Spoof', priceMinor: 100, currency: 'EUR' },
  });
  t.equal(forSomeoneElse.status, 403, 'a seller cannot list a product as another seller');
  t.equal(forSomeoneElse.body.code, 'forbidden');

  const byAdmin = await products.call('PATCH', `/api/products/${bobs.id}`, {
    identity: boss,
    body: { name: 'Lámpara de Bob', priceMinor: 2500 },
  });
  t.equal(byAdmin.status, 200);
  t.match(byAdmin.body, { sellerId: bob.userId, name: 'Lámpara de Bob', priceMinor: 2500 });

  const adminListsForBob = await products.call('POST', '/api/products', {
    identity: boss,
    body: { sellerId: bob.userId, sku: 'B-2', name: 'Desk', priceMinor: 15000, currency: 'EUR' },
  });
  t.equal(adminListsForBob.status, 201);
  t.equal(adminListsForBob.body.sellerId, bob.userId);

  const adminDeactivates = await products.call('DELETE', `/api/products/${bobs.id}`, {
    identity: boss,
  });
  t.equal(adminDeactivates.status, 204);

  const inactiveOfOther = await products.call('PATCH', `/api/products/${bobs.id}`, {
    identity: alice,
    body: { active: true },
  });
  t.equal(inactiveOfOther.status, 404, 'someone else’s inactive product does not exist for you');

  const duplicate = await products.call('POST', '/api/products', {
    identity: bob,
    body: { sku: 'B-2', name: 'Desk again', priceMinor: 100, currency: 'EUR' },
  });
  t.equal(duplicate.status, 409);
  t.equal(duplicate.body.code, 'sku_taken');
  const sameSkuOtherSeller = await products.call('POST', '/api/products', {
    identity: alice,
    body: { sku: 'B-2', name: 'Alice’s own B-2', priceMinor: 100, currency: 'EUR' },
  });
  t.equal(sameSkuOtherSeller.status, 201, 'SKUs are unique per seller, not globally');
  const renameToTaken = await products.call('PATCH', `/api/products/${bobs.id}`, {
    identity: bob,
    body: { sku: 'B-2' },
  });
  t.equal(renameToTaken.status, 409);
  t.equal(renameToTaken.body.code, 'sku_taken');
  t.equal((await products.db('products').where({ id: bobs.id }).first()).sku, 'B-1');
});

t.test('admins keep the category tree; it is read as nested, name-sorted children', async (t) => {
  const products = await startProducts(t);
  const boss = admin();
  const electronics = await createCategory(products, 'electronica', 'Electrónica');
  const home = await createCategory(products, 'hogar', 'Hogar');
  const laptops = await createCategory(products, 'portatiles', 'Portátiles', electronics.id);
  const audio = await createCategory(products, 'audio', 'Audio', electronics.id);
  const gaming = await createCategory(products, 'gaming', 'Gaming', laptops.id);
  t.same(Object.keys(electronics).sort(), ['createdAt', 'id', 'name', 'parentId', 'slug']);
  t.equal(laptops.parentId, electronics.id);

  const tree = await products.call('GET', '/api/categories');
  t.equal(tree.status, 200);
  t.equal(tree.headers.get('cache-control'), 'public, max-age=60, stale-while-revalidate=60');
  t.same(tree.body, {
    items: [
      {
        id: electronics.id,
        slug: 'electronica',
        name: 'Electrónica',
        children: [
          { id: audio.id, slug: 'audio', name: 'Audio', children: [] },
          {
            id: laptops.id,
            slug: 'portatiles',
            name: 'Portátiles',
            children: [{ id: gaming.id, slug: 'gaming', name: 'Gaming', children: [] }],
          },
        ],
      },
      { id: home.id, slug: 'hogar', name: 'Hogar', children: [] },
    ],
  });

  const renamed = await products.call('PATCH', `/api/categories/${audio.id}`, {
    identity: boss,
    body: { name: 'Sonido', slug: 'sonido' },
  });
  t.equal(renamed.status, 200);
  t.same(renamed.body, { ...audio, name: 'Sonido', slug: 'sonido' });

  const moved = await products.call('PATCH', `/api/categories/${gaming.id}`, {
    identity: boss,
    body: { parentId: home.id },
  });
  t.equal(moved.status, 200);
  t.equal(moved.body.parentId, home.id);
  const toRoot = await products.call('PATCH', `/api/categories/${gaming.id}`, {
    identity: boss,
    body: { parentId: null },
  });
  t.equal(toRoot.body.parentId, null);
  await products.call('PATCH', `/api/categories/${gaming.id}`, {
    identity: boss,
    body: { parentId: laptops.id },
  });

  const before = await products.db('categories').orderBy('id');
  const underItself = await products.call('PATCH', `/api/categories/${electronics.id}`, {
    identity: boss,
    body: { parentId: electronics.id },
  });
  t.equal(underItself.status, 422);
  t.equal(underItself.body.code, 'category_cycle');
  const underGrandchild = await products.call('PATCH', `/api/categories/${electronics.id}`, {
    identity: boss,
    body: { parentId: gaming.id },
  });
  t.equal(underGrandchild.status, 422);
  t.equal(underGrandchild.body.code, 'category_cycle');
  const slugTaken = await products.call('POST', '/api/categories', {
    identity: boss,
    body: { slug: 'hogar', name: 'Otro hogar' },
  });
  t.equal(slugTaken.status, 409);
  t.equal(slugTaken.body.code, 'slug_taken');
  const unknownParent = await products.call('POST', '/api/categories', {
    identity: boss,
    body: { slug: 'huerfana', name: 'Huérfana', parentId: '7b0c4f36-2a49-4f4e-9a57-0d6f0b0e6e11' },
  });
  t.equal(unknownParent.status, 422);
  t.equal(unknownParent.body.code, 'unknown_category');
  const bySeller = await products.call('POST', '/api/categories', {
    identity: seller(),
    body: { slug: 'mia', name: 'Mía' },
  });
  t.equal(bySeller.status, 403);
  t.equal(bySeller.body.code, 'forbidden');

  const withChildren = await products.call('DELETE', `/api/categories/${laptops.id}`, {
    identity: boss,
  });
  t.equal(withChildren.status, 409);
  t.equal(withChildren.body.code, 'category_in_use');
  const filed = await createProduct(products, seller(), { categoryId: home.id });
  await products.call('DELETE', `/api/products/${filed.id}`, { identity: boss });
  const withProducts = await products.call('DELETE', `/api/categories/${home.id}`, {
    identity: boss,
  });
  t.equal(withProducts.status, 409, 'even an inactive product keeps its category in use');
  t.equal(withProducts.body.code, 'category_in_use');
  t.same(await products.db('categories').orderBy('id'), before, 'no refused change wrote anything');

  const removed = await products.call('DELETE', `/api/categories/${gaming.id}`, {
    identity: boss,
  });
  t.equal(removed.status, 204);
  const missing = await products.call('DELETE', `/api/categories/${gaming.id}`, {
    identity: boss,
  });
  t.equal(missing.status, 404);
  t.equal(
    (await products.call('GET', '/api/categories')).body.items[0].children[1].children.length,
    0,
  );
});

t.test(
  'public reads carry an ETag, answer If-None-Match with 304 and say how to cache',
  async (t) => {
    const products = await startProducts(t);
    const alice = seller();
    const lamp = await createProduct(products, alice, { name: 'Lámpara' });

    for (const path of ['/api/products', `/api/products/${lamp.id}`, '/api/categories']) {
      const first = await products.call('GET', path);
      t.equal(first.status, 200, `${path}: 200`);
      const etag = first.headers.get('etag');
      t.match(etag, /^W\/"[A-Za-z0-9_-]{27}"$/, `${path}: weak ETag`);
      t.match(first.headers.get('cache-control'), /^public, max-age=\d+/, `${path}: public`);
      t.match(first.headers.get('content-type'), /^application\/json/);

      const revalidated = await products.call('GET', path, { headers: { 'if-none-match': etag! } });
      t.equal(revalidated.status, 304, `${path}: 304 for the held version`);
      t.equal(revalidated.body, undefined, `${path}: no body`);
      t.equal(revalidated.headers.get('etag'), etag);
      const inList = await products.call('GET', path, {
        headers: { 'if-none-match': `"other", ${etag!.slice(2)}` },
      });
      t.equal(inList.status, 304, `${path}: weak comparison within a list`);
      const stale = await products.call('GET', path, { headers: { 'if-none-match': '"other"' } });
      t.equal(stale.status, 200, `${path}: 200 for another version`);
    }

    const list = await products.call('GET', '/api/products');
    t.equal(list.headers.get('cache-control'), 'public, max-age=30, stale-while-revalidate=30');
    await products.call('PATCH', `/api/products/${lamp.id}`, {
      identity: alice,
      body: { priceMinor: 1234 },
    });
    const afterChange = await products.call('GET', '/api/products', {
      headers: { 'if-none-match': list.headers.get('etag')! },
    });
    t.equal(afterChange.status, 200, 'a changed listing is sent again');
    t.not(afterChange.headers.get('etag'), list.headers.get('etag'));

    await products.call('DELETE', `/api/products/${lamp.id}`, { identity: alice });
    const own = await products.call('GET', `/api/products/${lamp.id}`, { identity: alice });
    t.equal(own.headers.get('cache-control'), 'private, no-cache', 'a seller-only view is private');
    const ownAgain = await products.call('GET', `/api/products/${lamp.id}`, {
      identity: alice,
      headers: { 'if-none-match': own.headers.get('etag')! },
    });
    t.equal(ownAgain.status, 304);

    const head = await fetch(`${products.url}/api/categories`, { method: 'HEAD' });
    t.equal(head.status, 200);
    t.ok(head.headers.get('etag'));
  },
);

t.test('the internal lookup answers services only, with current prices', async (t) => {
  const products = await startProducts(t);
  const alice = seller();
  const one = await createProduct(products, alice, { sku: 'L-1', name: 'Uno', priceMinor: 150 });
  const two = await createProduct(products, alice, {
    sku: 'L-2',
    name: 'Dos',
    priceMinor: 99,
    currency: 'USD',
  });
  await products.call('DELETE', `/api/products/${two.id}`, { identity: alice });
  const unknown = '4f1d7a2e-8c1b-4f0e-9d6a-3b2c1a0f9e8d';

  const answer = await products.call('POST', '/internal/products/lookup', {
    identity: service('orders'),
    body: { ids: [two.id, unknown, one.id, one.id.toUpperCase()] },
  });
  t.equal(answer.status, 200);
  t.equal(answer.headers.get('cache-control'), 'no-store');
  t.same(answer.body, {
    items: [
      {
        id: two.id,
        sellerId: alice.userId,
        name: 'Dos',
        sku: 'L-2',
        priceMinor: 99,
        currency: 'USD',
        active: false,
      },
      {
        id: one.id,
        sellerId: alice.userId,
        name: 'Uno',
        sku: 'L-1',
        priceMinor: 150,
        currency: 'EUR',
        active: true,
      },
    ],
  });

  t.same(
    productLookupResponseSchema.parse(answer.body),
    answer.body,
    'the answer is what the shared contract describes',
  );
  const operation = products.operations.find((op) => op.fullPath === productLookupPath);
  t.equal(operation?.body, productLookupRequestSchema, 'the route takes the contract’s request');
  t.equal(operation?.responses[200]?.schema, productLookupResponseSchema);
  const stranger = await products.call('POST', '/internal/products/lookup', {
    identity: service('payments'),
    body: { ids: [one.id] },
  });
  t.same(
    [stranger.status, stranger.body.code],
    [403, 'forbidden'],
    'for inventory and orders only',
  );

  const asUser = await products.call('POST', '/internal/products/lookup', {
    identity: admin(),
    body: { ids: [one.id] },
  });
  t.equal(asUser.status, 401, 'a user identity, even an admin, is not a service');
  t.equal(asUser.body.code, 'unauthorized');
  const unsigned = await fetch(`${products.url}/internal/products/lookup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [one.id] }),
  });
  t.equal(unsigned.status, 401);
  const forged = await fetch(`${products.url}/internal/products/lookup`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...signIdentity(service('orders'), 'a-different-secret-that-is-long-enough-000000'),
    },
    body: JSON.stringify({ ids: [one.id] }),
  });
  t.equal(forged.status, 401);
  t.equal(((await forged.json()) as { code: string }).code, 'invalid_identity');

  const tooMany = await products.call('POST', '/internal/products/lookup', {
    identity: service('inventory'),
    body: { ids: Array.from({ length: 501 }, () => one.id) },
  });
  t.equal(tooMany.status, 400);
  t.same(tooMany.body.errors, [
    { path: 'body.ids', message: 'Too big: expected array to have <=500 items', code: 'too_big' },
  ]);
  const none = await products.call('POST', '/internal/products/lookup', {
    identity: service('inventory'),
    body: { ids: [] },
  });
  t.equal(none.status, 400);
  const wrongMethod = await products.call('GET', '/internal/products/lookup', {
    identity: service('inventory'),
  });
  t.equal(wrongMethod.status, 405);
  t.equal(wrongMethod.headers.get('allow'), 'POST');
});

t.test('health, readiness and metrics', async (t) => {
  const products = await startProducts(t);
  const live = await products.call('GET', '/health/live');
  t.same([live.status, live.body], [200, { status: 'ok' }]);
  const ready = await products.call('GET', '/health/ready');
  t.same([ready.status, ready.body], [200, { status: 'ok', checks: { database: 'ok' } }]);
  await products.call('GET', '/api/products?q=lamp');
  const metrics = await fetch(`${products.url}/metrics`).then((response) => response.text());
  t.match(
    metrics,
    /http_request_duration_seconds_count\{service="products",method="GET",route="\/api\/products\/",status="200"\} 1/,
  );
  t.same(await counts(products), { products: 0, categories: 0, active: 0 });
  await products.db.destroy();
  const notReady = await products.call('GET', '/health/ready');
  t.same(
    [notReady.status, notReady.body],
    [503, { status: 'unavailable', checks: { database: 'failing' } }],
  );
});

t.test(
  'GET /openapi.json documents exactly the public routes, from their zod schemas',
  async (t) => {
    const products = await startProducts(t);
    const response = await fetch(`${products.url}/openapi.json`);
    t.equal(response.status, 200);
    t.match(response.headers.get('content-type'), /^application\/json/);
    const document = (await response.json()) as {
      openapi: string;
      info: { title: string };
      paths: Record<string, Record<string, any>>;
    };
    t.equal(document.openapi, '3.1.0');
    t.equal(document.info.title, 'Mercado products');

    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    t.same(operations.toSorted(), [
      'DELETE /api/categories/{id}',
      'DELETE /api/products/{id}',
      'GET /api/categories',
      'GET /api/products',
      'GET /api/products/{id}',
      'PATCH /api/categories/{id}',
      'PATCH /api/products/{id}',
      'POST /api/categories',
      'POST /api/products',
    ]);
    t.notOk(
      Object.keys(document.paths).some((path) => path.startsWith('/internal')),
      'the service-only lookup is left out',
    );

    const access = (method: string, path: string) =>
      document.paths[path]?.[method]?.['x-mercado-access'];
    t.equal(access('get', '/api/products'), 'public');
    t.equal(access('get', '/api/products/{id}'), 'public');
    t.same(access('post', '/api/products'), ['seller', 'admin']);
    t.same(access('delete', '/api/products/{id}'), ['seller', 'admin']);
    t.equal(access('get', '/api/categories'), 'public');
    t.same(access('patch', '/api/categories/{id}'), ['admin']);
    t.notOk(document.paths['/api/products']!.get.security, 'public reads need no token');
    t.same(document.paths['/api/products']!.post.security, [{ bearerAuth: [] }]);

    const create = document.paths['/api/products']!.post;
    const body = create.requestBody.content['application/json'].schema;
    t.equal(body.additionalProperties, false);
    t.ok(body.required.includes('sku'));
    t.notOk(body.required.includes('description'), 'a defaulted field is optional to send');
    t.same(Object.keys(create.responses).toSorted(), [
      '201',
      '400',
      '401',
      '403',
      '413',
      '415',
      '4XX',
      '5XX',
    ]);
    t.match(create.responses['403'].description, /forbidden/, 'the refusals the router gives');
    const created = create.responses['201'].content['application/json'].schema;
    t.ok(created.required.includes('attributes'));

    const list = document.paths['/api/products']!.get;
    t.ok(list.parameters.some((p: any) => p.in === 'query' && p.name === 'q' && !p.required));
    t.ok(list.responses['304'], 'ETag revalidation is documented');
    const page = list.responses['200'].content['application/json'].schema;
    t.same(page.required.toSorted(), ['items', 'nextCursor']);
    t.notOk('description' in page.properties.items.items.properties, 'a listing item is a summary');
    const detail = document.paths['/api/products/{id}']!.get;
    t.same(
      detail.parameters.map((p: any) => [p.in, p.name, p.required]),
      [['path', 'id', true]],
    );
    t.ok(document.paths['/api/products/{id}']!.delete.responses['204']);
    const tree =
      document.paths['/api/categories']!.get.responses['200'].content['application/json'];
    t.ok(tree.schema.properties.items.items.properties.children);
    t.notOk(JSON.stringify(document).includes('"$ref":"#/$defs'), 'no references into $defs');

    // Every documented operation is really served: a bad id or an empty body reaches validation
    // (400), an unregistered route would be 404 or 405.
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const method of Object.keys(methods)) {
        const served = await products.call(method.toUpperCase(), path.replace('{id}', 'x'), {
          identity: admin(),
          ...(method === 'post' || method === 'patch' ? { body: {} } : {}),
        });
        t.ok(
          [200, 400].includes(served.status),
          `${method.toUpperCase()} ${path} is served (${served.status})`,
        );
      }
    }
    const lookup = await products.call('POST', '/internal/products/lookup', {
      identity: service('orders'),
      body: {},
    });
    t.equal(lookup.status, 400, 'the undocumented lookup is still served');
  },
);
