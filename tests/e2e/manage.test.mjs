// Managing a group: rename and archive it (and back), leave it, rename and remove members,
// list and revoke invites. Every change is in the group's audit log with the next seq and the
// next link of the hash chain, and `splitterctl audit verify` and `replay --verify` accept a
// group that had them. An archived group refuses every write, at the api and in the worker.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, registerUser, psql, waitFor } from './lib.mjs';

const env = process.env;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD = path.resolve(ROOT, env.BUILD ?? 'build');
const wait = { Prefer: 'wait=5' };

let alice, bob, carol; // alice creates the group; bob joins by invite; carol is no member
let group;

function ctl(...args) {
    const r = spawnSync(path.join(BUILD, 'bin', 'splitterctl'), args, { encoding: 'utf8', timeout: 60_000 });
    if (r.error) throw r.error;
    return r;
}

function assertProblem(r, status, type) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, r.text);
    assert.equal(r.json.status, status);
    if (type) assert.equal(r.json.type, `/problems/${type}`, r.text);
}

const G = (gid = group.id) => `/api/v1/groups/${gid}`;
const get = (token = alice.token, gid = group.id) => api('GET', G(gid), { token });

async function newGroup(name = 'Trip') {
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name, currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    return g.json;
}

async function addMember(name, gid = group.id) {
    const r = await api('POST', `${G(gid)}/members`, { token: alice.token, body: { name } });
    assert.equal(r.status, 201, r.text);
    return r.json;
}

async function join(user, gid = group.id) {
    const inv = await api('POST', `${G(gid)}/invites`, { token: alice.token });
    assert.equal(inv.status, 201, inv.text);
    const r = await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { token: user.token });
    assert.equal(r.status, 200, r.text);
    return r.json.members.find((m) => m.user_id === user.user.id).id;
}

async function memberOf(user, gid = group.id) {
    return (await get(alice.token, gid)).json.members.find((m) => m.user_id === user.user.id).id;
}

function expense(payer, others, amount = 900, description = 'Dinner') {
    return {
        description,
        amount,
        paid_by: [{ member_id: payer, amount }],
        split: { mode: 'equal', members: [payer, ...others].map((member_id) => ({ member_id })) },
    };
}

async function auditLog(gid = group.id) {
    const r = await api('GET', `${G(gid)}/events?limit=200`, { token: alice.token });
    assert.equal(r.status, 200, r.text);
    return r.json.items;
}

function auditVerify(gid) {
    const x = ctl('audit', 'export', '--group', gid);
    assert.equal(x.status, 0, x.stderr);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'manage-')), 'ledger.jsonl');
    fs.writeFileSync(file, x.stdout);
    const v = ctl('audit', 'verify', file);
    assert.equal(v.status, 0, `${v.stdout}${v.stderr}`);
    assert.match(v.stdout, /^verified group /);
    const r = ctl('replay', '--verify', '--group', gid);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /1 groups verified, 0 differ/);
    return v.stdout;
}

before(async () => {
    [alice, bob, carol] = await Promise.all([
        registerUser({ name: 'Alice' }),
        registerUser({ name: 'Bob' }),
        registerUser({ name: 'Carol' }),
    ]);
    group = await newGroup();
});

