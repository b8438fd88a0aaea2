-- Reconciling unpaid orders against payments (services/orders/README.md, "Expiry and
-- reconciliation"). When orders last asked payments about an unpaid order: the sweeper asks about
-- each unpaid order at most once per PAYMENT_CHECK_INTERVAL_SECONDS, and about one past its
-- expiry (to have it closed) as soon as it is due. Replicas claim orders to ask about with SKIP
-- LOCKED and stamp them here, so two never ask about one order at once.
alter table orders add column payment_checked_at timestamptz;
