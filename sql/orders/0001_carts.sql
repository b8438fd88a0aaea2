-- The orders service's carts: one per signed-in user, or a guest's, found by its cart token.

create table carts (
  id uuid primary key default gen_random_uuid(),
  -- A signed-in shopper's cart: one per user.
  user_id uuid unique,
  -- A guest's cart: the SHA-256 of its token. The token itself is shown to the guest once, on the
  -- first add, and never stored, so the table cannot be read into anyone's cart.
  token_hash bytea unique check (octet_length(token_hash) = 32),
  -- Where its stock is checked and from where it ships (one of the shop's REGIONS).
  region text not null check (region ~ '^[a-z][a-z0-9-]{0,31}$'),
  -- One currency per cart: its lines' (null while it is empty).
  currency char(3) check (currency ~ '^[A-Z]{3}$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint carts_owned_once check ((user_id is null) <> (token_hash is null))
);

create table cart_lines (
  cart_id uuid not null references carts (id) on delete cascade,
  product_id uuid not null,
  quantity integer not null check (quantity between 1 and 10000),
  -- The price when the line was last checked, in minor units of the cart's currency; every read
  -- refreshes it from the catalog.
  unit_price_minor bigint not null check (unit_price_minor >= 0),
  added_at timestamptz not null default now(),
  primary key (cart_id, product_id)
);

-- Guest carts left behind are deleted after GUEST_CART_TTL_DAYS without a change.
create index carts_guest_updated_idx on carts (updated_at) where token_hash is not null;
