-- The outbox of a service that publishes events (the kit's `defineOutbox`, services/common/README.md,
-- "Messaging"). Copy this file into the service's own folder as its next migration
-- (`sql/<service>/000N_outbox.sql`); it needs nothing else. sql/inventory's migrations end in
-- exactly this (a test compares them).
--
-- Events are written in the transaction that caused them (`outbox.insert(trx, …)`), so one exists
-- if and only if its change committed; every replica's relay publishes them at QoS 1 and marks them
-- sent once the broker acknowledged them.

create table outbox (
  id bigint generated always as identity primary key,
  topic text not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  -- A row the MQTT contract refuses (or a topic this service may not publish) would be retried
  -- forever and hold back every row after it: the relay sets it aside with the contract's reason
  -- (it names fields, never their values). Requeue one once the cause is fixed:
  --   update outbox set failed_at = null, failure_reason = null where id = ...;
  failed_at timestamptz,
  failure_reason text,
  constraint outbox_sent_or_failed check (sent_at is null or failed_at is null),
  constraint outbox_failure_has_reason check ((failed_at is null) = (failure_reason is null))
);

-- The relay's scan: rows neither sent nor set aside, in id order.
create index outbox_unsent_idx on outbox (id) where sent_at is null and failed_at is null;

-- Wakes every replica's relay when rows are queued. A statement trigger: one notification per
-- insert, which Postgres delivers only on commit (and folds with identical ones in a transaction),
-- so a relay never looks for a row before it is visible. Polling covers lost notifications.
create function notify_outbox_inserted() returns trigger
language plpgsql as $$
begin
  perform pg_notify('outbox_inserted', '');
  return null;
end;
$$;

create trigger outbox_notify_inserted
  after insert on outbox
  for each statement execute function notify_outbox_inserted();
