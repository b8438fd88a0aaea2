-- The catalog: a category tree and the products sellers list in it.
--
-- Timestamps are timestamptz(3): millisecond precision is what a JavaScript Date holds, so a
-- keyset cursor that carries created_at round-trips exactly (with microseconds it would skip rows).

create table categories (
  id uuid primary key default gen_random_uuid(),
  parent_id uuid references categories (id) on delete restrict,
  slug text not null,
  name text not null,
  created_at timestamptz(3) not null default now(),
  constraint categories_slug_key unique (slug),
  constraint categories_slug_format check (
    slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(slug) <= 100
  ),
  constraint categories_name_length check (length(name) between 1 and 100),
  constraint categories_not_own_parent check (parent_id is distinct from id)
);

-- Walking the tree downwards (subcategory filter, "has children?" on delete).
create index categories_parent_idx on categories (parent_id);

create table products (
  id uuid primary key default gen_random_uuid(),
  -- A user id from the users service (another database: no foreign key).
  seller_id uuid not null,
  sku text not null,
  name text not null,
  description text not null default '',
  -- Money is integer minor units plus an ISO 4217 code (docs/architecture.md).
  price_minor bigint not null,
  currency char(3) not null,
  category_id uuid references categories (id) on delete restrict,
  image_urls text[] not null default '{}',
  attributes jsonb not null default '{}',
  active boolean not null default true,
  created_at timestamptz(3) not null default now(),
  updated_at timestamptz(3) not null default now(),
  -- The 'simple' configuration lower-cases without stemming or stop words, so Spanish and English
  -- text are both found word for word (and by prefix), in any mix.
  search tsvector generated always as (
    setweight(to_tsvector('simple', name), 'A') || setweight(to_tsvector('simple', description), 'B')
  ) stored,
  constraint products_seller_sku_key unique (seller_id, sku),
  constraint products_sku_format check (sku ~ '^[A-Za-z0-9._-]{1,64}$'),
  constraint products_name_length check (length(name) between 1 and 200),
  constraint products_description_length check (length(description) <= 5000),
  constraint products_price_positive check (price_minor > 0 and price_minor <= 100000000000),
  constraint products_currency_format check (currency ~ '^[A-Z]{3}$'),
  constraint products_image_urls_count check (cardinality(image_urls) <= 10),
  constraint products_attributes_object check (jsonb_typeof(attributes) = 'object')
);

-- Public listings only ever show active products, so the listing indexes are partial: smaller, and
-- each one serves a keyset sort directly (a btree is read backwards just as well).
--   newest:               order by created_at desc, id desc
create index products_active_newest_idx on products (created_at desc, id desc) where active;
--   price_asc/price_desc: order by price_minor, id (either direction); also the price range filter
create index products_active_price_idx on products (price_minor, id) where active;
--   seller filter, newest first
create index products_active_seller_idx on products (seller_id, created_at desc, id desc) where active;
--   full-text search (relevance ranking reads the same column). fastupdate off: a catalog is read
--   far more than written, and GIN's pending list would otherwise be scanned by every search until
--   the next vacuum (measured: 5 ms instead of 2 ms for a broad prefix over 20,000 products).
create index products_active_search_idx on products using gin (search) with (fastupdate = off)
  where active;
-- Category filter, and "is this category still used?" (every product, active or not: the foreign
-- key restricts deletes on all of them).
create index products_category_idx on products (category_id);
