// Synchronous writes are retry-safe: creating groups and members, creating and accepting
// invites honour Idempotency-Key like ledger writes (the same key and request from the same
// user within 24 hours answers the first response again with Idempotent-Replayed: true; the
// same key with another request is 422; a malformed key is 422), anchored in PostgreSQL in
// the write's own statement, so a 503 means "not committed" and the retry then commits once.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, registerUser, psql, lockGroupRow } from './lib.mjs';

let alice, bob, group;

function assertProblem(r, status, field) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, r.text);
    assert.equal(r.json.status, status);
    if (field) assert.ok((r.json.errors ?? []).some((e) => e.field === field), r.text);
}

const post = (path, body, token, key, headers = {}) =>
    api('POST', path, { token, body, headers: key === undefined ? headers : { 'Idempotency-Key': key, ...headers } });

function assertSameAnswer(first, again) {
    assert.equal(again.status, first.status, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(first.headers.get('idempotent-replayed'), null);
    assert.deepEqual(again.json, first.json);
    for (const h of ['location', 'etag']) assert.equal(again.headers.get(h), first.headers.get(h), h);
}

before(async () => {
    alice = await registerUser();
    bob = await registerUser();
    const g = await post('/api/v1/groups', { name: 'Keys', currency: 'EUR' }, alice.token);
    assert.equal(g.status, 201, g.text);
    group = g.json;
});

test('creating a group twice with one key creates one group', async () => {
    const key = randomUUID();
    const first = await post('/api/v1/groups', { name: 'Once', currency: 'EUR' }, alice.token, key);
    assert.equal(first.status, 201, first.text);
    // Key order in the body does not make another request.
    const again = await post('/api/v1/groups', '{"currency":"EUR","name":"Once"}', alice.token, key);
    assertSameAnswer(first, again);
    assert.deepEqual(psql(`SELECT count(*) FROM groups WHERE created_by = '${alice.user.id}' AND name = 'Once'`), [['1']]);
    // The same key with another body is 422 naming the header; another user's key is its own.
    assertProblem(await post('/api/v1/groups', { name: 'Other', currency: 'EUR' }, alice.token, key), 422, 'Idempotency-Key');
    const bobs = await post('/api/v1/groups', { name: 'Once', currency: 'EUR' }, bob.token, key);
    assert.equal(bobs.status, 201, bobs.text);
    assert.notEqual(bobs.json.id, first.json.id);
    assert.equal(bobs.headers.get('idempotent-replayed'), null);
});

test('adding a member twice with one key adds one member, also when sent concurrently', async () => {
    const path = `/api/v1/groups/${group.id}/members`;
    const key = randomUUID();
    const first = await post(path, { name: 'Dora' }, alice.token, key);
    assert.equal(first.status, 201, first.text);
    assertSameAnswer(first, await post(path, { name: 'Dora' }, alice.token, key));
    assertProblem(await post(path, { name: 'Eve' }, alice.token, key), 422, 'Idempotency-Key');

    const k2 = randomUUID();
    const all = await Promise.all(Array.from({ length: 5 }, () => post(path, { name: 'Fay' }, alice.token, k2)));
    for (const r of all) assert.equal(r.status, 201, r.text);
    assert.equal(new Set(all.map((r) => r.json.id)).size, 1);
    assert.equal(all.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 4);
    assert.deepEqual(psql(`SELECT count(*) FROM members WHERE group_id = '${group.id}' AND name IN ('Dora', 'Fay')`), [['2']]);
});

test('an invite created twice with one key is the same token; accepting with a key replays', async () => {
    const key = randomUUID();
    const path = `/api/v1/groups/${group.id}/invites`;
    const first = await post(path, undefined, alice.token, key);
    assert.equal(first.status, 201, first.text);
    assertSameAnswer(first, await post(path, undefined, alice.token, key));
    assert.deepEqual(psql(`SELECT count(*) FROM invites WHERE group_id = '${group.id}'`), [['1']]);

    const carol = await registerUser();
    const accept = `/api/v1/invites/${first.json.token}/accept`;
    const ak = randomUUID();
    const joined = await post(accept, undefined, carol.token, ak);
    assert.equal(joined.status, 200, joined.text);
    assertSameAnswer(joined, await post(accept, undefined, carol.token, ak));
    assertProblem(await post(accept, { member_id: group.members[0].id }, carol.token, ak), 422, 'Idempotency-Key');
    assert.deepEqual(psql(`SELECT count(*) FROM members WHERE group_id = '${group.id}' AND user_id = '${carol.user.id}'`), [['1']]);
});

test('a malformed Idempotency-Key is 422 on every synchronous write', async () => {
    // nginx forwards only the request headers the api reads, and never one with an empty
    // value: through it an empty key is no key. The api itself refuses an empty one.
    const direct = { baseUrl: `http://127.0.0.1:${process.env.API_PORT}` };
    for (const [key, opts] of [['', direct], ['k'.repeat(256), {}]]) {
        const send = (path, body) =>
            api('POST', path, { token: alice.token, body, headers: { 'Idempotency-Key': key }, ...opts });
        assertProblem(await send('/api/v1/groups', { name: 'No', currency: 'EUR' }), 422, 'Idempotency-Key');
        assertProblem(await send(`/api/v1/groups/${group.id}/members`, { name: 'No' }), 422, 'Idempotency-Key');
        assertProblem(await send(`/api/v1/groups/${group.id}/invites`, undefined), 422, 'Idempotency-Key');
    }
    const ok = await post('/api/v1/groups', { name: 'Max key', currency: 'EUR' }, alice.token, 'k'.repeat(255));
    assert.equal(ok.status, 201, ok.text);
    assert.deepEqual(psql(`SELECT count(*) FROM groups WHERE created_by = '${alice.user.id}' AND name = 'No'`), [['0']]);
});

test('a key older than 24 hours no longer counts', async () => {
    const path = `/api/v1/groups/${group.id}/members`;
    const key = randomUUID();
    const first = await post(path, { name: 'Gus' }, alice.token, key);
    assert.equal(first.status, 201, first.text);
    psql(`UPDATE sync_request_keys SET created_at = now() - interval '25 hours' WHERE actor = '${alice.user.id}'`);
    const later = await post(path, { name: 'Gus' }, alice.token, key);
    assert.equal(later.status, 201, later.text);
    assert.equal(later.headers.get('idempotent-replayed'), null);
    assert.notEqual(later.json.id, first.json.id);
    assert.deepEqual(psql(`SELECT count(*) FROM sync_request_keys WHERE created_at < now() - interval '24 hours'`), [['0']]);
});

test('a write that answered 503 did not commit; its retry with the key commits once', async () => {
    const path = `/api/v1/groups/${group.id}/members`;
    const lock = await lockGroupRow(group.id);
    try {
        const key = randomUUID();
        assertProblem(await post(path, { name: 'Hal' }, alice.token, key), 503);
        assert.deepEqual(psql(`SELECT count(*) FROM members WHERE group_id = '${group.id}' AND name = 'Hal'`), [['0']]);
        await lock.release();
        const retry = await post(path, { name: 'Hal' }, alice.token, key);
        assert.equal(retry.status, 201, retry.text);
        assert.equal(retry.headers.get('idempotent-replayed'), null);
        assertSameAnswer(retry, await post(path, { name: 'Hal' }, alice.token, key));
        assert.deepEqual(psql(`SELECT count(*) FROM members WHERE group_id = '${group.id}' AND name = 'Hal'`), [['1']]);
    } finally {
        await lock.release();
    }
});
