// Sums stay in range: a write that would take a group's balances or totals outside int64 is
// refused with 422 when accepted (from the cached view, or PostgreSQL without one) and again
// when applied (the worker's decide step), and the group stays readable either way.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, registerUser, redisCli, waitFor } from './lib.mjs';

const MAX = '9223372036854775807';

function assertProblem(r, status, field) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, r.text);
    assert.equal(r.json.status, status);
    if (field) assert.ok((r.json.errors ?? []).some((e) => e.field === field), r.text);
}

/** A group with members A (the owner), B and C. */
async function setup() {
    const u = await registerUser();
    const g = await api('POST', '/api/v1/groups', { token: u.token, body: { name: 'Range', currency: 'JPY' } });
    assert.equal(g.status, 201, g.text);
    const add = async (name) => {
        const r = await api('POST', `/api/v1/groups/${g.json.id}/members`, { token: u.token, body: { name } });
        assert.equal(r.status, 201, r.text);
        return r.json.id;
    };
    return { u, gid: g.json.id, A: g.json.members[0].id, B: await add('B'), C: await add('C') };
}

// Raw bodies: JSON numbers past 2^53 do not survive JSON.stringify.
const paymentBody = (from, to, amount) => `{"from_member":"${from}","to_member":"${to}","amount":${amount}}`;
const expenseBody = (payer, members, amount) =>
    `{"description":"x","amount":${amount},"paid_by":[{"member_id":"${payer}","amount":${amount}}],` +
    `"split":{"mode":"equal","members":[${members.map((m) => `{"member_id":"${m}"}`).join(',')}]}}`;

const pay = (s, body, wait = true) =>
    api('POST', `/api/v1/groups/${s.gid}/payments`, { token: s.u.token, body, headers: wait ? { Prefer: 'wait=5' } : {} });
const spend = (s, body, wait = true) =>
    api('POST', `/api/v1/groups/${s.gid}/expenses`, { token: s.u.token, body, headers: wait ? { Prefer: 'wait=5' } : {} });

/** The group still answers every read. */
async function readable(s) {
    const b = await api('GET', `/api/v1/groups/${s.gid}/balances`, { token: s.u.token });
    assert.equal(b.status, 200, b.text);
    const t = await api('GET', `/api/v1/groups/${s.gid}/settlements`, { token: s.u.token });
    assert.equal(t.status, 200, t.text);
    const l = await api('GET', '/api/v1/groups', { token: s.u.token });
    assert.equal(l.status, 200, l.text);
    assert.ok(l.json.items.some((g) => g.id === s.gid));
    const x = await api('GET', `/api/v1/groups/${s.gid}/export.csv`, { token: s.u.token });
    assert.equal(x.status, 200, x.text);
    return b.text;
}

test('a payment of the largest amount, then a 1-unit expense: the expense is 422', async () => {
    const s = await setup();
    assert.equal((await pay(s, paymentBody(s.A, s.B, MAX))).status, 201);
    const before = await readable(s);
    assertProblem(await spend(s, expenseBody(s.A, [s.A, s.B], 1)), 422, 'amount');
    assert.equal(await readable(s), before);
});

test('an expense of the largest amount, then a 1-unit payment: the payment is 422', async () => {
    const s = await setup();
    assert.equal((await spend(s, expenseBody(s.A, [s.A, s.B], MAX))).status, 201);
    const before = await readable(s);
    assertProblem(await pay(s, paymentBody(s.B, s.A, 1)), 422, 'amount');
    assert.equal(await readable(s), before);
});

test('a payment that would push one member\'s received past int64 is 422', async () => {
    const s = await setup();
    assert.equal((await pay(s, paymentBody(s.A, s.B, MAX))).status, 201);
    assertProblem(await pay(s, paymentBody(s.C, s.B, 1)), 422, 'amount');
    await readable(s);
});

test('without a cached view the check reads PostgreSQL', async () => {
    const s = await setup();
    assert.equal((await pay(s, paymentBody(s.A, s.B, MAX))).status, 201);
    redisCli('DEL', `splitter:view:${s.gid}`);
    assertProblem(await spend(s, expenseBody(s.A, [s.A, s.B], 1)), 422, 'amount');
    await readable(s);
});

test('a write accepted on a stale view is rejected 422 when applied', async () => {
    const s = await setup();
    assert.equal((await pay(s, paymentBody(s.A, s.B, MAX))).status, 201);
    const before = await readable(s);
    // As if the payment were still queued: the view the api checks against has not seen it.
    redisCli('HSET', `splitter:view:${s.gid}`, 'volume', '0:0');
    for (const w of [spend(s, expenseBody(s.A, [s.A, s.B], 1), false), pay(s, paymentBody(s.C, s.B, 1), false)]) {
        const r = await w;
        assert.equal(r.status, 202, r.text);
        const ev = await waitFor(async () => {
            const e = await api('GET', r.headers.get('location'), { token: s.u.token });
            return e.json?.status === 'rejected' ? e : null;
        }, { what: 'the rejection at apply time' });
        assert.equal(ev.json.problem.status, 422);
    }
    assert.equal(await readable(s), before);
});