test('PATCH /groups/{gid}: rename, with and without If-Match; each change bumps the version', async () => {
    const before = await get();
    assert.equal(before.json.archived, false);
    assert.equal(before.json.archived_at, null);
    const v = before.json.version;
    const r = await api('PATCH', G(), { token: alice.token, body: { name: 'Lisbon trip' }, headers: { 'If-Match': `"${v}"` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.name, 'Lisbon trip');
    assert.equal(r.json.version, v + 1);
    assert.equal(r.headers.get('etag'), `"${v + 1}"`);
    assert.match(r.json.head_hash, /^[0-9a-f]{64}$/);
    // A stale If-Match: 409 version conflict, nothing changes.
    assertProblem(await api('PATCH', G(), { token: alice.token, body: { name: 'X' }, headers: { 'If-Match': `"${v}"` } }), 409, 'version-conflict');
    // A malformed one: 412.
    assertProblem(await api('PATCH', G(), { token: alice.token, body: { name: 'X' }, headers: { 'If-Match': 'banana' } }), 412, 'precondition-failed');
    // Without If-Match; the same name again changes nothing.
    const same = await api('PATCH', G(), { token: alice.token, body: { name: 'Lisbon trip' } });
    assert.equal(same.status, 200, same.text);
    assert.equal(same.json.version, v + 1);
    const list = await api('GET', '/api/v1/groups', { token: alice.token });
    const item = list.json.items.find((g) => g.id === group.id);
    assert.equal(item.name, 'Lisbon trip');
    assert.equal(item.archived, false);
    const log = await auditLog();
    const e = log.at(-1);
    assert.equal(e.type, 'group.renamed');
    assert.equal(e.actor, alice.user.id);
    assert.deepEqual(e.payload.data, { name: 'Lisbon trip' });
});

test('PATCH /groups/{gid}: 422 for bad bodies, 415, 404 for non-members and unknown groups, 401', async () => {
    for (const body of [{}, { name: '' }, { name: 5 }, { archived: 'yes' }, { name: 'x', color: 'red' }]) {
        assertProblem(await api('PATCH', G(), { token: alice.token, body }), 422, 'validation');
    }
    assertProblem(await api('PATCH', G(), { token: alice.token, body: 'name=x', headers: { 'Content-Type': 'text/plain' } }), 415);
    assertProblem(await api('PATCH', G(), { token: carol.token, body: { name: 'Mine' } }), 404, 'not-found');
    assertProblem(await api('PATCH', G(randomUUID()), { token: alice.token, body: { name: 'x' } }), 404, 'not-found');
    assertProblem(await api('PATCH', G('nope'), { token: alice.token, body: { name: 'x' } }), 404, 'not-found');
    assert.equal((await api('PATCH', G(), { body: { name: 'x' } })).status, 401);
});

test('a rename of a member shows in the group, the cached balances and the audit log', async () => {
    const dana = await addMember('Dana');
    // Fill the cache first, so the rename must invalidate it.
    const b0 = await api('GET', `${G()}/balances`, { token: alice.token });
    assert.equal(b0.status, 200, b0.text);
    assert.ok(b0.json.balances.some((b) => b.name === 'Dana'));
    const r = await api('PATCH', `${G()}/members/${dana.id}`, { token: alice.token, body: { name: 'Dana S.' } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { id: dana.id, name: 'Dana S.', user_id: null });
    const b1 = await api('GET', `${G()}/balances`, { token: alice.token });
    assert.ok(b1.json.balances.some((b) => b.member_id === dana.id && b.name === 'Dana S.'), b1.text);
    assert.ok((await get()).json.members.some((m) => m.id === dana.id && m.name === 'Dana S.'));
    const e = (await auditLog()).at(-1);
    assert.equal(e.type, 'member.renamed');
    assert.deepEqual(e.payload.data, { member_id: dana.id, name: 'Dana S.' });
    // 404 for an unknown member, 422 for a bad name, 404 for a non-member caller.
    assertProblem(await api('PATCH', `${G()}/members/${randomUUID()}`, { token: alice.token, body: { name: 'Z' } }), 404);
    assertProblem(await api('PATCH', `${G()}/members/nope`, { token: alice.token, body: { name: 'Z' } }), 404);
    assertProblem(await api('PATCH', `${G()}/members/${dana.id}`, { token: alice.token, body: { name: '' } }), 422, 'validation');
    assertProblem(await api('PATCH', `${G()}/members/${dana.id}`, { token: alice.token, body: { nick: 'D' } }), 422, 'validation');
    assertProblem(await api('PATCH', `${G()}/members/${dana.id}`, { token: carol.token, body: { name: 'Z' } }), 404);
});

test('DELETE a member: only one without an account, a balance or any expense or payment', async () => {
    const me = await memberOf(alice);
    const eve = await addMember('Eve');
    const fred = await addMember('Fred');
    const gus = await addMember('Gus');
    // Eve shares an expense; Fred receives a payment that is then deleted (still named).
    const x = await api('POST', `${G()}/expenses`, { token: alice.token, body: expense(me, [eve.id]), headers: wait });
    assert.equal(x.status, 201, x.text);
    const p = await api('POST', `${G()}/payments`, { token: alice.token, body: { from_member: me, to_member: fred.id, amount: 100 }, headers: wait });
    assert.equal(p.status, 201, p.text);
    const d = await api('DELETE', `${G()}/payments/${p.json.id}`, { token: alice.token, headers: { ...wait, 'If-Match': `"${p.json.version}"` } });
    assert.equal(d.status, 200, d.text);
    const eveGone = await api('DELETE', `${G()}/members/${eve.id}`, { token: alice.token });
    assertProblem(eveGone, 409, 'conflict');
    assert.match(eveGone.json.detail, /balance/);
    assertProblem(await api('DELETE', `${G()}/members/${fred.id}`, { token: alice.token }), 409, 'conflict');
    const own = await api('DELETE', `${G()}/members/${me}`, { token: alice.token });
    assertProblem(own, 409, 'conflict');
    assert.match(own.json.detail, /account/);
    assertProblem(await api('DELETE', `${G()}/members/${randomUUID()}`, { token: alice.token }), 404);
    assertProblem(await api('DELETE', `${G()}/members/${gus.id}`, { token: carol.token }), 404);
    // Gus: never named anywhere.
    const v = (await get()).json.version;
    const r = await api('DELETE', `${G()}/members/${gus.id}`, { token: alice.token });
    assert.equal(r.status, 204, r.text);
    const after = await get();
    assert.equal(after.json.version, v + 1);
    assert.ok(!after.json.members.some((m) => m.id === gus.id));
    const bal = await api('GET', `${G()}/balances`, { token: alice.token });
    assert.ok(!bal.json.balances.some((b) => b.member_id === gus.id), bal.text);
    assertProblem(await api('DELETE', `${G()}/members/${gus.id}`, { token: alice.token }), 404);
    const e = (await auditLog()).at(-1);
    assert.equal(e.type, 'member.removed');
    assert.deepEqual(e.payload.data, { member_id: gus.id, name: 'Gus' });
    // A write naming the removed member: 422 at the api.
    const w = await api('POST', `${G()}/expenses`, { token: alice.token, body: expense(me, [gus.id]) });
    assertProblem(w, 422, 'validation');
    // Nobody can claim the removed member through an invite, with an account or as a guest.
    const inv = await api('POST', `${G()}/invites`, { token: alice.token });
    assert.equal(inv.status, 201, inv.text);
    const claim = await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { token: carol.token, body: { member_id: gus.id } });
    assertProblem(claim, 422, 'validation');
    assert.equal(claim.json.errors[0].field, 'member_id');
    assertProblem(await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { body: { member_id: gus.id } }), 422, 'validation');
    assert.ok(!(await get()).json.members.some((m) => m.id === gus.id || m.user_id === carol.user.id));
});

test('a queued event naming a member removed before it applies is rejected by the worker (422)', async () => {
    const g = await newGroup('Removal race');
    const me = await memberOf(alice, g.id);
    const hal = await addMember('Hal', g.id);
    // Hold the group's row so the worker cannot apply; remove Hal in that same transaction
    // after the expense naming him was accepted.
    const locker = holdThen(g.id, `SELECT manage_member_remove('${g.id}', '${alice.user.id}', '${hal.id}')`);
    await locker.locked;
    const x = await api('POST', `${G(g.id)}/expenses`, { token: alice.token, body: expense(me, [hal.id]) });
    assert.equal(x.status, 202, x.text);
    await locker.done;
    const ev = await waitFor(async () => {
        const r = await api('GET', `/api/v1/events/${x.json.event_id}`, { token: alice.token });
        return r.json?.status === 'rejected' ? r.json : null;
    }, { what: 'the rejection' });
    assert.equal(ev.problem.status, 422, JSON.stringify(ev));
    auditVerify(g.id);
});

/** In a psql session: lock group gid's row, sleep 3 s, run sql, commit. */
function holdThen(gid, sql) {
    const app = `manage-${randomUUID()}`;
    const child = spawn(
        'psql',
        [
            '-X', '-q', '-v', 'ON_ERROR_STOP=1',
            '-h', env.POSTGRES_HOST ?? '127.0.0.1', '-p', env.POSTGRES_PORT ?? '5433',
            '-U', env.POSTGRES_USER ?? 'splitter', '-d', env.POSTGRES_DB ?? 'splitter',
            '-c', `BEGIN; SELECT 1 FROM groups WHERE id = '${gid}' FOR UPDATE; SELECT pg_sleep(3); ${sql}; COMMIT;`,
        ],
        { env: { ...env, PGAPPNAME: app, PGPASSWORD: env.POSTGRES_PASSWORD ?? 'splitter-local-dev' }, stdio: 'ignore' },
    );
    const done = new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}`)))));
    const locked = waitFor(
        () => psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${app}'
                    AND query LIKE '%pg_sleep%' AND state = 'active'`)[0][0] === '1',
        { what: 'the row lock', timeoutMs: 15_000 },
    );
    return { locked, done };
}

