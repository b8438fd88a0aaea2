import t from 'tap';
import {
  createCategory,
  createProduct,
  seller,
  startProducts,
  type ProductsHarness,
} from './helpers.js';

type Item = { id: string; name: string; priceMinor: number; createdAt: string };

async function list(products: ProductsHarness, query: string) {
  const response = await products.call('GET', `/api/products?${query}`);
  if (response.status !== 200) {
    throw new Error(`GET ?${query} gave ${response.status}: ${JSON.stringify(response.body)}`);
  }
  return response.body as { items: Item[]; nextCursor: string | null };
}

async function names(products: ProductsHarness, query: string): Promise<string[]> {
  return (await list(products, query)).items.map((item) => item.name);
}

t.test('a search matches word prefixes and ranks better matches first', async (t) => {
  const products = await startProducts(t);
  const alice = seller();
  await createProduct(products, alice, {
    name: 'Mochila urbana',
    description: 'Fits a laptop up to 15 inches',
  });
  await createProduct(products, alice, { name: 'Laptop Air', description: 'Thin and light' });
  await createProduct(products, alice, { name: 'Laptop sleeve', description: 'Neoprene' });
  await createProduct(products, alice, {
    name: 'Laptop Pro 14',
    description: 'A laptop for work: the laptop professionals choose',
  });
  await createProduct(products, alice, {
    name: 'Lámpara de escritorio',
    description: 'Luz cálida regulable',
  });
  await createProduct(products, alice, { name: 'Teclado', description: 'Mecánico, español' });
  const hidden = await createProduct(products, alice, { name: 'Laptop antiguo' });
  await products.call('DELETE', `/api/products/${hidden.id}`, { identity: alice });

  const lap = await names(products, 'q=lap');
  t.equal(lap[0], 'Laptop Pro 14', 'the name and description match ranks first');
  t.same(lap.slice(1, 3).sort(), ['Laptop Air', 'Laptop sleeve'], 'name matches next');
  t.equal(lap[3], 'Mochila urbana', 'a description-only match ranks last');
  t.equal(lap.length, 4, 'inactive products are never listed');

  t.same(await names(products, 'q=LAP'), lap, 'case does not matter');
  t.same(await names(products, 'q=laptop%20pro'), ['Laptop Pro 14'], 'every word must match');
  t.same(await names(products, 'q=pro%20lap'), ['Laptop Pro 14'], 'in any order');
  t.same(await names(products, `q=${encodeURIComponent('lámp')}`), ['Lámpara de escritorio']);
  t.same(await names(products, `q=${encodeURIComponent('cálida')}`), ['Lámpara de escritorio']);
  t.same(await names(products, `q=${encodeURIComponent('espa')}`), ['Teclado']);
  t.same(await names(products, 'q=zzz'), []);
  t.same(
    await names(products, `q=${encodeURIComponent('lap:* | !()')}`),
    lap,
    'tsquery syntax in q is just punctuation between words',
  );
  t.same(
    await names(products, `q=${encodeURIComponent('lap&sort=price_asc')}`),
    [],
    'an encoded & stays inside q',
  );

  const ranked = await names(products, 'q=lap&sort=relevance');
  t.same(ranked, lap, 'relevance is the default order of a search');
  const cheapFirst = await list(products, 'q=lap&sort=price_asc');
  t.equal(cheapFirst.items.length, 4, 'a search can be sorted by price too');
  const newest = await names(products, 'sort=relevance');
  t.equal(newest[0], 'Teclado', 'relevance without q falls back to newest');
});

