// Operations and audit: /metrics on the api and the workers, splitterctl (queue, workers,
// dead letters, replay) against the test stack, and the group's audit log with before/after.
//
// Needs from scripts/test.sh: API_PORT (the api's own port; nginx hides /metrics),
// WORKER_METRICS_PORT (worker N listens on it + N - 1), BUILD (where splitterctl is), and the
// Redis and PostgreSQL coordinates.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, registerUser, redisCli, psql, waitFor } from './lib.mjs';

const env = process.env;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD = path.resolve(ROOT, env.BUILD ?? 'build');
const API_PORT = env.API_PORT ?? '8081';
const WORKER_PORT = Number(env.WORKER_METRICS_PORT ?? '9091');
const WORKERS = Number(env.WORKERS ?? '2');

/** Run splitterctl (extra environment in opts.env); returns {status, stdout, stderr}. */
function ctl(...args) {
    const opts = typeof args.at(-1) === 'object' ? args.pop() : {};
    const r = spawnSync(path.join(BUILD, 'bin', 'splitterctl'), args, {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...env, ...opts.env },
    });
    if (r.error) throw r.error;
    return r;
}

async function text(url) {
    const res = await fetch(url);
    return { status: res.status, body: await res.text() };
}

/** The value of one series in a Prometheus text body (labels as written), or undefined. */
function series(body, name, labels = '') {
    const want = labels ? `${name}{${labels}}` : name;
    const line = body.split('\n').find((l) => l.startsWith(`${want} `));
    return line === undefined ? undefined : Number(line.slice(want.length + 1));
}

