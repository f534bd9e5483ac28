// Redis down and back. Stopping the stack's Redis would break whatever else runs at the same
// time, so scripts/test.sh runs the files in tests/e2e/serial/ one by one, after the others.
//
// While Redis is down, reads answer from PostgreSQL (sessions seen in the last
// SESSION_GRACE_S are still honoured by the api's session cache; an event's status when
// PostgreSQL has it, else 503: it may still be queued in Redis), /api/health says
// degraded, and ledger writes answer 503 with Retry-After, leaving nothing behind. Once
// Redis is back, everything recovers without a restart of the api or the workers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { api, registerUser, redisCli, psql, waitFor } from '../lib.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function stack(...args) {
    const r = spawnSync('scripts/stack.sh', args, { cwd: root, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `stack.sh ${args.join(' ')}: ${r.stderr}`);
}

let alice, group, A, B;
let redisStopped = false;
const G = () => `/api/v1/groups/${group.id}`;
const get = (p, token = alice.token) => api('GET', p, { token });

function expense(amount) {
    return {
        description: 'Groceries',
        amount,
        paid_by: [{ member_id: A, amount }],
        split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }] },
    };
}

async function startRedis() {
    if (!redisStopped) return;
    stack('up');
    redisStopped = false;
    await waitFor(async () => (await api('GET', '/api/health')).status === 200, {
        timeoutMs: 20_000,
        what: 'health ok again',
    });
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Down', currency: 'EUR' } });
    group = g.json;
    A = group.members[0].id;
    B = (await api('POST', `${G()}/members`, { token: alice.token, body: { name: 'Ben' } })).json.id;
    const x = await api('POST', `${G()}/expenses`, {
        token: alice.token,
        headers: { Prefer: 'wait=5' },
        body: expense(100),
    });
    assert.equal(x.status, 201, x.text);
});

// Whatever happens above, leave Redis running for the files after this one.
after(startRedis);

test('with Redis down reads answer from PostgreSQL, writes 503, health degraded', async () => {
    const paths = [`${G()}/balances`, `${G()}/settlements`, `${G()}/expenses`, G(), '/api/v1/groups', '/api/v1/me'];
    const before1 = await Promise.all(paths.map((p) => get(p)));
    for (const r of before1) assert.equal(r.status, 200, r.text);
    const stranger = await registerUser({ name: 'Late' }); // never used: not in the api's cache
    const expensesBefore = psql(`SELECT count(*) FROM expenses WHERE group_id = '${group.id}'`)[0][0];

    stack('kill', 'redis', 'TERM');
    redisStopped = true;
    await waitFor(async () => (await api('GET', '/api/health')).status === 503, {
        timeoutMs: 10_000,
        what: 'health degraded',
    });
    const h = await api('GET', '/api/health');
    assert.equal(h.json.status, 'degraded');
    assert.equal(h.json.checks.redis, 'down');
    assert.equal(h.json.checks.postgres, 'ok');

    const during = await Promise.all(paths.map((p) => get(p)));
    for (let i = 0; i < paths.length; i++) {
        assert.equal(during[i].status, 200, `${paths[i]}: ${during[i].text}`);
        assert.deepEqual(during[i].json, before1[i].json, paths[i]);
    }
    const b = await get(`${G()}/balances`, alice.token);
    assert.equal(b.headers.get('etag'), before1[0].headers.get('etag'));

    // An applied event's status comes from PostgreSQL; one PostgreSQL does not have may still
    // be queued in Redis: 503, never 404 (a client following its 202 would submit it again).
    const [[applied]] = psql(`SELECT event_id FROM events WHERE group_id = '${group.id}' LIMIT 1`);
    const ev = await get(`/api/v1/events/${applied}`);
    assert.equal(ev.status, 200, ev.text);
    assert.equal(ev.json.status, 'applied');
    const unknown = await get(`/api/v1/events/${randomUUID()}`);
    assert.equal(unknown.status, 503, unknown.text);
    assert.ok(unknown.headers.get('retry-after'), 'Retry-After');

    const key = randomUUID();
    for (const [path, body] of [
        [`${G()}/expenses`, expense(50)],
        [`${G()}/payments`, { from_member: B, to_member: A, amount: 10 }],
    ]) {
        const w = await api('POST', path, { token: alice.token, body, headers: { 'Idempotency-Key': key } });
        assert.equal(w.status, 503, w.text);
        assert.ok(w.headers.get('retry-after'), 'Retry-After');
        assert.match(w.headers.get('content-type'), /^application\/problem\+json/);
    }
    // A token the api has not seen cannot be checked: 503, not 401.
    assert.equal((await get('/api/v1/me', stranger.token)).status, 503);

    await startRedis();
    // Nothing was half-written: no expense, no stream entry, no idempotency record.
    assert.equal(psql(`SELECT count(*) FROM expenses WHERE group_id = '${group.id}'`)[0][0], expensesBefore);
    const idem = redisCli('--scan', '--pattern', `splitter:idem:${alice.user.id}:*`);
    assert.equal(idem, '');
});

test('Redis back: writes, Prefer: wait and cached reads work again by themselves', async () => {
    await startRedis();
    const w = await api('POST', `${G()}/expenses`, {
        token: alice.token,
        headers: { Prefer: 'wait=8', 'Idempotency-Key': randomUUID() },
        body: expense(40),
    });
    assert.equal(w.status, 201, w.text);
    const b = await get(`${G()}/balances`);
    assert.equal(b.status, 200);
    assert.equal(b.json.balances.find((x) => x.member_id === A).balance, 50 + 20);
    assert.equal(redisCli('HGET', `splitter:view:${group.id}`, 'version'), String(b.json.version));
    const fresh = await registerUser({ name: 'After' });
    assert.equal((await get('/api/v1/me', fresh.token)).status, 200);
});
