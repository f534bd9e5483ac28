// The ledger's hash chain, end to end: the worker chains every applied event (expenses,
// payments, their edits and deletions, reverts); `splitterctl audit export` writes a group's
// ledger and `splitterctl audit verify` checks it offline and replays it to the api's balances;
// an event changed, deleted, inserted or moved directly in PostgreSQL is found and named; the
// migration's SQL computes the same chain as the worker, so a group chained by it verifies.
//
// Serial: each tampering test breaks its own group's ledger for a moment (`replay --verify`
// in another file would see it), then restores it and checks the group verifies again.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, registerUser, psql } from '../lib.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BUILD = path.resolve(ROOT, process.env.BUILD ?? 'build');
const DIR = mkdtempSync(path.join(tmpdir(), 'splitter-audit-'));
const wait = { Prefer: 'wait=5' };

let alice;

function ctl(args, input) {
    const r = spawnSync(path.join(BUILD, 'bin', 'splitterctl'), args, { encoding: 'utf8', timeout: 60_000, input });
    if (r.error) throw r.error;
    return r;
}

function write(method, p, { body, headers = {} } = {}) {
    return api(method, p, { body, token: alice.token, headers });
}

/** A group with every kind of event; returns {id, events: [{seq, event_id, type}]}. */
async function busyGroup(name) {
    const g = await write('POST', '/api/v1/groups', { body: { name, currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    assert.equal(g.json.head_hash, undefined);
    const empty = await api('GET', `/api/v1/groups/${g.json.id}`, { token: alice.token });
    assert.equal(empty.json.head_hash, undefined, 'no head before the first event');
    const G = `/api/v1/groups/${g.json.id}`;
    const A = g.json.members[0].id;
    const B = (await write('POST', `${G}/members`, { body: { name: 'Bea' } })).json.id;
    const C = (await write('POST', `${G}/members`, { body: { name: 'Cris' } })).json.id;
    const expense = (amount, description) => ({
        description,
        amount,
        paid_by: [{ member_id: A, amount }],
        split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }, { member_id: C }] },
    });
    const ok = (r, status = 200) => {
        assert.equal(r.status, status, r.text);
        return r.json;
    };
    const x = ok(await write('POST', `${G}/expenses`, { body: expense(1000, 'Dinner'), headers: wait }), 201);
    ok(await write('PUT', `${G}/expenses/${x.id}`, { body: expense(1200, 'Dinner and wine'), headers: { 'If-Match': '"1"', ...wait } }));
    const y = ok(await write('POST', `${G}/expenses`, { body: expense(301, 'Tram'), headers: wait }), 201);
    ok(await write('DELETE', `${G}/expenses/${y.id}`, { headers: { 'If-Match': '"1"', ...wait } }));
    const p = ok(await write('POST', `${G}/payments`, { body: { from_member: B, to_member: A, amount: 250 }, headers: wait }), 201);
    ok(await write('PUT', `${G}/payments/${p.id}`, { body: { from_member: B, to_member: A, amount: 400, note: 'cash' }, headers: { 'If-Match': '"1"', ...wait } }));
    const q = ok(await write('POST', `${G}/payments`, { body: { from_member: C, to_member: A, amount: 90 }, headers: wait }), 201);
    ok(await write('DELETE', `${G}/payments/${q.id}`, { headers: { 'If-Match': '"1"', ...wait } }));
    const log = ok(await api('GET', `${G}/events?limit=200`, { token: alice.token }));
    const deleted = log.items.find((e) => e.type === 'payment.deleted');
    ok(await write('POST', `${G}/events/${deleted.event_id}/revert`, { headers: { 'If-Match': '"2"', ...wait } }));
    const all = ok(await api('GET', `${G}/events?limit=200`, { token: alice.token })).items;
    assert.equal(all.length, 9);
    return { id: g.json.id, events: all };
}

