-- Managing a group: renaming it, archiving it (read-only) and back, leaving it, renaming and
-- removing members, listing and revoking invites. Each change is one statement of the api
-- (a function below) that locks the group's row, checks the change, makes it and appends
-- its event to the group's ledger with the next seq and the next link of the hash chain, in
-- the same transaction (docs/ARCHITECTURE.md, "Managing a group").
--
-- A removed member keeps its row (events, balances and the audit export still name it) but
-- leaves every list: removed_at. An archived group refuses ledger writes and changes until it
-- is unarchived: archived_at.
ALTER TABLE groups ADD COLUMN archived_at timestamptz;
ALTER TABLE members ADD COLUMN removed_at timestamptz;

-- Invite tokens are stored hashed, so an invite is listed and revoked by an id of its own.
ALTER TABLE invites ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE invites ADD CONSTRAINT invites_id UNIQUE (id);
CREATE INDEX invites_group ON invites (group_id, created_at);

-- The payload of a management event, compact, in the key order of the ledger's events
-- (shared/event.h, "management events"): what shared/event.c decodes and replay applies.
CREATE FUNCTION events_admin_payload(event_id uuid, type text, gid uuid, actor uuid,
                                     at timestamptz, data json) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT '{"event_id":"' || event_id::text || '","type":"' || type
        || '","group_id":"' || gid::text || '","actor":"' || actor::text
        || '","accepted_at":"' || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        || '","data":' || data::text || '}'
$$;

-- Append one management event to group gid, whose row the caller holds locked (FOR UPDATE):
-- the next seq, the next link of the chain (the same canonical bytes as every event:
-- events_canonical, 009_hash_chain.sql), and the group's version, last_seq and head moved
-- on. Returns the event's id.
CREATE FUNCTION events_admin_append(gid uuid, etype text, actor uuid, data json) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    g groups;
    e events;
BEGIN
    SELECT * INTO STRICT g FROM groups WHERE id = gid FOR UPDATE;
    e.event_id := gen_random_uuid();
    e.group_id := gid;
    e.seq := g.last_seq + 1;
    e.type := etype;
    e.actor := actor;
    e.accepted_at := date_trunc('second', now());
    e.applied_at := now();
    e.payload := events_admin_payload(e.event_id, etype, gid, actor, e.accepted_at, data)::json;
    e.hash := sha256(coalesce(g.head_hash, decode(repeat('00', 32), 'hex')) || events_canonical(e));
    INSERT INTO events (event_id, group_id, seq, type, actor, accepted_at, applied_at, payload, hash)
        VALUES (e.event_id, e.group_id, e.seq, e.type, e.actor, e.accepted_at, e.applied_at,
                e.payload, e.hash);
    UPDATE groups SET last_seq = e.seq, head_hash = e.hash, version = version + 1 WHERE id = gid;
    RETURN e.event_id;
END
$$;

-- The group resource as GET /groups/{gid} answers it (the api adds head_hash).
CREATE FUNCTION group_resource(gid uuid) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', g.id, 'name', g.name, 'currency', g.currency,
        'created_at', rfc3339(g.created_at), 'version', g.version,
        'archived', g.archived_at IS NOT NULL, 'archived_at', rfc3339(g.archived_at),
        'members', (SELECT coalesce(json_agg(json_build_object('id', m.id, 'name', m.name,
                    'user_id', m.user_id) ORDER BY m.position), '[]') FROM members m
                    WHERE m.group_id = g.id AND m.removed_at IS NULL))
    FROM groups g WHERE g.id = gid
$$;

-- What each change answers: outcome ('ok' or why not: not_found, stale, archived, no_member,
-- has_account, balance, in_use, last, no_invite), the resource (json, or null), the group's
-- version after it, and the ids of the events it appended (for the live streams).
CREATE TYPE manage_result AS (outcome text, body json, version bigint, event_ids uuid[]);

-- The group gid locked, when uid is one of its members; NULL otherwise.
CREATE FUNCTION manage_lock(gid uuid, uid uuid) RETURNS groups LANGUAGE sql AS $$
    SELECT g.* FROM groups g WHERE g.id = gid AND EXISTS (SELECT 1 FROM members x
        WHERE x.group_id = g.id AND x.user_id = uid) FOR UPDATE
