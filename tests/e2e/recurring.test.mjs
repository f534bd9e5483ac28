// Recurring expenses end to end: a rule on an expense, its occurrences queued by the workers'
// scheduler as ordinary ledger events (caught up to today after a start in the past, each once),
// `until`, editing and stopping the rule, editing and deleting one occurrence, the "upcoming"
// list, refusals of bad rules, and `splitterctl replay --verify` agreeing afterwards.
// (The month-end and leap-year date rules are tests/unit/test_recur.c's; a worker restart in the
// middle of a catch-up is tests/faults/recurring.test.mjs's.)

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, registerUser, waitFor, delay } from './lib.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD = path.resolve(ROOT, process.env.BUILD ?? 'build');

let alice, group, A, B;
const G = () => `/api/v1/groups/${group.id}`;
const wait = { Prefer: 'wait=5' };

/** The UTC date `days` from today, YYYY-MM-DD. */
function day(days) {
    const d = new Date();
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
}

function assertProblem(r, status) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal(r.json.status, status);
}

function body(description, extra = {}) {
    return {
        description,
        amount: 300,
        paid_by: [{ member_id: A, amount: 300 }],
        split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }] },
        ...extra,
    };
}

async function create(b) {
    const r = await api('POST', `${G()}/expenses`, { token: alice.token, body: b, headers: wait });
    assert.equal(r.status, 201, r.text);
    return r.json;
}

/** The group's expenses with this description, oldest date first. */
async function expenses(description) {
    const r = await api('GET', `${G()}/expenses?limit=100&q=${encodeURIComponent(description)}`, {
        token: alice.token,
    });
    assert.equal(r.status, 200, r.text);
    return r.json.items.filter((x) => x.description === description).sort((a, b) => a.date.localeCompare(b.date));
}

async function settle(description, n, what) {
    const items = await waitFor(async () => {
        const got = await expenses(description);
        return got.length >= n ? got : null;
    }, { timeoutMs: 30_000, intervalMs: 200, what });
    // Two more scheduler ticks: nothing more comes.
    await delay(4500);
    const again = await expenses(description);
    assert.equal(again.length, n, `${what}: ${again.length} expenses`);
    return again;
}

async function recurrences() {
    const r = await api('GET', `${G()}/recurrences`, { token: alice.token });
    assert.equal(r.status, 200, r.text);
    return r.json.items;
}

function replayVerify() {
    const r = spawnSync(path.join(BUILD, 'bin', 'splitterctl'), ['replay', '--verify', '--group', group.id], {
        encoding: 'utf8',
        timeout: 60_000,
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /1 groups verified, 0 differ/);
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Flat', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    A = group.members[0].id;
    B = (await api('POST', `${G()}/members`, { token: alice.token, body: { name: 'Bea' } })).json.id;
});

test('a daily rule started 30 days ago catches up to exactly 31 occurrences, each once', async () => {
    const t = await create(body('Rent daily', { date: day(-30), recurrence: { every: 1, unit: 'day' } }));
    assert.deepEqual(t.recurrence, { every: 1, unit: 'day', until: null });
    assert.equal(t.recurrence_of, null);
    const items = await settle('Rent daily', 31, 'the catch-up');
    assert.deepEqual(items.map((x) => x.date), Array.from({ length: 31 }, (_, i) => day(i - 30)));
    assert.equal(new Set(items.map((x) => x.id)).size, 31);
    for (const x of items.slice(1)) {
        assert.equal(x.recurrence_of, t.id);
        assert.equal(x.recurrence, null);
        assert.equal(x.amount, 300);
        assert.equal(x.created_by, alice.user.id);
        assert.deepEqual(x.paid_by, t.paid_by);
        assert.deepEqual(x.split, t.split);
    }
    const bal = await api('GET', `${G()}/balances`, { token: alice.token });
    const of = Object.fromEntries(bal.json.balances.map((b) => [b.member_id, b]));
    assert.equal(of[A].paid, 31 * 300);
    assert.equal(of[B].owed, 31 * 150);
    assert.equal(of[B].balance, -31 * 150);
    // The audit log holds them as ordinary expense.created events by the rule's creator.
    const log = await api('GET', `${G()}/events?limit=200`, { token: alice.token });
    const created = log.json.items.filter((e) => e.type === 'expense.created' && e.payload.data?.recurrence_of === t.id);
    assert.equal(created.length, 30);
    assert.ok(created.every((e) => e.actor === alice.user.id));
    const rule = (await recurrences()).find((r) => r.expense_id === t.id);
    assert.deepEqual(rule.next_dates, [day(1), day(2), day(3)]);
    assert.equal(rule.active, true);
    assert.equal(rule.amount, 300);
    assert.equal(rule.currency, 'EUR');
    assert.deepEqual(rule.recurrence, t.recurrence);
    replayVerify();
});

test('until is the last day; editing the rule changes only the occurrences after the edit', async () => {
    const t = await create(body('Cleaning', { date: day(-30), recurrence: { every: 1, unit: 'week', until: day(-10) } }));
    let items = await settle('Cleaning', 3, 'the weekly rule up to its until');
    assert.deepEqual(items.map((x) => x.date), [day(-30), day(-23), day(-16)]);
    const ended = (await recurrences()).find((r) => r.expense_id === t.id);
    assert.deepEqual(ended.next_dates, []);
    assert.equal(ended.active, false);
    // A new amount and a later until: the next dates come with the new amount, the old stay.
    const put = await api('PUT', `${G()}/expenses/${t.id}`, {
        token: alice.token,
        headers: { 'If-Match': `"${t.version}"`, ...wait },
        body: body('Cleaning', {
            amount: 500,
            paid_by: [{ member_id: A, amount: 500 }],
            date: day(-30),
            recurrence: { every: 1, unit: 'week', until: day(0) },
        }),
    });
    assert.equal(put.status, 200, put.text);
    items = await settle('Cleaning', 5, 'the occurrences after the edit');
    assert.deepEqual(items.map((x) => [x.date, x.amount]), [
        [day(-30), 500], [day(-23), 300], [day(-16), 300], [day(-9), 500], [day(-2), 500],
    ]);
    replayVerify();
});

