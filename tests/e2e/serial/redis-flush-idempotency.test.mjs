// Retries after Redis lost its data. The ledger keeps every write's Idempotency-Key with its
// event, so a retry of a write applied before a FLUSHALL answers like the first request: the
// same event and the same expense or payment, nothing applied twice, a different body still 422,
// a rejected write rejected the same way. Serial: it empties (and changes) the stack's Redis.
//
// Sessions live in Redis: after the flush the user logs in again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { api, registerUser, redisCli, psql, waitFor } from '../lib.mjs';

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const DAY_MS = 86_400_000;

let alice, group, A, B;
let flushed = false;
const G = () => `/api/v1/groups/${group.id}`;

function expense(amount, description = 'Rent') {
    return {
        description,
        amount,
        paid_by: [{ member_id: A, amount }],
        split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }] },
    };
}

const write = (method, path, body, headers = {}) => api(method, path, { token: alice.token, body, headers });

async function finished(eventId) {
    return waitFor(async () => {
        const r = await api('GET', `/api/v1/events/${eventId}`, { token: alice.token });
        return r.json?.status === 'applied' || r.json?.status === 'rejected' ? r.json : null;
    }, { timeoutMs: 15_000, what: `event ${eventId} to finish` });
}

const idemKey = (key) => `splitter:idem:${alice.user.id}:${sha256(key)}`;
const ledgerCounts = () => psql(`SELECT (SELECT count(*) FROM expenses WHERE group_id = '${group.id}'),
    (SELECT count(*) FROM payments WHERE group_id = '${group.id}'),
    (SELECT count(*) FROM events WHERE group_id = '${group.id}')`);
const balancesRows = () => psql(`SELECT member_id, paid, owed, sent, received FROM balances
    WHERE group_id = '${group.id}' ORDER BY member_id`);

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    group = (await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Flush', currency: 'EUR' } })).json;
    A = group.members[0].id;
    B = (await api('POST', `${G()}/members`, { token: alice.token, body: { name: 'Ben' } })).json.id;
});

// The workers' state went with Redis as well; until they repair it themselves, put back what
// writes need: each partition's fencing counter above the token PostgreSQL last saw (then the
// leases are taken afresh), and the consumer groups.
async function repairWorkers() {
    if (!flushed) return;
    flushed = false;
    // Raise each counter to PostgreSQL's token, never lower it: a worker may have taken a newer
    // token since the read, and a counter behind PostgreSQL is what a Redis state loss looks like
    // to the workers (they would move the idempotency horizon to now).
    for (const [p, token] of psql('SELECT p, token FROM partitions')) {
        redisCli('EVAL', "if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then"
            + " redis.call('SET', KEYS[1], ARGV[1]) end", '1', `splitter:lease_token:${p}`, token);
    }
    for (let p = 0; p < 16; p++) {
        try {
            redisCli('XGROUP', 'CREATE', `splitter:stream:${p}`, 'workers', '0', 'MKSTREAM');
        } catch {
            // BUSYGROUP: a worker created it already.
        }
    }
    for (let p = 0; p < 16; p++) redisCli('DEL', `splitter:lease:${p}`);
    await waitFor(async () => {
        const r = await write('POST', `${G()}/expenses`, expense(2, 'after'), { Prefer: 'wait=2' });
        return r.status === 201;
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'writes to apply again' });
}

after(repairWorkers);