t.test(
  'filters: a category takes in its subcategories; price range, seller, currency',
  async (t) => {
    const products = await startProducts(t);
    const electronics = await createCategory(products, 'electronica', 'Electrónica');
    const laptops = await createCategory(products, 'portatiles', 'Portátiles', electronics.id);
    const gaming = await createCategory(products, 'gaming', 'Gaming', laptops.id);
    const audio = await createCategory(products, 'audio', 'Audio', electronics.id);
    const home = await createCategory(products, 'hogar', 'Hogar');
    const alice = seller();
    const bob = seller();
    await createProduct(products, alice, {
      name: 'Portátil',
      categoryId: laptops.id,
      priceMinor: 90000,
    });
    await createProduct(products, bob, {
      name: 'Portátil gamer',
      categoryId: gaming.id,
      priceMinor: 150000,
    });
    await createProduct(products, alice, {
      name: 'Auriculares',
      categoryId: audio.id,
      priceMinor: 5000,
    });
    await createProduct(products, bob, { name: 'Sofá', categoryId: home.id, priceMinor: 40000 });
    await createProduct(products, alice, { name: 'Sin categoría', priceMinor: 100 });
    await createProduct(products, bob, {
      name: 'Laptop USD',
      categoryId: laptops.id,
      priceMinor: 80000,
      currency: 'USD',
    });

    const sorted = async (query: string) => (await names(products, query)).sort();
    t.same(await sorted('category=electronica'), [
      'Auriculares',
      'Laptop USD',
      'Portátil',
      'Portátil gamer',
    ]);
    t.same(await sorted(`category=${laptops.id}`), ['Laptop USD', 'Portátil', 'Portátil gamer']);
    t.same(await sorted(`category=${laptops.id.toUpperCase()}`), [
      'Laptop USD',
      'Portátil',
      'Portátil gamer',
    ]);
    t.same(await sorted('category=gaming'), ['Portátil gamer']);
    t.same(await sorted('category=no-such-category'), [], 'an unknown category matches nothing');
    t.same(await sorted('minPrice=5000&maxPrice=90000'), [
      'Auriculares',
      'Laptop USD',
      'Portátil',
      'Sofá',
    ]);
    t.same(await sorted('minPrice=90000'), ['Portátil', 'Portátil gamer'], 'bounds are inclusive');
    t.same(await sorted('maxPrice=100'), ['Sin categoría']);
    t.same(await sorted(`seller=${bob.userId}`), ['Laptop USD', 'Portátil gamer', 'Sofá']);
    t.same(await sorted('currency=USD'), ['Laptop USD']);
    t.same(
      await sorted(`category=electronica&seller=${alice.userId}&maxPrice=50000&q=auri`),
      ['Auriculares'],
      'filters combine',
    );
    t.same(await names(products, 'category=electronica&sort=price_desc'), [
      'Portátil gamer',
      'Portátil',
      'Laptop USD',
      'Auriculares',
    ]);
  },
);

t.test('one query serves a listing, whatever its filters', async (t) => {
  const products = await startProducts(t);
  const electronics = await createCategory(products, 'electronica', 'Electrónica');
  const alice = seller();
  await createProduct(products, alice, { name: 'Radio', categoryId: electronics.id });
  await createProduct(products, alice, { name: 'Radio reloj', categoryId: electronics.id });
  const statements: string[] = [];
  products.db.on('query', function recordQuery(query: { sql: string }) {
    statements.push(query.sql);
  });
  const filters = `q=rad&category=electronica&minPrice=1&maxPrice=99999&seller=${alice.userId}`;
  const first = await list(products, `${filters}&limit=1`);
  t.equal(first.items.length, 1);
  t.equal(statements.length, 1, 'one statement for search, category subtree, price and page');
  statements.length = 0;
  const second = await list(products, `${filters}&limit=1&cursor=${first.nextCursor}`);
  t.equal(second.items.length, 1);
  t.equal(statements.length, 1, 'and one for the next page');
  t.match(statements[0], /^with recursive/);
});