test('stopping a rule (recurrence null, or deleting it) ends its upcoming dates', async () => {
    const t = await create(body('Gym', { date: day(0), recurrence: { every: 2, unit: 'day' } }));
    await settle('Gym', 1, 'the rule dated today');
    let rule = (await recurrences()).find((r) => r.expense_id === t.id);
    assert.deepEqual(rule.next_dates, [day(2), day(4), day(6)]);
    const put = await api('PUT', `${G()}/expenses/${t.id}`, {
        token: alice.token,
        headers: { 'If-Match': '"1"', ...wait },
        body: body('Gym', { date: day(0), recurrence: null }),
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.recurrence, undefined);
    assert.equal((await recurrences()).find((r) => r.expense_id === t.id), undefined);
    await settle('Gym', 1, 'nothing after the stop');

    const t2 = await create(body('Pool', { date: day(0), recurrence: { every: 1, unit: 'month' } }));
    assert.ok((await recurrences()).some((r) => r.expense_id === t2.id));
    const del = await api('DELETE', `${G()}/expenses/${t2.id}`, { token: alice.token, headers: { 'If-Match': '"1"', ...wait } });
    assert.ok(del.status === 200 || del.status === 204, del.text);
    assert.equal((await recurrences()).find((r) => r.expense_id === t2.id), undefined);
    replayVerify();
});

test('one occurrence is edited or deleted like any expense, and stays an occurrence', async () => {
    const t = await create(body('Lunch', { date: day(-3), recurrence: { every: 1, unit: 'day' } }));
    const items = await settle('Lunch', 4, 'the catch-up');
    const [, one, two] = items;
    const url = `${G()}/expenses/${one.id}`;
    // Edited without naming the rule: the occurrence keeps it.
    const put = await api('PUT', url, {
        token: alice.token,
        headers: { 'If-Match': '"1"', ...wait },
        body: body('Lunch', { amount: 100, paid_by: [{ member_id: A, amount: 100 }], date: one.date }),
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.amount, 100);
    assert.equal(put.json.recurrence_of, t.id);
    assert.equal(put.json.version, 2);
    // An occurrence cannot repeat itself, nor move to another rule.
    assertProblem(await api('PUT', url, {
        token: alice.token,
        headers: { 'If-Match': '"2"', ...wait },
        body: body('Lunch', { date: one.date, recurrence: { every: 1, unit: 'day' } }),
    }), 422);
    const moved = await api('PUT', url, {
        token: alice.token,
        headers: { 'If-Match': '"2"', ...wait },
        body: body('Lunch', { date: one.date, recurrence_of: group.id }),
    });
    assertProblem(moved, 422);
    assert.ok(moved.json.errors.some((e) => e.field === 'recurrence_of'), moved.text);
    // Deleted: gone, and the scheduler does not bring it back.
    const del = await api('DELETE', `${G()}/expenses/${two.id}`, { token: alice.token, headers: { 'If-Match': '"1"', ...wait } });
    assert.ok(del.status === 200 || del.status === 204, del.text);
    const after = await settle('Lunch', 3, 'the occurrences after a deletion');
    assert.deepEqual(after.map((x) => [x.date, x.amount]), [[day(-3), 300], [day(-2), 100], [day(0), 300]]);
    replayVerify();
});

test('bad rules are refused with 422 naming the field', async () => {
    const cases = [
        [{ every: 0, unit: 'day' }, 'recurrence.every'],
        [{ every: 367, unit: 'day' }, 'recurrence.every'],
        [{ every: 1.5, unit: 'day' }, 'recurrence.every'],
        [{ every: 1, unit: 'fortnight' }, 'recurrence.unit'],
        [{ every: 1 }, 'recurrence.unit'],
        [{ every: 1, unit: 'day', until: '2026-02-30' }, 'recurrence.until'],
        [{ every: 1, unit: 'day', until: '2020-01-01' }, 'recurrence.until'],
        [{ every: 1, unit: 'day', count: 3 }, 'recurrence.count'],
        ['daily', 'recurrence'],
    ];
    for (const [recurrence, field] of cases) {
        const r = await api('POST', `${G()}/expenses`, {
            token: alice.token,
            body: body('Bad', { date: '2026-01-10', recurrence }),
        });
        assertProblem(r, 422);
        assert.ok(r.json.errors.some((e) => e.field === field), `${JSON.stringify(recurrence)}: ${r.text}`);
    }
    const r = await api('POST', `${G()}/expenses`, {
        token: alice.token,
        body: body('Bad', { recurrence_of: group.id }),
    });
    assertProblem(r, 422);
    assert.ok(r.json.errors.some((e) => e.field === 'recurrence_of'), r.text);
    assertProblem(await api('GET', `${G()}/recurrences`), 401);
    const bob = await registerUser({ name: 'Bob' });
    assertProblem(await api('GET', `${G()}/recurrences`, { token: bob.token }), 404);
});
