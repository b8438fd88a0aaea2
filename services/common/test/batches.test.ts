import t from 'tap';
import { batches } from '@mercado/common/db';

/** A run whose batches end when the test says so: what each batch carried, in order. */
function controlledRun() {
  const runs: Array<{ items: number[]; end(): void; fail(error: Error): void }> = [];
  let started: (() => void) | undefined;
  return {
    runs,
    /** Resolves once `count` batches have started. */
    async started(count: number): Promise<void> {
      while (runs.length < count) await new Promise<void>((resolve) => (started = resolve));
    },
    run(items: readonly number[]): Promise<readonly string[]> {
      return new Promise((resolve, reject) => {
        runs.push({
          items: [...items],
          end: () => resolve(items.map((item) => `done ${item}`)),
          fail: reject,
        });
        started?.();
      });
    },
  };
}

t.test('a call on an idle batcher goes alone; calls made meanwhile go together', async (t) => {
  const control = controlledRun();
  const batcher = batches({ run: control.run, concurrency: 1, maxSize: 3 });
  const first = batcher.submit(1);
  await control.started(1);
  t.same(control.runs[0]!.items, [1], 'the first call did not wait for company');
  const later = [2, 3, 4, 5].map((item) => batcher.submit(item));
  control.runs[0]!.end();
  t.equal(await first, 'done 1');
  await control.started(2);
  t.same(control.runs[1]!.items, [2, 3, 4], 'those that waited, up to maxSize, in order');
  control.runs[1]!.end();
  await control.started(3);
  t.same(control.runs[2]!.items, [5]);
  control.runs[2]!.end();
  t.same(await Promise.all(later), ['done 2', 'done 3', 'done 4', 'done 5']);
  t.same(batcher.stats, { batches: 3, items: 5 });
});

t.test('up to `concurrency` batches run at once', async (t) => {
  const control = controlledRun();
  const batcher = batches({ run: control.run, concurrency: 2 });
  const calls = [batcher.submit(1)];
  await control.started(1);
  calls.push(batcher.submit(2));
  await control.started(2);
  t.same(
    control.runs.map((run) => run.items),
    [[1], [2]],
    'a second batch started while the first ran',
  );
  calls.push(batcher.submit(3), batcher.submit(4));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(control.runs.length, 2, 'a third waits for one of them');
  control.runs[1]!.end();
  await control.started(3);
  t.same(control.runs[2]!.items, [3, 4]);
  control.runs[0]!.end();
  control.runs[2]!.end();
  t.same(await Promise.all(calls), ['done 1', 'done 2', 'done 3', 'done 4']);
});

t.test('items with the same key never share a batch', async (t) => {
  const control = controlledRun();
  const batcher = batches({ run: control.run, concurrency: 1, key: (item) => String(item % 10) });
  const calls = [11, 21, 12, 31, 13].map((item) => batcher.submit(item));
  await control.started(1);
  t.same(control.runs[0]!.items, [11, 12, 13], 'one of each key, in order');
  control.runs[0]!.end();
  await control.started(2);
  t.same(control.runs[1]!.items, [21]);
  control.runs[1]!.end();
  await control.started(3);
  t.same(control.runs[2]!.items, [31]);
  control.runs[2]!.end();
  t.same(await Promise.all(calls), ['done 11', 'done 21', 'done 12', 'done 31', 'done 13']);
});

t.test('a failed batch is run again item by item: only the failing item fails', async (t) => {
  const seen: number[][] = [];
  const batcher = batches({
    concurrency: 1,
    async run(items: readonly number[]) {
      seen.push([...items]);
      if (items.includes(13)) throw new Error('13 breaks a constraint');
      return items.map((item) => item * 2);
    },
  });
  const calls = [11, 12, 13, 14].map((item) => batcher.submit(item));
  const outcomes = await Promise.allSettled(calls);
  t.same(
    outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : 'rejected')),
    [22, 24, 'rejected', 28],
  );
  t.match((outcomes[2] as PromiseRejectedResult).reason, { message: '13 breaks a constraint' });
  t.same(seen, [[11, 12, 13, 14], [11], [12], [13], [14]]);
});

t.test('a run giving the wrong number of outcomes fails its items', async (t) => {
  const batcher = batches({ run: async () => ['only one'] as const, concurrency: 1 });
  const solo = batcher.submit(1);
  t.equal(await solo, 'only one', 'one item, one outcome');
  const pair = [batcher.submit(2), batcher.submit(3)];
  t.same(await Promise.all(pair), ['only one', 'only one'], 'retried alone, each one outcome');
  const broken = batches({ run: async () => [] as string[] });
  await t.rejects(broken.submit(1), { message: 'a batch of 1 gave 0 outcomes' });
});