test('while the horizon is older than a day, Redis is trusted; else PostgreSQL is asked', async () => {
    const key = randomUUID();
    const body = expense(400, 'Trust');
    const first = await write('POST', `${G()}/expenses`, body, { 'Idempotency-Key': key });
    assert.equal(first.status, 202, first.text);
    assert.equal((await finished(first.json.event_id)).status, 'applied');
    const counts = ledgerCounts();

    // Redis says its records are complete for more than the window, and does not know the key:
    // the api appends a new event without asking PostgreSQL (the normal path)...
    const horizon = redisCli('GET', 'splitter:idem_horizon');
    assert.match(horizon, /^\d+$/, 'the accept script keeps a horizon');
    redisCli('SET', 'splitter:idem_horizon', String(Date.now() - DAY_MS - 60_000));
    redisCli('DEL', idemKey(key));
    const blind = await write('POST', `${G()}/expenses`, body, { 'Idempotency-Key': key });
    assert.equal(blind.status, 202, blind.text);
    assert.notEqual(blind.json.event_id, first.json.event_id);
    // ...and the worker, which finds the key in the ledger, never applies it.
    const st = await finished(blind.json.event_id);
    assert.equal(st.status, 'rejected');
    assert.equal(st.problem.type, '/problems/duplicate-request');
    assert.equal(st.problem.original_event_id, first.json.event_id);
    assert.equal(st.problem.expense_id, first.json.expense_id);
    assert.deepEqual(ledgerCounts(), counts);
    // The worker put the key's record back on the first event: later retries answer with it.
    assert.equal(JSON.parse(redisCli('GET', idemKey(key))).event_id, first.json.event_id);
    const later = await write('POST', `${G()}/expenses`, body, { 'Idempotency-Key': key, Prefer: 'wait=5' });
    assert.equal(later.status, 201, later.text);
    assert.equal(later.json.id, first.json.expense_id);
    assert.equal(later.headers.get('idempotent-replayed'), 'true');

    // A young horizon: a key Redis does not know is looked up in PostgreSQL, and found.
    redisCli('SET', 'splitter:idem_horizon', String(Date.now()));
    redisCli('DEL', idemKey(key));
    const again = await write('POST', `${G()}/expenses`, body, { 'Idempotency-Key': key });
    assert.equal(again.status, 202, again.text);
    assert.equal(again.json.event_id, first.json.event_id);
    assert.equal(again.json.expense_id, first.json.expense_id);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    // Redis knows it again, for what is left of the day.
    const ttl = Number(redisCli('TTL', idemKey(key)));
    assert.ok(ttl > 86_000 && ttl <= 86_400, `ttl ${ttl}`);
    assert.equal(JSON.parse(redisCli('GET', idemKey(key))).event_id, first.json.event_id);
    assert.deepEqual(ledgerCounts(), counts);

    // A new key under a young horizon: not in PostgreSQL either, so it is appended as usual.
    const fresh = await write('POST', `${G()}/expenses`, expense(10, 'Fresh'), { 'Idempotency-Key': randomUUID(), Prefer: 'wait=5' });
    assert.equal(fresh.status, 201, fresh.text);
});

test('after FLUSHALL, retries answer like the first requests and apply nothing twice', async () => {
    const kx = randomUUID(), kp = randomUUID(), kr = randomUUID();
    const xbody = expense(900, 'Before the flush');
    const pbody = { from_member: B, to_member: A, amount: 150, note: 'cash' };

    const x = await write('POST', `${G()}/expenses`, xbody, { 'Idempotency-Key': kx });
    const p = await write('POST', `${G()}/payments`, pbody, { 'Idempotency-Key': kp });
    assert.equal(x.status, 202, x.text);
    assert.equal(p.status, 202, p.text);
    assert.equal((await finished(x.json.event_id)).status, 'applied');
    assert.equal((await finished(p.json.event_id)).status, 'applied');
    // A write the worker rejects (a stale If-Match).
    const rbody = expense(901, 'Stale edit');
    const r = await write('PUT', `${G()}/expenses/${x.json.expense_id}`, rbody, { 'Idempotency-Key': kr, 'If-Match': '"7"' });
    assert.equal(r.status, 202, r.text);
    const rejected = await finished(r.json.event_id);
    assert.equal(rejected.status, 'rejected');
    assert.equal(rejected.problem.status, 409);

    const counts = ledgerCounts();
    const balances = balancesRows();

    redisCli('FLUSHALL');
    flushed = true;
    const login = await api('POST', '/api/v1/auth/login', { body: { email: alice.email, password: alice.password } });
    assert.equal(login.status, 200, login.text);
    alice.token = login.json.token;

    // The expense: the same event and expense id, replayed.
    const x2 = await write('POST', `${G()}/expenses`, xbody, { 'Idempotency-Key': kx });
    assert.equal(x2.status, 202, x2.text);
    assert.equal(x2.json.event_id, x.json.event_id);
    assert.equal(x2.json.expense_id, x.json.expense_id);
    assert.equal(x2.headers.get('idempotent-replayed'), 'true');
    assert.equal(x2.headers.get('location'), `/api/v1/events/${x.json.event_id}`);
    // Redis had no horizon, and the ledger holds keys of the last day: Redis's records are
    // complete from now on only.
    const h = Number(redisCli('GET', 'splitter:idem_horizon'));
    assert.ok(Math.abs(Date.now() - h) < 60_000, `horizon ${h}`);
    // With Prefer: wait, the expense itself.
    const x3 = await write('POST', `${G()}/expenses`, xbody, { 'Idempotency-Key': kx, Prefer: 'wait=5' });
    assert.equal(x3.status, 201, x3.text);
    assert.equal(x3.json.id, x.json.expense_id);
    assert.equal(x3.json.amount, 900);
    assert.equal(x3.headers.get('idempotent-replayed'), 'true');
    // The same key with another body: 422.
    const x4 = await write('POST', `${G()}/expenses`, expense(999, 'Before the flush'), { 'Idempotency-Key': kx });
    assert.equal(x4.status, 422, x4.text);
    assert.equal(x4.json.errors[0].field, 'Idempotency-Key');

    // The payment likewise.
    const p2 = await write('POST', `${G()}/payments`, pbody, { 'Idempotency-Key': kp });
    assert.equal(p2.status, 202, p2.text);
    assert.equal(p2.json.event_id, p.json.event_id);
    assert.equal(p2.json.payment_id, p.json.payment_id);
    const p3 = await write('POST', `${G()}/payments`, pbody, { 'Idempotency-Key': kp, Prefer: 'wait=5' });
    assert.equal(p3.status, 201, p3.text);
    assert.equal(p3.json.id, p.json.payment_id);
    assert.equal(p3.json.amount, 150);

    // The rejected write: the same rejection.
    const r2 = await write('PUT', `${G()}/expenses/${x.json.expense_id}`, rbody, { 'Idempotency-Key': kr, 'If-Match': '"7"', Prefer: 'wait=5' });
    assert.equal(r2.status, 409, r2.text);
    assert.deepEqual(r2.json, rejected.problem);
    const r3 = await write('PUT', `${G()}/expenses/${x.json.expense_id}`, rbody, { 'Idempotency-Key': kr, 'If-Match': '"7"' });
    assert.equal(r3.status, 202, r3.text);
    assert.equal(r3.json.event_id, r.json.event_id);

    // Nothing new in the ledger, nothing new in any stream, balances unchanged.
    assert.deepEqual(ledgerCounts(), counts);
    assert.deepEqual(balancesRows(), balances);
    for (let q = 0; q < 16; q++) assert.equal(redisCli('XLEN', `splitter:stream:${q}`), '0');
    const bal = await api('GET', `${G()}/balances`, { token: alice.token });
    assert.equal(bal.status, 200, bal.text);
    const mine = bal.json.balances.find((m) => m.member_id === A);
    assert.equal(mine.paid, Number(balances.find(([id]) => id === A)[1]));
});

