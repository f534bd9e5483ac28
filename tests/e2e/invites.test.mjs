// Invites: a member creates one; other users accept it, joining as new members or claiming a
// member without an account, whose history then belongs to them.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { api, registerUser, psql } from './lib.mjs';

const sha256 = (s) => createHash('sha256').update(s).digest('hex');

let alice; // creates the group
let group;
let bobMember; // a member without an account, with history

function assertProblem(r, status, field) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, r.text);
    assert.equal(r.json.status, status);
    if (field !== undefined) {
        assert.ok((r.json.errors ?? []).some((e) => e.field === field), r.text);
    }
}

async function invite(token = alice.token, gid = group.id) {
    const r = await api('POST', `/api/v1/groups/${gid}/invites`, { token });
    assert.equal(r.status, 201, r.text);
    return r.json.token;
}

const accept = (invToken, token, body) =>
    api('POST', `/api/v1/invites/${invToken}/accept`, { token, body });

const getGroup = (token, gid = group.id) => api('GET', `/api/v1/groups/${gid}`, { token });

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Trip', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    const m = await api('POST', `/api/v1/groups/${group.id}/members`, { token: alice.token, body: { name: 'Bob (no account)' } });
    assert.equal(m.status, 201, m.text);
    bobMember = m.json.id;
});

test('create: 201 {token, expires_at}; only the SHA-256 of the token is stored', async () => {
    const r = await api('POST', `/api/v1/groups/${group.id}/invites`, { token: alice.token });
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.token, /^[A-Za-z0-9_-]{43}$/);
    assert.match(r.json.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const days = (Date.parse(r.json.expires_at) - Date.now()) / 86400e3;
    assert.ok(days > 6.9 && days <= 7.01, `expires in ${days} days`);
    const rows = psql(`SELECT encode(token_hash, 'hex'), created_by FROM invites WHERE group_id = '${group.id}'`);
    assert.ok(rows.some(([h, by]) => h === sha256(r.json.token) && by === alice.user.id));
    assert.ok(!rows.some(([h]) => h.includes(Buffer.from(r.json.token).toString('hex'))));
    // Two invites are two different tokens.
    assert.notEqual(await invite(), r.json.token);
    // No body is needed; an empty object is fine; unknown fields are not.
    const e = await api('POST', `/api/v1/groups/${group.id}/invites`, { token: alice.token, body: {} });
    assert.equal(e.status, 201, e.text);
    assertProblem(await api('POST', `/api/v1/groups/${group.id}/invites`, { token: alice.token, body: { ttl: 9 } }), 422, 'ttl');
});

test('accept: a new member with a balances row; the group answers 200; repeating is idempotent', async () => {
    const carol = await registerUser({ name: 'Carol' });
    const inv = await invite();
    const before = (await getGroup(alice.token)).json;
    assertProblem(await getGroup(carol.token), 404);

    const r = await accept(inv, carol.token);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ['archived', 'archived_at', 'created_at', 'currency', 'id', 'members', 'name', 'version']);
    assert.equal(r.json.id, group.id);
    assert.equal(r.json.version, before.version + 1);
    assert.equal(r.headers.get('etag'), `"${r.json.version}"`);
    const mine = r.json.members.filter((m) => m.user_id === carol.user.id);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].name, 'Carol');
    assert.deepEqual(r.json.members.slice(0, -1), before.members, 'appended after the others');

    // She sees it as GET does, and in her list, with a zero balance.
    const g = await getGroup(carol.token);
    assert.equal(g.status, 200, g.text);
    assert.deepEqual(g.json, r.json);
    const l = await api('GET', '/api/v1/groups', { token: carol.token });
    assert.deepEqual(l.json.items, [{ id: group.id, name: 'Trip', currency: 'EUR', my_balance: 0, archived: false }]);
    assert.deepEqual(psql(`SELECT paid, owed FROM balances WHERE member_id = '${mine[0].id}'`), [['0', '0']]);
    const b = await api('GET', `/api/v1/groups/${group.id}/balances`, { token: carol.token });
    assert.equal(b.status, 200, b.text);
    assert.ok(b.json.balances.some((x) => x.member_id === mine[0].id));

    // Again, with the same or another invite: the same group, nothing changes.
    const again = await accept(inv, carol.token);
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.json, r.json);
    const other = await accept(await invite(), carol.token, {});
    assert.deepEqual(other.json, r.json);
    // Claiming her own member is the same no-op.
    const own = await accept(inv, carol.token, { member_id: mine[0].id });
    assert.equal(own.status, 200, own.text);
    assert.deepEqual(own.json, r.json);
    // An invited member may invite in turn.
    assert.equal((await api('POST', `/api/v1/groups/${group.id}/invites`, { token: carol.token })).status, 201);
});

