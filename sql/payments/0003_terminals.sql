-- Card-present payments at shops' terminals (services/payments/README.md, "Terminals"): the
-- conversation of each terminal (its requests, answered once), its reconciliation periods, and
-- the transactions each period totals.

-- A terminal payment is a payment like any other, with method `card_present` and its terminal.
-- One of a walk-in amount belongs to no order and no user; one of an order by its pay code has
-- both, so the order's own guards (one live payment per order) hold whichever way it is paid.
alter table payments
  alter column order_id drop not null,
  alter column user_id drop not null,
  add column terminal_id text check (terminal_id ~ '^[a-z0-9][a-z0-9-]{2,63}$'),
  drop constraint payments_method_check,
  add constraint payments_method_check check (method in ('card', 'card_present')),
  add constraint payments_terminal_is_card_present check (
    (method = 'card_present') = (terminal_id is not null)
  ),
  add constraint payments_online_has_order check (
    method = 'card_present' or (order_id is not null and user_id is not null)
  );

-- A reversal of a walk-in payment has no order either.
alter table refunds alter column order_id drop not null;

-- The audit names the terminal; a walk-in payment's events have no order.
alter table payment_events
  alter column order_id drop not null,
  add column terminal_id text,
  add constraint payment_events_order_or_terminal check (
    order_id is not null or terminal_id is not null
  ),
  drop constraint payment_events_type_check,
  add constraint payment_events_type_check check (type in (
    'intent_received', 'intent_cancelled', 'payment_started', 'payment_approved',
    'payment_declined', 'payment_refused', 'payment_refunded', 'refund_refused',
    'payment_aborted', 'period_closed'
  ));

create index payment_events_terminal_idx on payment_events (terminal_id, id)
  where terminal_id is not null;

-- The order's pay code, from its intent: how a terminal names the order it pays. Not unique here:
-- orders issues each once, and a code that matched two intents would be refused, never guessed.
alter table intents
  add column pay_code text check (pay_code ~ '^[0-9A-HJKMNP-TV-Z]{8}$');

create index intents_pay_code_idx on intents (pay_code) where pay_code is not null;

-- A terminal's reconciliation periods: one open per terminal, closed by the terminal (a shop's end
-- of day), the next opened at once. Every transaction belongs to the period open when it was
-- recorded.
create table terminal_periods (
  id uuid primary key,
  terminal_id text not null,
  opened_at timestamptz not null default now(),
  closed_at timestamptz,
  constraint terminal_periods_close_after_open check (closed_at is null or closed_at >= opened_at)
);

create unique index terminal_periods_one_open on terminal_periods (terminal_id)
  where closed_at is null;
create index terminal_periods_terminal_idx on terminal_periods (terminal_id, opened_at);

-- Each request a terminal sent, by the terminal's own request id (nexo's ServiceID, unique per
-- terminal over 48 hours): what it asked (a digest of the request without its card, to refuse a
-- request id reused for another request), where it stands, and the answer given, which a repeat
-- gets again. Status queries and totals are reads and are not kept.
create table terminal_requests (
  terminal_id text not null,
  request_id text not null check (length(request_id) between 1 and 100),
  -- The request's own id: the payment's request id is `terminal-{id}`.
  id uuid not null unique,
  kind text check (kind in ('payment', 'order_payment', 'abort', 'reversal', 'reconciliation')),
  digest text,
  state text not null check (state in ('in_progress', 'aborted', 'processed')),
  payment_id uuid references payments (id),
  refund_id text references refunds (id),
  result jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (terminal_id, request_id),
  constraint terminal_requests_processed_has_result check ((state = 'processed') = (result is not null))
);

-- What each period totals: a payment approved or declined, or a reversal, with its amount.
create table terminal_transactions (
  id uuid primary key,
  terminal_id text not null,
  period_id uuid not null references terminal_periods (id),
  kind text not null check (kind in ('payment', 'reversal')),
  outcome text not null check (outcome in ('approved', 'declined', 'reversed')),
  amount_minor bigint not null check (amount_minor > 0),
  currency text not null check (currency ~ '^[A-Z]{3}$'),
  transaction_id text,
  payment_id uuid not null references payments (id),
  order_id uuid,
  request_id text not null,
  reason text,
  card_brand text,
  card_last4 text check (card_last4 ~ '^[0-9]{4}$'),
  at timestamptz not null default now(),
  constraint terminal_transactions_kind_outcome check (
    (kind = 'reversal') = (outcome = 'reversed')
  )
);

create index terminal_transactions_period_idx on terminal_transactions (period_id);
create index terminal_transactions_terminal_idx on terminal_transactions (terminal_id, at);
