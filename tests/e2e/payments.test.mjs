// Payments as resources (GET, PUT and DELETE with If-Match) and reverting ledger events, end to
// end: accepted by the api, applied by a worker, read back, in the audit log, and replayed by
// `splitterctl replay --verify` to the same projection.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, registerUser, psql, waitFor } from './lib.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD = path.resolve(ROOT, process.env.BUILD ?? 'build');

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

async function balances() {
    const r = await api('GET', `${G()}/balances`, { token: alice.token });
    assert.equal(r.status, 200, r.text);
    return Object.fromEntries(r.json.balances.map((b) => [b.member_id, b]));
}

async function groupVersion() {
    return (await api('GET', G(), { token: alice.token })).json.version;
}

function replayVerify() {
    const r = spawnSync(path.join(BUILD, 'bin', 'splitterctl'), ['replay', '--verify', '--group', group.id], {
        encoding: 'utf8',
        timeout: 60_000,
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /1 groups verified, 0 differ/);
}

async function createPayment(body = { from_member: B, to_member: A, amount: 500, note: 'cash' }) {
    const r = await write('POST', `${G()}/payments`, { body, headers: wait });
    assert.equal(r.status, 201, r.text);
    return r;
}

async function auditEntry(eventId) {
    const r = await api('GET', `${G()}/events?limit=200`, { token: alice.token });
    assert.equal(r.status, 200, r.text);
    return r.json.items.find((e) => e.event_id === eventId);
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    bob = await registerUser({ name: 'Bob' });
    const g = await write('POST', '/api/v1/groups', { body: { name: 'Lisbon', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    A = group.members[0].id;
    B = (await write('POST', `${G()}/members`, { body: { name: 'Bea' } })).json.id;
    C = (await write('POST', `${G()}/members`, { body: { name: 'Cris' } })).json.id;
});

test('a created payment answers with the resource GET returns, with its ETag and Location', async () => {
    const r = await createPayment({ from_member: B, to_member: A, amount: 700, date: '2026-11-20', note: 'taxi' });
    assert.equal(r.headers.get('etag'), '"1"');
    assert.equal(r.headers.get('location'), `${G()}/payments/${r.json.id}`);
    assert.deepEqual(Object.keys(r.json).sort(), [
        'amount', 'created_at', 'created_by', 'date', 'from_member', 'group_id', 'id', 'note', 'to_member',
        'updated_at', 'version',
    ]);
    assert.equal(r.json.version, 1);
    assert.equal(r.json.created_by, alice.user.id);
    assert.equal(r.json.updated_at, r.json.created_at);
    const got = await api('GET', `${G()}/payments/${r.json.id}`, { token: alice.token });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json, r.json);
    assert.equal(got.headers.get('etag'), '"1"');
    const again = await api('GET', `${G()}/payments/${r.json.id}`, {
        token: alice.token,
        headers: { 'If-None-Match': '"1"' },
    });
    assert.equal(again.status, 304);
});

test('GET of a payment: 401 first, 404 for non-members, unknown and malformed ids', async () => {
    const p = (await createPayment()).json;
    assertProblem(await api('GET', `${G()}/payments/${p.id}`), 401);
    assertProblem(await api('GET', `${G()}/payments/${p.id}`, { token: bob.token }), 404);
    assertProblem(await api('GET', `${G()}/payments/${randomUUID()}`, { token: alice.token }), 404);
    assertProblem(await api('GET', `${G()}/payments/not-a-uuid`, { token: alice.token }), 404);
});

test('PUT replaces a payment: 428 without If-Match, 202 queued, 200 with Prefer: wait', async () => {
    const p = (await createPayment({ from_member: B, to_member: A, amount: 1000 })).json;
    const url = `${G()}/payments/${p.id}`;
    const before = await balances();
    const body = { from_member: C, to_member: A, amount: 400, date: '2026-11-21', note: 'part' };
    assertProblem(await write('PUT', url, { body }), 428);
    assertProblem(await write('PUT', url, { body, headers: { 'If-Match': 'W/"1"' } }), 412);
    // Non-members get 404 whatever they send, before the body is looked at.
    assertProblem(await write('PUT', url, { body: 'nonsense', token: bob.token, headers: { 'If-Match': '"1"' } }), 404);
    assertProblem(
        await write('PUT', url, { body: { ...body, amount: -1 }, headers: { 'If-Match': '"1"' } }),
        422,
    );
    const version = await groupVersion();
    const put = await write('PUT', url, { body, headers: { 'If-Match': '"1"', ...wait } });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.headers.get('etag'), '"2"');
    assert.equal(put.json.version, 2);
    assert.equal(put.json.from_member, C);
    assert.equal(put.json.amount, 400);
    assert.equal(put.json.note, 'part');
    assert.equal(put.json.created_at, p.created_at);
    assert.deepEqual((await api('GET', url, { token: alice.token })).json, put.json);
    assert.equal(await groupVersion(), version + 1);
    const after = await balances();
    assert.equal(after[B].sent - before[B].sent, -1000);
    assert.equal(after[C].sent - before[C].sent, 400);
    assert.equal(after[A].received - before[A].received, -600);

    // Stale: the api can tell at once.
    const stale = await write('PUT', url, { body, headers: { 'If-Match': '"1"' } });
    assertProblem(stale, 409);

    // Queued without waiting: 202, Location and payment_id; applied later.
    const queued = await write('PUT', url, {
        body: { ...body, amount: 450 },
        headers: { 'If-Match': '"2"' },
    });
    assert.equal(queued.status, 202, queued.text);
    assert.equal(queued.json.status, 'queued');
    assert.equal(queued.json.payment_id, p.id);
    assert.equal(queued.headers.get('location'), `/api/v1/events/${queued.json.event_id}`);
    await waitFor(async () => (await api('GET', url, { token: alice.token })).json.version === 3, {
        what: 'the replacement to apply',
    });
    replayVerify();
});

test('two replacements from one version: exactly one applies, the other is 409', async () => {
    const p = (await createPayment()).json;
    const url = `${G()}/payments/${p.id}`;
    const send = (amount) =>
        write('PUT', url, {
            body: { from_member: B, to_member: A, amount },
            headers: { 'If-Match': '"1"', ...wait },
        });
    const rs = await Promise.all([send(11), send(12)]);
    assert.deepEqual(rs.map((r) => r.status).sort(), [200, 409], rs.map((r) => r.text).join('\n'));
    assert.equal((await api('GET', url, { token: alice.token })).json.version, 2);
});

test('an Idempotency-Key replays a payment replacement instead of applying it twice', async () => {
    const p = (await createPayment()).json;
    const url = `${G()}/payments/${p.id}`;
    const key = randomUUID();
    const body = { from_member: B, to_member: A, amount: 321 };
    const first = await write('PUT', url, { body, headers: { 'If-Match': '"1"', 'Idempotency-Key': key, ...wait } });
    assert.equal(first.status, 200, first.text);
    const again = await write('PUT', url, { body, headers: { 'If-Match': '"1"', 'Idempotency-Key': key, ...wait } });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.json.version, 2);
    const other = await write('PUT', url, {
        body: { ...body, amount: 322 },
        headers: { 'If-Match': '"1"', 'Idempotency-Key': key },
    });
    assertProblem(other, 422);
    // A stale write with a new key is left to the worker, which refuses it: 409 all the same.
    const fresh = await write('PUT', url, {
        body: { ...body, amount: 9 },
        headers: { 'If-Match': '"1"', 'Idempotency-Key': randomUUID(), ...wait },
    });
    assertProblem(fresh, 409);
});

