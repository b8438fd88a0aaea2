import type { Knex } from 'knex';
import { Counter, Gauge, type Registry } from 'prom-client';
import { listenForChanges, type ChangeFeed } from '../db/change-feed.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { publishWithin, type MqttClient } from './client.js';
import { mayPublish, parsePayload, topics, type MqttServiceName } from '../contract/contract.js';

/**
 * The outbox relay: publishes the rows a service wrote to its outbox table, in the transaction
 * that caused them, to the broker.
 *
 * The table, in the service's own database, is `sql/templates/outbox.sql` (copied into the
 * service's migrations): id, topic, payload, sent_at, failed_at, failure_reason, the index of
 * unsent rows, and a statement trigger running `pg_notify(channel)` after insert. A service uses
 * the relay through its outbox (outbox.ts, `defineOutbox(…).startRelay(runtime)`).
 *
 * - **Claiming.** A pass claims up to `batchSize` unsent rows in id order with `FOR UPDATE SKIP
 *   LOCKED`, in one transaction: replicas of a service each run a relay and never hold the same
 *   row at the same time; a row another replica holds is skipped, not waited for.
 * - **Publishing.** Each row goes out at QoS 1 and is marked `sent_at` (in that transaction) only
 *   once the broker's PUBACK came, within `publishTimeoutMs` (mqtt.js would queue a publish
 *   forever while disconnected). A batch's rows go out back to back, in id order, without
 *   waiting for each PUBACK before the next (a batch costs about one round trip to the broker,
 *   not one per row). The first failure in id order ends the batch: the rows acknowledged before
 *   it are marked, it and the rest stay unsent, and the relay retries after an exponential backoff with
 *   jitter (capped at `retry.maxMs`), or at once when the MQTT client reconnects.
 * - **At least once.** A crash, or a lost database connection, between the PUBACK and the commit
 *   publishes the row again; so may a publish that timed out but reached the broker later.
 *   Consumers deduplicate on the payload's event id.
 * - **Order.** One relay publishes in id order, retrying a failed row, with the rows of its batch
 *   behind it, before any later one (those may have reached the broker already). Across
 *   replicas there is none (each publishes the batch it claimed), and ids are taken before their
 *   transactions commit, so a row can become visible after a later one was published. Consumers
 *   must not rely on order (docs/platform-notes.md: neither does the broker once clustered).
 * - **Rows that can never be published** — a topic outside the contract, one this service may not
 *   publish to (the broker would close the connection), a payload its topic's schema refuses —
 *   are set aside with `failed_at` and a `failure_reason` (the contract's reason, which names
 *   fields, never values), logged and counted, so they never block the rows behind them. An
 *   operator requeues one, once the cause is fixed, by clearing both columns.
 * - **Waking.** With `notifications`, a LISTEN connection wakes the relay when rows are inserted
 *   (and when it reconnects, since notifications are lost meanwhile); `pollIntervalMs` is the
 *   fallback either way. A wake during a backoff waits for it.
 * - **The transaction stays open while its batch is published**: that is what keeps other
 *   replicas off those rows without a lease column. It lasts the batch's round trips, plus at
 *   most one `publishTimeoutMs` (the first failure ends it); only these rows are locked. It is
 *   idle meanwhile, so the connection's `idle_in_transaction_session_timeout`
 *   (DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS) bounds it: should a batch ever take longer, Postgres
 *   ends it, nothing is marked, and the rows go out again (at least once, as above).
 * - **Metrics**, labelled `table` (the registry adds `service`): `outbox_published_total`,
 *   `outbox_publish_failures_total` (failed batches), `outbox_dead_total{reason}` and the gauge
 *   `outbox_pending`, counted when the relay goes idle or backs off (not between the passes of a
 *   busy relay, where it would delay the next one).
 *
 * Payloads are never logged: ids, topics and reasons only.
 */
