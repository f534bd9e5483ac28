// Faults under load: kill -9 a worker, kill -9 redis-server (restarted from its AOF), restart
// PostgreSQL. Clients retry with their Idempotency-Key, as a flaky mobile network would.
// Afterwards nothing that got a 202 is missing and nothing is applied twice, and the balances
// equal this test's own model of every accepted write.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { startStack } from './stack.mjs';
import { rng, randomExpense, setupGroup, expectedBalances, pool } from './model.mjs';

let stack;
let failed = false;

before(async () => {
    stack = await startStack({ workers: 2 });
});

after(() => stack?.down({ failed }));

/**
 * Fire n writes (creates and payments, no waiting) over two groups while `fault` runs once
 * a third of them are accepted. Returns what was accepted.
 */
async function loadWithFault(seed, n, fault) {
    const r = rng(seed);
    const groups = [await setupGroup(stack.baseUrl, 4), await setupGroup(stack.baseUrl, 5)];
    const accepted = groups.map(() => ({ expenses: [], payments: [], events: new Set() }));
    let done = 0;
    let faultRun = null;
    const tasks = Array.from({ length: n }, (_, i) => async () => {
        const g = i % groups.length;
        const { call, group, members } = groups[g];
        const key = randomUUID();
        const isPayment = r.chance(0.25);
        const body = isPayment
            ? (() => {
                const from = r.pick(members);
                return { from_member: from, to_member: r.pick(members.filter((m) => m !== from)), amount: r.int(1, 9999) };
            })()
            : randomExpense(r, members);
        const path = `/api/v1/groups/${group.id}/${isPayment ? 'payments' : 'expenses'}`;
        // The client retries 5xx and network errors with the same key until it gets an answer.
        const res = await call('POST', path, { body, headers: { 'Idempotency-Key': key } });
        assert.equal(res.status, 202, JSON.stringify(res.json));
        assert.ok(!accepted[g].events.has(res.json.event_id), 'two writes got one event id');
        accepted[g].events.add(res.json.event_id);
        (isPayment ? accepted[g].payments : accepted[g].expenses).push(body);
        if (++done === Math.floor(n / 3)) faultRun = fault();
    });
    await pool(tasks, 8);
    await faultRun;
    return { groups, accepted };
}

async function verify({ groups, accepted }) {
    const ids = accepted.flatMap((a) => [...a.events]);
    // Every accepted event reaches the ledger, once.
    const deadline = Date.now() + 120_000;
    for (;;) {
        const [[n]] = stack.psql(`SELECT count(*) FROM events WHERE event_id IN (${ids.map((i) => `'${i}'`).join(',')})`);
        if (Number(n) === ids.length) break;
        const [[rej]] = stack.psql(`SELECT count(*) FROM rejected_events WHERE event_id IN (${ids.map((i) => `'${i}'`).join(',')})`);
        assert.equal(Number(rej), 0, 'an accepted valid event was rejected');
        if (Date.now() > deadline) assert.fail(`only ${n} of ${ids.length} accepted events applied`);
        await delay(200);
    }
    for (let g = 0; g < groups.length; g++) {
        const { call, group, members } = groups[g];
        const [[rows, maxSeq]] = stack.psql(`SELECT count(*), max(seq) FROM events WHERE group_id = '${group.id}'`);
        assert.equal(Number(rows), accepted[g].events.size, 'ledger rows');
        assert.equal(Number(maxSeq), accepted[g].events.size, 'per-group seq has no gap');
        const want = expectedBalances(members, accepted[g].expenses, accepted[g].payments);
        const res = await call('GET', `/api/v1/groups/${group.id}/balances`);
        assert.equal(res.status, 200);
        for (const b of res.json.balances) assert.equal(BigInt(b.balance), want.get(b.member_id), `member ${b.member_id}`);
    }
}

test('kill -9 of a worker mid-load loses nothing and doubles nothing', { timeout: 300_000 }, async () => {
    try {
        const run = await loadWithFault(1, 300, async () => stack.sh('kill', 'worker-1', 'KILL'));
        await verify(run);
        stack.sh('up'); // the stack comes back whole for the next test
    } catch (e) {
        failed = true;
        throw e;
    }
});

test('kill -9 of redis-server, restarted from its AOF, loses nothing and doubles nothing', { timeout: 300_000 }, async () => {
    try {
        const run = await loadWithFault(2, 300, async () => {
            stack.sh('kill', 'redis', 'KILL');
            await delay(500);
            stack.sh('up');
        });
        await verify(run);
    } catch (e) {
        failed = true;
        throw e;
    }
});

test('a PostgreSQL restart mid-load loses nothing and doubles nothing', { timeout: 300_000 }, async () => {
    try {
        const run = await loadWithFault(3, 300, async () => stack.sh('restart', 'postgres'));
        await verify(run);
    } catch (e) {
        failed = true;
        throw e;
    }
});

test('an entry that is not an event is dead-lettered without blocking its partition', { timeout: 120_000 }, async () => {
    try {
        const { call, group, members } = await setupGroup(stack.baseUrl, 3);
        // Put garbage first in this group's partition, then a real expense behind it.
        const streams = Array.from({ length: 16 }, (_, p) => `splitter:stream:${p}`);
        for (const s of streams) stack.redis('XADD', s, '*', 'event', '{"not": "an event"}');
        const res = await call('POST', `/api/v1/groups/${group.id}/expenses`, {
            body: randomExpense(rng(9), members),
            headers: { Prefer: 'wait=10' },
        });
        assert.equal(res.status, 201, JSON.stringify(res.json));
        const dead = stack.redis('XRANGE', 'splitter:dead', '-', '+');
        assert.match(dead, /not a ledger event/);
    } catch (e) {
        failed = true;
        throw e;
    }
});

test('the api reports PostgreSQL down while it is stopped, and up again after', { timeout: 120_000 }, async () => {
    const up = async () => {
        const body = await (await fetch(`http://127.0.0.1:${stack.env.API_PORT}/metrics`)).text();
        const line = body.split('\n').find((l) => l.startsWith('splitter_postgres_up '));
        return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    const until = async (want, what) => {
        const deadline = Date.now() + 30_000;
        let got;
        while ((got = await up()) !== want) {
            if (Date.now() > deadline) assert.fail(`splitter_postgres_up is ${got}, not ${want}, 30 s ${what}`);
            await delay(200);
        }
    };
    try {
        await until(1, 'into the test');
        stack.sh('stop', 'postgres');
        // No request needs PostgreSQL meanwhile: the pool notices its connections closing.
        await until(0, 'after PostgreSQL stopped');
        stack.sh('up');
        await until(1, 'after PostgreSQL started again');
    } catch (e) {
        failed = true;
        throw e;
    }
});