/** The four orders, each with a way to tell whether `a` may come before `b`. */
const orders: Array<{
  sort: string;
  query: string;
  inOrder: (a: Item & { rank?: number }, b: Item & { rank?: number }) => boolean;
}> = [
  {
    sort: 'newest',
    query: 'sort=newest',
    inOrder: (a, b) => a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id),
  },
  {
    sort: 'price_asc',
    query: 'sort=price_asc',
    inOrder: (a, b) =>
      a.priceMinor < b.priceMinor || (a.priceMinor === b.priceMinor && a.id < b.id),
  },
  {
    sort: 'price_desc',
    query: 'sort=price_desc',
    inOrder: (a, b) =>
      a.priceMinor > b.priceMinor || (a.priceMinor === b.priceMinor && a.id > b.id),
  },
  { sort: 'relevance', query: 'q=widg', inOrder: () => true },
];

t.test(
  'every sort pages with keyset cursors: no repeats, no gaps, stable under inserts',
  async (t) => {
    const products = await startProducts(t);
    const alice = seller();
    const originals: string[] = [];
    const prices = [500, 100, 300, 100, 900, 300, 300, 700, 100, 500, 200, 800, 300, 600, 100];
    for (const [index, priceMinor] of prices.entries()) {
      const product = await createProduct(products, alice, {
        name: `Widget ${index}`,
        // Ranks differ: some mention the word again in their description.
        description: index % 3 === 0 ? 'widget widget' : index % 3 === 1 ? 'a widget' : 'other',
        priceMinor,
      });
      originals.push(product.id);
    }
    // Several rows share a creation instant, so the id has to break ties.
    await products
      .db('products')
      .whereIn('id', originals.slice(3, 9))
      .update({ created_at: new Date('2026-01-01T00:00:00.000Z') });

    for (const order of orders) {
      const seen: Item[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { items: Item[]; nextCursor: string | null } = await list(
          products,
          `${order.query}&limit=4${cursor ? `&cursor=${cursor}` : ''}`,
        );
        seen.push(...page.items);
        cursor = page.nextCursor;
        pages += 1;
        // Another seller lists products between page fetches, cheap, dear and in between.
        await createProduct(products, seller(), {
          name: `Widget extra ${order.sort} ${pages}`,
          priceMinor: [50, 100, 300, 999][pages % 4]!,
        });
        t.ok(pages < 30, 'paging ends');
      } while (cursor);

      const ids = seen.map((item) => item.id);
      t.equal(new Set(ids).size, ids.length, `${order.sort}: no product shows twice`);
      t.same(
        originals.filter((id) => !ids.includes(id)),
        [],
        `${order.sort}: every product present at the start is on some page`,
      );
      for (let i = 1; i < seen.length; i++) {
        if (!order.inOrder(seen[i - 1]!, seen[i]!)) {
          t.fail(`${order.sort}: ${seen[i - 1]!.name} before ${seen[i]!.name} breaks the order`);
        }
      }
      t.ok(pages >= 4, `${order.sort}: walked ${pages} pages`);
    }

    const full = await list(products, 'q=widg&limit=100');
    const ranks = await products.db.raw<{ rows: Array<{ id: string; rank: number }> }>(
      `select id, ts_rank(search, to_tsquery('simple', 'widg:*')) as rank from products where active`,
    );
    const rankOf = new Map(ranks.rows.map((row) => [row.id, row.rank]));
    const seenRanks = full.items.map((item) => rankOf.get(item.id)!);
    t.same(
      seenRanks,
      [...seenRanks].sort((a, b) => b - a),
      'relevance pages come best first',
    );
    t.ok(new Set(seenRanks).size >= 3, 'the data really has several ranks');
  },
);

