// Exporting a group as one JSON document (GET /groups/{gid}/export.json) and importing groups
// (POST /groups/import), end to end: the export holds the members, expenses and payments the api
// applied as their request fields (deleted ones left out, the group's version as ETag); it
// imports back to the same balances, expenses and audit-log types; hand-written samples of
// Spliit's JSON, IHateMoney's JSON and Splitwise's CSV export import to the balances worked out
// by hand below; a retry with the same Idempotency-Key doubles nothing; bad imports create
// nothing.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, registerUser, waitFor } from './lib.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD = path.resolve(ROOT, process.env.BUILD ?? 'build');
const fixture = (name) => readFileSync(new URL(`fixtures/imports/${name}`, import.meta.url), 'utf8');

let alice, bob; // bob is not a member
let group;
let A, B, C;

const G = () => `/api/v1/groups/${group.id}`;
const wait = { Prefer: 'wait=5' };

function write(method, path, { body, headers = {}, token = alice.token } = {}) {
    return api(method, path, { body, token, headers });
}

function assertProblem(r, status) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal(r.json.status, status);
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    bob = await registerUser({ name: 'Bob' });
    const g = await write('POST', '/api/v1/groups', { body: { name: 'Porto', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    A = group.members[0].id;
    B = (await write('POST', `${G()}/members`, { body: { name: 'Bea' } })).json.id;
    C = (await write('POST', `${G()}/members`, { body: { name: 'Cris' } })).json.id;
});

test('export.json holds the group, its members, expenses and payments as request fields', async () => {
    const dinner = {
        description: 'Dinner',
        amount: 9000,
        currency: 'EUR',
        date: '2026-11-20',
        category: 'food',
        paid_by: [{ member_id: A, amount: 9000 }],
        split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }, { member_id: C }] },
    };
    const e1 = await write('POST', `${G()}/expenses`, { body: dinner, headers: wait });
    assert.equal(e1.status, 201, e1.text);
    const gone = await write('POST', `${G()}/expenses`, { body: { ...dinner, description: 'Gone' }, headers: wait });
    assert.equal(gone.status, 201, gone.text);
    const del = await write('DELETE', `${G()}/expenses/${gone.json.id}`, {
        headers: { 'If-Match': `"${gone.json.version}"`, ...wait },
    });
    assert.ok(del.status === 200 || del.status === 204, del.text);
    const p1 = await write('POST', `${G()}/payments`, {
        body: { from_member: B, to_member: A, amount: 3000, date: '2026-11-21', note: 'cash' },
        headers: wait,
    });
    assert.equal(p1.status, 201, p1.text);

    const r = await api('GET', `${G()}/export.json`, { token: alice.token });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const version = (await api('GET', G(), { token: alice.token })).json.version;
    assert.equal(r.headers.get('etag'), `"${version}"`);
    const x = r.json;
    assert.equal(x.format, 'splitter');
    assert.equal(x.version, 1);
    assert.deepEqual(x.group, { name: 'Porto', currency: 'EUR' });
    assert.deepEqual(x.members, [
        { id: A, name: 'Alice' },
        { id: B, name: 'Bea' },
        { id: C, name: 'Cris' },
    ]);
    assert.equal(x.expenses.length, 1);
    const e = x.expenses[0];
    assert.equal(e.id, e1.json.id);
    assert.equal(e.created_at, e1.json.created_at);
    for (const k of ['description', 'amount', 'currency', 'date', 'category', 'paid_by', 'split'])
        assert.deepEqual(e[k], e1.json[k], k);
    assert.equal(x.payments.length, 1);
    const p = x.payments[0];
    assert.equal(p.id, p1.json.id);
    for (const k of ['from_member', 'to_member', 'amount', 'date', 'note', 'created_at'])
        assert.deepEqual(p[k], p1.json[k], k);

    const again = await api('GET', `${G()}/export.json`, {
        token: alice.token,
        headers: { 'If-None-Match': `"${version}"` },
    });
    assert.equal(again.status, 304);
});

test('export.json: 401 first, 404 for a non-member and an unknown group', async () => {
    assertProblem(await api('GET', `${G()}/export.json`), 401);
    assertProblem(await api('GET', `${G()}/export.json`, { token: bob.token }), 404);
    assertProblem(await api('GET', `/api/v1/groups/${randomUUID()}/export.json`, { token: alice.token }), 404);
    assertProblem(await api('GET', `/api/v1/groups/nope/export.json`, { token: alice.token }), 404);
});

