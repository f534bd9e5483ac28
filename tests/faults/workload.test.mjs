// A seeded, concurrent, randomized workload of creates, replaces, deletes and payments over
// several groups, with 1 and with 4 workers. The final balances must equal the ones this
// test computes itself from the writes that succeeded (an independent BigInt model of the
// rounding rules), every accepted event must be recorded exactly once, and each expense's
// successful writes must carry the versions 1, 2, 3... with no gap and no repeat: the
// per-group order held whatever the number of workers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startStack } from './stack.mjs';
import { rng, randomExpense, setupGroup, expectedBalances, pool } from './model.mjs';

const OPS = Number(process.env.WORKLOAD_OPS ?? 240);

async function runWorkload(stack, seed) {
    const r = rng(seed);
    const groups = [];
    for (let g = 0; g < 4; g++) groups.push(await setupGroup(stack.baseUrl, r.int(3, 6)));
    const state = groups.map(() => ({ expenses: new Map(), payments: [], writes: [] }));
    // Ops are drawn up front (seeded); replaces and deletes pick among expenses known when
    // they run, so concurrent ones race for the same versions, as real clients do.
    const ops = Array.from({ length: OPS }, () => ({ g: r.int(0, groups.length - 1), kind: r.next(), seed: r.int(0, 1e9) }));
    const accepted = [];
    const tasks = ops.map((op) => async () => {
        const { call, group, members } = groups[op.g];
        const st = state[op.g];
        const local = rng(op.seed);
        const key = randomUUID();
        const headers = { Prefer: 'wait=10', 'Idempotency-Key': key };
        const base = `/api/v1/groups/${group.id}`;
        const known = [...st.expenses.entries()].filter(([, e]) => !e.deleted);
        let res;
        if (op.kind < 0.5 || known.length === 0) {
            const body = randomExpense(local, members);
            res = await call('POST', `${base}/expenses`, { body, headers });
            if (res.status === 201) st.expenses.set(res.json.id, { version: 1, body, deleted: false, versions: [1] });
        } else if (op.kind < 0.7) {
            const [id, e] = local.pick(known);
            const body = randomExpense(local, members);
            res = await call('PUT', `${base}/expenses/${id}`, { body, headers: { ...headers, 'If-Match': `"${e.version}"` } });
            if (res.status === 200) {
                const cur = st.expenses.get(id);
                cur.versions.push(res.json.version);
                if (res.json.version > cur.version) Object.assign(cur, { version: res.json.version, body });
            }
        } else if (op.kind < 0.8) {
            const [id, e] = local.pick(known);
            res = await call('DELETE', `${base}/expenses/${id}`, { headers: { ...headers, 'If-Match': `"${e.version}"` } });
            if (res.status === 200) {
                const cur = st.expenses.get(id);
                cur.versions.push(res.json.version);
                cur.deleted = true;
                cur.version = Math.max(cur.version, res.json.version);
            }
        } else {
            const from = local.pick(members);
            const to = local.pick(members.filter((m) => m !== from));
            const body = { from_member: from, to_member: to, amount: local.int(1, 50_000) };
            res = await call('POST', `${base}/payments`, { body, headers });
            if (res.status === 201) st.payments.push(body);
        }
        assert.ok([200, 201, 409, 404].includes(res.status), `unexpected ${res.status}: ${JSON.stringify(res.json)}`);
        const eventId = res.headers.get('location')?.match(/events\/([0-9a-f-]{36})/)?.[1];
        accepted.push({ status: res.status, eventId });
    });
    await pool(tasks, 12);
    return { groups, state, accepted };
}

async function checkOutcome(stack, { groups, state }) {
    for (let g = 0; g < groups.length; g++) {
        const { call, group, members } = groups[g];
        const st = state[g];
        // Every successful write of an expense has its own version, 1..k, no gap.
        for (const [id, e] of st.expenses) {
            const v = [...e.versions].sort((a, b) => a - b);
            assert.deepEqual(v, v.map((_, i) => i + 1), `expense ${id} versions ${v}`);
            const [[dbVersion, dbDeleted]] = stack.psql(`SELECT version, deleted FROM expenses WHERE id = '${id}'`);
            assert.equal(Number(dbVersion), e.version, `expense ${id} version`);
            assert.equal(dbDeleted === 't', e.deleted, `expense ${id} deleted`);
        }
        const live = [...st.expenses.values()].filter((e) => !e.deleted).map((e) => e.body);
        const want = expectedBalances(members, live, st.payments);
        const res = await call('GET', `/api/v1/groups/${group.id}/balances`);
        assert.equal(res.status, 200);
        const got = new Map(res.json.balances.map((b) => [b.member_id, BigInt(b.balance)]));
        for (const m of members) assert.equal(got.get(m), want.get(m), `group ${g} member ${m}`);
        assert.equal([...got.values()].reduce((a, b) => a + b, 0n), 0n);
        // Exactly once: one ledger row per successful write, seqs 1..n without gaps.
        const writes = st.expenses.size + [...st.expenses.values()].reduce((a, e) => a + e.versions.length - 1, 0) + st.payments.length;
        const [[count, maxSeq, distinct]] = stack.psql(
            `SELECT count(*), coalesce(max(seq), 0), count(DISTINCT event_id) FROM events WHERE group_id = '${group.id}'`);
        assert.equal(Number(count), writes, `group ${g}: ledger rows`);
        assert.equal(Number(maxSeq), writes, `group ${g}: seq`);
        assert.equal(Number(distinct), writes);
    }
}

for (const workers of [1, 4]) {
    test(`randomized concurrent workload with ${workers} worker(s) matches the model`, { timeout: 600_000 }, async () => {
        const stack = await startStack({ workers });
        let failed = true;
        try {
            const run = await runWorkload(stack, 1000 + workers);
            // With Prefer: wait every write reached a final status before its answer.
            assert.ok(run.accepted.every((a) => a.status !== 202), 'a write was left queued');
            await checkOutcome(stack, run);
            failed = false;
        } finally {
            stack.down({ failed });
        }
    });
}