test('claim: the member without an account becomes the user, with its history', async () => {
    // History for Bob: Alice paid 100, split equally: Bob owes 50.
    const A = group.members[0].id;
    const e = await api('POST', `/api/v1/groups/${group.id}/expenses`, {
        token: alice.token,
        headers: { Prefer: 'wait=5' },
        body: {
            description: 'Lunch',
            amount: 100,
            paid_by: [{ member_id: A, amount: 100 }],
            split: { mode: 'equal', members: [{ member_id: A }, { member_id: bobMember }] },
        },
    });
    assert.equal(e.status, 201, e.text);
    // Alice reads the balances first, so the cache holds a full view that does not list Bob.
    const warm = await api('GET', `/api/v1/groups/${group.id}/balances`, { token: alice.token });
    assert.equal(warm.status, 200, warm.text);
    const bob = await registerUser({ name: 'Robert' });
    const inv = await invite();
    const before = (await getGroup(alice.token)).json;

    const r = await accept(inv, bob.token, { member_id: bobMember });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.version, before.version + 1);
    assert.equal(r.json.members.length, before.members.length, 'no new member');
    const m = r.json.members.find((x) => x.id === bobMember);
    assert.deepEqual(m, { id: bobMember, name: 'Bob (no account)', user_id: bob.user.id });

    // His history is his: the list shows his balance, and the cached reads let him in at once.
    const l = await api('GET', '/api/v1/groups', { token: bob.token });
    assert.deepEqual(l.json.items, [{ id: group.id, name: 'Trip', currency: 'EUR', my_balance: -50, archived: false }]);
    const b = await api('GET', `/api/v1/groups/${group.id}/balances`, { token: bob.token });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.json.balances.find((x) => x.member_id === bobMember).balance, -50);
    const s = await api('GET', `/api/v1/groups/${group.id}/settlements`, { token: bob.token });
    assert.equal(s.status, 200, s.text);
    assert.deepEqual((await getGroup(bob.token)).json, r.json);

    // Nobody else can claim him now; he cannot claim another member either.
    const eve = await registerUser({ name: 'Eve' });
    assertProblem(await accept(inv, eve.token, { member_id: bobMember }), 409);
    assertProblem(await accept(inv, eve.token, { member_id: group.members[0].id }), 409);
    const spare = await api('POST', `/api/v1/groups/${group.id}/members`, { token: alice.token, body: { name: 'Spare' } });
    assertProblem(await accept(inv, bob.token, { member_id: spare.json.id }), 409);
    assertProblem(await getGroup(eve.token), 404, undefined);
});

test('accept refuses bad bodies: 422 naming member_id or the unknown field', async () => {
    const dan = await registerUser({ name: 'Dan' });
    const inv = await invite();
    const otherGroup = await api('POST', '/api/v1/groups', { token: dan.token, body: { name: 'Other', currency: 'USD' } });
    assertProblem(await accept(inv, dan.token, { member_id: randomUUID() }), 422, 'member_id');
    assertProblem(await accept(inv, dan.token, { member_id: otherGroup.json.members[0].id }), 422, 'member_id');
    assertProblem(await accept(inv, dan.token, { member_id: 'Bob' }), 422, 'member_id');
    assertProblem(await accept(inv, dan.token, { member_id: 7 }), 422, 'member_id');
    assertProblem(await accept(inv, dan.token, { member_id: bobMember.toUpperCase() }), 422, 'member_id');
    assertProblem(await accept(inv, dan.token, { member: bobMember }), 422, 'member');
    assertProblem(await accept(inv, dan.token, '{"member_id":null,"member_id":null}'), 422, 'member_id');
    assertProblem(await accept(inv, dan.token, '{'), 400);
    assertProblem(
        await api('POST', `/api/v1/invites/${inv}/accept`, { token: dan.token, body: 'x', headers: { 'Content-Type': 'text/plain' } }),
        415,
    );
    assertProblem(await getGroup(dan.token), 404);
    // member_id: null is the same as no member_id.
    const r = await accept(inv, dan.token, { member_id: null });
    assert.equal(r.status, 200, r.text);
});

