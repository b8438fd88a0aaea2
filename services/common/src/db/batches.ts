/**
 * Group commit for a hot statement: the calls that arrive while the statement is busy go to the
 * database together, as one statement of many rows, instead of one round trip (and one commit)
 * each. The batches form by themselves — natural batching, no timer: a call made on an idle
 * batcher goes out on the next turn of the event loop, alone unless others came in that same turn,
 * and the calls made while `concurrency` batches are under way wait for one of them to end, then
 * go together. A quiet service pays nothing in latency; a busy one shares each statement's cost
 * (parse, round trip, commit, the socket writes that wake a Postgres backend) among many calls.
 *
 * The statement must be all or nothing (one statement is): a batch that fails is run again call
 * by call, so that one call's failure (a constraint its row breaks) is its own and the others
 * succeed. Calls with the same `key` never share a batch (a statement cannot change one row twice,
 * and the second should see the first's outcome): the later one waits for the next batch.
 */
export interface BatchesOptions<I, O> {
  /** Runs one batch: one outcome per item, in the items' order. */
  run(items: readonly I[]): Promise<readonly O[]>;
  /** Items per batch at most (default 50). */
  maxSize?: number;
  /** Batches under way at once, each on a connection of its own (default 2). */
  concurrency?: number;
  /** Items with the same key never share a batch. */
  key?(item: I): string;
}

export interface Batches<I, O> {
  /** The item's outcome, once the batch it went in has run. */
  submit(item: I): Promise<O>;
  /** Batches run so far, and the items they carried (for metrics and tests). */
  readonly stats: { readonly batches: number; readonly items: number };
}

interface Waiting<I, O> {
  item: I;
  resolve(outcome: O): void;
  reject(error: unknown): void;
}

export function batches<I, O>({
  run,
  maxSize = 50,
  concurrency = 2,
  key,
}: BatchesOptions<I, O>): Batches<I, O> {
  const waiting: Array<Waiting<I, O>> = [];
  const stats = { batches: 0, items: 0 };
  let underWay = 0;
  let scheduled = false;

  /** The next batch: the first `maxSize` waiting items, skipping a key already taken. */
  function take(): Array<Waiting<I, O>> {
    if (!key) return waiting.splice(0, maxSize);
    const keys = new Set<string>();
    const batch: Array<Waiting<I, O>> = [];
    for (let index = 0; index < waiting.length && batch.length < maxSize;) {
      const itemKey = key(waiting[index]!.item);
      if (keys.has(itemKey)) {
        index += 1;
        continue;
      }
      keys.add(itemKey);
      batch.push(...waiting.splice(index, 1));
    }
    return batch;
  }

  async function runBatch(batch: ReadonlyArray<Waiting<I, O>>): Promise<void> {
    stats.batches += 1;
    stats.items += batch.length;
    try {
      const outcomes = await run(batch.map((entry) => entry.item));
      if (outcomes.length !== batch.length) {
        throw new Error(`a batch of ${batch.length} gave ${outcomes.length} outcomes`);
      }
      batch.forEach((entry, index) => entry.resolve(outcomes[index]!));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      // Nothing of it was done: each item again alone, so that the one that failed it fails alone.
      for (const entry of batch) await runBatch([entry]);
    }
  }

  function flush(): void {
    scheduled = false;
    while (underWay < concurrency && waiting.length > 0) {
      underWay += 1;
      void runBatch(take()).finally(() => {
        underWay -= 1;
        flush();
      });
    }
  }

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        waiting.push({ item, resolve, reject });
        if (!scheduled && underWay < concurrency) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    stats,
  };
}
