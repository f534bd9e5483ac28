// The ledger path end to end: an expense accepted by the api, carried by a Redis stream,
// applied by a worker to PostgreSQL, and read back as balances and settlements.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, registerUser, redisCli, psql, waitFor } from './lib.mjs';

let alice;
let group;
let A, B, C; // member ids

async function post(path, body, { token = alice.token, headers = {} } = {}) {
    return api('POST', path, { body, token, headers });
}

async function balances(gid = group.id, token = alice.token) {
    const r = await api('GET', `/api/v1/groups/${gid}/balances`, { token });
    assert.equal(r.status, 200, r.text);
    return r;
}

function byMember(r) {
    return Object.fromEntries(r.json.balances.map((b) => [b.member_id, b]));
}

function equalExpense(amount, extra = {}) {
    return {
        description: 'Dinner',
        amount,
        paid_by: [{ member_id: A, amount }],
        split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }, { member_id: C }] },
        ...extra,
    };
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    const g = await post('/api/v1/groups', { name: 'Trip', currency: 'EUR' });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    A = group.members[0].id;
    const b = await post(`/api/v1/groups/${group.id}/members`, { name: 'Bob' });
    assert.equal(b.status, 201, b.text);
    B = b.json.id;
    const c = await post(`/api/v1/groups/${group.id}/members`, { name: 'Carol' });
    assert.equal(c.status, 201, c.text);
    C = c.json.id;
});