test('archive: read-only (409 group-archived for every write), reads work, then unarchive', async () => {
    const g = await newGroup('Archive me');
    const me = await memberOf(alice, g.id);
    const ida = await addMember('Ida', g.id);
    const bobMember = await join(bob, g.id);
    const inv = await api('POST', `${G(g.id)}/invites`, { token: alice.token });
    const x = await api('POST', `${G(g.id)}/expenses`, { token: alice.token, body: expense(me, [ida.id]), headers: wait });
    assert.equal(x.status, 201, x.text);
    const p = await api('POST', `${G(g.id)}/payments`, { token: alice.token, body: { from_member: ida.id, to_member: me, amount: 100 }, headers: wait });
    assert.equal(p.status, 201, p.text);
    // Fill the cache, so archiving must invalidate it.
    assert.equal((await api('GET', `${G(g.id)}/balances`, { token: alice.token })).status, 200);

    const r = await api('PATCH', G(g.id), { token: alice.token, body: { archived: true } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.archived, true);
    assert.match(r.json.archived_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal((await get(alice.token, g.id)).json.archived, true);
    const listed = (await api('GET', '/api/v1/groups', { token: alice.token })).json.items.find((i) => i.id === g.id);
    assert.equal(listed.archived, true);

    const writes = [
        ['POST', `${G(g.id)}/expenses`, expense(me, [ida.id])],
        ['PUT', `${G(g.id)}/expenses/${x.json.id}`, expense(me, [ida.id], 1000), { 'If-Match': `"${x.json.version}"` }],
        ['DELETE', `${G(g.id)}/expenses/${x.json.id}`, undefined, { 'If-Match': `"${x.json.version}"` }],
        ['POST', `${G(g.id)}/payments`, { from_member: ida.id, to_member: me, amount: 5 }],
        ['DELETE', `${G(g.id)}/payments/${p.json.id}`, undefined, { 'If-Match': `"${p.json.version}"` }],
        ['POST', `${G(g.id)}/events/${x.json.event_id ?? randomUUID()}/revert`, undefined, { 'If-Match': `"${x.json.version}"` }],
        ['POST', `${G(g.id)}/members`, { name: 'Late' }],
        ['POST', `${G(g.id)}/invites`, undefined],
        ['PATCH', G(g.id), { name: 'Renamed' }],
        ['PATCH', `${G(g.id)}/members/${ida.id}`, { name: 'Ida B.' }],
        ['DELETE', `${G(g.id)}/invites/${inv.json.id}`, undefined],
        ['POST', `${G(g.id)}/leave`, undefined],
    ];
    for (const [method, url, body, headers] of writes) {
        const w = await api(method, url, { token: alice.token, body, headers });
        assertProblem(w, 409, 'group-archived');
        assert.equal(w.json.title, 'This group is archived');
    }
    // An invite made before the archive takes no one: neither an account nor a guest.
    assertProblem(await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { token: carol.token }), 409, 'group-archived');
    assertProblem(await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { body: { name: 'Guest' } }), 409, 'group-archived');
    // Reads still work.
    for (const read of ['', '/balances', '/settlements', '/expenses', '/events', '/invites', `/payments/${p.json.id}`, `/expenses/${x.json.id}`]) {
        const rd = await api('GET', `${G(g.id)}${read}`, { token: bob.token });
        assert.equal(rd.status, 200, `${read}: ${rd.text}`);
    }
    // Archiving again changes nothing; a non-member still gets 404.
    const again = await api('PATCH', G(g.id), { token: alice.token, body: { archived: true } });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.version, r.json.version);
    assertProblem(await api('PATCH', G(g.id), { token: carol.token, body: { archived: false } }), 404);

    // Unarchive and rename in one request: both apply, in that order.
    const u = await api('PATCH', G(g.id), { token: bob.token, body: { archived: false, name: 'Back again' } });
    assert.equal(u.status, 200, u.text);
    assert.equal(u.json.archived, false);
    assert.equal(u.json.archived_at, null);
    assert.equal(u.json.name, 'Back again');
    const w = await api('POST', `${G(g.id)}/expenses`, { token: alice.token, body: expense(me, [ida.id, bobMember]), headers: wait });
    assert.equal(w.status, 201, w.text);
    const types = (await auditLog(g.id)).map((e) => e.type);
    assert.deepEqual(types.slice(-4), ['group.archived', 'group.unarchived', 'group.renamed', 'expense.created']);
    auditVerify(g.id);
});

