-- Every replica keeps rendered public reads (listings, details, the category tree) in memory until
-- the catalog changes. Any committed change to products or categories, by any writer (a service
-- replica, a migration, an operator's psql), notifies channel `catalog_changed`; Postgres delivers
-- notifications only on commit, and folds identical ones within a transaction into one.

create function notify_catalog_changed() returns trigger
language plpgsql as $$
begin
  perform pg_notify('catalog_changed', tg_table_name);
  return null;
end;
$$;

create trigger products_notify_catalog_changed
  after insert or update or delete or truncate on products
  for each statement execute function notify_catalog_changed();

create trigger categories_notify_catalog_changed
  after insert or update or delete or truncate on categories
  for each statement execute function notify_catalog_changed();
