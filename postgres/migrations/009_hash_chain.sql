-- The ledger's hash chain: every applied event carries
--   hash = sha256(previous hash || canonical bytes)
-- (the previous hash of a group's first event is 32 zero bytes), and the group its head: the
-- hash of its newest event. The canonical bytes are a compact JSON object whose parts need no
-- escaping, so SQL and C produce them byte for byte alike (shared/chain.h; docs/ARCHITECTURE.md,
-- "The hash chain"). The worker writes both from now on, in the transaction that applies the
-- events; this computes them for the events already recorded, group by group in seq order.
--
-- During an upgrade, workers of the previous release may still apply batches for a while: they
-- write events without a hash and leave the head alone. A trigger chains such an event in SQL
-- as it is inserted (the worker holds its group's row locked, so links are made one at a time,
-- in seq order), so nothing is refused and the chain has no gap. Its WHEN clause keeps it off
-- the path of this release's workers, which always write the hash.
ALTER TABLE events ADD COLUMN hash bytea;
ALTER TABLE groups ADD COLUMN head_hash bytea;

CREATE FUNCTION events_canonical(e events) RETURNS bytea LANGUAGE sql STABLE AS $$
    SELECT convert_to('{"accepted_at":"'
        || to_char(e.accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        || '","actor":"' || e.actor::text
        || '","event_id":"' || e.event_id::text
        || '","group_id":"' || e.group_id::text
        || '","payload_sha256":"' || encode(sha256(convert_to(e.payload::text, 'UTF8')), 'hex')
        || '","seq":' || e.seq::text
        || ',"type":"' || e.type || '"}', 'UTF8')
$$;

-- A group's chain as SQL computes it, oldest event first: what the backfill below writes, and
-- what an operator can compare with the stored hashes (docs/OPERATIONS.md). Reads only.
CREATE FUNCTION events_chain(gid uuid) RETURNS TABLE (event_id uuid, hash bytea)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    h bytea := decode(repeat('00', 32), 'hex');
BEGIN
    FOR r IN SELECT e.event_id AS id, events_canonical(e) AS canon FROM events e
             WHERE e.group_id = gid ORDER BY e.seq LOOP
        h := sha256(h || r.canon);
        event_id := r.id;
        hash := h;
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE FUNCTION events_chain_missing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.hash := sha256(coalesce((SELECT e.hash FROM events e
                                 WHERE e.group_id = NEW.group_id AND e.seq = NEW.seq - 1),
                                decode(repeat('00', 32), 'hex'))
                       || events_canonical(NEW));
    UPDATE groups SET head_hash = NEW.hash WHERE id = NEW.group_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER events_chain_missing BEFORE INSERT ON events
    FOR EACH ROW WHEN (NEW.hash IS NULL) EXECUTE FUNCTION events_chain_missing();

-- events is append-only (001_init.sql); this one rewrite adds what the rows lacked.
ALTER TABLE events DISABLE TRIGGER events_no_update;
UPDATE events e SET hash = c.hash FROM groups g CROSS JOIN LATERAL events_chain(g.id) c
    WHERE c.event_id = e.event_id;
ALTER TABLE events ENABLE TRIGGER events_no_update;
ALTER TABLE events ALTER COLUMN hash SET NOT NULL;

UPDATE groups g SET head_hash = e.hash FROM events e
    WHERE e.group_id = g.id AND e.seq = g.last_seq;