$$;

-- PATCH /groups/{gid}: unarchive first (so one request may unarchive and rename), then
-- rename, then archive. A value equal to the current one changes nothing.
CREATE FUNCTION manage_group_patch(gid uuid, uid uuid, new_name text, archive boolean,
                                   if_match bigint) RETURNS manage_result
LANGUAGE plpgsql AS $$
DECLARE
    g groups := manage_lock(gid, uid);
    ids uuid[] := '{}';
BEGIN
    IF g.id IS NULL THEN
        RETURN ('not_found', NULL, NULL, NULL)::manage_result;
    END IF;
    IF if_match IS NOT NULL AND if_match <> g.version THEN
        RETURN ('stale', NULL, g.version, NULL)::manage_result;
    END IF;
    IF g.archived_at IS NOT NULL AND archive IS DISTINCT FROM false
       AND new_name IS NOT NULL AND new_name <> g.name THEN
        RETURN ('archived', NULL, g.version, NULL)::manage_result;
    END IF;
    IF archive = false AND g.archived_at IS NOT NULL THEN
        UPDATE groups SET archived_at = NULL WHERE id = gid;
        ids := ids || events_admin_append(gid, 'group.unarchived', uid, '{}');
    END IF;
    IF new_name IS NOT NULL AND new_name <> g.name THEN
        UPDATE groups SET name = new_name WHERE id = gid;
        ids := ids || events_admin_append(gid, 'group.renamed', uid,
                                          json_build_object('name', new_name));
    END IF;
    IF archive AND g.archived_at IS NULL THEN
        UPDATE groups SET archived_at = now() WHERE id = gid;
        ids := ids || events_admin_append(gid, 'group.archived', uid, '{}');
    END IF;
    RETURN ('ok', (SELECT (group_resource(x.id)::jsonb || jsonb_build_object('head_hash',
                   encode(x.head_hash, 'hex')))::json FROM groups x WHERE x.id = gid),
            (SELECT version FROM groups WHERE id = gid), ids)::manage_result;
END
$$;

-- The member mid of the locked group g, live (not removed), with its balance; NULL when
-- there is none.
CREATE FUNCTION manage_member(gid uuid, mid uuid, OUT id uuid, OUT name text, OUT user_id uuid,
                              OUT balance numeric) LANGUAGE sql STABLE AS $$
    SELECT m.id, m.name, m.user_id,
           coalesce(b.paid::numeric - b.owed + b.sent - b.received, 0)
    FROM members m LEFT JOIN balances b ON b.group_id = m.group_id AND b.member_id = m.id
    WHERE m.group_id = gid AND m.id = mid AND m.removed_at IS NULL
$$;

-- POST /groups/{gid}/leave: the caller's member loses its account link.
CREATE FUNCTION manage_leave(gid uuid, uid uuid) RETURNS manage_result
LANGUAGE plpgsql AS $$
DECLARE
    g groups := manage_lock(gid, uid);
    me record;
    ids uuid[];
BEGIN
    IF g.id IS NULL THEN
        RETURN ('not_found', NULL, NULL, NULL)::manage_result;
    END IF;
    IF g.archived_at IS NOT NULL THEN
        RETURN ('archived', NULL, g.version, NULL)::manage_result;
    END IF;
    SELECT * INTO me FROM manage_member(gid, (SELECT m.id FROM members m
        WHERE m.group_id = gid AND m.user_id = uid));
    IF me.balance <> 0 THEN
        RETURN ('balance', NULL, g.version, NULL)::manage_result;
    END IF;
    IF (SELECT count(*) FROM members m WHERE m.group_id = gid AND m.user_id IS NOT NULL) < 2 THEN
        RETURN ('last', NULL, g.version, NULL)::manage_result;
    END IF;
    UPDATE members SET user_id = NULL WHERE members.id = me.id;
    ids := ARRAY[events_admin_append(gid, 'member.left', uid,
                 json_build_object('member_id', me.id))];
    RETURN ('ok', NULL, (SELECT version FROM groups WHERE id = gid), ids)::manage_result;
END
$$;