// A small deterministic generator, so a failing workload can be replayed by seed.
function rng(seed) {
    let s = seed >>> 0;
    return () => {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

let alice;
const groups = []; // {id, members: [ids], expenses: Map(id -> version), log: []}

async function newGroup(name) {
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name, currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    const members = [g.json.members[0].id];
    for (const n of ['Bob', 'Carol', 'Dan']) {
        const m = await api('POST', `/api/v1/groups/${g.json.id}/members`, { token: alice.token, body: { name: n } });
        assert.equal(m.status, 201, m.text);
        members.push(m.json.id);
    }
    return { id: g.json.id, members, expenses: new Map(), log: [] };
}

// An expense body in one of the four modes, sometimes in another currency.
function randomExpense(g, rand) {
    const pick = (arr) => arr[Math.floor(rand() * arr.length)];
    const amount = 100 + Math.floor(rand() * 99_900);
    const foreign = rand() < 0.3;
    const who = g.members.filter(() => rand() < 0.7);
    const split = who.length ? who : [g.members[0]];
    const mode = pick(['equal', 'exact', 'percent', 'shares']);
    let members;
    if (mode === 'equal') {
        members = split.map((id) => ({ member_id: id }));
    } else if (mode === 'exact') {
        let left = amount;
        members = split.map((id, i) => {
            const v = i === split.length - 1 ? left : Math.floor(left / (split.length - i));
            left -= v;
            return { member_id: id, value: v };
        });
    } else if (mode === 'percent') {
        let left = 10_000; // hundredths of a percent
        members = split.map((id, i) => {
            const v = i === split.length - 1 ? left : Math.floor(left / (split.length - i)) - 1;
            left -= v;
            return { member_id: id, value: (v / 100).toFixed(2) };
        });
    } else {
        members = split.map((id) => ({ member_id: id, value: pick(['1', '2.5', '0.75', '3']) }));
    }
    const payers = rand() < 0.3 && g.members.length > 1 ? [g.members[0], g.members[1]] : [pick(g.members)];
    const first = payers.length === 2 ? Math.floor(amount / 3) : amount;
    const paid_by = payers.map((id, i) => ({ member_id: id, amount: i === 0 ? first : amount - first }));
    return {
        description: `thing ${Math.floor(rand() * 1000)}`,
        amount,
        ...(foreign ? { currency: 'USD', exchange_rate: pick(['1.0850', '0.9', '1.333333']) } : {}),
        date: '2026-11-20',
        category: rand() < 0.5 ? 'food' : undefined,
        paid_by,
        split: { mode, members },
    };
}

async function workload(g, seed, steps) {
    const rand = rng(seed);
    const wait = { Prefer: 'wait=10' };
    for (let i = 0; i < steps; i++) {
        const r = rand();
        const live = [...g.expenses.keys()];
        if (r < 0.4 || live.length === 0) {
            const res = await api('POST', `/api/v1/groups/${g.id}/expenses`, {
                token: alice.token, body: randomExpense(g, rand), headers: wait,
            });
            assert.equal(res.status, 201, res.text);
            g.expenses.set(res.json.id, res.json.version);
            g.log.push(['created', res.json.id]);
        } else if (r < 0.65) {
            const id = live[Math.floor(rand() * live.length)];
            const res = await api('PUT', `/api/v1/groups/${g.id}/expenses/${id}`, {
                token: alice.token, body: randomExpense(g, rand),
                headers: { ...wait, 'If-Match': `"${g.expenses.get(id)}"` },
            });
            assert.equal(res.status, 200, res.text);
            g.expenses.set(id, res.json.version);
            g.log.push(['replaced', id]);
        } else if (r < 0.8) {
            const id = live[Math.floor(rand() * live.length)];
            const res = await api('DELETE', `/api/v1/groups/${g.id}/expenses/${id}`, {
                token: alice.token, headers: { ...wait, 'If-Match': `"${g.expenses.get(id)}"` },
            });
            assert.equal(res.status, 200, res.text);
            g.expenses.delete(id);
            g.log.push(['deleted', id]);
        } else {
            const [from, to] = [...g.members].sort(() => rand() - 0.5);
            const res = await api('POST', `/api/v1/groups/${g.id}/payments`, {
                token: alice.token,
                body: { from_member: from, to_member: to, amount: 1 + Math.floor(rand() * 5000), date: '2026-11-21' },
                headers: wait,
            });
            assert.equal(res.status, 201, res.text);
            g.log.push(['payment', res.json.id]);
        }
    }
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    for (let i = 0; i < 3; i++) groups.push(await newGroup(`ops ${i}`));
    const seed = Number(env.OPS_SEED ?? Date.now() % 100_000);
    console.log(`# ops workload seed ${seed} (OPS_SEED=${seed} replays it)`);
    await Promise.all(groups.map((g, i) => workload(g, seed + i, 24)));
});

test('the api serves Prometheus metrics on its own port, by route pattern and status', async () => {
    const g = groups[0];
    assert.equal((await api('GET', `/api/v1/groups/${g.id}/balances`, { token: alice.token })).status, 200);
    const m = await text(`http://127.0.0.1:${API_PORT}/metrics`);
    assert.equal(m.status, 200);
    assert.ok(
        series(m.body, 'splitter_api_requests_total', 'method="GET",route="/api/v1/groups/{gid}/balances",code="200"') >= 1,
        m.body.slice(0, 2000),
    );
    assert.ok(series(m.body, 'splitter_api_requests_total', 'method="POST",route="/api/v1/groups/{gid}/expenses",code="201"') >= 1);
    assert.ok(!m.body.includes(g.id), 'raw paths leak into the labels');
    assert.match(m.body, /^# TYPE splitter_api_request_duration_seconds histogram$/m);
    assert.ok(series(m.body, 'splitter_api_request_duration_seconds_bucket', 'method="GET",route="/api/v1/groups/{gid}/balances",le="+Inf"') >= 1);
    for (let p = 0; p < 16; p++) {
        assert.notEqual(series(m.body, 'splitter_stream_length', `stream="splitter:stream:${p}"`), undefined, `stream ${p}`);
        assert.notEqual(series(m.body, 'splitter_stream_pending', `stream="splitter:stream:${p}"`), undefined);
        assert.notEqual(series(m.body, 'splitter_stream_oldest_pending_seconds', `stream="splitter:stream:${p}"`), undefined);
    }
    assert.notEqual(series(m.body, 'splitter_dead_letters'), undefined);
    assert.equal(series(m.body, 'splitter_redis_scrape_ok'), 1);

    const publicly = await api('GET', '/metrics');
    assert.equal(publicly.status, 404, 'nginx must not expose /metrics');
});

test('the api counts waited writes in their own histogram and reports PostgreSQL up', async () => {
    const g = await newGroup('waited writes'); // not one of the workload's: their logs are checked
    const read = async () => text(`http://127.0.0.1:${API_PORT}/metrics`);
    const count = (m) => series(m.body, 'splitter_api_waited_write_duration_seconds_count');
    const before = await read();
    assert.match(before.body, /^# TYPE splitter_api_waited_write_duration_seconds histogram$/m);
    assert.equal(series(before.body, 'splitter_postgres_up'), 1);
    const body = {
        description: 'metrics', amount: 300, date: '2026-11-20',
        paid_by: [{ member_id: g.members[0], amount: 300 }],
        split: { mode: 'equal', members: g.members.map((id) => ({ member_id: id })) },
    };
    // Without Prefer: wait a write is not counted; with it, it is.
    let r = await api('POST', `/api/v1/groups/${g.id}/expenses`, { token: alice.token, body, headers: { 'Idempotency-Key': randomUUID() } });
    assert.equal(r.status, 202, r.text);
    const mid = await read();
    assert.equal(count(mid), count(before));
    r = await api('POST', `/api/v1/groups/${g.id}/expenses`, {
        token: alice.token, body, headers: { Prefer: 'wait=10', 'Idempotency-Key': randomUUID() },
    });
    assert.equal(r.status, 201, r.text);
    const after = await read();
    assert.equal(count(after), count(mid) + 1);
    assert.equal(series(after.body, 'splitter_api_waited_write_duration_seconds_bucket', 'le="+Inf"'), count(after));
});

test('each worker serves /metrics and /health on its own port', async () => {
    let applied = 0;
    let owned = 0;
    for (let n = 0; n < WORKERS; n++) {
        const m = await text(`http://127.0.0.1:${WORKER_PORT + n}/metrics`);
        assert.equal(m.status, 200);
        applied += series(m.body, 'splitter_worker_events_applied_total');
        owned += series(m.body, 'splitter_worker_partitions_owned');
        for (const name of ['splitter_worker_events_rejected_total', 'splitter_worker_events_duplicates_total',
            'splitter_worker_events_dead_lettered_total', 'splitter_worker_batches_retried_total',
            'splitter_worker_batch_size_count', 'splitter_worker_apply_seconds_count']) {
            assert.notEqual(series(m.body, name), undefined, name);
        }
        assert.match(m.body, /^splitter_worker_apply_seconds_bucket\{le="\+Inf"\} \d+$/m);
        const h = await text(`http://127.0.0.1:${WORKER_PORT + n}/health`);
        assert.equal(h.status, 200, h.body);
        assert.equal((await text(`http://127.0.0.1:${WORKER_PORT + n}/nope`)).status, 404);
    }
    assert.ok(applied >= 72, `applied ${applied}`);
    assert.ok(owned <= 16);
});

test('splitterctl queue prints every stream, as a table and as JSON', () => {
    const t = ctl('queue');
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /^STREAM\s+LENGTH\s+LAG\s+PENDING/m);
    assert.match(t.stdout, /^splitter:stream:15\s+\d+/m);
    assert.match(t.stdout, /^splitter:dead\s+\d+$/m);
    const j = ctl('queue', '--json');
    assert.equal(j.status, 0, j.stderr);
    const doc = JSON.parse(j.stdout);
    assert.equal(doc.streams.length, 16);
    assert.equal(typeof doc.dead_letters, 'number');
    for (const s of doc.streams) {
        assert.equal(typeof s.length, 'number');
        assert.equal(typeof s.pending, 'number');
        assert.equal(typeof s.consumers, 'object');
    }
    assert.equal(ctl('queue', '--bogus').status, 2);
});

test('splitterctl workers lists the live consumers with heartbeat and idle time', async () => {
    // Leases settle within a lease ttl after start-up: every partition owned by a live worker.
    await waitFor(() => {
        const j = JSON.parse(ctl('workers', '--json').stdout);
        const live = j.workers.filter((w) => w.live);
        return live.length === WORKERS && live.reduce((a, w) => a + w.partitions, 0) === 16;
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'every partition leased' });
    const j = JSON.parse(ctl('workers', '--json').stdout);
    for (const w of j.workers.filter((x) => x.live)) {
        assert.ok(w.heartbeat_age_ms >= 0 && w.heartbeat_age_ms < 15_000, JSON.stringify(w));
        assert.ok(w.idle_ms === null || w.idle_ms >= 0);
    }
    const t = ctl('workers');
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /^CONSUMER\s+LIVE\s+PARTITIONS\s+HEARTBEAT_MS\s+PENDING\s+IDLE_MS$/m);
});

function partitionOf(gid) {
    let h = 0x811c9dc5;
    for (const ch of Buffer.from(gid)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
    return h % 16;
}

test('splitterctl dead list, retry (back onto its stream, then applied) and drop', async () => {
    const g = groups[1];
    // A real applied expense event, given new ids: a valid event nobody applied yet.
    const [[payload]] = psql(`SELECT payload::text FROM events WHERE group_id = '${g.id}' AND type = 'expense.created' ORDER BY seq LIMIT 1`);
    const ev = JSON.parse(payload);
    ev.event_id = randomUUID();
    ev.expense_id = randomUUID();
    // Without its key: the same key would make it a duplicate of the original.
    delete ev.idempotency_key;
    delete ev.idempotency_key_sha256;
    delete ev.request_sha256;
    const stream = `splitter:stream:${partitionOf(g.id)}`;
    const retryId = redisCli('XADD', 'splitter:dead', '*', 'stream', stream, 'entry', '0-1', 'event', JSON.stringify(ev), 'error', 'ops test');
    const dropId = redisCli('XADD', 'splitter:dead', '*', 'stream', stream, 'entry', '0-2', 'event', 'not json', 'error', 'ops test junk');

    const list = JSON.parse(ctl('dead', 'list', '--json').stdout);
    assert.ok(list.some((e) => e.id === retryId && e.stream === stream && e.error === 'ops test'));
    const table = ctl('dead', 'list');
    assert.equal(table.status, 0);
    assert.ok(table.stdout.includes(dropId));

    const d = ctl('dead', 'drop', dropId);
    assert.equal(d.status, 0, d.stderr);
    assert.equal(redisCli('XRANGE', 'splitter:dead', dropId, dropId), '');
    assert.equal(ctl('dead', 'drop', dropId).status, 1, 'dropping a missing entry fails');

    const r = ctl('dead', 'retry', retryId);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`retried ${retryId} -> ${stream} `));
    assert.equal(redisCli('XRANGE', 'splitter:dead', retryId, retryId), '');
    await waitFor(async () => {
        const s = await api('GET', `/api/v1/events/${ev.event_id}`, { token: alice.token });
        return s.status === 200 && s.json.status === 'applied';
    }, { timeoutMs: 15_000, what: 'the retried event applied' });
    g.expenses.set(ev.expense_id, 1);
});

