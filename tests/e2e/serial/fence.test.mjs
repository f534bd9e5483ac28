// A lease taken over behind a worker's back. A worker sends a batch's writes, its fence and its
// COMMIT to PostgreSQL in one pipeline, so the fence has to fail by itself when a partition's
// lease is no longer the worker's: fence_check raises SQLSTATE 55F01, the COMMIT after it finds
// the transaction failed, nothing of the batch is committed, and the worker takes its leases
// again above the tokens PostgreSQL saw. It changes every partition's token, so it runs among
// the serial files.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { api, registerUser, psql, redisCli, groupsOnDistinctPartitions, soloExpense } from '../lib.mjs';

let alice;
const groups = [];

/** One waited expense in every group; each must answer 201 (applied). */
async function writeAll(amount) {
    const rs = await Promise.all(groups.map((g) => api('POST', `/api/v1/groups/${g.id}/expenses`, {
        token: alice.token,
        headers: { Prefer: 'wait=20' },
        body: soloExpense(g, amount, 'Ferry'),
    })));
    for (const r of rs) assert.equal(r.status, 201, r.text);
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    groups.push(...await groupsOnDistinctPartitions(alice.token, 4, 'F'));
});

test('fence_check passes a fence that kept every partition and refuses one that did not, with SQLSTATE 55F01', () => {
    assert.equal(psql('SELECT fence_check(3, 3)')[0][0], 't');
    // Caught only under its own SQLSTATE: any other outcome fails the statement.
    psql("DO $$ BEGIN PERFORM fence_check(2, 3); RAISE EXCEPTION 'not refused';"
        + " EXCEPTION WHEN SQLSTATE '55F01' THEN NULL; END $$");
});

test('after every lease is taken over in PostgreSQL, the fenced batches commit nothing and every write applies once', async () => {
    await writeAll(100);
    const ps = groups.map((g) => g.p).join(',');
    const raised = new Map(psql(`UPDATE partitions SET token = token + 1000 WHERE p IN (${ps}) RETURNING p, token`)
        .map(([p, token]) => [Number(p), Number(token)]));
    await writeAll(50);
    for (const g of groups) {
        const [[events, paid]] = psql(`SELECT (SELECT count(*) FROM events WHERE group_id = '${g.id}'),`
            + ` (SELECT paid FROM balances WHERE group_id = '${g.id}' AND member_id = '${g.member}')`);
        assert.equal(events, '2', `group ${g.id}: each write recorded once`);
        assert.equal(paid, '150', `group ${g.id}: each write counted once`);
        const [[token, holder]] = psql(`SELECT token, holder FROM partitions WHERE p = ${g.p}`);
        assert.ok(Number(token) > raised.get(g.p), `partition ${g.p}: applied under a token above the raised ${raised.get(g.p)} (${token}, ${holder})`);
    }
    const ids = groups.map((g) => `'${g.id}'`).join(',');
    assert.equal(psql(`SELECT count(*) FROM rejected_events WHERE group_id IN (${ids})`)[0][0], '0');
    assert.equal(redisCli('XLEN', 'splitter:dead'), '0');
});