-- PATCH /groups/{gid}/members/{mid}: a new name.
CREATE FUNCTION manage_member_rename(gid uuid, uid uuid, mid uuid, new_name text)
RETURNS manage_result LANGUAGE plpgsql AS $$
DECLARE
    g groups := manage_lock(gid, uid);
    m record;
    ids uuid[] := '{}';
BEGIN
    IF g.id IS NULL THEN
        RETURN ('not_found', NULL, NULL, NULL)::manage_result;
    END IF;
    SELECT * INTO m FROM manage_member(gid, mid);
    IF m.id IS NULL THEN
        RETURN ('no_member', NULL, g.version, NULL)::manage_result;
    END IF;
    IF g.archived_at IS NOT NULL THEN
        RETURN ('archived', NULL, g.version, NULL)::manage_result;
    END IF;
    IF m.name <> new_name THEN
        UPDATE members SET name = new_name WHERE members.id = mid;
        ids := ARRAY[events_admin_append(gid, 'member.renamed', uid,
                     json_build_object('member_id', mid, 'name', new_name))];
    END IF;
    RETURN ('ok', json_build_object('id', m.id, 'name', new_name, 'user_id', m.user_id),
            (SELECT version FROM groups WHERE id = gid), ids)::manage_result;
END
$$;

-- DELETE /groups/{gid}/members/{mid}: only a member without an account that no expense
-- (deleted ones included: a revert could bring it back) or payment names, balance zero.
CREATE FUNCTION manage_member_remove(gid uuid, uid uuid, mid uuid) RETURNS manage_result
LANGUAGE plpgsql AS $$
DECLARE
    g groups := manage_lock(gid, uid);
    m record;
    ids uuid[];
BEGIN
    IF g.id IS NULL THEN
        RETURN ('not_found', NULL, NULL, NULL)::manage_result;
    END IF;
    SELECT * INTO m FROM manage_member(gid, mid);
    IF m.id IS NULL THEN
        RETURN ('no_member', NULL, g.version, NULL)::manage_result;
    END IF;
    IF g.archived_at IS NOT NULL THEN
        RETURN ('archived', NULL, g.version, NULL)::manage_result;
    END IF;
    IF m.user_id IS NOT NULL THEN
        RETURN ('has_account', NULL, g.version, NULL)::manage_result;
    END IF;
    IF m.balance <> 0 THEN
        RETURN ('balance', NULL, g.version, NULL)::manage_result;
    END IF;
    IF EXISTS (SELECT 1 FROM expenses e, json_array_elements(e.shares::json) s
               WHERE e.group_id = gid AND s->>'member_id' = mid::text)
       OR EXISTS (SELECT 1 FROM payments p WHERE p.group_id = gid
                  AND (p.from_member = mid OR p.to_member = mid)) THEN
        RETURN ('in_use', NULL, g.version, NULL)::manage_result;
    END IF;
    UPDATE members SET removed_at = now() WHERE members.id = mid;
    ids := ARRAY[events_admin_append(gid, 'member.removed', uid,
                 json_build_object('member_id', mid, 'name', m.name))];
    RETURN ('ok', NULL, (SELECT version FROM groups WHERE id = gid), ids)::manage_result;
END
$$;

-- DELETE /groups/{gid}/invites/{id}: the invite is gone, so its token no longer accepts.
CREATE FUNCTION manage_invite_revoke(gid uuid, uid uuid, iid uuid) RETURNS manage_result
LANGUAGE plpgsql AS $$
DECLARE
    g groups := manage_lock(gid, uid);
    ids uuid[];
BEGIN
    IF g.id IS NULL THEN
        RETURN ('not_found', NULL, NULL, NULL)::manage_result;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM invites i WHERE i.group_id = gid AND i.id = iid
                   AND i.expires_at > now()) THEN
        RETURN ('no_invite', NULL, g.version, NULL)::manage_result;
    END IF;
    IF g.archived_at IS NOT NULL THEN
        RETURN ('archived', NULL, g.version, NULL)::manage_result;
    END IF;
    DELETE FROM invites i WHERE i.group_id = gid AND i.id = iid;
    ids := ARRAY[events_admin_append(gid, 'invite.revoked', uid,
                 json_build_object('invite_id', iid))];
    RETURN ('ok', NULL, (SELECT version FROM groups WHERE id = gid), ids)::manage_result;
END
$$;
