// Idempotency keys in the ledger: the worker records each write's key, per user, with its event
// (idempotency_keys), and never applies a second event with a key an earlier one holds, however
// that event reached the stream. The duplicates here are forged the way the api writes events
// (XADD onto the group's partition stream), as a retry would be enqueued after Redis forgot the
// key while the first was still queued.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { api, registerUser, redisCli, psql, waitFor } from './lib.mjs';

let alice, bob, group, A, B;
const G = () => `/api/v1/groups/${group.id}`;
const sha256 = (s) => createHash('sha256').update(s).digest('hex');

function expense(amount) {
    return {
        description: 'Tickets',
        amount,
        paid_by: [{ member_id: A, amount }],
        split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }] },
    };
}

function partitionOf(gid) {
    let h = 0x811c9dc5;
    for (const ch of Buffer.from(gid)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
    return h % 16;
}

async function finished(eventId, token = alice.token) {
    return waitFor(async () => {
        const r = await api('GET', `/api/v1/events/${eventId}`, { token });
        return r.json?.status === 'applied' || r.json?.status === 'rejected' ? r.json : null;
    }, { timeoutMs: 15_000, what: `event ${eventId} to finish` });
}

// The event the api accepted for eventId, as the ledger recorded it.
function recorded(eventId) {
    const [[payload]] = psql(`SELECT payload::text FROM events WHERE event_id = '${eventId}'`);
    return JSON.parse(payload);
}

// Append ev to its group's stream, as the api's accept script does.
function enqueue(ev) {
    redisCli('XADD', `splitter:stream:${partitionOf(ev.group_id)}`, '*', 'event', JSON.stringify(ev));
}

const balances = async () => (await api('GET', `${G()}/balances`, { token: alice.token })).json.balances;

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    bob = await registerUser({ name: 'Bob' });
    group = (await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Keys', currency: 'EUR' } })).json;
    A = group.members[0].id;
    B = (await api('POST', `${G()}/members`, { token: alice.token, body: { name: 'Ben' } })).json.id;
});

test('a keyed write records its key and request hash with its event', async () => {
    const key = randomUUID();
    const w = await api('POST', `${G()}/expenses`, { token: alice.token, body: expense(300), headers: { 'Idempotency-Key': key } });
    assert.equal(w.status, 202, w.text);
    assert.equal((await finished(w.json.event_id)).status, 'applied');
    const rows = psql(`SELECT event_id, target_id, length(request_sha256) FROM idempotency_keys
        WHERE actor = '${alice.user.id}' AND key_sha256 = '${sha256(key)}'`);
    assert.deepEqual(rows, [[w.json.event_id, w.json.expense_id, '64']]);
    // Its own key: the audit log does not show it, nor its hashes.
    const log = await api('GET', `${G()}/events?limit=200`, { token: alice.token });
    const item = log.json.items.find((e) => e.event_id === w.json.event_id);
    assert.ok(item);
    assert.equal(item.payload.idempotency_key, undefined);
    assert.equal(item.payload.idempotency_key_sha256, undefined);
    assert.equal(item.payload.request_sha256, undefined);
    // A write without a key records none.
    const plain = await api('POST', `${G()}/expenses`, { token: alice.token, body: expense(5), headers: { Prefer: 'wait=5' } });
    assert.equal(plain.status, 201, plain.text);
    assert.deepEqual(psql(`SELECT count(*) FROM idempotency_keys WHERE target_id = '${plain.json.id}'`), [['0']]);
});

test('the worker rejects a second event with a key the ledger holds (409, naming the first)', async () => {
    const key = randomUUID();
    const first = await api('POST', `${G()}/expenses`, { token: alice.token, body: expense(1000), headers: { 'Idempotency-Key': key } });
    assert.equal(first.status, 202, first.text);
    assert.equal((await finished(first.json.event_id)).status, 'applied');
    const before = await balances();
    const expensesBefore = psql(`SELECT count(*) FROM expenses WHERE group_id = '${group.id}'`);

    // The retry Redis did not recognise: a new event id and a new expense id, the same key.
    const dup = { ...recorded(first.json.event_id), event_id: randomUUID(), expense_id: randomUUID() };
    enqueue(dup);
    const st = await finished(dup.event_id);
    assert.equal(st.status, 'rejected');
    assert.equal(st.problem.type, '/problems/duplicate-request');
    assert.equal(st.problem.status, 409);
    assert.equal(st.problem.original_event_id, first.json.event_id);
    assert.equal(st.problem.expense_id, first.json.expense_id);
    assert.match(st.problem.detail, new RegExp(first.json.event_id));

    assert.deepEqual(psql(`SELECT count(*) FROM expenses WHERE id = '${dup.expense_id}'`), [['0']]);
    assert.deepEqual(psql(`SELECT count(*) FROM expenses WHERE group_id = '${group.id}'`), expensesBefore);
    assert.deepEqual(await balances(), before);
    // The key still names the first event.
    assert.deepEqual(psql(`SELECT event_id FROM idempotency_keys WHERE actor = '${alice.user.id}' AND key_sha256 = '${sha256(key)}'`),
        [[first.json.event_id]]);

    // The same key with another request behind it: refused as the api refuses it (422).
    const other = { ...dup, event_id: randomUUID(), expense_id: randomUUID(), request_sha256: sha256('another request') };
    enqueue(other);
    const st2 = await finished(other.event_id);
    assert.equal(st2.status, 'rejected');
    assert.equal(st2.problem.status, 422);
    assert.equal(st2.problem.errors[0].field, 'Idempotency-Key');
    assert.equal(st2.problem.original_event_id, first.json.event_id);
});

