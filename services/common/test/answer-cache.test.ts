import t from 'tap';
import knexFactory from 'knex';
import { AnswerCache } from '@mercado/common/http';
import { listenForChanges, type ChangeFeed } from '@mercado/common/db';
import { captureLogs, createTestDatabase } from '@mercado/common/testing';

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200 && !condition(); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (!condition()) throw new Error(`never happened: ${what}`);
}

async function startFeed(t: { teardown(fn: () => unknown): void }) {
  const url = await createTestDatabase(t, 'feed');
  const logs = captureLogs('feed');
  const feed = listenForChanges({
    url,
    channel: 'things_changed',
    log: logs.log,
    name: 'feed-under-test',
    retryMs: 20,
  });
  t.teardown(() => feed.close());
  await feed.ready;
  const sql = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
  t.teardown(() => sql.destroy());
  return { feed, sql, logs };
}

const answer = (text: string) => ({
  body: Buffer.from(text),
  etag: `W/"${text}"`,
  cacheControl: 'public, max-age=30',
});

/** A feed the test moves by hand (keyed: `changed(['k'])` moves key k only). */
function manualFeed(): { -readonly [K in keyof ChangeFeed]: ChangeFeed[K] } {
  const keys = new Map<string, number>();
  return {
    generation: 1,
    live: true,
    keyGeneration: (key) => keys.get(key) ?? 0,
    changed(changedKeys) {
      if (changedKeys === undefined) this.generation++;
      else for (const key of changedKeys) keys.set(key, (keys.get(key) ?? 0) + 1);
    },
    ready: Promise.resolve(),
    async close() {},
  };
}

t.test('a notification from any connection moves the generation', async (t) => {
  const { feed, sql } = await startFeed(t);
  t.ok(feed.live, 'listening');
  const before = feed.generation;
  await sql.raw(`select pg_notify('things_changed', 'x')`);
  await until(() => feed.generation > before, 'notified');
  t.pass('the generation moved after a notification');

  // Notifications are sent on commit only: a rolled back change says nothing. The marker sent
  // last arrives after anything sent before it (one session, in order), so once it moved the
  // generation, nothing else did.
  const settled = feed.generation;
  await sql
    .transaction(async (trx) => {
      await trx.raw(`select pg_notify('things_changed', 'y')`);
      throw new Error('roll back');
    })
    .catch(() => undefined);
  await sql.raw(`select pg_notify('other_channel', 'z')`);
  await sql.raw(`select pg_notify('things_changed', 'marker')`);
  await until(() => feed.generation > settled, 'the marker notified');
  t.equal(feed.generation, settled + 1, 'rolled back and foreign notifications are ignored');
});

t.test('a keyed feed moves only the key a notification names', async (t) => {
  const url = await createTestDatabase(t, 'feed');
  const { log } = captureLogs('feed');
  const feed = listenForChanges({ url, channel: 'stock_moved', log, keyed: true, maxKeys: 3 });
  t.teardown(() => feed.close());
  await feed.ready;
  const sql = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  t.teardown(() => sql.destroy());
  const notify = (payload: string) => sql.raw(`select pg_notify('stock_moved', ?)`, [payload]);

  const generation = feed.generation;
  await notify('a');
  await until(() => feed.keyGeneration('a') === 1, 'key a moved');
  t.equal(feed.generation, generation, 'a named key leaves everything else as it was');
  t.equal(feed.keyGeneration('b'), 0, 'and other keys');

  await notify('');
  await until(() => feed.generation === generation + 1, 'everything moved');
  t.pass('an empty payload moves everything on');

  feed.changed(['b']);
  t.equal(feed.keyGeneration('b'), 1, "the process's own write moves its keys at once");
  await notify('c');
  await until(() => feed.keyGeneration('c') === 1, 'key c moved');
  t.equal(feed.generation, generation + 1, 'three keys fit');
  await notify('d');
  await until(() => feed.generation === generation + 2, 'past maxKeys, everything moved');
  t.same(
    ['a', 'b', 'c', 'd'].map((key) => feed.keyGeneration(key)),
    [0, 0, 0, 0],
    'and the keys were forgotten: memory stays bounded',
  );
});