test('an expense queued before the group was archived is rejected by the worker (409 group-archived)', async () => {
    const g = await newGroup('Archive race');
    const me = await memberOf(alice, g.id);
    const jo = await addMember('Jo', g.id);
    const locker = holdThen(g.id, `SELECT manage_group_patch('${g.id}', '${alice.user.id}', NULL, true, NULL)`);
    await locker.locked;
    const x = await api('POST', `${G(g.id)}/expenses`, { token: alice.token, body: expense(me, [jo.id]) });
    assert.equal(x.status, 202, x.text);
    await locker.done;
    const ev = await waitFor(async () => {
        const r = await api('GET', `/api/v1/events/${x.json.event_id}`, { token: alice.token });
        return r.json?.status === 'rejected' ? r.json : null;
    }, { what: 'the rejection' });
    assert.equal(ev.problem.status, 409, JSON.stringify(ev));
    assert.equal(ev.problem.type, '/problems/group-archived');
    assert.equal((await get(alice.token, g.id)).json.archived, true);
    auditVerify(g.id);
});

test('leave: 409 while the balance is not zero or for the last member with an account; then access is gone', async () => {
    const g = await newGroup('Leave me');
    const me = await memberOf(alice, g.id);
    const bm = await join(bob, g.id);
    // Alice alone with an account? No: bob joined. Give bob a balance first.
    const x = await api('POST', `${G(g.id)}/expenses`, { token: alice.token, body: expense(me, [bm], 1000), headers: wait });
    assert.equal(x.status, 201, x.text);
    const owe = await api('POST', `${G(g.id)}/leave`, { token: bob.token });
    assertProblem(owe, 409, 'conflict');
    assert.match(owe.json.detail, /settle up first/);
    const p = await api('POST', `${G(g.id)}/payments`, { token: bob.token, body: { from_member: bm, to_member: me, amount: 500 }, headers: wait });
    assert.equal(p.status, 201, p.text);
    assertProblem(await api('POST', `${G(g.id)}/leave`, { token: carol.token }), 404);
    assertProblem(await api('POST', `${G(g.id)}/leave`, { token: bob.token, body: { why: 'x' } }), 422, 'validation');
    // Bob reads the cached view first, so leaving must invalidate his access there too.
    assert.equal((await api('GET', `${G(g.id)}/balances`, { token: bob.token })).status, 200);
    const v = (await get(alice.token, g.id)).json.version;
    const r = await api('POST', `${G(g.id)}/leave`, { token: bob.token });
    assert.equal(r.status, 204, r.text);
    const after = await get(alice.token, g.id);
    assert.equal(after.json.version, v + 1);
    assert.deepEqual(after.json.members.find((m) => m.id === bm), { id: bm, name: 'Bob', user_id: null });
    for (const read of ['', '/balances', '/expenses', '/events']) {
        assertProblem(await api('GET', `${G(g.id)}${read}`, { token: bob.token }), 404);
    }
    assert.ok(!(await api('GET', '/api/v1/groups', { token: bob.token })).json.items.some((i) => i.id === g.id));
    const e = (await auditLog(g.id)).at(-1);
    assert.equal(e.type, 'member.left');
    assert.equal(e.actor, bob.user.id);
    assert.deepEqual(e.payload.data, { member_id: bm });
    // Alice is now the last member with an account.
    const last = await api('POST', `${G(g.id)}/leave`, { token: alice.token });
    assertProblem(last, 409, 'conflict');
    assert.match(last.json.detail, /last member/);
    auditVerify(g.id);
});

