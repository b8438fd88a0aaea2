-- The payments service's database: what orders owe (intents), each attempt to charge a card
-- (payments), the money given back (refunds) and the append-only audit of every event. No column
-- ever holds a card number or a CVC: brand, last four and a keyed fingerprint are all that is kept.

-- What an order owes, from `payments/intents`. A cancellation may arrive before its intent (QoS 1
-- messages are not ordered across a broker cluster): the row then exists with only the
-- cancellation, and the intent that arrives later fills in the rest but cannot revive it.
create table intents (
  order_id uuid primary key,
  user_id uuid,
  amount_minor bigint check (amount_minor > 0),
  currency text check (currency ~ '^[A-Z]{3}$'),
  expires_at timestamptz,
  cancelled_reason text check (cancelled_reason in ('cancelled', 'expired')),
  cancelled_at timestamptz,
  created_at timestamptz not null default now(),
  constraint intents_owed_or_cancelled check (
    (user_id is not null and amount_minor is not null and currency is not null
      and expires_at is not null)
    or cancelled_reason is not null
  ),
  constraint intents_cancel_complete check ((cancelled_reason is null) = (cancelled_at is null))
);

-- One row per payment request that was tried: (order, request id) is its idempotency key. A card
-- payment arrives with its card, so it starts `processing`; `requires_payment` is a payment
-- created before a card is presented (a terminal's, next).
create table payments (
  id uuid primary key,
  order_id uuid not null,
  request_id text not null check (length(request_id) between 1 and 100),
  user_id uuid not null,
  amount_minor bigint not null check (amount_minor > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  status text not null default 'requires_payment'
    check (status in ('requires_payment', 'processing', 'succeeded', 'failed', 'refunded')),
  method text not null default 'card' check (method = 'card'),
  card_brand text not null,
  card_last4 text not null check (card_last4 ~ '^[0-9]{4}$'),
  card_fingerprint text not null check (card_fingerprint ~ '^[0-9a-f]{64}$'),
  decline_code text,
  transaction_id text unique,
  refunded_minor bigint not null default 0,
  -- The result published for this request (brand and last four of the card, never more): a
  -- repeat of the request republishes this very event, which consumers already deduplicate.
  result jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint payments_request_once unique (order_id, request_id),
  constraint payments_refund_within_capture check (refunded_minor between 0 and amount_minor),
  constraint payments_declined_has_code check ((status = 'failed') = (decline_code is not null)),
  constraint payments_captured_has_transaction check (
    status not in ('succeeded', 'refunded') or transaction_id is not null
  )
);

-- The last guard against charging an order twice: at most one payment per order is being
-- processed or has succeeded (a refunded payment was a success too). A second request for the
-- order fails here, whatever the replicas and deliveries: payment_in_progress, order_already_paid.
create unique index payments_one_live_per_order on payments (order_id)
  where status in ('processing', 'succeeded', 'refunded');

create index payments_order_idx on payments (order_id, created_at);

-- Money given back on a payment, from `payments/refunds` (refund id = its idempotency key) or
-- voided by payments itself when the order was cancelled or expired after the approval.
create table refunds (
  id text primary key check (length(id) between 1 and 100),
  payment_id uuid not null references payments (id),
  order_id uuid not null,
  amount_minor bigint not null check (amount_minor > 0),
  reason text not null,
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  transaction_id text unique,
  -- The result published for this refund, republished as is when the refund is asked again.
  result jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index refunds_payment_idx on refunds (payment_id);

-- The audit log: every event of every payment, appended, never changed.
create table payment_events (
  id bigint generated always as identity primary key,
  type text not null check (type in (
    'intent_received', 'intent_cancelled', 'payment_started', 'payment_approved',
    'payment_declined', 'payment_refused', 'payment_refunded', 'refund_refused'
  )),
  order_id uuid not null,
  payment_id uuid,
  request_id text,
  amount_minor bigint,
  currency text,
  reason text,
  at timestamptz not null default now()
);

create index payment_events_order_idx on payment_events (order_id, id);
create index payment_events_payment_idx on payment_events (payment_id, id) where payment_id is not null;

-- Append-only, whoever connects: the service's own role included.
create function refuse_payment_events_change() returns trigger
language plpgsql as $$
begin
  raise exception 'payment_events is append-only: % refused', tg_op
    using errcode = 'insufficient_privilege';
end;
$$;

create trigger payment_events_append_only
  before update or delete on payment_events
  for each row execute function refuse_payment_events_change();

create trigger payment_events_no_truncate
  before truncate on payment_events
  for each statement execute function refuse_payment_events_change();
