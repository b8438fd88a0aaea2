-- Accounts, refresh-token families and login throttling for the users service.

create table users (
  id uuid primary key default gen_random_uuid(),
  -- Normalised (NFKC, trimmed, lower case) by the service before it gets here.
  email text not null,
  name text not null,
  password_hash text not null,
  roles text[] not null default '{customer}',
  disabled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint users_email_key unique (email),
  constraint users_email_normalised check (email = lower(btrim(email)) and length(email) between 3 and 254),
  constraint users_roles_known check (
    cardinality(roles) > 0 and roles <@ array['customer', 'seller', 'admin', 'terminal']::text[]
  )
);

-- Keyset pagination for the admin listing (newest first).
create index users_created_at_id_idx on users (created_at desc, id desc);

-- One row per refresh token ever issued. A family is one sign-in; each refresh rotates the token
-- within its family. Only a SHA-256 of the token is stored.
create table refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  family_id uuid not null,
  user_id uuid not null references users (id) on delete cascade,
  token_hash bytea not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now(),
  constraint refresh_tokens_token_hash_key unique (token_hash)
);

create index refresh_tokens_family_idx on refresh_tokens (family_id);
create index refresh_tokens_user_idx on refresh_tokens (user_id) where revoked_at is null;

-- Failed-login counters per account and per client address, shared by every replica.
create table login_throttle (
  key text primary key,
  failures integer not null,
  window_started_at timestamptz not null,
  locked_until timestamptz
);
