-- Units of a paid order put back in stock when the order is refunded (services/inventory/README.md,
-- "Reservations"): each restock once, by the id orders gives it (its refund's), and never more
-- units than the order took.

alter table stock_movements
  drop constraint stock_movements_kind_known,
  add constraint stock_movements_kind_known check (kind in ('set', 'adjust', 'commit', 'restock')),
  drop constraint stock_movements_commit_has_order,
  add constraint stock_movements_commit_has_order check (
    (kind in ('commit', 'restock')) = (order_id is not null)
  );

create table restocks (
  id uuid primary key,
  order_id text not null references reservations (order_id),
  -- [{ "productId": "…", "quantity": 2 }]
  lines jsonb not null,
  created_at timestamptz not null default now()
);

create index restocks_order_idx on restocks (order_id);