test('an equal split with Prefer: wait answers 201 with exact shares 34/33/33', async () => {
    const r = await post(`/api/v1/groups/${group.id}/expenses`, equalExpense(100), {
        headers: { Prefer: 'wait=5' },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.headers.get('preference-applied'), 'wait=5');
    assert.equal(r.json.amount_in_group_currency, 100);
    assert.deepEqual(
        r.json.shares.map((s) => [s.member_id, s.amount]),
        [[A, 34], [B, 33], [C, 33]],
    );
    assert.equal(r.json.version, 1);
    assert.equal(r.json.group_id, group.id);
    assert.equal(r.json.created_by, alice.user.id);

    const bal = byMember(await balances());
    assert.equal(bal[A].balance, 66);
    assert.equal(bal[B].balance, -33);
    assert.equal(bal[C].balance, -33);

    const s = await api('GET', `/api/v1/groups/${group.id}/settlements`, { token: alice.token });
    assert.equal(s.status, 200, s.text);
    const t = s.json.transfers.map((x) => `${x.from}>${x.to}:${x.amount}`).sort();
    assert.deepEqual(t, [`${B}>${A}:33`, `${C}>${A}:33`].sort());
});

test('without Prefer: wait the write is 202 with a Location that reaches applied', async () => {
    const r = await post(`/api/v1/groups/${group.id}/expenses`, equalExpense(30));
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.status, 'queued');
    assert.match(r.json.expense_id, /^[0-9a-f-]{36}$/);
    assert.equal(r.headers.get('location'), `/api/v1/events/${r.json.event_id}`);
    const ev = await waitFor(async () => {
        const e = await api('GET', r.headers.get('location'), { token: alice.token });
        return e.json?.status === 'applied' ? e : null;
    }, { what: 'the event to be applied' });
    assert.equal(ev.json.type, 'expense.created');
    assert.equal(ev.json.group_id, group.id);
    assert.match(ev.json.accepted_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(ev.json.applied_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Exactly one ledger row for it.
    assert.deepEqual(psql(`SELECT count(*) FROM events WHERE event_id = '${r.json.event_id}'`), [['1']]);
    // Redis keeps only what is in flight: PostgreSQL answered.
    assert.equal(redisCli('EXISTS', `splitter:event:${r.json.event_id}`), '0');
});

test('a write rejected at apply time reports its problem through its event', async () => {
    const c = await post(`/api/v1/groups/${group.id}/expenses`, equalExpense(10), {
        headers: { Prefer: 'wait=5' },
    });
    assert.equal(c.status, 201, c.text);
    const url = `/api/v1/groups/${group.id}/expenses/${c.json.id}`;
    // Two replacements from version 1, queued together: the second is stale when applied.
    const first = await api('PUT', url, { token: alice.token, body: equalExpense(11), headers: { 'If-Match': '"1"' } });
    const second = await api('PUT', url, { token: alice.token, body: equalExpense(12), headers: { 'If-Match': '"1"' } });
    assert.equal(first.status, 202, first.text);
    assert.equal(second.status, 202, second.text);
    const ev = await waitFor(async () => {
        const e = await api('GET', second.headers.get('location'), { token: alice.token });
        return e.json?.status === 'rejected' ? e : null;
    }, { what: 'the stale replacement to be rejected' });
    assert.equal(ev.status, 200, ev.text);
    assert.equal(ev.json.problem.status, 409);
    assert.equal(ev.json.applied_at, null);
    assert.equal(redisCli('EXISTS', `splitter:event:${second.json.event_id}`), '0');
    // Waiting on it now answers the problem at once.
    const again = await api('PUT', url, {
        token: alice.token,
        body: equalExpense(12),
        headers: { 'If-Match': '"1"', Prefer: 'wait=5' },
    });
    assert.equal(again.status, 409, again.text);
});

test('balances carry the group version as ETag and answer 304 to If-None-Match', async () => {
    const r = await balances();
    const etag = r.headers.get('etag');
    assert.equal(etag, `"${r.json.version}"`);
    const again = await api('GET', `/api/v1/groups/${group.id}/balances`, {
        token: alice.token,
        headers: { 'If-None-Match': etag },
    });
    assert.equal(again.status, 304);
});

test('replace needs If-Match; a stale version is rejected 409; delete removes it', async () => {
    const c = await post(`/api/v1/groups/${group.id}/expenses`, equalExpense(90), {
        headers: { Prefer: 'wait=5' },
    });
    assert.equal(c.status, 201, c.text);
    const url = `/api/v1/groups/${group.id}/expenses/${c.json.id}`;
    const before = byMember(await balances());

    const noMatch = await api('PUT', url, { token: alice.token, body: equalExpense(120) });
    assert.equal(noMatch.status, 428, noMatch.text);
    assert.match(noMatch.headers.get('content-type'), /^application\/problem\+json/);

    const put = await api('PUT', url, {
        token: alice.token,
        body: equalExpense(120),
        headers: { 'If-Match': '"1"', Prefer: 'wait=5' },
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.version, 2);
    assert.equal(put.json.amount, 120);
    assert.equal(put.headers.get('etag'), '"2"');
    // The waited answer is the expense as every read returns it, to the byte (the worker's
    // copy is sent as it is).
    const read = await api('GET', url, { token: alice.token });
    assert.deepEqual(put.json, read.json);
    assert.equal(put.text, read.text);
    assert.equal(put.headers.get('etag'), read.headers.get('etag'));
    let after = byMember(await balances());
    assert.equal(after[A].balance - before[A].balance, 120 - 40 - (90 - 30));

    const stale = await api('PUT', url, {
        token: alice.token,
        body: equalExpense(150),
        headers: { 'If-Match': '"1"', Prefer: 'wait=5' },
    });
    assert.equal(stale.status, 409, stale.text);
    assert.equal(stale.json.status, 409);

    const del = await api('DELETE', url, { token: alice.token, headers: { Prefer: 'wait=5' } });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.id, c.json.id);
    assert.equal(del.json.version, 3);
    assert.equal(del.json.amount, 120);
    after = byMember(await balances());
    assert.equal(after[A].balance, before[A].balance - (90 - 30));
    assert.equal(after[B].balance, before[B].balance + 30);
});

test('a payment moves the payer up and the payee down', async () => {
    const before = byMember(await balances());
    const r = await post(
        `/api/v1/groups/${group.id}/payments`,
        { from_member: B, to_member: A, amount: 33, note: 'settling up' },
        { headers: { Prefer: 'wait=5' } },
    );
    assert.equal(r.status, 201, r.text);
    // The resource GET /payments/{pid} answers: the request fields, then what the server adds.
    assert.deepEqual(Object.keys(r.json), [
        'from_member', 'to_member', 'amount', 'date', 'note', 'id', 'group_id', 'created_by', 'created_at',
        'updated_at', 'version',
    ]);
    assert.equal(r.json.group_id, group.id);
    assert.equal(r.json.from_member, B);
    assert.equal(r.json.to_member, A);
    assert.equal(r.json.amount, 33);
    assert.equal(r.json.note, 'settling up');
    assert.equal(r.json.created_by, alice.user.id);
    assert.match(r.json.date, /^\d{4}-\d{2}-\d{2}$/);
    assert.match(r.json.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const after = byMember(await balances());
    assert.equal(after[B].balance, before[B].balance + 33);
    assert.equal(after[A].balance, before[A].balance - 33);
    assert.equal(after[B].sent, before[B].sent + 33);
    assert.equal(after[A].received, before[A].received + 33);
});

test('a foreign-currency expense is converted half-even and split exactly', async () => {
    const r = await post(
        `/api/v1/groups/${group.id}/expenses`,
        {
            description: 'Taxi',
            amount: 1001, // 10.01 USD
            currency: 'USD',
            exchange_rate: '0.5', // 5.005 EUR -> 5.00 (half to even)
            paid_by: [{ member_id: B, amount: 1001 }],
            split: { mode: 'percent', members: [{ member_id: A, value: 33.33 }, { member_id: B, value: 33.33 }, { member_id: C, value: 33.34 }] },
        },
        { headers: { Prefer: 'wait=5' } },
    );
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.amount_in_group_currency, 500);
    assert.equal(r.json.shares.reduce((s, x) => s + x.amount, 0), 500);
    assert.equal(r.json.exchange_rate, '0.5');
});

test('every group\'s balances sum to exactly zero', async () => {
    const r = await balances();
    assert.equal(r.json.balances.reduce((s, b) => s + b.balance, 0), 0);
});

test('a flushed cache falls back to PostgreSQL and is refilled', async () => {
    const first = await balances();
    redisCli('DEL', `splitter:view:${group.id}`);
    const second = await balances();
    assert.deepEqual(second.json, first.json);
    await waitFor(() => redisCli('HEXISTS', `splitter:view:${group.id}`, 'balances') === '1', {
        what: 'the cache to be refilled',
    });
});

test('the same Idempotency-Key returns the first answer and enqueues nothing', async () => {
    const key = randomUUID();
    const body = equalExpense(12);
    const first = await post(`/api/v1/groups/${group.id}/expenses`, body, {
        headers: { 'Idempotency-Key': key, Prefer: 'wait=5' },
    });
    assert.equal(first.status, 201, first.text);
    const second = await post(`/api/v1/groups/${group.id}/expenses`, body, {
        headers: { 'Idempotency-Key': key, Prefer: 'wait=5' },
    });
    assert.equal(second.status, 201, second.text);
    assert.equal(second.json.id, first.json.id);
    assert.deepEqual(psql(`SELECT count(*) FROM expenses WHERE id = '${first.json.id}'`), [['1']]);
    const other = await post(`/api/v1/groups/${group.id}/expenses`, equalExpense(13), {
        headers: { 'Idempotency-Key': key },
    });
    assert.equal(other.status, 422, other.text);
});

test('waiting on a write that was applied without a waiter answers from PostgreSQL', async () => {
    // The first request does not wait: the worker keeps no outcome in Redis for it.
    const key = randomUUID();
    const body = equalExpense(14);
    const first = await post(`/api/v1/groups/${group.id}/expenses`, body, { headers: { 'Idempotency-Key': key } });
    assert.equal(first.status, 202, first.text);
    await waitFor(async () => {
        const e = await api('GET', first.headers.get('location'), { token: alice.token });
        return e.json?.status === 'applied';
    }, { what: 'the expense to be applied' });
    assert.equal(redisCli('EXISTS', `splitter:event:${first.json.event_id}`), '0');
    // Its replay waits: the outcome comes from PostgreSQL, the same as GET.
    const replay = await post(`/api/v1/groups/${group.id}/expenses`, body, {
        headers: { 'Idempotency-Key': key, Prefer: 'wait=5' },
    });
    assert.equal(replay.status, 201, replay.text);
    assert.equal(replay.headers.get('etag'), '"1"');
    assert.equal(replay.headers.get('location'), `/api/v1/groups/${group.id}/expenses/${first.json.expense_id}`);
    const got = await api('GET', `/api/v1/groups/${group.id}/expenses/${first.json.expense_id}`, { token: alice.token });
    assert.deepEqual(replay.json, got.json);

    // A payment the same way.
    const pkey = randomUUID();
    const pbody = { from_member: C, to_member: A, amount: 7, note: null };
    const p1 = await post(`/api/v1/groups/${group.id}/payments`, pbody, { headers: { 'Idempotency-Key': pkey } });
    assert.equal(p1.status, 202, p1.text);
    await waitFor(async () => {
        const e = await api('GET', p1.headers.get('location'), { token: alice.token });
        return e.json?.status === 'applied';
    }, { what: 'the payment to be applied' });
    const p2 = await post(`/api/v1/groups/${group.id}/payments`, pbody, {
        headers: { 'Idempotency-Key': pkey, Prefer: 'wait=5' },
    });
    assert.equal(p2.status, 201, p2.text);
    assert.equal(p2.json.id, p1.json.payment_id);
    assert.equal(p2.json.amount, 7);
    assert.equal(p2.json.note, null);
    assert.equal(p2.json.created_by, alice.user.id);
});

test('invalid expenses are refused before they reach the stream', async () => {
    const stream = (p) => Number(redisCli('XLEN', `splitter:stream:${p}`));
    const total = () => Array.from({ length: 16 }, (_, p) => stream(p)).reduce((a, b) => a + b, 0);
    const before = total();
    const cases = [
        [{ ...equalExpense(100), amount: 0 }, 'amount'],
        [{ ...equalExpense(100), amount: 1.5 }, 'amount'],
        [{ ...equalExpense(100), paid_by: [{ member_id: A, amount: 99 }] }, 'paid_by'],
        [{ ...equalExpense(100), currency: 'XXY' }, 'currency'],
        [{ ...equalExpense(100), currency: 'USD' }, 'exchange_rate'],
        [{ ...equalExpense(100), surprise: true }, 'surprise'],
        [{ ...equalExpense(100), split: { mode: 'percent', members: [{ member_id: A, value: 50 }, { member_id: B, value: 49.99 }] } }, 'split.members'],
        [{ ...equalExpense(100), split: { mode: 'shares', members: [{ member_id: A, value: 1.234 }] } }, 'split.members[0].value'],
        [{ ...equalExpense(100), paid_by: [{ member_id: randomUUID(), amount: 100 }] }, 'paid_by[0].member_id'],
        [{ ...equalExpense(100), amount: 9223372036854775808 }, 'amount'],
        [{ ...equalExpense(100), date: '2026-02-30' }, 'date'],
    ];
    for (const [body, field] of cases) {
        const r = await post(`/api/v1/groups/${group.id}/expenses`, body);
        assert.equal(r.status, 422, `${field}: ${r.text}`);
        assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
        assert.ok(r.json.errors.some((e) => e.field === field), `${field} not named in ${r.text}`);
    }
    assert.equal(total(), before);
});

test('malformed bodies: 400, 415, duplicate keys 422 naming the field', async () => {
    const url = `/api/v1/groups/${group.id}/expenses`;
    const bad = await api('POST', url, { token: alice.token, body: '{"amount": ' });
    assert.equal(bad.status, 400, bad.text);
    const type = await api('POST', url, { token: alice.token, body: '{}', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(type.status, 415, type.text);
    const dup = await api('POST', url, { token: alice.token, body: '{"amount": 1, "amount": 2}' });
    assert.equal(dup.status, 422, dup.text);
    assert.equal(dup.json.errors[0].field, 'amount');
    const utf = await api('POST', url, {
        token: alice.token,
        body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
        headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(utf.status, 400, utf.text);
});

test('no token is 401; a non-member gets 404 whatever it sends', async () => {
    const none = await api('GET', `/api/v1/groups/${group.id}/balances`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('content-type'), /^application\/problem\+json/);
    const mallory = await registerUser({ name: 'Mallory' });
    for (const [method, path, body] of [
        ['GET', `/api/v1/groups/${group.id}/balances`],
        ['GET', `/api/v1/groups/${group.id}/settlements`],
        ['GET', `/api/v1/groups/${group.id}`],
        ['POST', `/api/v1/groups/${group.id}/expenses`, { nonsense: true }],
        ['POST', `/api/v1/groups/${group.id}/expenses`, equalExpense(5)],
        ['POST', `/api/v1/groups/${group.id}/payments`, {}],
        ['POST', `/api/v1/groups/${group.id}/members`, { name: 'x' }],
    ]) {
        const r = await api(method, path, { token: mallory.token, body });
        assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
    }
    const unknown = await api('GET', `/api/v1/groups/${randomUUID()}/balances`, { token: mallory.token });
    assert.equal(unknown.status, 404);
});
