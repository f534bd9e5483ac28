// A passing PostgreSQL error is not the event's fault. With a lock_timeout set on the database
// (as an operator may), a worker whose fence waits on a locked `partitions` row gets 55P03: the
// batch is retried once the lock is gone, never rejected or dead-lettered. Serial: the setting
// applies to every session of the database while it lasts.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { env } from 'node:process';
import { api, registerUser, psql, redisCli, waitFor, holdLock, partitionOf } from '../lib.mjs';

const DB = env.POSTGRES_DB ?? 'splitter';

/** New worker sessions, with the database's current settings. */
function reconnectWorkers() {
    psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'splitter-worker'");
}

after(() => {
    psql(`ALTER DATABASE ${DB} RESET lock_timeout`);
    reconnectWorkers();
});

test('a lock timeout in the fence leaves the batch pending; it applies once the lock is gone', async () => {
    const alice = await registerUser({ name: 'Alice' });
    const g = (await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'T', currency: 'EUR' } })).json;
    const member = g.members[0].id;
    const body = (amount) => ({
        description: 'Fuel',
        amount,
        paid_by: [{ member_id: member, amount }],
        split: { mode: 'equal', members: [{ member_id: member }] },
    });
    const first = await api('POST', `/api/v1/groups/${g.id}/expenses`, { token: alice.token, headers: { Prefer: 'wait=5' }, body: body(100) });
    assert.equal(first.status, 201, first.text);

    psql(`ALTER DATABASE ${DB} SET lock_timeout = '500ms'`);
    reconnectWorkers();
    const p = partitionOf(g.id);
    const held = await holdLock(`SELECT 1 FROM partitions WHERE p = ${p} FOR UPDATE`, 4000);
    const ids = [];
    for (let i = 1; i <= 3; i++) {
        const r = await api('POST', `/api/v1/groups/${g.id}/expenses`, { token: alice.token, body: body(10 * i) });
        assert.equal(r.status, 202, r.text);
        ids.push(r.json.event_id);
    }
    await held.done;
    for (const id of ids) {
        await waitFor(async () => {
            const s = await api('GET', `/api/v1/events/${id}`, { token: alice.token });
            return s.status === 200 && s.json.status !== 'queued' && s;
        }, { timeoutMs: 15_000, what: 'the event recorded' }).then((s) => assert.equal(s.json.status, 'applied', s.text));
    }
    assert.equal(psql(`SELECT count(*) FROM rejected_events WHERE group_id = '${g.id}'`)[0][0], '0');
    assert.ok(!ids.some((id) => redisCli('XRANGE', 'splitter:dead', '-', '+').includes(id)), 'nothing dead-lettered');
});
