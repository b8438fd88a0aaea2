-- Stock per product per region, its append-only ledger, reservations with expiry, and the outbox
-- of the inventory service. The service checks everything here too; these constraints are the last
-- guard, so no code path (or hand-written SQL) can oversell or let the ledger drift.

-- Per product: who sells it (cached from the products service at each stock change, so listings
-- and events need no call) and when its stock counts as low.
create table product_settings (
  product_id uuid primary key,
  seller_id uuid not null,
  low_stock_threshold integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint product_settings_threshold_non_negative check (low_stock_threshold >= 0)
);

create index product_settings_seller_idx on product_settings (seller_id, product_id);

-- One row per product and region. available = on_hand - reserved can never go below zero: the
-- database refuses it whatever the application does.
create table stock (
  product_id uuid not null references product_settings (product_id),
  region text not null,
  on_hand integer not null default 0,
  reserved integer not null default 0,
  available integer generated always as (on_hand - reserved) stored,
  updated_at timestamptz not null default now(),
  primary key (product_id, region),
  constraint stock_region_format check (region ~ '^[a-z][a-z0-9-]{0,31}$'),
  constraint stock_on_hand_non_negative check (on_hand >= 0),
  constraint stock_reserved_non_negative check (reserved >= 0),
  constraint stock_reserved_within_on_hand check (reserved <= on_hand)
);

-- Every change of on_hand, forever. `on_hand_after` is filled in by the database (the previous
-- movement's value plus delta), so the ledger is a running sum that cannot be miscomputed, and
-- sum(delta) = on_hand for every (product, region).
create table stock_movements (
  id bigint generated always as identity primary key,
  product_id uuid not null,
  region text not null,
  delta integer not null,
  on_hand_after integer not null default 0,
  kind text not null,
  reason text not null,
  -- `user:{id}` or `service:{name}`.
  actor text not null,
  order_id text,
  created_at timestamptz not null default now(),
  foreign key (product_id, region) references stock (product_id, region),
  constraint stock_movements_kind_known check (kind in ('set', 'adjust', 'commit')),
  -- A set may confirm the count it found (delta 0); anything else moves stock.
  constraint stock_movements_delta_moves check (delta <> 0 or kind = 'set'),
  constraint stock_movements_reason_length check (length(reason) between 1 and 200),
  constraint stock_movements_commit_has_order check ((kind = 'commit') = (order_id is not null))
);

create index stock_movements_key_idx on stock_movements (product_id, region, id);

create function stock_movements_fill_on_hand_after() returns trigger
language plpgsql as $$
declare
  previous integer;
begin
  -- The writer holds the stock row's lock (it changed on_hand first), so the previous movement is
  -- committed and no other movement for this key can appear meanwhile.
  select m.on_hand_after into previous
    from stock_movements m
   where m.product_id = new.product_id and m.region = new.region
   order by m.id desc
   limit 1;
  new.on_hand_after := coalesce(previous, 0) + new.delta;
  return new;
end;
$$;

create trigger stock_movements_fill_on_hand_after
  before insert on stock_movements
  for each row execute function stock_movements_fill_on_hand_after();

create function stock_movements_append_only() returns trigger
language plpgsql as $$
begin
  raise exception 'stock_movements is append-only; % is not allowed', tg_op
    using errcode = 'restrict_violation';
end;
$$;

create trigger stock_movements_no_update_or_delete
  before update or delete on stock_movements
  for each row execute function stock_movements_append_only();

create trigger stock_movements_no_truncate
  before truncate on stock_movements
  for each statement execute function stock_movements_append_only();

-- At commit, on_hand must equal the ledger's running sum: on_hand never changes without a
-- movement, and no movement is written without changing on_hand, in the same transaction.
create function stock_check_ledger() returns trigger
language plpgsql as $$
declare
  current_on_hand integer;
  ledger_on_hand integer;
begin
  -- Nested: PL/pgSQL resolves every field of a condition, and a movement has no old row.
  if tg_table_name = 'stock' and tg_op = 'UPDATE' then
    if new.on_hand = old.on_hand then
      return null;
    end if;
  end if;
  select s.on_hand into current_on_hand
    from stock s
   where s.product_id = new.product_id and s.region = new.region;
  select m.on_hand_after into ledger_on_hand
    from stock_movements m
   where m.product_id = new.product_id and m.region = new.region
   order by m.id desc
   limit 1;
  if coalesce(current_on_hand, 0) <> coalesce(ledger_on_hand, 0) then
    raise exception 'on_hand of % in % is %, its ledger says %',
      new.product_id, new.region, coalesce(current_on_hand, 0), coalesce(ledger_on_hand, 0)
      using errcode = 'integrity_constraint_violation', constraint = 'stock_on_hand_matches_ledger';
  end if;
  return null;
end;
$$;

create constraint trigger stock_on_hand_matches_ledger
  after insert or update of on_hand on stock
  deferrable initially deferred
  for each row execute function stock_check_ledger();

create constraint trigger stock_movements_match_stock
  after insert on stock_movements
  deferrable initially deferred
  for each row execute function stock_check_ledger();

-- A hold on stock for one order, in one region, until it is committed (paid), released
-- (cancelled) or expired (by the sweeper).
create table reservations (
  order_id text primary key,
  region text not null,
  status text not null default 'active',
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint reservations_order_id_format check (order_id ~ '^[A-Za-z0-9._:-]{1,100}$'),
  constraint reservations_region_format check (region ~ '^[a-z][a-z0-9-]{0,31}$'),
  constraint reservations_status_known check (
    status in ('active', 'committed', 'released', 'expired')
  )
);

-- The sweeper's scan: only active holds, oldest deadline first.
create index reservations_active_expiry_idx on reservations (expires_at) where status = 'active';

create table reservation_lines (
  order_id text not null references reservations (order_id),
  product_id uuid not null references product_settings (product_id),
  quantity integer not null,
  primary key (order_id, product_id),
  constraint reservation_lines_quantity_positive check (quantity > 0)
);

-- Events to publish, written in the transaction that caused them; a relay publishes and marks them.
create table outbox (
  id bigint generated always as identity primary key,
  topic text not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  sent_at timestamptz
);

create index outbox_unsent_idx on outbox (id) where sent_at is null;