test('invites: listed without tokens, revoked ones no longer accept (404)', async () => {
    const g = await newGroup('Invites');
    const a = await api('POST', `${G(g.id)}/invites`, { token: alice.token });
    const b = await api('POST', `${G(g.id)}/invites`, { token: alice.token });
    assert.equal(a.status, 201, a.text);
    assert.match(a.json.id, /^[0-9a-f-]{36}$/);
    const list = await api('GET', `${G(g.id)}/invites`, { token: alice.token });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.items.map((i) => i.id).sort(), [a.json.id, b.json.id].sort());
    for (const i of list.json.items) {
        assert.deepEqual(Object.keys(i).sort(), ['created_at', 'created_by', 'expires_at', 'id']);
        assert.equal(i.created_by, alice.user.id);
    }
    assert.ok(!list.text.includes(a.json.token));
    assertProblem(await api('GET', `${G(g.id)}/invites`, { token: carol.token }), 404);
    assertProblem(await api('DELETE', `${G(g.id)}/invites/${a.json.id}`, { token: carol.token }), 404);
    assertProblem(await api('DELETE', `${G(g.id)}/invites/${randomUUID()}`, { token: alice.token }), 404);
    assertProblem(await api('DELETE', `${G(g.id)}/invites/nope`, { token: alice.token }), 404);
    // An invite of another group is not this group's to revoke.
    const other = await newGroup('Other');
    const o = await api('POST', `${G(other.id)}/invites`, { token: alice.token });
    assertProblem(await api('DELETE', `${G(g.id)}/invites/${o.json.id}`, { token: alice.token }), 404);

    const r = await api('DELETE', `${G(g.id)}/invites/${a.json.id}`, { token: alice.token });
    assert.equal(r.status, 204, r.text);
    assertProblem(await api('DELETE', `${G(g.id)}/invites/${a.json.id}`, { token: alice.token }), 404);
    assertProblem(await api('POST', `/api/v1/invites/${a.json.token}/accept`, { token: carol.token }), 404);
    const still = await api('POST', `/api/v1/invites/${b.json.token}/accept`, { token: carol.token });
    assert.equal(still.status, 200, still.text);
    const left = await api('GET', `${G(g.id)}/invites`, { token: alice.token });
    assert.deepEqual(left.json.items.map((i) => i.id), [b.json.id]);
    const e = (await auditLog(g.id)).at(-1);
    assert.equal(e.type, 'invite.revoked');
    assert.deepEqual(e.payload.data, { invite_id: a.json.id });
    auditVerify(g.id);
});