test('the ledger is append-only: the schema refuses UPDATE and DELETE on events', () => {
    const g = groups[0];
    assert.throws(() => psql(`UPDATE events SET type = 'x' WHERE group_id = '${g.id}'`), /append-only/);
    assert.throws(() => psql(`DELETE FROM events WHERE group_id = '${g.id}'`), /append-only/);
});

test('replay --verify matches the projection exactly after the randomized workload', () => {
    for (const g of groups) {
        const r = ctl('replay', '--verify', '--group', g.id);
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /1 groups verified, 0 differ/);
    }
    const all = ctl('replay', '--verify');
    assert.equal(all.status, 0, `${all.stdout}${all.stderr}`);
    assert.match(all.stdout, / 0 differ/);
    assert.equal(ctl('replay', '--verify', '--group', 'nope').status, 2);
    assert.equal(ctl('replay').status, 2);
});

test('a hand-corrupted balances row is caught by --verify, and --rebuild restores it', async () => {
    const g = groups[2];
    const victim = g.members[1];
    const bal = async () => {
        const r = await api('GET', `/api/v1/groups/${g.id}/balances`, { token: alice.token });
        assert.equal(r.status, 200, r.text);
        return r.json;
    };
    const good = await bal();
    const [[paid]] = psql(`SELECT paid FROM balances WHERE group_id = '${g.id}' AND member_id = '${victim}'`);
    psql(`UPDATE balances SET paid = paid + 7 WHERE group_id = '${g.id}' AND member_id = '${victim}'`);

    const v = ctl('replay', '--verify', '--group', g.id);
    assert.equal(v.status, 1, v.stdout);
    assert.match(v.stdout, new RegExp(`group ${g.id}: balances of member ${victim}: paid is ${Number(paid) + 7} in the projection, ${paid} from the events`));
    assert.match(v.stdout, /1 differ/);

    const b = ctl('replay', '--rebuild', '--group', g.id);
    assert.equal(b.status, 0, `${b.stdout}${b.stderr}`);
    assert.match(b.stdout, /rebuilt from \d+ events/);
    const [[fixed]] = psql(`SELECT paid FROM balances WHERE group_id = '${g.id}' AND member_id = '${victim}'`);
    assert.equal(fixed, paid);
    const again = ctl('replay', '--verify', '--group', g.id);
    assert.equal(again.status, 0, again.stdout);

    // The cache moved on with the new version, and says what PostgreSQL says.
    const after = await bal();
    assert.ok(after.version > good.version);
    assert.deepEqual(after.balances, good.balances);
});

