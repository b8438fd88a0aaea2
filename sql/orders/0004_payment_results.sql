-- What payments told orders, applied exactly once.

-- The inbox: the id of every payment result applied. A result delivered again (QoS 1 at least
-- once, a broker cluster's duplicates, payments' outbox resending) finds its id here and changes
-- nothing.
create table inbox (
  event_id uuid primary key,
  topic text not null,
  received_at timestamptz not null default now()
);

-- Every payment result for an order: approved, declined, refused (payments did not try) and
-- refunded. Of the card, its brand and last four only.
create table payment_attempts (
  event_id uuid primary key references inbox (event_id),
  order_id uuid not null references orders (id),
  outcome text not null check (outcome in ('approved', 'declined', 'refused', 'refunded')),
  payment_id uuid,
  request_id text not null,
  amount_minor bigint,
  currency char(3),
  reason text check (reason ~ '^[a-z][a-z0-9_]{0,63}$'),
  card_brand text,
  card_last4 char(4) check (card_last4 ~ '^[0-9]{4}$'),
  at timestamptz not null
);

create index payment_attempts_order_idx on payment_attempts (order_id, at, event_id);

-- Payments orders asked payments to give back: one per payment (the refund id makes payments'
-- side idempotent too).
create table refunds (
  refund_id uuid primary key,
  order_id uuid not null references orders (id),
  payment_id uuid not null unique,
  amount_minor bigint not null check (amount_minor > 0),
  reason text not null check (reason ~ '^[a-z][a-z0-9_]{0,63}$'),
  requested_at timestamptz not null default now()
);

create index refunds_order_idx on refunds (order_id);
