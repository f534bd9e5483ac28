// Guests: POST /api/v1/invites/{token}/accept without Authorization joins as a guest account
// (no email, no password, a session token only); POST /api/v1/me/credentials turns a guest
// into a full account.
//
// nginx limits the anonymous accept per client address like login (AUTH_RATE_LIMIT): this
// file sends its anonymous accepts from a loopback address of its own (127.x.y.z), so no other
// test's registrations count against it, nor its joins against them.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { api, BASE_URL, registerUser, uniqueEmail, psql, redisCli } from './lib.mjs';

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const base = new URL(BASE_URL);
const loopback = ['127.0.0.1', 'localhost'].includes(base.hostname);
const source = () => (loopback ? `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(2, 255)}` : undefined);
const mySource = source();

/** POST without Authorization from address `from`: {status, headers (a Map), json, text}. */
function anon(path, body, { from = mySource, contentType = 'application/json', headers = {} } = {}) {
    const payload = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                host: base.hostname,
                port: base.port,
                path,
                method: 'POST',
                localAddress: from,
                agent: false,
                headers: { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload), ...headers },
            },
            (res) => {
                let text = '';
                res.setEncoding('utf8');
                res.on('data', (d) => (text += d));
                res.on('end', () => {
                    const type = res.headers['content-type'] ?? '';
                    const json = text && /^application\/(problem\+)?json\b/.test(type) ? JSON.parse(text) : null;
                    resolve({ status: res.statusCode, headers: new Map(Object.entries(res.headers)), json, text });
                });
            },
        );
        req.on('error', reject);
        req.end(payload);
    });
}

const join = (inv, body, opts) => anon(`/api/v1/invites/${inv}/accept`, body, opts);

function assertProblem(r, status, field) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, r.text);
    assert.equal(r.json.status, status, r.text);
    if (field !== undefined) {
        assert.ok((r.json.errors ?? []).some((e) => e.field === field), r.text);
    }
}

let alice; // a registered member who invites
let group;
let inv; // a live invite token

async function invite(gid = group.id) {
    const r = await api('POST', `/api/v1/groups/${gid}/invites`, { token: alice.token });
    assert.equal(r.status, 201, r.text);
    return r.json.token;
}

async function addMember(name) {
    const m = await api('POST', `/api/v1/groups/${group.id}/members`, { token: alice.token, body: { name } });
    assert.equal(m.status, 201, m.text);
    return m.json;
}

const guestCount = () => Number(psql('SELECT count(*) FROM users WHERE email IS NULL')[0][0]);

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Cabin', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    inv = await invite();
});

test('join by name: 201 {user, token, group}; a guest with no email; its token is stored hashed', async () => {
    const before = (await api('GET', `/api/v1/groups/${group.id}`, { token: alice.token })).json;
    const r = await join(inv, { name: 'Gina' });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ['group', 'token', 'user']);
    assert.deepEqual(Object.keys(r.json.user).sort(), ['created_at', 'email', 'guest', 'id', 'name']);
    assert.equal(r.json.user.guest, true);
    assert.equal(r.json.user.email, null);
    assert.equal(r.json.user.name, 'Gina');
    assert.match(r.json.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(r.json.group.id, group.id);
    assert.equal(r.json.group.version, before.version + 1);
    const mine = r.json.group.members.filter((m) => m.user_id === r.json.user.id);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].name, 'Gina');
    assert.deepEqual(r.json.group.members.slice(0, -1), before.members, 'appended after the others');

    // The account: no email, no password hash; the session: only the token's SHA-256.
    assert.deepEqual(psql(`SELECT email IS NULL, password_hash IS NULL FROM users WHERE id = '${r.json.user.id}'`), [['t', 't']]);
    assert.equal(redisCli('GET', `splitter:session:${sha256(r.json.token)}`), r.json.user.id);
    assert.equal(redisCli('EXISTS', `splitter:session:${r.json.token}`), '0');

    // GET /me and the group answer the guest like anyone.
    const me = await api('GET', '/api/v1/me', { token: r.json.token });
    assert.equal(me.status, 200, me.text);
    assert.deepEqual(me.json, r.json.user);
    const g = await api('GET', `/api/v1/groups/${group.id}`, { token: r.json.token });
    assert.equal(g.status, 200, g.text);
    assert.deepEqual(g.json.members, r.json.group.members);
    const list = await api('GET', '/api/v1/groups', { token: r.json.token });
    assert.deepEqual(list.json.items.map((x) => x.id), [group.id]);
});