export interface OutboxRelayOptions {
  db: Knex;
  /** A client from createMqttClient / connectMqtt, reconnecting on its own; the caller ends it. */
  mqtt: MqttClient;
  log: Logger;
  metrics: Metrics;
  /** Who publishes, as the broker knows it: rows it may not publish are set aside, not sent. */
  service: MqttServiceName;
  table?: string;
  /** Rows claimed per transaction. */
  batchSize?: number;
  /** How often to look for rows when nothing woke the relay. */
  pollIntervalMs?: number;
  /** How long one publish may wait for its PUBACK. */
  publishTimeoutMs?: number;
  /** The backoff after a failed batch: `initialMs`, doubling up to `maxMs`, with jitter. */
  retry?: { initialMs?: number; maxMs?: number };
  /** Wakes the relay when the table's insert trigger runs `pg_notify(channel)`. */
  notifications?: { url: string; channel: string; name?: string };
}

export interface OutboxRelayStats {
  /** Rows published and marked sent by this relay. */
  published: number;
  /** Failed batches: a publish unacknowledged in time, no connection, a database error. */
  failures: number;
  /** Rows this relay set aside as never publishable. */
  dead: number;
  /** Rows unsent and not set aside, as last counted (any replica's). */
  pending: number | undefined;
  /** True while backing off after a failure. */
  retrying: boolean;
}

export interface OutboxRelay {
  /** Looks for rows now (after the pass under way, if any); ignored while backing off. */
  wake(): void;
  /**
   * Stops: no new pass starts, the pass under way publishes no further row (those already sent
   * wait for their PUBACK), and stop() resolves once its transaction ended. Rows not reached stay unsent for the next run.
   */
  stop(): Promise<void>;
  readonly stats: Readonly<OutboxRelayStats>;
}

interface OutboxRow {
  id: number;
  topic: string;
  payload: unknown;
}

/** What stopped a batch: the row being published, if it was a publish that failed. */
interface Failure {
  error: unknown;
  outboxId?: number;
  topic?: string;
}

interface BatchOutcome {
  claimed: number;
  sent: number[];
  dead: Array<{ row: OutboxRow; problem: string }>;
  failure?: Failure;
}

const tablePattern = /^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/;

/** A metric shared by every relay of the process (one registry, one metric per name). */
function sharedMetric<M extends Counter<string> | Gauge<string>>(
  registry: Registry,
  name: string,
  create: () => M,
): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

function relayMetrics(registry: Registry) {
  const registers = [registry];
  return {
    published: sharedMetric(
      registry,
      'outbox_published_total',
      () =>
        new Counter({
          name: 'outbox_published_total',
          help: 'Outbox rows published (acknowledged by the broker) and marked sent',
          labelNames: ['table'],
          registers,
        }),
    ),
    failures: sharedMetric(
      registry,
      'outbox_publish_failures_total',
      () =>
        new Counter({
          name: 'outbox_publish_failures_total',
          help: 'Outbox batches that failed (no PUBACK in time, no connection, database error) and will be retried',
          labelNames: ['table'],
          registers,
        }),
    ),
    dead: sharedMetric(
      registry,
      'outbox_dead_total',
      () =>
        new Counter({
          name: 'outbox_dead_total',
          help: 'Outbox rows set aside as never publishable, by reason',
          labelNames: ['table', 'reason'],
          registers,
        }),
    ),
    pending: sharedMetric(
      registry,
      'outbox_pending',
      () =>
        new Gauge({
          name: 'outbox_pending',
          help: 'Outbox rows waiting to be published, as last counted',
          labelNames: ['table'],
          registers,
        }),
    ),
  };
}

/**
 * Why a row can never be published (stable, safe to log and store), or how to publish it. The
 * broker checks the same contract: it closes the connection of a publisher on a topic it may not
 * use, and drops a payload that does not match its topic.
 */
function checkRow(
  service: MqttServiceName,
  row: OutboxRow,
  text: string,
): { problem: string } | { retain: boolean } {
  const parsed = parsePayload(row.topic, text);
  if (!parsed.ok) return { problem: parsed.reason };
  const { retain } = topics[parsed.name];
  if (!mayPublish({ kind: 'service', service }, row.topic, { retain })) {
    return { problem: 'not_allowed' };
  }
  return { retain };
}

