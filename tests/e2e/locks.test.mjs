// A group or expense row that someone else holds locked holds up only that group.
//
// An operator's `SELECT ... FOR UPDATE` through psql keeps a row locked for several seconds while
// users write to other groups, in the same partition and in others: those apply at once. The
// locked group's writes wait, pending, and apply in the order they were accepted once the lock
// is gone; nothing is dead-lettered or rejected on the way.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { api, registerUser, psql, redisCli, waitFor, holdLock, partitionOf } from './lib.mjs';

let alice;

async function newGroup(name) {
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name, currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    return { id: g.json.id, member: g.json.members[0].id };
}

function expense(g, amount, description = 'Lunch') {
    return {
        description,
        amount,
        paid_by: [{ member_id: g.member, amount }],
        split: { mode: 'equal', members: [{ member_id: g.member }] },
    };
}

/** Groups until one lands in partition p (and one that does not, when other). */
async function groupIn(p, other = false) {
    for (let i = 0; i < 200; i++) {
        const g = await newGroup(`G${i}`);
        if ((partitionOf(g.id) === p) !== other) return g;
    }
    throw new Error(`no group in partition ${p}`);
}

function deadFor(ids) {
    const dead = redisCli('XRANGE', 'splitter:dead', '-', '+');
    return ids.filter((id) => dead.includes(id));
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
});

test('a locked group row holds up only its own group; its writes apply after, in order', async () => {
    const locked = await newGroup('Locked');
    const p = partitionOf(locked.id);
    const same = await groupIn(p);
    const other = await groupIn(p, true);
    const held = await holdLock(`SELECT 1 FROM groups WHERE id = '${locked.id}' FOR UPDATE`, 6000);
    const started = Date.now();

    // Accepted while the row is locked: three writes to the locked group, in order.
    const waiting = [];
    for (let i = 1; i <= 3; i++) {
        const r = await api('POST', `/api/v1/groups/${locked.id}/expenses`, {
            token: alice.token,
            body: expense(locked, 100 * i, `Locked ${i}`),
        });
        assert.equal(r.status, 202, r.text);
        waiting.push(r.json.event_id);
    }
    // Other groups, same partition and another one, apply while the lock is held.
    for (const g of [same, other, same]) {
        const r = await api('POST', `/api/v1/groups/${g.id}/expenses`, {
            token: alice.token,
            headers: { Prefer: 'wait=4' },
            body: expense(g, 250),
        });
        assert.equal(r.status, 201, `group in partition ${partitionOf(g.id)}: ${r.text}`);
    }
    assert.ok(Date.now() - started < 5500, 'the other groups applied while the lock was held');
    assert.equal(psql(`SELECT count(*) FROM events WHERE group_id = '${locked.id}'`)[0][0], '0');

    await held.done;
    await waitFor(() => psql(`SELECT count(*) FROM events WHERE group_id = '${locked.id}'`)[0][0] === '3', {
        timeoutMs: 10_000,
        what: "the locked group's writes applied",
    });
    const order = psql(`SELECT event_id FROM events WHERE group_id = '${locked.id}' ORDER BY seq`).map((r) => r[0]);
    assert.deepEqual(order, waiting, 'applied in the order accepted');
    assert.equal(psql(`SELECT count(*) FROM rejected_events WHERE group_id IN ('${locked.id}', '${same.id}', '${other.id}')`)[0][0], '0');
    assert.deepEqual(deadFor(waiting), []);
    const bal = await api('GET', `/api/v1/groups/${locked.id}/balances`, { token: alice.token });
    assert.equal(bal.status, 200, bal.text);
});

test('a locked expense row holds up only its group, past the lock timeout, and is not rejected', async () => {
    const g = await newGroup('Expense lock');
    const p = partitionOf(g.id);
    const same = await groupIn(p);
    const x = await api('POST', `/api/v1/groups/${g.id}/expenses`, {
        token: alice.token,
        headers: { Prefer: 'wait=5' },
        body: expense(g, 100),
    });
    assert.equal(x.status, 201, x.text);
    // Longer than the worker's lock timeout (WORKER_LOCK_TIMEOUT_MS, 2 s by default).
    const held = await holdLock(`SELECT 1 FROM expenses WHERE id = '${x.json.id}' FOR UPDATE`, 5000);
    const started = Date.now();
    const upd = await api('PUT', `/api/v1/groups/${g.id}/expenses/${x.json.id}`, {
        token: alice.token,
        headers: { 'If-Match': '"1"' },
        body: expense(g, 300, 'Dinner'),
    });
    assert.equal(upd.status, 202, upd.text);
    const r = await api('POST', `/api/v1/groups/${same.id}/expenses`, {
        token: alice.token,
        headers: { Prefer: 'wait=4' },
        body: expense(same, 250),
    });
    assert.equal(r.status, 201, r.text);
    assert.ok(Date.now() - started < 4500, 'the other group applied while the expense was locked');

    await held.done;
    await waitFor(async () => {
        const s = await api('GET', `/api/v1/events/${upd.json.event_id}`, { token: alice.token });
        return s.status === 200 && s.json.status !== 'queued' && s;
    }, { timeoutMs: 10_000, what: 'the update recorded' }).then((s) => assert.equal(s.json.status, 'applied', JSON.stringify(s.json)));
    const e = await api('GET', `/api/v1/groups/${g.id}/expenses/${x.json.id}`, { token: alice.token });
    assert.equal(e.json.amount, 300);
    assert.deepEqual(deadFor([upd.json.event_id]), []);
});
