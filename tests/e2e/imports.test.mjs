// Exporting a group as one JSON document (GET /groups/{gid}/export.json), end to end: the
// members, expenses and payments the api applied come back as their request fields, deleted
// ones left out, with the group's version as ETag; 401 first, 404 to a non-member.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, registerUser } from './lib.mjs';

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