test('unknown, malformed, tampered and expired invites are 404; a bad token is 401', async () => {
    const frank = await registerUser({ name: 'Frank' });
    const inv = await invite();
    const flipped = inv.slice(0, 5) + (inv[5] === 'A' ? 'B' : 'A') + inv.slice(6);
    for (const t of [flipped, inv.slice(0, -1), `${inv}A`, 'x', `${'A'.repeat(42)}=`, "'%20OR%20'1'='1", randomUUID()]) {
        assertProblem(await accept(t, frank.token), 404);
    }
    // Bodies are not even looked at for an unknown invite.
    assertProblem(await accept(flipped, frank.token, '{"nope":'), 404);

    // Without Authorization the accept is a guest's join (tests/e2e/guests.test.mjs); any
    // Authorization that is not a live bearer token is refused.
    const badAuth = await accept(inv, `${frank.token.slice(0, -1)}Z`);
    assertProblem(badAuth, 401);
    assert.equal(badAuth.headers.get('www-authenticate'), 'Bearer');
    assertProblem(await api('POST', `/api/v1/invites/${inv}/accept`, { headers: { Authorization: 'Basic Zm9vOmJhcg==' } }), 401);
    assertProblem(await api('GET', `/api/v1/invites/${inv}/accept`, { token: frank.token }), 405);

    psql(`UPDATE invites SET expires_at = now() - interval '1 second' WHERE token_hash = decode('${sha256(inv)}', 'hex')`);
    assertProblem(await accept(inv, frank.token), 404);
    assertProblem(await getGroup(frank.token), 404);
});

test('invites are for members only: a non-member gets 404 like for a group that does not exist', async () => {
    const gus = await registerUser({ name: 'Gus' });
    const a = await api('POST', `/api/v1/groups/${group.id}/invites`, { token: gus.token });
    const b = await api('POST', `/api/v1/groups/${randomUUID()}/invites`, { token: gus.token });
    assertProblem(a, 404);
    assertProblem(b, 404);
    assert.equal(a.json.detail, b.json.detail);
    assertProblem(await api('POST', `/api/v1/groups/${group.id}/invites`, {}), 401);
});

test('concurrent accepts by one user add one member', async () => {
    const hal = await registerUser({ name: 'Hal' });
    const inv = await invite();
    const all = await Promise.all([1, 2, 3, 4].map(() => accept(inv, hal.token)));
    for (const r of all) assert.equal(r.status, 200, r.text);
    const g = await getGroup(hal.token);
    assert.equal(g.json.members.filter((m) => m.user_id === hal.user.id).length, 1);
});

test('two users claiming one member: exactly one wins, the other gets 409', async () => {
    const m = await api('POST', `/api/v1/groups/${group.id}/members`, { token: alice.token, body: { name: 'Contested' } });
    const [ivy, jon] = await Promise.all([registerUser({ name: 'Ivy' }), registerUser({ name: 'Jon' })]);
    const inv = await invite();
    const rs = await Promise.all([ivy, jon].map((u) => accept(inv, u.token, { member_id: m.json.id })));
    assert.deepEqual(rs.map((r) => r.status).sort(), [200, 409], rs.map((r) => r.text).join('\n'));
    const [[owner]] = psql(`SELECT user_id FROM members WHERE id = '${m.json.id}'`);
    assert.ok([ivy.user.id, jon.user.id].includes(owner));
});