t.test('a cursor only continues the listing it came from', async (t) => {
  const products = await startProducts(t);
  for (let i = 0; i < 5; i++) {
    await createProduct(products, seller(), { name: `Silla ${i}`, priceMinor: 1000 + i });
  }
  const first = await list(products, 'sort=price_asc&limit=2');
  const cursor = first.nextCursor!;
  t.match(cursor, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  t.same((await list(products, `sort=price_asc&limit=2&cursor=${cursor}`)).items.length, 2);

  const [payload, mac] = cursor.split('.') as [string, string];
  const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  const edited = Buffer.from(JSON.stringify({ ...decoded, k: [1, decoded.k[1]] })).toString(
    'base64url',
  );
  const flip = (text: string) =>
    `${text.slice(0, -2)}${text.at(-2) === 'A' ? 'B' : 'A'}${text.at(-1)}`;
  const bad: Array<[string, string, string]> = [
    ['an edited key with the old signature', 'sort=price_asc', `${edited}.${mac}`],
    ['a changed signature', 'sort=price_asc', `${payload}.${flip(mac)}`],
    ['no signature', 'sort=price_asc', payload],
    ['garbage', 'sort=price_asc', 'not-a-cursor'],
    ['base64 JSON from elsewhere', 'sort=price_asc', 'eyJub3BlIjp0cnVlfQ'],
    ['three parts', 'sort=price_asc', `${payload}.${mac}.${mac}`],
    ['non-base64 characters', 'sort=price_asc', `${payload}.${mac}%21`],
    ['another sort', 'sort=price_desc', cursor],
    ['the default sort', '', cursor],
    ['other filters', 'sort=price_asc&maxPrice=5000', cursor],
    ['a search added', 'sort=price_asc&q=silla', cursor],
  ];
  for (const [name, query, value] of bad) {
    const response = await products.call('GET', `/api/products?${query}&cursor=${value}`);
    t.equal(response.status, 400, `${name}: 400`);
    t.match(response.body, { code: 'validation_failed' }, `${name}: code`);
    t.same(
      response.body.errors.map((error: { path: string }) => error.path),
      ['query.cursor'],
      `${name}: path`,
    );
  }
  const otherSort = await products.call('GET', `/api/products?sort=newest&cursor=${cursor}`);
  t.same(otherSort.body.errors, [
    { path: 'query.cursor', message: 'was issued for another sort order', code: 'invalid_cursor' },
  ]);

  const tooMany = await products.call('GET', '/api/products?limit=100000');
  t.equal(tooMany.status, 400);
  t.same(
    tooMany.body.errors.map((error: { path: string }) => error.path),
    ['query.limit'],
  );
  t.equal((await list(products, 'limit=100')).items.length, 5, 'limit 100 is allowed');
  t.equal((await list(products, '')).items.length, 5, 'limit defaults to 20');
});

t.test('every non-text sort reads an index in order, with no sort step', async (t) => {
  const products = await startProducts(t);
  const alice = seller();
  for (let i = 0; i < 6; i++) await createProduct(products, alice, { priceMinor: 100 + i });
  const captured: Array<{ sql: string; bindings: unknown[] }> = [];
  products.db.on('query', function capture(query: { sql: string; bindings: unknown[] }) {
    captured.push(query);
  });
  const cases: Array<[string, string]> = [
    ['sort=newest&limit=2', 'products_active_newest_idx'],
    ['sort=price_asc&limit=2', 'products_active_price_idx'],
    ['sort=price_desc&limit=2', 'products_active_price_idx'],
    ['sort=price_asc&minPrice=101&maxPrice=500&limit=2', 'products_active_price_idx'],
    [`seller=${alice.userId}&limit=2`, 'products_active_seller_idx'],
  ];
  for (const [query, index] of cases) {
    const first = await list(products, query);
    captured.length = 0;
    await list(products, `${query}&cursor=${first.nextCursor}`);
    const [statement] = captured;
    const plan = await products.db.transaction(async (trx) => {
      // A handful of rows would be read sequentially; the question is whether the index can serve.
      await trx.raw('set local enable_seqscan = off');
      // knex reports the statement with pg's $n placeholders, numbered in order of appearance.
      const sql = statement!.sql.replace(/\$\d+/g, '?');
      const result = await trx.raw(`explain ${sql}`, statement!.bindings as never);
      return (result.rows as Array<{ 'QUERY PLAN': string }>)
        .map((row) => row['QUERY PLAN'])
        .join('\n');
    });
    t.match(plan, new RegExp(`Index Scan( Backward)? using ${index}`), `${query}: ${index}`);
    t.notMatch(plan, /\bSort\b/, `${query}: no sort step`);
  }
});