test('DELETE removes a payment from balances, needs If-Match, and stays in the event log', async () => {
    const before = await balances();
    const p = (await createPayment({ from_member: C, to_member: B, amount: 250 })).json;
    const url = `${G()}/payments/${p.id}`;
    assertProblem(await write('DELETE', url), 428);
    const del = await write('DELETE', url, { headers: { 'If-Match': '"1"', ...wait } });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.version, 2);
    assert.equal(del.json.id, p.id);
    assertProblem(await api('GET', url, { token: alice.token }), 404);
    assertProblem(await write('DELETE', url, { headers: { 'If-Match': '"2"' } }), 404);
    assertProblem(await write('PUT', url, { body: { from_member: C, to_member: B, amount: 1 }, headers: { 'If-Match': '"1"' } }), 409);
    const after = await balances();
    assert.equal(after[C].sent, before[C].sent);
    assert.equal(after[B].received, before[B].received);
    // The deleted payment is not exported.
    const csv = await api('GET', `${G()}/export.csv`, { token: alice.token });
    assert.ok(!csv.text.includes(p.id));
    // The audit log has the deletion with the payment as it stood.
    const entry = await auditEntry(del.headers.get('location') ? null : (await findEvent('payment.deleted', p.id)).event_id);
    assert.equal(entry.type, 'payment.deleted');
    assert.deepEqual(entry.before, { ...p });
    replayVerify();
});