test('the audit log numbers every change without a gap; the chain and replay verify', async () => {
    const log = await auditLog();
    assert.deepEqual(log.map((e) => e.seq), log.map((_, i) => i + 1));
    const types = new Set(log.map((e) => e.type));
    for (const t of ['group.renamed', 'member.renamed', 'member.removed', 'expense.created', 'payment.deleted']) {
        assert.ok(types.has(t), `${t} in ${[...types]}`);
    }
    const out = auditVerify(group.id);
    assert.match(out, new RegExp(`${log.length} events`));
    const head = (await get()).json.head_hash;
    assert.equal(head, log.at(-1).hash);
});

test('the live stream sends a management event at once', async () => {
    const g = await newGroup('Live');
    const ctrl = new AbortController();
    const res = await fetch(new URL(`${G(g.id)}/stream`, process.env.BASE_URL ?? `http://127.0.0.1:${env.HTTP_PORT ?? '8080'}`), {
        headers: { Authorization: `Bearer ${alice.token}` },
        signal: ctrl.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const r = await api('PATCH', G(g.id), { token: alice.token, body: { name: 'Live renamed' } });
    assert.equal(r.status, 200, r.text);
    let text = '';
    const started = Date.now();
    while (!text.includes('event: group.renamed') && Date.now() - started < 5000) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
    }
    ctrl.abort();
    assert.match(text, /id: 1\nevent: group.renamed\n/);
    assert.ok(Date.now() - started < 5000, 'within a heartbeat');
});
