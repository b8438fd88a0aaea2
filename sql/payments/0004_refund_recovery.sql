-- Refunds a process left pending (it died between setting the amount aside and recording the
-- processor's answer) are settled by the recovery (services/payments/README.md, "The processor"): it
-- asks the processor again under the refund's id and, for a terminal's reversal, answers the
-- terminal's request — which the refund names here (its terminal is the payment's).

alter table refunds add column terminal_request_id text;

create index refunds_pending_idx on refunds (updated_at) where status = 'pending';

-- Reversals a process claimed and died before setting anything aside are answered by the recovery.
create index terminal_requests_in_progress_idx on terminal_requests (updated_at)
  where state = 'in_progress';
