-- Keyset cursors carry created_at as a JavaScript Date (millisecond precision). With microsecond
-- timestamps, rows created within the same millisecond as a page's last row could be skipped.
alter table users alter column created_at type timestamptz(3);