function exportLedger(gid) {
    const r = ctl(['audit', 'export', '--group', gid]);
    assert.equal(r.status, 0, r.stderr);
    const file = path.join(DIR, `${gid}-${Date.now()}.jsonl`);
    writeFileSync(file, r.stdout);
    return file;
}

function verify(gid) {
    return ctl(['audit', 'verify', exportLedger(gid)]);
}

/** Run statements on events as someone who owns the table would, past its append-only trigger. */
function tamper(sql) {
    psql(`BEGIN; ALTER TABLE events DISABLE TRIGGER events_no_update; ${sql};
          ALTER TABLE events ENABLE TRIGGER events_no_update; COMMIT`);
}

function assertVerifies(gid) {
    const r = verify(gid);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    return r;
}

function assertBroken(r, seq, eventId) {
    assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^BROKEN at seq ${seq}, event ${eventId}: `, 'm'), r.stdout);
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
});

test('every event carries its hash; the audit log and the group show the chain and its head', async () => {
    const g = await busyGroup('Chained');
    const group = await api('GET', `/api/v1/groups/${g.id}`, { token: alice.token });
    assert.equal(group.status, 200, group.text);
    for (const e of g.events) assert.match(e.hash, /^[0-9a-f]{64}$/);
    assert.equal(new Set(g.events.map((e) => e.hash)).size, g.events.length);
    assert.equal(group.json.head_hash, g.events.at(-1).hash);
    // The log alone is enough to recompute every link (docs/ARCHITECTURE.md, "The hash chain").
    let prev = Buffer.alloc(32);
    for (const e of g.events) {
        const canon = `{"accepted_at":"${e.accepted_at}","actor":"${e.actor}","event_id":"${e.event_id}",` +
            `"group_id":"${g.id}","payload_sha256":"${e.payload_sha256}","seq":${e.seq},"type":"${e.type}"}`;
        prev = createHash('sha256').update(prev).update(canon).digest();
        assert.equal(prev.toString('hex'), e.hash, `event ${e.seq}`);
    }
    // SQL (the migration's functions) and the worker compute the same chain.
    const rows = psql(`SELECT encode(c.hash, 'hex') FROM events_chain('${g.id}') c`);
    assert.deepEqual(rows.map((r) => r[0]), g.events.map((e) => e.hash));
});

test('an untouched export verifies offline and replays to the balances the api serves', async () => {
    const g = await busyGroup('Untouched');
    const r = verify(g.id);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^verified group ${g.id}: 9 events$`, 'm'));
    assert.match(r.stdout, new RegExp(`^head ${g.events.at(-1).hash}$`, 'm'));
    const bal = await api('GET', `/api/v1/groups/${g.id}/balances`, { token: alice.token });
    assert.equal(bal.status, 200, bal.text);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('balance '));
    assert.equal(lines.length, bal.json.balances.length);
    for (const b of bal.json.balances) {
        const want = `balance ${b.member_id} EUR paid ${b.paid} owed ${b.owed} sent ${b.sent} received ${b.received} balance ${b.balance}`;
        assert.ok(lines.includes(want), `${want} not in\n${r.stdout}`);
    }
    assert.ok(bal.json.balances.some((b) => b.sent !== 0), 'payments count in the balances');
    // The file alone, from standard input, without any service.
    const file = exportLedger(g.id);
    const again = spawnSync('sh', ['-c', `env -i "${path.join(BUILD, 'bin', 'splitterctl')}" audit verify - < "${file}"`], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stdout + again.stderr);
    assert.equal(again.stdout, r.stdout);
});

test('a changed payload is found and named', async () => {
    const g = await busyGroup('Changed');
    const e = g.events[1]; // the expense's replacement
    tamper(`UPDATE events SET payload = replace(payload::text, 'Dinner and wine', 'Dinner and beer')::json
            WHERE event_id = '${e.event_id}'`);
    assertBroken(verify(g.id), 2, e.event_id);
    tamper(`UPDATE events SET payload = replace(payload::text, 'Dinner and beer', 'Dinner and wine')::json
            WHERE event_id = '${e.event_id}'`);
    assertVerifies(g.id);
});

