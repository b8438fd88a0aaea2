-- Every replica keeps the rendered stock of a product (GET /api/inventory/{productId}) in memory
-- until that product's stock changes. Any committed change to a product's stock rows or settings,
-- by any writer (a replica's stock change, reservation, commit, release or sweep; a migration; an
-- operator's psql), notifies channel `stock_changed` with the product id. Postgres delivers
-- notifications on commit only, and folds identical ones of a transaction into one, so a
-- reservation of many lines sends one notification per product. A truncate notifies with an
-- empty payload: every product at once.

create function notify_stock_changed() returns trigger
language plpgsql as $$
begin
  if tg_op = 'DELETE' then
    perform pg_notify('stock_changed', old.product_id::text);
  else
    perform pg_notify('stock_changed', new.product_id::text);
  end if;
  return null;
end;
$$;

create function notify_all_stock_changed() returns trigger
language plpgsql as $$
begin
  perform pg_notify('stock_changed', '');
  return null;
end;
$$;

create trigger stock_notify_stock_changed
  after insert or update or delete on stock
  for each row execute function notify_stock_changed();

create trigger product_settings_notify_stock_changed
  after insert or update or delete on product_settings
  for each row execute function notify_stock_changed();

create trigger stock_truncate_notify_stock_changed
  after truncate on stock
  for each statement execute function notify_all_stock_changed();

create trigger product_settings_truncate_notify_stock_changed
  after truncate on product_settings
  for each statement execute function notify_all_stock_changed();