test('claim an unclaimed member: its history becomes the guest\'s; a claimed member is 409', async () => {
    const dora = await addMember('Dora');
    const r = await join(inv, { member_id: dora.id });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.user.name, 'Dora');
    assert.equal(r.json.user.guest, true);
    const m = r.json.group.members.find((x) => x.id === dora.id);
    assert.equal(m.user_id, r.json.user.id);
    assert.equal(r.json.group.members.filter((x) => x.user_id === r.json.user.id).length, 1);

    // Claimed already (by this guest, or by a registered user): 409, and no account is left over.
    const guests = guestCount();
    assertProblem(await join(inv, { member_id: dora.id }), 409);
    const bob = await registerUser({ name: 'Bob' });
    const bobAccept = await api('POST', `/api/v1/invites/${inv}/accept`, { token: bob.token, body: {} });
    assert.equal(bobAccept.status, 200, bobAccept.text);
    const bobMember = bobAccept.json.members.find((x) => x.user_id === bob.user.id);
    assertProblem(await join(inv, { member_id: bobMember.id }), 409);
    assert.equal(guestCount(), guests);
});

test('a guest reads and writes the group: an expense applied, balances, events', async () => {
    const r = await join(inv, { name: 'Writer' });
    assert.equal(r.status, 201, r.text);
    const gt = r.json.token;
    const me = r.json.group.members.find((x) => x.user_id === r.json.user.id).id;
    const aliceMember = r.json.group.members.find((x) => x.user_id === alice.user.id).id;
    const e = await api('POST', `/api/v1/groups/${group.id}/expenses`, {
        token: gt,
        headers: { Prefer: 'wait=5' },
        body: {
            description: 'Firewood',
            amount: 1000,
            paid_by: [{ member_id: me, amount: 1000 }],
            split: { mode: 'equal', members: [{ member_id: me }, { member_id: aliceMember }] },
        },
    });
    assert.equal(e.status, 201, e.text);
    assert.equal(e.json.created_by, r.json.user.id);
    const b = await api('GET', `/api/v1/groups/${group.id}/balances`, { token: gt });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.json.balances.find((x) => x.member_id === me).balance, 500);
    const seen = await api('GET', `/api/v1/groups/${group.id}/expenses/${e.json.id}`, { token: alice.token });
    assert.equal(seen.status, 200, seen.text);
});

test('422: both or neither of member_id and name, bad values, unknown fields; 415; 400', async () => {
    const dora = await addMember('Eve');
    const guests = guestCount();
    assertProblem(await join(inv, { member_id: dora.id, name: 'Both' }), 422, 'name');
    assertProblem(await join(inv, {}), 422, 'member_id');
    assertProblem(await join(inv, { member_id: null, name: null }), 422, 'member_id');
    assertProblem(await join(inv, { member_id: 'Dora' }), 422, 'member_id');
    assertProblem(await join(inv, { member_id: dora.id.toUpperCase() }), 422, 'member_id');
    assertProblem(await join(inv, { member_id: randomUUID() }), 422, 'member_id');
    assertProblem(await join(inv, { name: '' }), 422, 'name');
    assertProblem(await join(inv, { name: 'x'.repeat(101) }), 422, 'name');
    assertProblem(await join(inv, { name: 42 }), 422, 'name');
    assertProblem(await join(inv, { name: 'A', email: 'a@b.test' }), 422, 'email');
    assertProblem(await join(inv, '{"name": "A"', {}), 400);
    assertProblem(await join(inv, '{"name": "A", "name": "B"}'), 422, 'name');
    assertProblem(await join(inv, 'name=A', { contentType: 'text/plain' }), 415);
    // A member of another group cannot be claimed through this invite.
    const other = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Other', currency: 'EUR' } });
    const stranger = await api('POST', `/api/v1/groups/${other.json.id}/members`, { token: alice.token, body: { name: 'Z' } });
    assertProblem(await join(inv, { member_id: stranger.json.id }), 422, 'member_id');
    assert.equal(guestCount(), guests, 'no account made by a refused join');
    // 100 characters (not bytes) is fine.
    const long = await join(inv, { name: 'é'.repeat(100) });
    assert.equal(long.status, 201, long.text);
});

test('unknown, malformed and expired invites are 404 whatever the body', async () => {
    const flipped = inv.slice(0, 5) + (inv[5] === 'A' ? 'B' : 'A') + inv.slice(6);
    for (const t of [flipped, inv.slice(0, -1), `${inv}A`, 'x', randomUUID()]) {
        assertProblem(await join(t, { name: 'Nobody' }), 404);
    }
    assertProblem(await join(flipped, '{"nope":'), 404);
    const old = await invite();
    psql(`UPDATE invites SET expires_at = now() - interval '1 second' WHERE token_hash = decode('${sha256(old)}', 'hex')`);
    assertProblem(await join(old, { name: 'Late' }), 404);
});

