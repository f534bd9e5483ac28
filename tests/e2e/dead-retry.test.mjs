// Dead letters: `splitterctl dead retry` applies a dead-lettered event that was not refused for
// its content, and an entry that is no event is dead-lettered without applying anything.
//
// A dead letter is recorded as rejected (its request gets an answer). Entries dead-lettered for
// a reason that was not their own (older versions counted fencing and timeouts against them)
// must apply when retried: the retry clears the rejection first, and the worker applies the
// entry instead of taking it for one already recorded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { env } from 'node:process';
import { api, registerUser, psql, redisCli, waitFor, partitionOf } from './lib.mjs';

const BUILD = env.BUILD ?? 'build';

test('dead retry of an event recorded as rejected for no fault of its own applies it', async () => {
    const alice = await registerUser({ name: 'Alice' });
    const g = (await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Dead', currency: 'EUR' } })).json;
    const member = g.members[0].id;
    const x = await api('POST', `/api/v1/groups/${g.id}/expenses`, {
        token: alice.token,
        headers: { Prefer: 'wait=5' },
        body: { description: 'Rent', amount: 500, paid_by: [{ member_id: member, amount: 500 }], split: { mode: 'equal', members: [{ member_id: member }] } },
    });
    assert.equal(x.status, 201, x.text);
    // The same event, given new ids: accepted, then dead-lettered and recorded as rejected.
    const [[payload]] = psql(`SELECT payload::text FROM events WHERE group_id = '${g.id}'`);
    const ev = JSON.parse(payload);
    ev.event_id = randomUUID();
    ev.expense_id = randomUUID();
    delete ev.idempotency_key;
    const problem = JSON.stringify({ type: 'about:blank', title: 'Internal Server Error', status: 500, detail: 'the event could not be applied: canceling statement due to lock timeout' });
    psql(`INSERT INTO rejected_events (event_id, group_id, type, actor, accepted_at, problem) VALUES ('${ev.event_id}', '${g.id}', '${ev.type}', '${ev.actor}', '${ev.accepted_at}', '${problem}')`);
    const stream = `splitter:stream:${partitionOf(g.id)}`;
    const deadId = redisCli('XADD', 'splitter:dead', '*', 'stream', stream, 'entry', '0-1', 'event', JSON.stringify(ev), 'error', 'lock timeout');
    let s = await api('GET', `/api/v1/events/${ev.event_id}`, { token: alice.token });
    assert.equal(s.json.status, 'rejected');

    const r = spawnSync(path.join(BUILD, 'bin', 'splitterctl'), ['dead', 'retry', deadId], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    await waitFor(async () => {
        s = await api('GET', `/api/v1/events/${ev.event_id}`, { token: alice.token });
        return s.status === 200 && s.json.status === 'applied';
    }, { timeoutMs: 15_000, what: 'the retried event applied' });
    assert.equal(psql(`SELECT count(*) FROM rejected_events WHERE event_id = '${ev.event_id}'`)[0][0], '0');
    const e = await api('GET', `/api/v1/groups/${g.id}/expenses/${ev.expense_id}`, { token: alice.token });
    assert.equal(e.status, 200, e.text);
});

test('an entry with a repeated key is no event: dead-lettered, nothing of it applied, its partition goes on', async () => {
    const alice = await registerUser({ name: 'Alice' });
    const g = (await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Twice', currency: 'EUR' } })).json;
    const member = g.members[0].id;
    const body = { description: 'Rent', amount: 500, paid_by: [{ member_id: member, amount: 500 }], split: { mode: 'equal', members: [{ member_id: member }] } };
    const x = await api('POST', `/api/v1/groups/${g.id}/expenses`, { token: alice.token, headers: { Prefer: 'wait=5' }, body });
    assert.equal(x.status, 201, x.text);
    // A well-formed event but for a second "type": a reader that let the last copy win would
    // delete the expense above; the worker reads strict JSON and takes the entry for no event.
    const [[payload]] = psql(`SELECT payload::text FROM events WHERE group_id = '${g.id}'`);
    const ev = JSON.parse(payload);
    ev.event_id = randomUUID();
    ev.expense_id = x.json.id;
    delete ev.idempotency_key;
    const text = `${JSON.stringify(ev).slice(0, -1)},"type":"expense.deleted"}`;
    redisCli('XADD', `splitter:stream:${partitionOf(g.id)}`, '*', 'event', text);
    // The next write of the group is behind it in the same partition.
    const next = await api('POST', `/api/v1/groups/${g.id}/expenses`, { token: alice.token, headers: { Prefer: 'wait=10' }, body });
    assert.equal(next.status, 201, next.text);
    const dead = redisCli('XRANGE', 'splitter:dead', '-', '+').split('\n');
    const at = dead.findIndex((line) => line === text);
    assert.ok(at > 0, 'the entry is in the dead letters');
    assert.equal(dead[at + 2], 'not a ledger event');
    // Its id, then stream, partition, entry, its id, event: the dead letters are left as found.
    assert.equal(dead[at - 1], 'event');
    assert.equal(redisCli('XDEL', 'splitter:dead', dead[at - 6]), '1');
    assert.equal(psql(`SELECT count(*) FROM events WHERE event_id = '${ev.event_id}'`)[0][0], '0');
    const e = await api('GET', `/api/v1/groups/${g.id}/expenses/${x.json.id}`, { token: alice.token });
    // A deleted expense would be 404; a replaced one would have moved past version 1.
    assert.equal(e.status, 200, e.text);
    assert.equal(e.json.version, 1);
});
