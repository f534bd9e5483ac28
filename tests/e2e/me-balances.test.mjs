// GET /api/v1/me/balances: where the caller stands with each other person across all groups,
// per group from the group's minimal settlement, summed per currency; users and members
// without an account.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { api, registerUser } from './lib.mjs';

let alice, bob, carol;

async function group(token, name, currency) {
    const r = await api('POST', '/api/v1/groups', { token, body: { name, currency } });
    assert.equal(r.status, 201, r.text);
    return r.json;
}

async function join(g, owner, user) {
    const inv = await api('POST', `/api/v1/groups/${g.id}/invites`, { token: owner.token });
    assert.equal(inv.status, 201, inv.text);
    const acc = await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { token: user.token });
    assert.equal(acc.status, 200, acc.text);
    return acc.json.members.find((m) => m.user_id === user.user.id).id;
}

async function expense(g, token, payer, amount, members) {
    const r = await api('POST', `/api/v1/groups/${g.id}/expenses`, {
        token,
        headers: { Prefer: 'wait=5' },
        body: {
            description: 'x',
            amount,
            paid_by: [{ member_id: payer, amount }],
            split: { mode: 'equal', members: members.map((m) => ({ member_id: m })) },
        },
    });
    assert.equal(r.status, 201, r.text);
}

async function settlements(g, token) {
    return (await api('GET', `/api/v1/groups/${g.id}/settlements`, { token })).json.transfers;
}

let trip, tokyo, pub;
let aT, bT, dT, aJ, bJ, cJ;

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    bob = await registerUser({ name: 'Bob' });
    carol = await registerUser({ name: 'Carol' });
    // EUR: Alice, Bob and Dora (no account). Alice pays 90.00 for all three, Bob 30.00 for
    // Bob and Dora.
    trip = await group(alice.token, 'Trip', 'EUR');
    aT = trip.members[0].id;
    bT = await join(trip, alice, bob);
    dT = (await api('POST', `/api/v1/groups/${trip.id}/members`, { token: alice.token, body: { name: 'Dora' } })).json.id;
    await expense(trip, alice.token, aT, 9000, [aT, bT, dT]);
    await expense(trip, bob.token, bT, 3000, [bT, dT]);
    // JPY: Alice, Bob, Carol. Bob pays 3000 for all three.
    tokyo = await group(bob.token, 'Tokyo', 'JPY');
    bJ = tokyo.members[0].id;
    aJ = await join(tokyo, bob, alice);
    cJ = await join(tokyo, bob, carol);
    await expense(tokyo, bob.token, bJ, 3000, [aJ, bJ, cJ]);
    // A group of Carol's alone that Alice is not in: not part of Alice's answer.
    pub = await group(carol.token, 'Pub', 'EUR');
});

test('per person and group, from the settlement, summed per currency', async () => {
    const r = await api('GET', '/api/v1/me/balances', { token: alice.token });
    assert.equal(r.status, 200, r.text);
    const people = r.json.people;
    assert.deepEqual(people.map((p) => p.name), ['Bob', 'Carol', 'Dora']);
    const [b, c, d] = people;

    // Each group entry agrees with the group's settlement, seen from Alice.
    const fromSettlement = (transfers, me, other) =>
        transfers.reduce((s, t) => s + (t.from === other && t.to === me ? t.amount : 0) - (t.from === me && t.to === other ? t.amount : 0), 0);
    const tripT = await settlements(trip, alice.token);
    const tokyoT = await settlements(tokyo, alice.token);

    assert.equal(b.user_id, bob.user.id);
    assert.equal('member_id' in b, false);
    assert.deepEqual(b.groups, [
        { group_id: trip.id, name: 'Trip', currency: 'EUR', amount: fromSettlement(tripT, aT, bT) },
        { group_id: tokyo.id, name: 'Tokyo', currency: 'JPY', amount: fromSettlement(tokyoT, aJ, bJ) },
    ]);
    assert.deepEqual(b.totals, [
        { currency: 'EUR', amount: fromSettlement(tripT, aT, bT) },
        { currency: 'JPY', amount: fromSettlement(tokyoT, aJ, bJ) },
    ]);
    // Balances: Alice +6000, Bob -1500, Dora -4500: Dora pays Alice 4500, Bob pays Alice 1500.
    assert.equal(fromSettlement(tripT, aT, dT), 4500);
    assert.equal(fromSettlement(tripT, aT, bT), 1500);
    // Tokyo: Alice owes Bob 1000 JPY.
    assert.equal(b.totals.find((t) => t.currency === 'JPY').amount, -1000);

    assert.equal(c.user_id, carol.user.id);
    assert.deepEqual(c.groups, [{ group_id: tokyo.id, name: 'Tokyo', currency: 'JPY', amount: 0 }]);
    assert.deepEqual(c.totals, [{ currency: 'JPY', amount: 0 }]);

    assert.equal(d.user_id, null);
    assert.equal(d.member_id, dT);
    assert.deepEqual(d.groups, [{ group_id: trip.id, name: 'Trip', currency: 'EUR', amount: 4500 }]);
    assert.deepEqual(d.totals, [{ currency: 'EUR', amount: 4500 }]);
    assert.ok(!JSON.stringify(r.json).includes(pub.id));
});

test("the other side sees the same amounts with the opposite sign; 401 without a token", async () => {
    const a = (await api('GET', '/api/v1/me/balances', { token: alice.token })).json.people.find((p) => p.name === 'Bob');
    const b = (await api('GET', '/api/v1/me/balances', { token: bob.token })).json.people.find((p) => p.name === 'Alice');
    assert.deepEqual(b.totals.map((t) => [t.currency, t.amount]), a.totals.map((t) => [t.currency, -t.amount]));
    const r = await api('GET', '/api/v1/me/balances');
    assert.equal(r.status, 401);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    const lonely = await registerUser({ name: 'Lonely' });
    const empty = await api('GET', '/api/v1/me/balances', { token: lonely.token });
    assert.deepEqual(empty.json, { people: [] });
});
