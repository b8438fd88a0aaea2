-- A read model of payments' terminal transactions, heard on `payments/terminal-transactions`
-- (`terminal.transaction_recorded`), for the admin's list of terminals: each one's last
-- transactions and today's totals. Payments keeps the truth (its own terminal_transactions and
-- reconciliation periods); these rows are a copy, never edited.

create table terminal_transactions (
  -- The event's id. Events come at least once (QoS 1): a repeat is the same id, inserted once
  -- (on conflict do nothing).
  id uuid primary key,
  -- Not a foreign key to terminals: an event is kept whatever the registry says of its terminal
  -- (a reversal can be recorded after the terminal was deleted); only live terminals are listed.
  terminal_id text not null,
  kind text not null,
  outcome text not null,
  amount_minor bigint not null,
  currency text not null,
  transaction_id text,
  order_id uuid,
  period_id uuid not null,
  reason text,
  card_brand text,
  card_last4 text,
  -- When payments recorded it (the event's `at`).
  at timestamptz not null,
  received_at timestamptz not null default now(),
  constraint terminal_transactions_kind_known check (kind in ('payment', 'reversal')),
  constraint terminal_transactions_outcome_known check (
    outcome in ('approved', 'declined', 'reversed')
  ),
  constraint terminal_transactions_amount_positive check (amount_minor > 0),
  constraint terminal_transactions_currency_format check (currency ~ '^[A-Z]{3}$')
);

-- A terminal's newest transactions (the last few, and today's range), read per listed terminal.
create index terminal_transactions_terminal_at_idx
  on terminal_transactions (terminal_id, at desc, id desc);
