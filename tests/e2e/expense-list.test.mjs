// The expense list: newest first by the expense's date, then by creation (latest first), with
// the keyset cursor following that order across pages, and the filters (q, payer, member,
// category, from, to) alone and combined, with the same order and cursors.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, registerUser } from './lib.mjs';

let alice, bob;
let group;
let A, B, C;
const made = []; // in creation order

const G = () => `/api/v1/groups/${group.id}`;

function assertProblem(r, status, field) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    if (field) assert.ok(r.json.errors?.some((e) => e.field === field), `no error on ${field}: ${r.text}`);
}

async function create(description, date, { payer = A, members = [A, B], category } = {}) {
    const body = {
        description,
        amount: 600,
        date,
        paid_by: [{ member_id: payer, amount: 600 }],
        split: { mode: 'equal', members: members.map((m) => ({ member_id: m })) },
    };
    if (category) body.category = category;
    const r = await api('POST', `${G()}/expenses`, { token: alice.token, body, headers: { Prefer: 'wait=5' } });
    assert.equal(r.status, 201, r.text);
    made.push(r.json);
    return r.json;
}

/** Every page of the list with query q, following next_cursor. */
async function pages(q = '', limit = 2) {
    const items = [];
    let cursor = null;
    let n = 0;
    do {
        const sep = q ? '&' : '';
        const r = await api('GET', `${G()}/expenses?${q}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
            token: alice.token,
        });
        assert.equal(r.status, 200, r.text);
        items.push(...r.json.items);
        cursor = r.json.next_cursor;
        assert.ok(++n < 100);
    } while (cursor);
    return items.map((x) => x.description);
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    bob = await registerUser({ name: 'Bob' });
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'List', currency: 'EUR' } });
    group = g.json;
    A = group.members[0].id;
    B = (await api('POST', `${G()}/members`, { token: alice.token, body: { name: 'Bea' } })).json.id;
    C = (await api('POST', `${G()}/members`, { token: alice.token, body: { name: 'Cris' } })).json.id;
    // Entered out of date order; three share one date (ties broken by creation, latest first).
    await create('Hotel 50% off', '2026-11-10', { category: 'Lodging' });
    await create('Dinner', '2026-11-12', { payer: B, members: [A, B, C], category: 'food' });
    await create('Museum_tickets', '2026-11-08', { members: [B, C] });
    await create('Lunch', '2026-11-12', { payer: C, members: [C, A], category: 'Food' });
    await create('Taxi', '2026-11-15');
    await create('Breakfast', '2026-11-12', { category: 'food' });
    await create('back\\slash', '2026-11-01', { payer: B, members: [B] });
});

test('newest first by date, then by creation (latest first), across pages of every size', async () => {
    const want = ['Taxi', 'Breakfast', 'Lunch', 'Dinner', 'Hotel 50% off', 'Museum_tickets', 'back\\slash'];
    for (const limit of [1, 2, 3, 50]) assert.deepEqual(await pages('', limit), want, `limit ${limit}`);
});

test('q matches description or category, case-insensitive, with LIKE metacharacters literal', async () => {
    assert.deepEqual(await pages('q=FOOD'), ['Breakfast', 'Lunch', 'Dinner']);
    assert.deepEqual(await pages('q=lodg'), ['Hotel 50% off']);
    assert.deepEqual(await pages(`q=${encodeURIComponent('50%')}`), ['Hotel 50% off']);
    assert.deepEqual(await pages(`q=${encodeURIComponent('%')}`), ['Hotel 50% off']);
    assert.deepEqual(await pages('q=e_s'), []); // "_" is not a wildcard ("tickets" has "ets")
    assert.deepEqual(await pages('q=e%25s'), []); // nor "%" ("Breakfast" has "e…s")
    assert.deepEqual(await pages('q=um_t'), ['Museum_tickets']);
    assert.deepEqual(await pages(`q=${encodeURIComponent('\\')}`), ['back\\slash']);
    assert.deepEqual(await pages('q=ç'), []);
});

test('payer, member, category, from and to filter; combined they all apply', async () => {
    assert.deepEqual(await pages(`payer=${B}`), ['Dinner', 'back\\slash']);
    assert.deepEqual(await pages(`member=${C}`), ['Lunch', 'Dinner', 'Museum_tickets']);
    assert.deepEqual(await pages('category=food'), ['Breakfast', 'Lunch', 'Dinner']);
    assert.deepEqual(await pages('from=2026-11-10&to=2026-11-12'), ['Breakfast', 'Lunch', 'Dinner', 'Hotel 50% off']);
    assert.deepEqual(await pages('from=2026-11-12', 1), ['Taxi', 'Breakfast', 'Lunch', 'Dinner']);
    assert.deepEqual(await pages('to=2026-11-08'), ['Museum_tickets', 'back\\slash']);
    assert.deepEqual(await pages(`q=food&member=${A}&from=2026-11-12&to=2026-11-12&payer=${C}`, 1), ['Lunch']);
    assert.deepEqual(await pages(`member=${randomUUID()}`), []);
});

test('bad filter values are 422 naming the parameter; a cursor only works with its filters', async () => {
    const get = (q, token = alice.token) => api('GET', `${G()}/expenses?${q}`, { token });
    assertProblem(await get('payer=nope'), 422, 'payer');
    assertProblem(await get('member=ABC'), 422, 'member');
    assertProblem(await get('from=2026-02-30'), 422, 'from');
    assertProblem(await get('to=yesterday'), 422, 'to');
    assertProblem(await get('from=2026-11-12&to=2026-11-01'), 422, 'to');
    assertProblem(await get(`q=${'x'.repeat(201)}`), 422, 'q');
    assertProblem(await get('q=%FF%FE'), 422, 'q');
    assertProblem(await get(`category=${'c'.repeat(51)}`), 422, 'category');
    // Non-members: 404 before the filters are looked at; no token: 401.
    assertProblem(await get('payer=nope', bob.token), 404);
    assertProblem(await api('GET', `${G()}/expenses?payer=nope`), 401);

    const first = await get('q=food&limit=1');
    assert.equal(first.status, 200, first.text);
    const cursor = encodeURIComponent(first.json.next_cursor);
    const same = await get(`q=food&limit=1&cursor=${cursor}`);
    assert.equal(same.status, 200, same.text);
    assert.equal(same.json.items[0].description, 'Lunch');
    assertProblem(await get(`q=foo&limit=1&cursor=${cursor}`), 422, 'cursor');
    assertProblem(await get(`limit=1&cursor=${cursor}`), 422, 'cursor');
    const plain = await get('limit=1');
    assertProblem(await get(`category=food&limit=1&cursor=${encodeURIComponent(plain.json.next_cursor)}`), 422, 'cursor');
});