function importGroup(body, { key = randomUUID(), token = alice.token } = {}) {
    return api('POST', '/api/v1/groups/import', { body, token, headers: { 'Idempotency-Key': key } });
}

// Wait until the worker has applied every queued entry of an import, then answer the group's
// balances by member name.
async function appliedBalances(r) {
    assert.equal(r.status, 202, r.text);
    const gid = r.json.group.id;
    if (r.json.last_event_id)
        await waitFor(async () => {
            const e = await api('GET', `/api/v1/events/${r.json.last_event_id}`, { token: alice.token });
            return e.status === 200 && ['applied', 'rejected'].includes(e.json.status) && e.json.status;
        }, { what: 'the import applied', timeoutMs: 20_000 });
    const g = await api('GET', `/api/v1/groups/${gid}`, { token: alice.token });
    const names = Object.fromEntries(g.json.members.map((m) => [m.id, m.name]));
    const b = await api('GET', `/api/v1/groups/${gid}/balances`, { token: alice.token });
    assert.equal(b.status, 200, b.text);
    return Object.fromEntries(b.json.balances.map((x) => [names[x.member_id], x.balance]));
}

// The imported events replay to the same projection (splitterctl replay --verify).
function replayVerify(gid) {
    const r = spawnSync(path.join(BUILD, 'bin', 'splitterctl'), ['replay', '--verify', '--group', gid], {
        encoding: 'utf8',
        timeout: 60_000,
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /1 groups verified, 0 differ/);
}

async function ledgerTypes(gid) {
    const r = await api('GET', `/api/v1/groups/${gid}/events?limit=200`, { token: alice.token });
    assert.equal(r.status, 200, r.text);
    return r.json.items.map((e) => e.type).filter((t) => /^(expense|payment)\./.test(t)).sort();
}

test('an export imports back: same balances, same expenses and payments, same audit-log types', async () => {
    const pct = await write('POST', `${G()}/expenses`, {
        body: {
            description: 'Museum',
            amount: 1001,
            currency: 'EUR',
            paid_by: [{ member_id: B, amount: 1001 }],
            split: { mode: 'percent', members: [{ member_id: A, value: 33.33 }, { member_id: B, value: 33.33 }, { member_id: C, value: 33.34 }] },
        },
        headers: wait,
    });
    assert.equal(pct.status, 201, pct.text);
    const exported = (await api('GET', `${G()}/export.json`, { token: alice.token })).json;
    const before = await appliedBalances({ status: 202, json: { group: { id: group.id } } });

    const r = await importGroup({ format: 'splitter', data: exported });
    const after = await appliedBalances(r);
    assert.deepEqual(after, before);
    assert.equal(r.json.group.name, 'Porto');
    assert.equal(r.json.group.currency, 'EUR');
    assert.equal(r.json.events, exported.expenses.length + exported.payments.length);
    assert.deepEqual(r.json.report, []);
    // The caller is the member named like their account, not one more.
    const mine = r.json.group.members.filter((m) => m.user_id === alice.user.id);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].name, 'Alice');
    assert.equal(r.json.group.members.length, 3);

    const again = (await api('GET', `/api/v1/groups/${r.json.group.id}/export.json`, { token: alice.token })).json;
    const ids = Object.fromEntries(again.members.map((m) => [m.id, m.name]));
    const old = Object.fromEntries(exported.members.map((m) => [m.id, m.name]));
    // An import's entries are all created in the same second: compared as sets.
    const content = (list, names) =>
        list.map(({ id, created_at, ...rest }) =>
            JSON.stringify(rest, (k, v) => ['member_id', 'from_member', 'to_member'].includes(k) ? names[v] : v)).sort();
    assert.deepEqual(content(again.expenses, ids), content(exported.expenses, old));
    assert.deepEqual(content(again.payments, ids), content(exported.payments, old));
    assert.deepEqual(await ledgerTypes(r.json.group.id), ['expense.created', 'expense.created', 'payment.created']);
    replayVerify(r.json.group.id);
});

