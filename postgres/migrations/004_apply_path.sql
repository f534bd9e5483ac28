-- The tables the worker appends to on every ledger event, shaped for the apply path's speed.
--
-- JSON columns are `json`, not `jsonb`: PostgreSQL checks the text is JSON and keeps it as
-- written. Nothing filters or indexes inside these documents (the api and replay read them
-- whole), and converting every payload, split and share list to jsonb was a third of the
-- cost of recording an event. The audit log now keeps each event exactly as it was accepted.
--
-- events, expenses and payments carry no foreign keys: groups, users and members are never
-- deleted, and the worker checks every reference it writes (the group, locked FOR UPDATE, and
-- its members) in the same transaction, while the api checked the actor when it accepted the
-- event. A per-row referential check cost a sixth of the apply path's PostgreSQL time.
-- balances, members and invites keep theirs.
ALTER TABLE events
    DROP CONSTRAINT events_group_id_fkey,
    DROP CONSTRAINT events_actor_fkey,
    ALTER COLUMN payload TYPE json,
    ALTER COLUMN before TYPE json,
    ALTER COLUMN after TYPE json;

ALTER TABLE expenses
    DROP CONSTRAINT expenses_group_id_fkey,
    DROP CONSTRAINT expenses_created_by_fkey,
    ALTER COLUMN paid_by TYPE json,
    ALTER COLUMN split TYPE json,
    ALTER COLUMN shares TYPE json;

ALTER TABLE payments
    DROP CONSTRAINT payments_group_id_fkey,
    DROP CONSTRAINT payments_from_member_fkey,
    DROP CONSTRAINT payments_to_member_fkey,
    DROP CONSTRAINT payments_created_by_fkey;

ALTER TABLE rejected_events ALTER COLUMN problem TYPE json;
