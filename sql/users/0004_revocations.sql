-- Revocation: an account disabled or stripped of a role has its access tokens refused everywhere
-- within a second, not when they expire; a deleted terminal or a rotated secret likewise. The
-- users service announces each change on MQTT (`users/revocations`) through the outbox below.

-- Access tokens issued to the account at or before this instant (their `iat`, to the millisecond)
-- are refused by the gateway and the broker. Set when the account is disabled or loses a role;
-- the gateway and the broker fetch the recent ones when they start or reconnect.
alter table users add column tokens_revoked_before timestamptz(3);

create index users_tokens_revoked_before_idx on users (tokens_revoked_before)
  where tokens_revoked_before is not null;

-- Events to publish, written in the transaction that caused them; the kit's outbox relay
-- (services/common/src/mqtt/outbox-relay.ts) publishes and marks them. The same shape as
-- inventory's: a row that can never be published is set aside with the contract's reason
-- (to requeue it: update outbox set failed_at = null, failure_reason = null where id = ...).
create table outbox (
  id bigint generated always as identity primary key,
  topic text not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  failed_at timestamptz,
  failure_reason text,
  constraint outbox_sent_or_failed check (sent_at is null or failed_at is null),
  constraint outbox_failure_has_reason check ((failed_at is null) = (failure_reason is null))
);

create index outbox_unsent_idx on outbox (id) where sent_at is null and failed_at is null;

-- Wakes every replica's relay when rows are queued (delivered on commit, one per statement), so
-- a revocation is published at once rather than at the next poll.
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