test('a Redis without a horizon over a ledger with no key of the last day is trusted at once; older keys count for nothing', async () => {
    await repairWorkers();
    const key = randomUUID();
    const body = expense(30, 'Last week');
    const first = await write('POST', `${G()}/expenses`, body, { 'Idempotency-Key': key });
    assert.equal(first.status, 202, first.text);
    assert.equal((await finished(first.json.event_id)).status, 'applied');

    // Every key the ledger holds is two days old, and Redis has no horizon (a fresh Redis).
    // Keyed events other files queued may still be applying: age the keys until none of the
    // last day is left.
    await waitFor(async () => {
        psql("UPDATE idempotency_keys SET accepted_at = accepted_at - interval '2 days' WHERE accepted_at > now() - interval '1 day'");
        return Number(psql("SELECT count(*) FROM idempotency_keys WHERE accepted_at > now() - interval '1 day'")[0][0]) === 0;
    }, { timeoutMs: 30_000, intervalMs: 200, what: 'no idempotency key of the last day' });
    redisCli('DEL', 'splitter:idem_horizon', idemKey(key));
    const other = await write('POST', `${G()}/expenses`, expense(31, 'Fresh'), { 'Idempotency-Key': randomUUID() });
    assert.equal(other.status, 202, other.text);
    const h = Number(redisCli('GET', 'splitter:idem_horizon'));
    assert.ok(Math.abs(Date.now() - DAY_MS - h) < 60_000, `horizon ${h}, a day ago expected`);

    // The old key is past its window: the same request again is a new write, and it takes the key.
    const again = await write('POST', `${G()}/expenses`, body, { 'Idempotency-Key': key });
    assert.equal(again.status, 202, again.text);
    assert.notEqual(again.json.event_id, first.json.event_id);
    assert.equal(again.headers.get('idempotent-replayed'), null);
    assert.equal((await finished(again.json.event_id)).status, 'applied');
    assert.deepEqual(psql(`SELECT event_id FROM idempotency_keys WHERE actor = '${alice.user.id}' AND key_sha256 = '${sha256(key)}'`),
        [[again.json.event_id]]);
});