test('GET /groups/{gid}/events shows each change with before and after, oldest first, paginated', async () => {
    const g = groups[0];
    const items = [];
    let cursor = null;
    do {
        const r = await api('GET', `/api/v1/groups/${g.id}/events?limit=7${cursor ? `&cursor=${cursor}` : ''}`, { token: alice.token });
        assert.equal(r.status, 200, r.text);
        assert.ok(r.json.items.length <= 7);
        items.push(...r.json.items);
        cursor = r.json.next_cursor;
    } while (cursor);
    assert.equal(items.length, g.log.length);
    assert.deepEqual(items.map((e) => e.seq), items.map((_, i) => i + 1));
    for (const [i, e] of items.entries()) {
        const [kind, target] = g.log[i];
        assert.equal(e.actor, alice.user.id);
        assert.match(e.accepted_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.equal(e.payload.event_id, e.event_id);
        if (kind === 'created') {
            // A creation's payload says what it made: no before, no after.
            assert.equal(e.type, 'expense.created');
            assert.equal(e.before, undefined);
            assert.equal(e.after, undefined);
            assert.equal(e.payload.expense_id, target);
        } else if (kind === 'replaced') {
            assert.equal(e.type, 'expense.replaced');
            assert.equal(e.before.id, target);
            assert.equal(e.after.id, target);
            assert.equal(e.after.version, e.before.version + 1);
        } else if (kind === 'deleted') {
            assert.equal(e.type, 'expense.deleted');
            assert.equal(e.before.id, target);
            assert.equal(e.after, undefined);
        } else {
            assert.equal(e.type, 'payment.created');
            assert.equal(e.after, undefined);
            assert.equal(e.payload.payment_id, target);
        }
    }
    const stranger = await registerUser({ name: 'Mallory' });
    assert.equal((await api('GET', `/api/v1/groups/${g.id}/events`, { token: stranger.token })).status, 404);
    assert.equal((await api('GET', `/api/v1/groups/${g.id}/events`)).status, 401);
    assert.equal((await api('GET', `/api/v1/groups/${g.id}/events?limit=0`, { token: alice.token })).status, 422);
});

test('splitterctl migrate applies the pending migrations once and exits (the upgrade job)', () => {
    const migrations = path.join(ROOT, 'postgres', 'migrations');
    const files = fs.readdirSync(migrations).filter((f) => f.endsWith('.sql'));
    // The stack's api and workers migrated at start: nothing left to apply.
    let r = ctl('migrate', { env: { SPLITTER_MIGRATIONS_DIR: migrations } });
    assert.equal(r.status, 0, r.stderr);
    const m = r.stdout.match(/^migrate: 0 applied, (\d+) recorded/);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) >= files.length, r.stdout);

    // One more migration in a copy of the directory: applied once, then recorded.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'splitter-migrate-'));
    const table = `ctl_migrate_${randomUUID().replaceAll('-', '')}`;
    try {
        for (const f of files) fs.copyFileSync(path.join(migrations, f), path.join(dir, f));
        fs.writeFileSync(path.join(dir, `999_${table}.sql`), `CREATE TABLE ${table} (id int);\n`);
        r = ctl('migrate', { env: { SPLITTER_MIGRATIONS_DIR: dir } });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^migrate: 1 applied, /);
        assert.equal(psql(`SELECT to_regclass('${table}') IS NOT NULL`)[0][0], 't');
        r = ctl('migrate', { env: { SPLITTER_MIGRATIONS_DIR: dir } });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^migrate: 0 applied, /);

        // A migration that fails: exit status 1, nothing recorded for it.
        fs.writeFileSync(path.join(dir, '9999_broken.sql'), 'CREATE TABLE;\n');
        r = ctl('migrate', { env: { SPLITTER_MIGRATIONS_DIR: dir } });
        assert.equal(r.status, 1, r.stdout);
        assert.equal(psql("SELECT count(*) FROM schema_migrations WHERE version LIKE '9999_broken%'")[0][0], '0');
    } finally {
        psql(`DROP TABLE IF EXISTS ${table}; DELETE FROM schema_migrations WHERE version LIKE '999_${table}%'`);
        fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(ctl('migrate', 'now').status, 2);
});
