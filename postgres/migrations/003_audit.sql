-- The audit log: what each applied ledger event changed.
--
-- The worker writes both columns when it records the event (the table refuses UPDATE), from the
-- state it holds in memory at apply time: `before` is the expense as it stood before a
-- replacement or deletion (NULL for a creation or a payment), `after` the expense a
-- replacement produced (NULL otherwise: a creation's payload already says what it made). Events recorded before this migration have neither.
-- GET /api/v1/groups/{gid}/events serves them; replay (splitterctl replay) never reads them:
-- the projection is rebuilt from `payload` alone.
ALTER TABLE events ADD COLUMN before jsonb, ADD COLUMN after jsonb;

-- Keyset pagination of a group's log by seq is served by UNIQUE (group_id, seq).