async function findEvent(type, target) {
    const r = await api('GET', `${G()}/events?limit=200`, { token: alice.token });
    const all = r.json.items.filter((e) => e.type === type && (e.payload.payment_id ?? e.payload.expense_id) === target);
    assert.ok(all.length > 0, `no ${type} of ${target}`);
    return all[all.length - 1];
}

test('405 answers list the allowed methods in Allow', async () => {
    const r = await api('PATCH', `${G()}/payments/${randomUUID()}`, { token: alice.token });
    assertProblem(r, 405);
    assert.equal(r.headers.get('allow'), 'GET, PUT, DELETE');
    const l = await api('DELETE', `${G()}/expenses`, { token: alice.token });
    assertProblem(l, 405);
    assert.equal(l.headers.get('allow'), 'POST, GET');
    const rv = await api('GET', `${G()}/events/${randomUUID()}/revert`, { token: alice.token });
    assertProblem(rv, 405);
    assert.equal(rv.headers.get('allow'), 'POST');
});

// --- revert ---------------------------------------------------------------------------------

function expense(amount, description = 'Dinner') {
    return {
        description,
        amount,
        paid_by: [{ member_id: A, amount }],
        split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }, { member_id: C }] },
    };
}

async function revert(eventId, version, { headers = {}, token = alice.token } = {}) {
    return write('POST', `${G()}/events/${eventId}/revert`, {
        token,
        headers: { 'If-Match': `"${version}"`, ...wait, ...headers },
    });
}

test('reverting an edit rolls the expense back; reverting that revert redoes the edit', async () => {
    const c = await write('POST', `${G()}/expenses`, { body: expense(300, 'Museum'), headers: wait });
    assert.equal(c.status, 201, c.text);
    const url = `${G()}/expenses/${c.json.id}`;
    const start = await balances();
    const put = await write('PUT', url, { body: expense(900, 'Museum and lunch'), headers: { 'If-Match': '"1"', ...wait } });
    assert.equal(put.status, 200, put.text);
    const edit = await findEvent('expense.replaced', c.json.id);

    assertProblem(await write('POST', `${G()}/events/${edit.event_id}/revert`, { headers: wait }), 428);
    assertProblem(await revert(edit.event_id, 1), 409); // the expense is at 2
    assertProblem(await revert(edit.event_id, 2, { token: bob.token }), 404);
    assertProblem(await revert(randomUUID(), 2), 404);
    assertProblem(await revert('nope', 2), 404);

    const version = await groupVersion();
    const key = randomUUID();
    const r = await revert(edit.event_id, 2, { headers: { 'Idempotency-Key': key } });
    assert.equal(r.status, 200, r.text);
    // Its retry replays the answer (the expense is at 3 now), and applies nothing.
    const retry = await revert(edit.event_id, 2, { headers: { 'Idempotency-Key': key } });
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.equal(retry.json.version, 3);
    assert.equal(r.json.version, 3);
    assert.equal(r.json.amount, 300);
    assert.equal(r.json.description, 'Museum');
    assert.equal(r.headers.get('etag'), '"3"');
    assert.equal(await groupVersion(), version + 1);
    assert.deepEqual(await balances(), start);

    const rev = await findEvent('expense.reverted', c.json.id);
    assert.equal(rev.payload.data.reverts, edit.event_id);
    assert.equal(rev.before.amount, 900);
    assert.equal(rev.after.amount, 300);

    // The edit is no longer the expense's last change: reverting it again is 409.
    assertProblem(await revert(edit.event_id, 3), 409);
    // Reverting the revert redoes the edit.
    const redo = await revert(rev.event_id, 3);
    assert.equal(redo.status, 200, redo.text);
    assert.equal(redo.json.amount, 900);
    assert.equal(redo.json.description, 'Museum and lunch');
    assert.equal(redo.json.version, 4);
    replayVerify();
});