test('a removed member is exported with removed: true and imported as an ordinary member', async () => {
    const g = (await write('POST', '/api/v1/groups', { body: { name: 'Gone', currency: 'EUR' } })).json;
    const dan = (await write('POST', `/api/v1/groups/${g.id}/members`, { body: { name: 'Dan' } })).json;
    const gone = await api('DELETE', `/api/v1/groups/${g.id}/members/${dan.id}`, { token: alice.token });
    assert.ok(gone.status === 200 || gone.status === 204, gone.text);
    const x = (await api('GET', `/api/v1/groups/${g.id}/export.json`, { token: alice.token })).json;
    assert.deepEqual(x.members, [{ id: g.members[0].id, name: 'Alice' }, { id: dan.id, name: 'Dan', removed: true }]);
    const r = await importGroup({ format: 'splitter', data: x });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.json.group.members.map((m) => m.name), ['Alice', 'Dan']);
});

test('a retry with the same Idempotency-Key answers the same group and doubles nothing', async () => {
    const key = randomUUID();
    const body = { format: 'spliit', data: JSON.parse(fixture('spliit.json')) };
    const first = await importGroup(body, { key });
    const b1 = await appliedBalances(first);
    const second = await importGroup(body, { key });
    assert.equal(second.status, 202, second.text);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(second.json.group.id, first.json.group.id);
    assert.deepEqual(await appliedBalances(second), b1);
    const list = await api('GET', `/api/v1/groups/${first.json.group.id}/expenses`, { token: alice.token });
    assert.equal(list.json.items.length, 4);
    assert.equal((await ledgerTypes(first.json.group.id)).length, 5);
    // The same key with another body is refused.
    const other = await importGroup({ ...body, name: 'Other' }, { key });
    assertProblem(other, 422);
});

test('Spliit: cents, the four split modes and a reimbursement as a payment', async () => {
    const r = await importGroup({ format: 'spliit', data: JSON.parse(fixture('spliit.json')) });
    // Ana paid 10.00 + 7.00 and owes 3.34 + 6.00 + 5.00, and received 3.00 from Ben; Ben paid
    // 9.00 and owes 3.33 + 15.00 + 7.00, and sent 3.00; Caro paid 20.00 and owes 3.33 + 3.00.
    // Alice (the caller) is not in the file: she joins with nothing.
    assert.deepEqual(await appliedBalances(r), { Ana: -34, Ben: -1333, Caro: 1367, Alice: 0 });
    assert.equal(r.json.group.name, 'Ski week');
    assert.equal(r.json.group.currency, 'EUR');
    assert.equal(r.json.events, 5);
    // 10.00 among three does not land on cents: reported.
    assert.equal(r.json.report.length, 1, JSON.stringify(r.json.report));
    assert.equal(r.json.report[0].entry, 0);
    replayVerify(r.json.group.id);
});

test('IHateMoney: decimal amounts read exactly, weights, a reimbursement as a payment', async () => {
    const r = await importGroup({ format: 'ihatemoney', currency: 'EUR', name: 'Fromage', data: JSON.parse(fixture('ihatemoney.json')) });
    // zorglub weighs 2 (its weight as a payer), fred and tata 1. fred paid 200.00, owes 1/3 of
    // 10.00: 3.33, and got 13.33 back from tata; zorglub paid 10.00 and owes 2/3 of 200.00:
    // 133.33, and 6.67; tata owes 66.67 (the left-over cent: the larger remainder) and paid
    // 13.33 back.
    assert.deepEqual(await appliedBalances(r), { fred: 18334, zorglub: -13000, tata: -5334, Alice: 0 });
    assert.equal(r.json.group.name, 'Fromage');
    assert.deepEqual(r.json.report.map((x) => x.entry), [0, 1], JSON.stringify(r.json.report));
});

test('Splitwise: each row rebuilt so every net is kept, payments as payments, totals checked', async () => {
    const r = await importGroup({ format: 'splitwise', currency: 'EUR', name: 'Flat', data: fixture('splitwise.csv') });
    assert.deepEqual(await appliedBalances(r), { Ana: 3667, Ben: -333, Caro: -3334, Alice: 0 });
    assert.deepEqual(r.json.report, []);
    assert.deepEqual(await ledgerTypes(r.json.group.id), ['expense.created', 'expense.created', 'payment.created']);
    const list = await api('GET', `/api/v1/groups/${r.json.group.id}/expenses`, { token: alice.token });
    assert.deepEqual(list.json.items.map((e) => e.amount).sort((a, b) => a - b), [1000, 9000]);
});

