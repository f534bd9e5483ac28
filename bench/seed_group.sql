-- Seed a large group straight into PostgreSQL, as the worker would have left it.
--
--   psql -v gid=<group id> -v uid=<creator's user id> -v members=100 -v expenses=100000 \
--        -f bench/seed_group.sql
--
-- The group must exist (created through the api, its creator its only member so far). Adds
-- members "Member 2".."Member <members>" (no accounts) and <expenses> expenses: expense i is
-- paid by member (i mod members) and split equally, 100 minor units each; created_at advances
-- one second every third expense, so pages must break ties on id. Balances are updated to
-- match and the group's version bumps once; the cached view is not touched (delete
-- splitter:view:<gid> to make the next read rebuild it). Used by scripts/bench.sh and
-- tests/e2e/reads.test.mjs.
\set ON_ERROR_STOP 1
BEGIN;

INSERT INTO members (id, group_id, name)
SELECT gen_random_uuid(), :'gid', 'Member ' || i FROM generate_series(2, :members) i;
INSERT INTO balances (group_id, member_id)
SELECT :'gid', m.id FROM members m WHERE m.group_id = :'gid' ON CONFLICT DO NOTHING;

CREATE TEMP TABLE seed_m ON COMMIT DROP AS
SELECT id, (row_number() OVER (ORDER BY position) - 1)::int AS k
FROM members WHERE group_id = :'gid';

-- One paid_by/shares pair per payer: members 0 .. min(members - 1, expenses) pay (a shares
-- array lists every member, so building one per member would be quadratic in the members).
CREATE TEMP TABLE seed_v ON COMMIT DROP AS
SELECT p.k, 100 * c.n AS amount,
       jsonb_build_array(jsonb_build_object('member_id', p.id, 'amount', 100 * c.n)) AS paid_by,
       (SELECT jsonb_agg(jsonb_build_object('member_id', m.id,
                                            'paid', CASE WHEN m.id = p.id THEN 100 * c.n ELSE 0 END,
                                            'owed', 100) ORDER BY m.k)
        FROM seed_m m) AS shares
FROM seed_m p, (SELECT count(*)::bigint AS n FROM seed_m) c
WHERE p.k <= :expenses;

INSERT INTO expenses (id, group_id, description, amount, currency, exchange_rate,
                      amount_in_group_currency, date, category, paid_by, split, shares,
                      created_by, created_at, updated_at, version, deleted, seq, created_seq)
SELECT gen_random_uuid(), :'gid', 'Seeded expense ' || i, v.amount, g.currency, '1', v.amount,
       date '2026-01-01' + (i % 365), NULL, v.paid_by,
       jsonb_build_object('mode', 'equal', 'members',
                          (SELECT jsonb_agg(jsonb_build_object('member_id', id) ORDER BY k)
                           FROM seed_m)),
       v.shares, :'uid',
       timestamptz '2026-01-01 00:00:00Z' + (i / 3) * interval '1 second',
       timestamptz '2026-01-01 00:00:00Z' + (i / 3) * interval '1 second',
       1, false, 1000000 + i, 1000000 + i
FROM generate_series(1, :expenses) i
JOIN seed_v v ON v.k = i % (SELECT count(*) FROM seed_m)
CROSS JOIN (SELECT currency FROM groups WHERE id = :'gid') g;

UPDATE balances b
SET paid = b.paid + coalesce(v.amount * t.times, 0),
    owed = b.owed + 100 * :expenses
FROM seed_m m
LEFT JOIN seed_v v ON v.k = m.k
LEFT JOIN (SELECT i % (SELECT count(*) FROM seed_m) AS k, count(*) AS times
           FROM generate_series(1, :expenses) i GROUP BY 1) t ON t.k = m.k
WHERE b.group_id = :'gid' AND b.member_id = m.id;

UPDATE groups SET version = version + 1 WHERE id = :'gid';
COMMIT;