/** Starts relaying: at once if the client is connected, else on its connection. */
export function startOutboxRelay({
  db,
  mqtt,
  log,
  metrics,
  service,
  table = 'outbox',
  batchSize = 100,
  pollIntervalMs = 1_000,
  publishTimeoutMs = 5_000,
  retry: { initialMs = 200, maxMs = 30_000 } = {},
  notifications,
}: OutboxRelayOptions): OutboxRelay {
  if (!tablePattern.test(table)) throw new Error(`not a table name: ${table}`);
  const counters = relayMetrics(metrics.registry);
  counters.published.inc({ table }, 0);
  counters.failures.inc({ table }, 0);

  const stats: OutboxRelayStats = {
    published: 0,
    failures: 0,
    dead: 0,
    pending: undefined,
    retrying: false,
  };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let wokenDuringPass = false;
  let failedInARow = 0;

  /**
   * Publishes the rows back to back, in id order (mqtt.js writes them in the order it is given
   * them), rather than each after the previous one's PUBACK: a batch costs about one round trip
   * to the broker, not one per row. Sent are the rows acknowledged before the first failure
   * in id order; the failed row and those behind it stay unsent (some of those may have reached
   * the broker: at least once). Once stopped, no further row goes out.
   */
  async function publishAll(
    rows: Array<{ row: OutboxRow; text: string; retain: boolean }>,
  ): Promise<{ sent: number[]; failure?: Failure }> {
    const outcomes: Array<Promise<unknown>> = [];
    for (const { row, text, retain } of rows) {
      if (stopped) break;
      outcomes.push(
        mqtt.connected
          ? publishWithin(mqtt, row.topic, text, { qos: 1, retain }, publishTimeoutMs)
          : Promise.reject(new Error('not connected to the broker')),
      );
      // Unhandled until awaited below, in order.
      outcomes.at(-1)!.catch(() => undefined);
    }
    const sent: number[] = [];
    for (const [index, outcome] of outcomes.entries()) {
      const { row } = rows[index]!;
      try {
        await outcome;
      } catch (error) {
        return { sent, failure: { error, outboxId: row.id, topic: row.topic } };
      }
      sent.push(row.id);
    }
    return { sent };
  }

  async function publishBatch(trx: Knex.Transaction): Promise<BatchOutcome> {
    const rows: OutboxRow[] = await trx(table)
      .select('id', 'topic', 'payload')
      .whereNull('sent_at')
      .whereNull('failed_at')
      .orderBy('id')
      .limit(batchSize)
      .forUpdate()
      .skipLocked();
    const dead: BatchOutcome['dead'] = [];
    const publishable: Array<{ row: OutboxRow; text: string; retain: boolean }> = [];
    for (const row of rows) {
      const text = JSON.stringify(row.payload);
      const checked = checkRow(service, row, text);
      if ('problem' in checked) dead.push({ row, problem: checked.problem });
      else publishable.push({ row, text, retain: checked.retain });
    }
    const { sent, failure } = await publishAll(publishable);
    // clock_timestamp(), not now(): the transaction began before the publishes.
    if (sent.length > 0) {
      await trx(table)
        .whereIn('id', sent)
        .update({ sent_at: trx.raw('clock_timestamp()') });
    }
    for (const { row, problem } of dead) {
      await trx(table)
        .where({ id: row.id })
        .update({ failed_at: trx.raw('clock_timestamp()'), failure_reason: problem });
    }
    return { claimed: rows.length, sent, dead, ...(failure ? { failure } : {}) };
  }

  async function relayOnce(): Promise<{ claimed: number; failure?: Failure }> {
    let outcome: BatchOutcome;
    try {
      outcome = await db.transaction(publishBatch);
    } catch (error) {
      return { claimed: 0, failure: { error } };
    }
    // Counted once committed: a row is sent when the database says so.
    stats.published += outcome.sent.length;
    counters.published.inc({ table }, outcome.sent.length);
    for (const { row, problem } of outcome.dead) {
      const reason = problem.split(':')[0]!;
      stats.dead++;
      counters.dead.inc({ table, reason });
      log.error(
        { table, outboxId: row.id, topic: row.topic, reason: problem },
        'outbox row can never be published; set aside as failed',
      );
    }
    return outcome;
  }

  /** Counts the rows waiting: once the relay is idle or backing off, not after every pass. */
  async function countPending(): Promise<void> {
    try {
      const [row] = await db(table)
        .whereNull('sent_at')
        .whereNull('failed_at')
        .count<Array<{ n: number | string }>>('* as n');
      stats.pending = Number(row?.n ?? 0);
      counters.pending.set({ table }, stats.pending);
    } catch {
      // The next pass counts again; a database outage shows in readiness and db metrics.
    }
  }

  function schedule(delayMs: number) {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(run, delayMs);
  }

  function backoffMs(): number {
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(failedInARow - 1, 30));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  function failed({ error, outboxId, topic }: Failure) {
    failedInARow++;
    stats.failures++;
    counters.failures.inc({ table });
    stats.retrying = true;
    const retryInMs = backoffMs();
    const { message, code } = error as { message?: string; code?: string };
    const entry = {
      table,
      outboxId,
      topic,
      err: { message, code },
      failedInARow,
      retryInMs,
    };
    if (failedInARow === 1) log.warn(entry, 'outbox relay failed; retrying with backoff');
    else log.debug(entry, 'outbox relay failed again');
    schedule(retryInMs);
  }

  function succeeded() {
    if (failedInARow > 0) log.info({ table, failedInARow }, 'outbox relay recovered');
    failedInARow = 0;
    stats.retrying = false;
  }

  async function relayUntilIdle(): Promise<void> {
    for (;;) {
      wokenDuringPass = false;
      const outcome = await relayOnce();
      if (stopped) return;
      if (outcome.failure) {
        await countPending();
        failed(outcome.failure);
        return;
      }
      succeeded();
      // A full batch means more may be waiting; a wake during the pass may have added rows.
      if (outcome.claimed < batchSize && !wokenDuringPass) {
        await countPending();
        // Rows that came while counting go out now, not at the next poll.
        if (wokenDuringPass && !stopped) continue;
        schedule(pollIntervalMs);
        return;
      }
    }
  }

  function run() {
    clearTimeout(timer);
    timer = undefined;
    if (stopped) return;
    if (running) {
      wokenDuringPass = true;
      return;
    }
    running = relayUntilIdle()
      .catch(function relayCrashed(error: unknown) {
        // relayOnce catches what it expects; anything else must not stop the relay for good.
        log.error({ err: error, table }, 'outbox relay pass crashed');
        schedule(maxMs);
      })
      .finally(function passEnded() {
        running = undefined;
      });
  }

  function wake() {
    if (stopped || stats.retrying) return;
    if (running) {
      wokenDuringPass = true;
      return;
    }
    run();
  }

  // Connected, or back after an outage: whatever waited may go through now, so look at once (the
  // backoff keeps growing if it fails again: a connection that flaps must not become a busy loop).
  function onMqttConnect() {
    if (stopped) return;
    stats.retrying = false;
    wake();
  }
  mqtt.on('connect', onMqttConnect);

  let feed: ChangeFeed | undefined;
  if (notifications) {
    feed = listenForChanges({
      url: notifications.url,
      channel: notifications.channel,
      log,
      ...(notifications.name ? { name: notifications.name } : {}),
      onChange: wake,
    });
  }

  // Not connected yet: the first connection wakes the relay (or the poll, if it never comes).
  if (mqtt.connected) run();
  else schedule(pollIntervalMs);

  return {
    wake,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      mqtt.off('connect', onMqttConnect);
      await feed?.close();
      await running;
    },
    stats,
  };
}
