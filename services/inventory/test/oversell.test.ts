import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { createDb, migrate } from '@mercado/common/db';
import { captureLogs, createTestDatabase } from '@mercado/common/testing';
import { inventoryMigrationsDir } from '../src/app.js';
import {
  as,
  callService,
  internalSecret,
  ledgerDrift,
  startProductsStandIn,
  stockRow,
} from './helpers.js';

/** The test runner builds before it tests: this is the very file production runs. */
const builtMain = fileURLToPath(new URL('../dist/main.js', import.meta.url));

interface RunningProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<number | null>;
}

/** Starts one built inventory process and resolves once it listens; it is stopped when the test ends. */
async function startProcess(
  t: { teardown(fn: () => unknown): void },
  env: Record<string, string>,
): Promise<RunningProcess> {
  const child = spawn(process.execPath, [builtMain], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  t.teardown(stop);
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'inventory service listening') resolve(entry.url!);
      }
    });
    void exited.then((code) => reject(new Error(`inventory exited with ${code}: ${stderr}`)));
  });
  return { url, child, stop };
}

t.test('two inventory processes sell 10 units to exactly 10 of 240 buyers', async (t) => {
  const products = await startProductsStandIn(t);
  const databaseUrl = await createTestDatabase(t, 'oversell');
  const db = createDb({ url: databaseUrl, log: captureLogs().log, poolMax: 2 });
  t.teardown(() => db.destroy());
  // Migrated once here; each process then finds nothing to apply (MIGRATE_ON_START stays on).
  await migrate(db, fileURLToPath(inventoryMigrationsDir));

  const env = {
    DATABASE_URL: databaseUrl,
    INTERNAL_SECRET: internalSecret,
    PRODUCTS_URLS: products.url,
    REGIONS: 'north,south',
    DATABASE_POOL_MAX: '10',
  };
  const [first, second] = await Promise.all([startProcess(t, env), startProcess(t, env)]);
  const replicas = [first!, second!];

  const sellerId = randomUUID();
  const { id: productId } = products.add(sellerId);
  const stocked = await callService(first!.url, 'PUT', `/api/inventory/${productId}/north`, {
    identity: as.seller(sellerId),
    body: { onHand: 10, reason: 'the last ten', lowStockThreshold: 3 },
  });
  t.equal(stocked.status, 200);

  // Watch the row from outside while the storm runs: available must never be seen below zero.
  let watching = true;
  let lowestSeen = Number.POSITIVE_INFINITY;
  let samples = 0;
  const watcher = (async () => {
    while (watching) {
      const row = await stockRow(db, productId, 'north');
      lowestSeen = Math.min(lowestSeen, row!.available);
      samples++;
    }
  })();

  const buyers = 240;
  const responses = await Promise.all(
    Array.from({ length: buyers }, (_, i) =>
      callService(replicas[i % 2]!.url, 'POST', '/internal/reservations', {
        identity: as.service('orders'),
        body: { orderId: `buyer-${i}`, region: 'north', lines: [{ productId, quantity: 1 }] },
      }).then((response) => ({ ...response, replica: i % 2 })),
    ),
  );
  watching = false;
  await watcher;

  const won = responses.filter((response) => response.status === 201);
  const lost = responses.filter((response) => response.status === 409);
  t.equal(won.length, 10, 'exactly ten reservations succeed');
  t.equal(lost.length, buyers - 10, 'every other buyer is refused');
  t.ok(
    lost.every((response) => response.body.code === 'insufficient_stock'),
    'every refusal is insufficient_stock',
  );
  t.same(
    [0, 1].map((replica) => responses.filter((response) => response.replica === replica).length),
    [buyers / 2, buyers / 2],
    'both processes took their half of the calls',
  );
  t.ok(samples > 0 && lowestSeen >= 0, `available never seen below zero (${samples} samples)`);
  t.same(await stockRow(db, productId, 'north'), { on_hand: 10, reserved: 10, available: 0 });
  const held = await db('reservation_lines').sum<Array<{ sum: string }>>('quantity as sum');
  t.equal(Number(held[0]!.sum), 10, 'the reservation lines hold exactly ten');
  t.equal(Number((await db('reservations').where({ status: 'active' }).count('* as n'))[0]!.n), 10);
  t.same(await ledgerDrift(db), []);
  t.equal(
    Number((await db('outbox').count('* as n'))[0]!.n),
    1,
    'crossing the threshold under contention signals once',
  );

  // The winners pay, each through the other process than the one that reserved.
  const commits = await Promise.all(
    won.map((response) =>
      callService(
        replicas[1 - response.replica]!.url,
        'POST',
        `/internal/reservations/${response.body.orderId}/commit`,
        { identity: as.service('orders') },
      ),
    ),
  );
  t.ok(commits.every((response) => response.status === 200));
  t.same(await stockRow(db, productId, 'north'), { on_hand: 0, reserved: 0, available: 0 });
  t.same(await ledgerDrift(db), []);

  t.same(await Promise.all(replicas.map((replica) => replica.stop())), [0, 0], 'both stop cleanly');
});

t.test('the built service refuses a bad configuration with one line and exit code 2', async (t) => {
  const child = spawn(process.execPath, [builtMain], {
    env: { PATH: process.env.PATH, PRODUCTS_URLS: 'ftp://products', REGIONS: 'north,North' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.equal(await new Promise((resolve) => child.on('close', resolve)), 2);
  t.equal(
    stderr.trim(),
    'invalid configuration: DATABASE_URL is required; INTERNAL_SECRET is required; ' +
      'PRODUCTS_URLS.0 Invalid URL; REGIONS.1 must be lower-case letters, digits and dashes',
  );
});
