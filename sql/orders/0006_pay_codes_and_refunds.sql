-- Pay codes (an order paid at a shop's terminal) and refunds of paid orders
-- (services/orders/README.md, "Refunds").

-- The code the shopper shows at a shop's terminal: 8 characters of Crockford's base32, issued once.
-- An order placed before pay codes has none.
alter table orders add column pay_code text check (pay_code ~ '^[0-9A-HJKMNP-TV-Z]{8}$');
create unique index orders_pay_code_key on orders (pay_code) where pay_code is not null;

-- What was given back of the order's payment, in minor units; never more than it cost.
alter table orders
  add column refunded_minor bigint not null default 0,
  add constraint orders_refund_within_total check (refunded_minor between 0 and total_minor),
  drop constraint orders_status_check,
  add constraint orders_status_check check (status in (
    'awaiting_payment', 'payment_failed', 'paid', 'shipped', 'delivered', 'cancelled', 'expired',
    'partially_refunded', 'refunded'
  )),
  drop constraint orders_paid_by_a_payment,
  add constraint orders_paid_by_a_payment check (
    (status in ('paid', 'shipped', 'delivered', 'partially_refunded', 'refunded'))
      = (payment_id is not null)
  ),
  add constraint orders_refunded_in_full check ((status = 'refunded') = (refunded_minor = total_minor));

-- A paid order may be refunded in part or in full, before or after it ships; a partly refunded one
-- is still shipped and delivered (the rest of it), and may be refunded the rest.
insert into order_transitions (from_status, to_status) values
  ('paid', 'partially_refunded'),
  ('paid', 'refunded'),
  ('shipped', 'partially_refunded'),
  ('shipped', 'refunded'),
  ('delivered', 'partially_refunded'),
  ('delivered', 'refunded'),
  ('partially_refunded', 'shipped'),
  ('partially_refunded', 'delivered'),
  ('partially_refunded', 'refunded');

-- Refunds: besides the voids orders asks for (one per payment approved for an order that could no
-- longer take it), the refunds an admin or the seller asks for (several per payment, each within
-- what is left), and reversals a shop's terminal made (learnt from payments' result).
alter table refunds
  drop constraint refunds_payment_id_key,
  add column kind text not null default 'void' check (kind in ('void', 'refund', 'reversal')),
  add column status text not null default 'pending'
    check (status in ('pending', 'succeeded', 'failed')),
  -- `user:{id}` for a refund asked for, `service:payments` for a reversal, `system:orders` a void.
  add column requested_by text not null default 'system:orders',
  -- The lines to put back in stock once the refund succeeds: [{ productId, quantity }].
  add column restock jsonb not null default '[]',
  add column restocked_at timestamptz,
  add column failure_reason text,
  add column settled_at timestamptz;

create unique index refunds_one_void_per_payment on refunds (payment_id) where kind = 'void';