test('a deleted event is found: the next one is named', async () => {
    const g = await busyGroup('Deleted');
    const gone = g.events[3].event_id;
    const [[row]] = psql(`SELECT row_to_json(e) FROM events e WHERE event_id = '${gone}'`);
    tamper(`DELETE FROM events WHERE event_id = '${gone}'`);
    assertBroken(verify(g.id), 5, g.events[4].event_id);
    tamper(`INSERT INTO events SELECT * FROM json_populate_record(NULL::events, '${row.replaceAll("'", "''")}')`);
    assertVerifies(g.id);
});

test('an inserted event is found and named, with or without a valid link', async () => {
    const g = await busyGroup('Inserted');
    const last = g.events.at(-1);
    const [ev, ex] = [randomUUID(), randomUUID()];
    // A copy of the first event (an expense's creation) as a new tenth creating another
    // expense, its hash made up.
    tamper(`INSERT INTO events (event_id, group_id, seq, type, actor, accepted_at, payload, hash)
            SELECT '${ev}', group_id, 10, type, actor, accepted_at,
                   replace(replace(payload::text, event_id::text, '${ev}'),
                           payload->>'expense_id', '${ex}')::json,
                   sha256('made up') FROM events WHERE event_id = '${g.events[0].event_id}'`);
    assertBroken(verify(g.id), 10, ev);
    // Linked correctly (SQL can compute the chain): the group's head still ends at seq 9.
    tamper(`UPDATE events e SET hash = c.hash FROM events_chain('${g.id}') c WHERE c.event_id = e.event_id`);
    const r = verify(g.id);
    assertBroken(r, 10, ev);
    assert.match(r.stdout, /head_hash ends the chain before this event/);
    const head = (await api('GET', `/api/v1/groups/${g.id}`, { token: alice.token })).json.head_hash;
    assert.equal(head, last.hash);
    tamper(`DELETE FROM events WHERE event_id = '${ev}'`);
    assertVerifies(g.id);
});

test('two events swapped in order are found; the first moved one is named', async () => {
    const g = await busyGroup('Swapped');
    const [a, b] = [g.events[5], g.events[6]];
    tamper(`UPDATE events SET seq = -seq WHERE event_id = '${a.event_id}';
            UPDATE events SET seq = ${a.seq} WHERE event_id = '${b.event_id}';
            UPDATE events SET seq = ${b.seq} WHERE event_id = '${a.event_id}'`);
    assertBroken(verify(g.id), a.seq, b.event_id);
    tamper(`UPDATE events SET seq = -seq WHERE event_id = '${a.event_id}';
            UPDATE events SET seq = ${b.seq} WHERE event_id = '${b.event_id}';
            UPDATE events SET seq = ${a.seq} WHERE event_id = '${a.event_id}'`);
    assertVerifies(g.id);
});

test('a rewrite that recomputes every hash still verifies alone, but not against a head noted before', async () => {
    const g = await busyGroup('Rewritten');
    const noted = g.events.at(-1).hash; // what an auditor kept from an earlier export
    const e = g.events[1];
    // Whoever can write the database can also recompute the whole chain and the head.
    const rewrite = (from, to) => tamper(`UPDATE events SET payload = replace(payload::text, '${from}', '${to}')::json
            WHERE event_id = '${e.event_id}';
          UPDATE events x SET hash = c.hash FROM events_chain('${g.id}') c WHERE c.event_id = x.event_id;
          UPDATE groups g SET head_hash = x.hash FROM events x WHERE x.group_id = g.id AND x.seq = g.last_seq
            AND g.id = '${g.id}'`);
    rewrite('Dinner and wine', 'Dinner and beer');
    const file = exportLedger(g.id);
    assert.equal(ctl(['audit', 'verify', file]).status, 0);
    const r = ctl(['audit', 'verify', file, '--head', noted]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`^BROKEN: the recorded head ${noted} is not a link of this chain`, 'm'));
    rewrite('Dinner and beer', 'Dinner and wine');
    const ok = ctl(['audit', 'verify', exportLedger(g.id), '--head', noted]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, new RegExp(`^recorded head ${noted} is the link of seq 9$`, 'm'));
    assert.equal(ctl(['audit', 'verify', file, '--head', 'nope']).status, 2);
});