t.test('a scoped answer is retired by a change of its key or of everything only', (t) => {
  const feed = manualFeed();
  const cache = new AnswerCache({ feed });
  cache.set('/stock/p1', cache.begin('p1')!, answer('p1'));
  cache.set('/stock/p2', cache.begin('p2')!, answer('p2'));
  feed.changed(['p2']);
  t.equal(cache.get('/stock/p1')?.body.toString(), 'p1', "another key's change leaves it");
  t.equal(cache.get('/stock/p2'), undefined, 'its own key retires it');

  const started = cache.begin('p1')!;
  feed.changed(['p1']); // a write of p1 commits while the read runs
  cache.set('/stock/p1', started, answer('stale'));
  t.equal(cache.get('/stock/p1'), undefined, 'a read that raced its key is never kept');

  cache.set('/stock/p1', cache.begin('p1')!, answer('p1 again'));
  feed.changed();
  t.equal(cache.get('/stock/p1'), undefined, 'a change of everything retires it too');
  t.end();
});

t.test('a lost connection pauses caching until it listens again', async (t) => {
  const { feed, sql, logs } = await startFeed(t);
  const cache = new AnswerCache({ feed });
  cache.set('/a', cache.begin()!, answer('a'));
  t.ok(cache.get('/a'), 'kept while listening');

  await sql.raw(
    `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'feed-under-test'`,
  );
  await until(() => !feed.live, 'the loss noticed');
  t.equal(cache.begin(), undefined, 'no read may be kept while not listening');
  t.equal(cache.get('/a'), undefined, 'nothing kept is served while not listening');
  await until(() => feed.live, 'listening again');
  t.equal(cache.get('/a'), undefined, 'what was kept before the loss is gone for good');
  t.match(logs.text(), /change feed lost its connection/, 'the loss is logged');

  const generation = feed.generation;
  await sql.raw(`select pg_notify('things_changed', '')`);
  await until(() => feed.generation > generation, 'notified after the reconnect');
  t.pass('notifications flow again after the reconnect');
});

t.test('a read that raced a change is never kept', (t) => {
  const feed = manualFeed();
  const cache = new AnswerCache({ feed });
  const started = cache.begin()!;
  feed.changed(); // a write commits while the read runs
  cache.set('/list', started, answer('old'));
  t.equal(cache.get('/list'), undefined, 'the possibly stale answer was dropped');

  const next = cache.begin()!;
  cache.set('/list', next, answer('new'));
  t.equal(cache.get('/list')?.body.toString(), 'new');
  feed.changed();
  t.equal(cache.get('/list'), undefined, 'a change retires every kept answer');
  t.equal(cache.size, 0, 'and frees it');
  t.end();
});

t.test('the least recently used answers go first past the limits', (t) => {
  const feed = manualFeed();
  const cache = new AnswerCache({ feed, maxEntries: 2, maxBytes: 10 });
  const g = cache.begin()!;
  cache.set('/a', g, answer('aaa'));
  cache.set('/b', g, answer('bbb'));
  cache.get('/a');
  cache.set('/c', g, answer('ccc'));
  t.same(
    ['/a', '/b', '/c'].map((key) => cache.get(key) !== undefined),
    [true, false, true],
    'the entry limit evicts the least recently used',
  );
  cache.set('/d', g, answer('dddddddd'));
  t.same(
    ['/a', '/c', '/d'].map((key) => cache.get(key) !== undefined),
    [false, false, true],
    'the byte limit too',
  );
  cache.set('/huge', g, answer('x'.repeat(11)));
  t.equal(cache.get('/huge'), undefined, 'an answer over the byte limit is never kept');
  t.equal(cache.size, 1);

  feed.live = false;
  t.equal(cache.begin(), undefined);
  cache.set('/e', g, answer('e'));
  feed.live = true;
  t.equal(cache.get('/e'), undefined, 'nothing is stored while not listening');
  t.end();
});

t.test('a channel name is an identifier, never SQL', (t) => {
  const { log } = captureLogs('feed');
  t.throws(
    () => listenForChanges({ url: 'postgres://127.0.0.1:1/x', channel: 'x; drop table y', log }),
    /not a channel name/,
  );
  t.end();
});
