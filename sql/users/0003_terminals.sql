-- The payment-terminal registry. A terminal connects to the MQTT broker with username
-- `terminal:{id}`, client id `terminal-{id}` and its secret; the broker asks this service whether
-- the pair is valid (POST /internal/terminals/verify).

create table terminals (
  -- Chosen by the admin (a slug such as `madrid-centro-2`) or generated (`term-` and 16 hex
  -- digits). Lower case only: topics are case-sensitive, so `Shop-1` and `shop-1` would be two
  -- terminals that read as one. The id is one topic level and part of the client id, so it never
  -- holds `/`, `+` or `#`, and stays within the broker's 64 characters.
  id text primary key,
  name text not null,
  -- Where it stands (shop, till); free text for people.
  location text,
  -- SHA-256 of the secret. The secret is 32 random bytes, so a fast hash is right: there is no
  -- dictionary to slow down, and the broker's verification stays cheap.
  secret_hash bytea not null,
  secret_rotated_at timestamptz(3) not null default now(),
  created_at timestamptz(3) not null default now(),
  created_by uuid not null references users (id),
  -- Deleting is a soft delete and the row is kept forever, so an id is never reused: a new
  -- terminal under an old id would inherit the old one's persistent MQTT session (results queued
  -- for it) and its retained status on the broker.
  deleted_at timestamptz(3),
  deleted_by uuid references users (id),
  constraint terminals_id_format check (id ~ '^[a-z0-9][a-z0-9-]{2,63}$'),
  constraint terminals_name_length check (length(name) between 1 and 100),
  constraint terminals_location_length check (length(location) between 1 and 200),
  constraint terminals_secret_hash_length check (octet_length(secret_hash) = 32),
  constraint terminals_deleted_by_admin check ((deleted_at is null) = (deleted_by is null))
);

-- The admin listing pages through live terminals in id order on the primary key's index; deleted
-- rows are few, so filtering them out there needs no index of its own.