test('a group chained by the migration verifies', async () => {
    const g = await busyGroup('Migrated');
    // Back to the state before the chain (no hashes, no head), then the migration's backfill.
    tamper(`UPDATE events SET hash = '' WHERE group_id = '${g.id}';
            UPDATE groups SET head_hash = NULL WHERE id = '${g.id}';
            UPDATE events e SET hash = c.hash FROM groups g CROSS JOIN LATERAL events_chain(g.id) c
              WHERE c.event_id = e.event_id AND g.id = '${g.id}';
            UPDATE groups g SET head_hash = e.hash FROM events e
              WHERE e.group_id = g.id AND e.seq = g.last_seq AND g.id = '${g.id}'`);
    const r = verify(g.id);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^head ${g.events.at(-1).hash}$`, 'm'));
    // And the worker chains on from the migrated head.
    const G = `/api/v1/groups/${g.id}`;
    const members = (await api('GET', G, { token: alice.token })).json.members;
    const more = await write('POST', `${G}/payments`, {
        body: { from_member: members[1].id, to_member: members[0].id, amount: 5 },
        headers: wait,
    });
    assert.equal(more.status, 201, more.text);
    const after = verify(g.id);
    assert.equal(after.status, 0, `${after.stdout}${after.stderr}`);
    assert.match(after.stdout, /: 10 events$/m);
});

test('an event written without a hash (a worker of the previous release) is chained as it is inserted', async () => {
    const g = await busyGroup('Upgrading');
    const [ev, pay] = [randomUUID(), randomUUID()];
    const created = g.events.find((e) => e.type === 'payment.created');
    // What an older worker's COPY writes: no hash column, and no head.
    psql(`INSERT INTO events (event_id, group_id, seq, type, actor, accepted_at, payload)
          SELECT '${ev}', group_id, 10, type, actor, accepted_at,
                 replace(replace(payload::text, event_id::text, '${ev}'), payload->>'payment_id', '${pay}')::json
          FROM events WHERE event_id = '${created.event_id}'`);
    const r = verify(g.id);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /: 10 events$/m);
    const [[hash]] = psql(`SELECT encode(hash, 'hex') FROM events WHERE event_id = '${ev}'`);
    assert.match(r.stdout, new RegExp(`^head ${hash}$`, 'm'));
    // Back to the ledger the projection matches (replay --verify runs after this file).
    tamper(`DELETE FROM events WHERE event_id = '${ev}';
            UPDATE groups SET head_hash = decode('${g.events.at(-1).hash}', 'hex') WHERE id = '${g.id}'`);
    assertVerifies(g.id);
});

test('audit verify refuses what is not a ledger, and export an unknown group', () => {
    const file = path.join(DIR, 'junk.jsonl');
    writeFileSync(file, 'not json\n');
    const r = ctl(['audit', 'verify', file]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^BROKEN: the first line is not a splitter ledger header/m);
    assert.equal(ctl(['audit', 'verify', path.join(DIR, 'missing')]).status, 1);
    assert.equal(ctl(['audit', 'export', '--group', '00000000-0000-4000-8000-000000000000']).status, 1);
    assert.equal(ctl(['audit', 'export', '--group', 'nope']).status, 2);
    assert.equal(ctl(['audit']).status, 2);
});