test('bad imports: 401, 428 without a key, 422 for what cannot be imported, and nothing created', async () => {
    const count = async () => (await api('GET', '/api/v1/groups?limit=100', { token: alice.token })).json.items.length;
    const n = await count();
    assertProblem(await api('POST', '/api/v1/groups/import', { body: { format: 'splitter', data: {} } }), 401);
    assertProblem(await api('POST', '/api/v1/groups/import', { body: { format: 'splitter', data: {} }, token: alice.token }), 428);
    assertProblem(await importGroup({ format: 'excel', data: {} }), 422);
    assertProblem(await importGroup({ format: 'splitter' }), 422);
    assertProblem(await importGroup({ format: 'splitter', data: {}, extra: 1 }), 422);
    assertProblem(await importGroup({ format: 'ihatemoney', data: [] }), 422); // no currency
    assertProblem(await importGroup({ format: 'splitwise', currency: 'EUR', data: 'a,b\n1,2\n' }), 422);
    // One invalid entry: nothing is created.
    const data = {
        format: 'splitter', version: 1, group: { name: 'Bad', currency: 'EUR' },
        members: [{ id: 'm1', name: 'Ana' }, { id: 'm2', name: 'Ben' }],
        expenses: [
            { description: 'ok', amount: 100, currency: 'EUR', paid_by: [{ member_id: 'm1', amount: 100 }], split: { mode: 'equal', members: [{ member_id: 'm2' }] } },
            { description: 'bad', amount: -5, currency: 'EUR', paid_by: [{ member_id: 'm1', amount: -5 }], split: { mode: 'equal', members: [{ member_id: 'm2' }] } },
        ],
        payments: [{ from_member: 'm2', to_member: 'nobody', amount: 5 }],
    };
    const bad = await importGroup({ format: 'splitter', data });
    assertProblem(bad, 422);
    assert.ok(bad.json.errors.length >= 1, bad.text);
    data.payments = [];
    const bad2 = await importGroup({ format: 'splitter', data });
    assertProblem(bad2, 422);
    assert.ok(bad2.json.errors.some((e) => e.field.startsWith('data entry 1')), bad2.text);
    assert.equal(await count(), n);
});

test('an import may exceed 64 KiB (up to 1 MiB, through nginx too): 400 expenses in one request', async () => {
    const members = [{ id: 'a', name: 'Ana' }, { id: 'b', name: 'Ben' }];
    const expenses = Array.from({ length: 400 }, (_, i) => ({
        description: `Coffee ${i} ${'x'.repeat(150)}`,
        amount: 300 + i,
        currency: 'EUR',
        date: '2026-01-01',
        paid_by: [{ member_id: i % 3 ? 'b' : 'a', amount: 300 + i }],
        split: { mode: 'equal', members: [{ member_id: 'a' }, { member_id: 'b' }] },
    }));
    const data = { format: 'splitter', version: 1, group: { name: 'Coffees', currency: 'EUR' }, members, expenses, payments: [] };
    const body = { format: 'splitter', data };
    assert.ok(JSON.stringify(body).length > 64 * 1024);
    const r = await importGroup(body);
    assert.equal(r.json.events, 400);
    const bal = await appliedBalances(r);
    // Ana paid every third one, Ben the others; each owes half of every one (the odd cent of an
    // odd amount to the first member of the split, Ana).
    let ana = 0;
    for (let i = 0; i < 400; i++) {
        const amount = 300 + i;
        ana += (i % 3 ? 0 : amount) - Math.ceil(amount / 2);
    }
    assert.deepEqual(bal, { Ana: ana, Ben: -ana, Alice: 0 });

    // Past 1 MiB: 413, from nginx or the api, as a problem.
    const huge = { format: 'splitter', data: { ...data, expenses: expenses.concat(expenses, expenses, expenses, expenses, expenses, expenses, expenses) } };
    assert.ok(JSON.stringify(huge).length > 1024 * 1024);
    assertProblem(await importGroup(huge), 413);
});
