-- A refund still pending is asked of payments again now and then (services/orders/README.md,
-- "Refunds"): the request may have been lost on its way (payments unreachable, no replica
-- subscribed), and payments, idempotent by refund id, refunds once whatever it hears.
alter table refunds add column asked_at timestamptz;

create index refunds_pending_idx on refunds (coalesce(asked_at, requested_at))
  where status = 'pending';
