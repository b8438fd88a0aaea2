-- Whether a request still runs under a key is a session advisory lock of the replica running it,
-- released by Postgres the moment that replica dies (services/orders/README.md, "Idempotency").
-- `claim` fences the row: a token drawn by each request that takes the key, so only the request
-- holding it now may keep an answer; one taken over (its lock lost with its session) writes
-- nothing. Null while nobody holds the key. `locked_at` now only says since when it is held.
alter table idempotency_keys add column claim uuid;
