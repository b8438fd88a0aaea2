-- Refunds a process left pending (it died between setting the amount aside and recording the
-- processor's answer) are settled by the recovery (services/payments/README.md, "Recovery"): it
-- asks the processor again under the refund's id and, for a terminal's reversal, answers the
-- terminal's request — which the refund names here.

alter table refunds
  add column terminal_id text,
  add column terminal_request_id text,
  add constraint refunds_terminal_request_whole check (
    (terminal_id is null) = (terminal_request_id is null)
  );

create index refunds_pending_idx on refunds (updated_at) where status = 'pending';

-- Reversals a process claimed and died before setting anything aside are answered by the recovery.
create index terminal_requests_in_progress_idx on terminal_requests (updated_at)
  where state = 'in_progress';