test('reverting a deletion brings the expense back; reverting a creation deletes it', async () => {
    const start = await balances();
    const c = await write('POST', `${G()}/expenses`, { body: expense(600, 'Boat'), headers: wait });
    const url = `${G()}/expenses/${c.json.id}`;
    const del = await write('DELETE', url, { headers: { 'If-Match': '"1"', ...wait } });
    assert.equal(del.status, 200, del.text);
    assertProblem(await api('GET', url, { token: alice.token }), 404);
    const delEvent = await findEvent('expense.deleted', c.json.id);
    const back = await revert(delEvent.event_id, 2);
    assert.equal(back.status, 200, back.text);
    assert.equal(back.json.version, 3);
    assert.equal(back.json.amount, 600);
    const got = await api('GET', url, { token: alice.token });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json, back.json);
    const mid = await balances();
    assert.equal(mid[A].paid - start[A].paid, 600);

    const created = await findEvent('expense.created', c.json.id);
    const gone = await revert(created.event_id, 3);
    assertProblem(gone, 409); // the creation is not its last change any more
    // A fresh one: reverting its creation removes it.
    const d = await write('POST', `${G()}/expenses`, { body: expense(120, 'Tram'), headers: wait });
    const dCreated = await findEvent('expense.created', d.json.id);
    const undo = await revert(dCreated.event_id, 1);
    assert.equal(undo.status, 200, undo.text);
    assert.equal(undo.json.version, 2);
    assertProblem(await api('GET', `${G()}/expenses/${d.json.id}`, { token: alice.token }), 404);
    const end = await balances();
    assert.equal(end[A].paid - start[A].paid, 600);
    replayVerify();
});

test('payments revert too: a deleted payment comes back, an edit is rolled back', async () => {
    const start = await balances();
    const p = (await createPayment({ from_member: B, to_member: C, amount: 800, note: 'rent' })).json;
    const url = `${G()}/payments/${p.id}`;
    await write('PUT', url, { body: { from_member: B, to_member: C, amount: 80 }, headers: { 'If-Match': '"1"', ...wait } });
    const edit = await findEvent('payment.replaced', p.id);
    const back = await revert(edit.event_id, 2);
    assert.equal(back.status, 200, back.text);
    assert.equal(back.json.amount, 800);
    assert.equal(back.json.note, 'rent');
    assert.equal(back.json.version, 3);
    assert.equal(back.headers.get('etag'), '"3"');

    await write('DELETE', url, { headers: { 'If-Match': '"3"', ...wait } });
    const del = await findEvent('payment.deleted', p.id);
    const queued = await write('POST', `${G()}/events/${del.event_id}/revert`, { headers: { 'If-Match': '"4"' } });
    assert.equal(queued.status, 202, queued.text);
    assert.equal(queued.json.payment_id, p.id);
    await waitFor(async () => (await api('GET', url, { token: alice.token })).status === 200, {
        what: 'the payment to come back',
    });
    const got = (await api('GET', url, { token: alice.token })).json;
    assert.equal(got.version, 5);
    assert.equal(got.amount, 800);
    const end = await balances();
    assert.equal(end[B].sent - start[B].sent, 800);
    assert.equal(end[C].received - start[C].received, 800);
    const entry = await findEvent('payment.reverted', p.id);
    assert.equal(entry.payload.data.reverts, del.event_id);
    replayVerify();
});

