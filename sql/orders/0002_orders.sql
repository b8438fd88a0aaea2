-- Orders: what a checkout turned a cart into, the state machine it moves through (enforced here,
-- whatever the code does), and the history of every move.

create table orders (
  id uuid primary key,
  user_id uuid not null,
  status text not null default 'awaiting_payment' check (
    status in ('awaiting_payment', 'payment_failed', 'paid', 'shipped', 'delivered', 'cancelled', 'expired')
  ),
  region text not null check (region ~ '^[a-z][a-z0-9-]{0,31}$'),
  currency char(3) not null check (currency ~ '^[A-Z]{3}$'),
  -- The sum of the lines, from the catalog's prices at checkout: what payments is told is owed.
  total_minor bigint not null check (total_minor > 0),
  item_count integer not null check (item_count > 0),
  shipping_address jsonb not null,
  -- Pay by: the payment intent's expiresAt.
  deadline timestamptz not null,
  -- When an unpaid order expires: the deadline plus a grace for results still on their way.
  expires_at timestamptz not null check (expires_at >= deadline),
  -- Inventory's reservation, as far as orders has told inventory: held until the order is paid
  -- (committed) or can no longer be (released); the sweeper finishes what a call left undone.
  reservation text not null default 'held' check (reservation in ('held', 'committed', 'released', 'lost')),
  -- The payment that paid it.
  payment_id uuid,
  -- The processor's reason for the last declined payment.
  failure_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint orders_paid_by_a_payment check (
    (status in ('paid', 'shipped', 'delivered')) = (payment_id is not null)
  )
);

create index orders_user_listing_idx on orders (user_id, created_at desc, id desc);
create index orders_listing_idx on orders (created_at desc, id desc);
-- The sweeper's scans: unpaid orders by when they expire, reservations left to settle.
create index orders_unpaid_idx on orders (expires_at) where status in ('awaiting_payment', 'payment_failed');
create index orders_unsettled_idx on orders (id)
  where reservation = 'held' and status not in ('awaiting_payment', 'payment_failed');

create table order_lines (
  order_id uuid not null references orders (id),
  product_id uuid not null,
  seller_id uuid not null,
  name text not null,
  sku text not null,
  unit_price_minor bigint not null check (unit_price_minor >= 0),
  quantity integer not null check (quantity between 1 and 10000),
  line_total_minor bigint generated always as (unit_price_minor * quantity) stored,
  primary key (order_id, product_id)
);

create index order_lines_seller_idx on order_lines (seller_id);

-- The state machine: the only moves an order's status can make. A move not listed here is refused
-- by the trigger below, from the service or from anyone's SQL.
create table order_transitions (
  from_status text not null,
  to_status text not null,
  primary key (from_status, to_status)
);

insert into order_transitions (from_status, to_status) values
  ('awaiting_payment', 'paid'),
  ('awaiting_payment', 'payment_failed'),
  ('awaiting_payment', 'cancelled'),
  ('awaiting_payment', 'expired'),
  ('payment_failed', 'paid'),
  ('payment_failed', 'cancelled'),
  ('payment_failed', 'expired'),
  ('paid', 'shipped'),
  ('shipped', 'delivered');

-- Every move of every order, and notes on an order that do not move it (from = to: a refund
-- requested or made). Append-only.
create table order_history (
  id bigint generated always as identity primary key,
  order_id uuid not null references orders (id),
  from_status text,
  to_status text not null,
  cause text not null check (cause <> ''),
  actor text not null check (actor <> ''),
  at timestamptz not null default now()
);

create index order_history_order_idx on order_history (order_id, id);

create function order_history_append_only() returns trigger
language plpgsql as $$
begin
  raise exception 'order_history is append-only' using errcode = 'check_violation';
end;
$$;

create trigger order_history_no_change
  before update or delete on order_history
  for each row execute function order_history_append_only();

create trigger order_history_no_truncate
  before truncate on order_history
  for each statement execute function order_history_append_only();

-- Who moved an order and why, set in the moving transaction (set_config(..., true)) by the
-- service; a move without them is refused, so no move escapes the history.
create function order_move_context(out cause text, out actor text)
language plpgsql as $$
begin
  cause := nullif(current_setting('mercado.order_cause', true), '');
  actor := nullif(current_setting('mercado.order_actor', true), '');
  if cause is null or actor is null then
    raise exception 'an order''s status changes only with mercado.order_cause and mercado.order_actor set'
      using errcode = 'check_violation';
  end if;
end;
$$;

create function orders_status_guard() returns trigger
language plpgsql as $$
declare
  context record;
begin
  if tg_op = 'INSERT' then
    if new.status <> 'awaiting_payment' then
      raise exception 'an order starts awaiting_payment, not %', new.status
        using errcode = 'check_violation', constraint = 'order_transitions';
    end if;
    context := order_move_context();
    insert into order_history (order_id, from_status, to_status, cause, actor)
      values (new.id, null, new.status, context.cause, context.actor);
    return new;
  end if;
  if new.status is distinct from old.status then
    if not exists (
      select 1 from order_transitions where from_status = old.status and to_status = new.status
    ) then
      raise exception 'order % cannot move from % to %', old.id, old.status, new.status
        using errcode = 'check_violation', constraint = 'order_transitions';
    end if;
    context := order_move_context();
    insert into order_history (order_id, from_status, to_status, cause, actor)
      values (new.id, old.status, new.status, context.cause, context.actor);
  end if;
  return new;
end;
$$;

-- After the row is written (its history row references it); raising still undoes the change.
create trigger orders_status_moves
  after insert or update of status on orders
  for each row execute function orders_status_guard();

-- Stripe's Idempotency-Key contract for checkouts, per user: the first answer is kept (errors
-- included, once processing started) and given again; the same key with another body is refused.
create table idempotency_keys (
  user_id uuid not null,
  key text not null check (char_length(key) between 1 and 255),
  -- SHA-256 of the request body as parsed.
  request_hash bytea not null check (octet_length(request_hash) = 32),
  -- The order this key creates: a retry after a failure that left no answer reuses it, so
  -- inventory's reservation (idempotent per order) is the same one.
  order_id uuid not null,
  -- Set while a request with this key is being processed.
  locked_at timestamptz,
  response_status integer,
  response_body jsonb,
  created_at timestamptz not null default now(),
  primary key (user_id, key),
  constraint idempotency_keys_answered check ((response_status is null) = (response_body is null))
);

create index idempotency_keys_created_idx on idempotency_keys (created_at);