test('one batch: a new key is claimed by its first event; a later one and one whose key the ledger holds are rejected', async () => {
    const template = await api('POST', `${G()}/expenses`, { token: alice.token, body: expense(70), headers: { 'Idempotency-Key': randomUUID() } });
    assert.equal(template.status, 202, template.text);
    await finished(template.json.event_id);
    const key = randomUUID();
    const base = { ...recorded(template.json.event_id), idempotency_key: key, idempotency_key_sha256: sha256(key) };
    const one = { ...base, event_id: randomUUID(), expense_id: randomUUID() };
    const two = { ...base, event_id: randomUUID(), expense_id: randomUUID() };
    const three = { ...recorded(template.json.event_id), event_id: randomUUID(), expense_id: randomUUID() };
    // The entries in the stream at once (one script): most likely read in one batch.
    redisCli('EVAL', "for i = 1, #ARGV do redis.call('XADD', KEYS[1], '*', 'event', ARGV[i]) end",
        1, `splitter:stream:${partitionOf(group.id)}`, JSON.stringify(one), JSON.stringify(two), JSON.stringify(three));
    assert.equal((await finished(one.event_id)).status, 'applied');
    const st = await finished(two.event_id);
    assert.equal(st.status, 'rejected');
    assert.equal(st.problem.type, '/problems/duplicate-request');
    assert.equal(st.problem.original_event_id, one.event_id);
    assert.equal(st.problem.expense_id, one.expense_id);
    const st3 = await finished(three.event_id);
    assert.equal(st3.status, 'rejected');
    assert.equal(st3.problem.type, '/problems/duplicate-request');
    assert.equal(st3.problem.original_event_id, template.json.event_id);
    assert.deepEqual(psql(`SELECT count(*) FROM expenses WHERE id IN ('${one.expense_id}', '${two.expense_id}', '${three.expense_id}')`), [['1']]);
});

test('keys are per user: another user with the same key writes its own event', async () => {
    const inv = await api('POST', `${G()}/invites`, { token: alice.token });
    const acc = await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { token: bob.token, body: {} });
    assert.equal(acc.status, 200, acc.text);
    const key = randomUUID();
    const a = await api('POST', `${G()}/expenses`, { token: alice.token, body: expense(40), headers: { 'Idempotency-Key': key } });
    const b = await api('POST', `${G()}/expenses`, { token: bob.token, body: expense(40), headers: { 'Idempotency-Key': key } });
    assert.equal(a.status, 202, a.text);
    assert.equal(b.status, 202, b.text);
    assert.notEqual(a.json.event_id, b.json.event_id);
    assert.equal((await finished(a.json.event_id)).status, 'applied');
    assert.equal((await finished(b.json.event_id, bob.token)).status, 'applied');
});

test('a forged payment with a taken key is rejected too', async () => {
    const key = randomUUID();
    const p = await api('POST', `${G()}/payments`, {
        token: alice.token,
        body: { from_member: B, to_member: A, amount: 25 },
        headers: { 'Idempotency-Key': key },
    });
    assert.equal(p.status, 202, p.text);
    assert.equal((await finished(p.json.event_id)).status, 'applied');
    const before = await balances();
    const dup = { ...recorded(p.json.event_id), event_id: randomUUID(), payment_id: randomUUID() };
    enqueue(dup);
    const st = await finished(dup.event_id);
    assert.equal(st.status, 'rejected');
    assert.equal(st.problem.type, '/problems/duplicate-request');
    assert.equal(st.problem.payment_id, p.json.payment_id);
    assert.deepEqual(psql(`SELECT count(*) FROM payments WHERE id = '${dup.payment_id}'`), [['0']]);
    assert.deepEqual(await balances(), before);
});