test('a rejected event cannot be reverted (422); a body other than {} is refused', async () => {
    const p = (await createPayment()).json;
    const url = `${G()}/payments/${p.id}`;
    // Two replacements from version 1, queued together: one is rejected at apply time.
    const send = (amount) =>
        write('PUT', url, { body: { from_member: B, to_member: A, amount }, headers: { 'If-Match': '"1"' } });
    const rs = await Promise.all([send(5), send(6)]);
    const accepted = rs.filter((r) => r.status === 202);
    const rejected = await waitFor(async () => {
        for (const r of accepted) {
            const e = await api('GET', `/api/v1/events/${r.json.event_id}`, { token: alice.token });
            if (e.json?.status === 'rejected') return r.json.event_id;
        }
        return accepted.length < 2 ? 'none' : null;
    }, { what: 'one replacement to be rejected' });
    if (rejected !== 'none') assertProblem(await revert(rejected, 2), 422);
    // Guaranteed rejected: a replacement of a payment that does not exist.
    const ghost = await write('PUT', `${G()}/payments/${randomUUID()}`, {
        body: { from_member: B, to_member: A, amount: 5 },
        headers: { 'If-Match': '"1"', ...wait },
    });
    assertProblem(ghost, 404);
    const [[ghostEvent]] = psql(
        `SELECT event_id FROM rejected_events WHERE group_id = '${group.id}' AND type = 'payment.replaced'` +
            ' ORDER BY rejected_at DESC LIMIT 1',
    );
    assertProblem(await revert(ghostEvent, 1), 422);
    const created = await findEvent('payment.created', p.id);
    const withBody = await write('POST', `${G()}/events/${created.event_id}/revert`, {
        body: { reason: 'x' },
        headers: { 'If-Match': '"2"' },
    });
    assertProblem(withBody, 422);
});

test('GET payments lists live payments newest first by date, paginated, with the group ETag', async () => {
    const g = await write('POST', '/api/v1/groups', { body: { name: 'Payments list', currency: 'EUR' } });
    const gid = g.json.id;
    const a = g.json.members[0].id;
    const b = (await write('POST', `/api/v1/groups/${gid}/members`, { body: { name: 'Bo' } })).json.id;
    const made = [];
    for (const [amount, date] of [[1, '2026-11-02'], [2, '2026-11-05'], [3, '2026-11-01'], [4, '2026-11-05']]) {
        const r = await write('POST', `/api/v1/groups/${gid}/payments`, {
            body: { from_member: b, to_member: a, amount, date },
            headers: wait,
        });
        assert.equal(r.status, 201, r.text);
        made.push(r.json);
    }
    const del = await write('DELETE', `/api/v1/groups/${gid}/payments/${made[0].id}`, { headers: { 'If-Match': '"1"', ...wait } });
    assert.equal(del.status, 200, del.text);
    const items = [];
    let cursor = null;
    do {
        const r = await api('GET', `/api/v1/groups/${gid}/payments?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
            token: alice.token,
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.headers.get('etag'), `"${(await api('GET', `/api/v1/groups/${gid}`, { token: alice.token })).json.version}"`);
        items.push(...r.json.items);
        cursor = r.json.next_cursor;
    } while (cursor);
    // Same date: the later creation first (ties within one second by id).
    const top = items.slice(0, 2).map((x) => x.amount).sort();
    assert.deepEqual(top, [2, 4]);
    assert.deepEqual(items.map((x) => x.amount).slice(2), [3]);
    assert.deepEqual(items.find((x) => x.amount === 3), made[2]);
    assertProblem(await api('GET', `/api/v1/groups/${gid}/payments`, { token: bob.token }), 404);
    assertProblem(await api('GET', `/api/v1/groups/${gid}/payments?limit=0`, { token: alice.token }), 422);
    assertProblem(await api('GET', `/api/v1/groups/${gid}/payments`), 401);
});