test('credentials: the guest becomes a full account; its token keeps working; login works', async () => {
    const r = await join(inv, { name: 'Hana' });
    assert.equal(r.status, 201, r.text);
    const gt = r.json.token;
    const email = uniqueEmail('hana');
    const creds = (body, token = gt) => api('POST', '/api/v1/me/credentials', { token, body });

    assertProblem(await creds({ email: 'not-an-email', password: 'long enough' }), 422, 'email');
    assertProblem(await creds({ email, password: 'short' }), 422, 'password');
    assertProblem(await creds({ email }), 422, 'password');
    assertProblem(await creds({ email, password: 'long enough', name: 'X' }), 422, 'name');
    assertProblem(await api('POST', '/api/v1/me/credentials', { body: { email, password: 'long enough' } }), 401);

    // The email is taken by a registered account: 409, and the guest stays a guest.
    assertProblem(await creds({ email: ` ${alice.email.toUpperCase()} `, password: 'long enough' }), 409);
    assert.equal((await api('GET', '/api/v1/me', { token: gt })).json.guest, true);

    // Normalised like a registration's: trimmed, lower-cased.
    const ok = await creds({ email: `  ${email.toUpperCase()}\t`, password: 'hana password' });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json, { ...r.json.user, email, guest: false });
    const me = await api('GET', '/api/v1/me', { token: gt });
    assert.equal(me.status, 200, me.text);
    assert.deepEqual(me.json, ok.json);

    // Once is enough: 409; a registered user is no guest either.
    assertProblem(await creds({ email: uniqueEmail('again'), password: 'long enough' }), 409);
    assertProblem(await creds({ email: uniqueEmail('bob'), password: 'long enough' }, alice.token), 409);

    // Login with the new credentials reaches the same account and its group.
    const login = await api('POST', '/api/v1/auth/login', { body: { email, password: 'hana password' } });
    assert.equal(login.status, 200, login.text);
    assert.equal(login.json.user.id, r.json.user.id);
    assert.equal(login.json.user.guest, false);
    const g = await api('GET', `/api/v1/groups/${group.id}`, { token: login.json.token });
    assert.equal(g.status, 200, g.text);
    assertProblem(await api('POST', '/api/v1/auth/login', { body: { email, password: 'wrong password' } }), 401);
    // Registering that email again is 409 like any taken one.
    assertProblem(await api('POST', '/api/v1/auth/register', { body: { email, password: 'long enough', name: 'H' } }), 409);
});

test('two guests racing for one email: one 200, the other 409', async () => {
    const a = await join(inv, { name: 'Racer A' });
    const b = await join(inv, { name: 'Racer B' });
    const email = uniqueEmail('race');
    const rs = await Promise.all([a, b].map((g) =>
        api('POST', '/api/v1/me/credentials', { token: g.json.token, body: { email, password: 'race password' } })));
    assert.deepEqual(rs.map((x) => x.status).sort(), [200, 409], rs.map((x) => x.text).join(' '));
});

test('the database holds both credentials or neither; a guest has no login', async () => {
    const r = await join(inv, { name: 'Ivo' });
    assert.throws(() => psql(`UPDATE users SET email = '${uniqueEmail('half')}' WHERE id = '${r.json.user.id}'`), /users_credentials_both_or_neither/);
    // A login never finds a guest (no email): a wrong credential like any other.
    assertProblem(await api('POST', '/api/v1/auth/login', { body: { email: uniqueEmail('ivo'), password: '' } }), 401);
});

test('logout of a guest: the token dies, and with it the way into the account', async () => {
    const r = await join(inv, { name: 'Jo' });
    const out = await api('POST', '/api/v1/auth/logout', { token: r.json.token });
    assert.equal(out.status, 204, out.text);
    assertProblem(await api('GET', '/api/v1/me', { token: r.json.token }), 401);
    assert.equal(redisCli('EXISTS', `splitter:session:${sha256(r.json.token)}`), '0');
});

test('a registered user\'s accept is unchanged: 200 group, no guest made', async () => {
    const kim = await registerUser({ name: 'Kim' });
    const guests = guestCount();
    const r = await api('POST', `/api/v1/invites/${inv}/accept`, { token: kim.token });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.members.some((m) => m.user_id === kim.user.id));
    assert.equal(guestCount(), guests);
});

test('a burst of anonymous accepts from one address gets 429 problems', { skip: !loopback && 'BASE_URL is not on loopback' }, async () => {
    const from = source();
    // A malformed token: the api answers 404 at once, nothing is made.
    const all = await Promise.all(Array.from({ length: 80 }, () => join('x', { name: 'Flood' }, { from })));
    const limited = all.filter((r) => r.status === 429);
    const passed = all.filter((r) => r.status === 404);
    assert.equal(limited.length + passed.length, all.length, all.map((r) => r.status).join(','));
    assert.ok(limited.length >= 20, `${limited.length} of 80 limited`);
    for (const r of limited) assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
});
