-- Payments become resources of their own: replaced and deleted with If-Match like expenses, and
-- both can be brought back by a revert event. A payment now carries a version (1 at creation,
-- one more with every applied event that touches it), the time of its last change, and a
-- deleted flag (a deleted payment stays in the table, out of the balances, like an expense).
ALTER TABLE payments
    ADD COLUMN updated_at timestamptz,
    ADD COLUMN version bigint NOT NULL DEFAULT 1,
    ADD COLUMN deleted boolean NOT NULL DEFAULT false;
UPDATE payments SET updated_at = created_at;
ALTER TABLE payments ALTER COLUMN updated_at SET NOT NULL;
-- Their list (GET /api/v1/groups/{gid}/payments): newest first by date, then by creation.
CREATE INDEX payments_group_date ON payments (group_id, date DESC, created_at DESC, id DESC)
    WHERE NOT deleted;

-- The expense list: newest first by the expense's date, then by creation (latest first), the
-- keyset cursor following that order. Creation order is the seq of the event that created the
-- expense (`created_seq`, written once; timestamps have whole seconds, seq is exact); rows
-- older than this column take it from their creation event, or failing that their last seq.
-- (expenses_group_list, by creation time alone, still serves the CSV export.)
ALTER TABLE expenses ADD COLUMN created_seq bigint;
UPDATE expenses x SET created_seq = e.seq FROM events e
    WHERE e.group_id = x.group_id AND e.type = 'expense.created'
      AND e.payload->>'expense_id' = x.id::text;
UPDATE expenses SET created_seq = seq WHERE created_seq IS NULL;
ALTER TABLE expenses ALTER COLUMN created_seq SET NOT NULL;
CREATE INDEX expenses_group_date ON expenses (group_id, date DESC, created_seq DESC, id DESC)
    WHERE NOT deleted;
