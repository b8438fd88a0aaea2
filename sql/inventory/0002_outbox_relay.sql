-- What the outbox relay (services/common/src/mqtt/outbox-relay.ts) needs of the outbox: a
-- notification when rows are queued, and a place for rows that can never be published.

-- A row whose topic or payload the MQTT contract refuses (or a topic this service may not publish
-- to) would be retried forever and hold back every row after it: the relay sets it aside with the
-- contract's reason instead (it names fields, never their values). To requeue one once the cause
-- is fixed: update outbox set failed_at = null, failure_reason = null where id = ...;
alter table outbox
  add column failed_at timestamptz,
  add column failure_reason text,
  add constraint outbox_sent_or_failed check (sent_at is null or failed_at is null),
  add constraint outbox_failure_has_reason check ((failed_at is null) = (failure_reason is null));

-- The relay's scan: rows neither sent nor set aside, in id order.
drop index outbox_unsent_idx;
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
