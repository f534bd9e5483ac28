// Lua scripts are called by their digest (EVALSHA). Redis forgets its scripts when it restarts
// or on SCRIPT FLUSH and then answers NOSCRIPT: the call did not run, so the api and the
// workers load the script and call once more. Here SCRIPT FLUSH runs over and over while
// writes (some waiting for their outcome, which the worker writes with a script) and cache
// refills go on: every write is accepted, and applied exactly once. Serial: it empties the
// stack's script cache under every other request.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { env } from 'node:process';
import { randomUUID } from 'node:crypto';
import { api, registerUser, redisCli, psql, waitFor } from '../lib.mjs';

let alice, group, A, B;
const G = () => `/api/v1/groups/${group.id}`;

/** The calls counted so far of each command named, from INFO commandstats ("evalsha" -> 12). */
function commandCalls() {
    const calls = {};
    for (const line of redisCli('INFO', 'commandstats').split('\n')) {
        const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
        if (m) calls[m[1]] = Number(m[2]);
    }
    return calls;
}

/** SCRIPT FLUSH without blocking this process's loop (the writes go on meanwhile). */
function flushScripts() {
    return new Promise((resolve, reject) => {
        const p = spawn('redis-cli', ['-h', env.REDIS_HOST ?? '127.0.0.1', '-p', env.REDIS_PORT ?? '6380',
            'SCRIPT', 'FLUSH'], {
            env: env.REDIS_PASSWORD ? { ...env, REDISCLI_AUTH: env.REDIS_PASSWORD } : env,
            stdio: 'ignore',
        });
        p.on('error', reject);
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`SCRIPT FLUSH: ${code}`))));
    });
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Scripts', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    A = group.members[0].id;
    const b = await api('POST', `${G()}/members`, { token: alice.token, body: { name: 'Ben' } });
    assert.equal(b.status, 201, b.text);
    B = b.json.id;
});

test('writes are called by digest, and one after SCRIPT FLUSH loads its script again', async () => {
    const before1 = commandCalls();
    const r1 = await api('POST', `${G()}/expenses`, {
        token: alice.token,
        body: { description: 'First', amount: 2, paid_by: [{ member_id: A, amount: 2 }],
            split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }] } },
    });
    assert.equal(r1.status, 202, r1.text);
    const after1 = commandCalls();
    assert.ok((after1.evalsha ?? 0) > (before1.evalsha ?? 0), 'the accept went by EVALSHA');
    assert.equal(after1.eval ?? 0, before1.eval ?? 0, 'no script text sent with EVAL by the api');

    redisCli('SCRIPT', 'FLUSH');
    const r2 = await api('POST', `${G()}/expenses`, {
        token: alice.token,
        body: { description: 'Second', amount: 2, paid_by: [{ member_id: A, amount: 2 }],
            split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }] } },
        headers: { Prefer: 'wait=10' },
    });
    assert.equal(r2.status, 201, r2.text);
    const after2 = commandCalls();
    assert.ok((after2['script|load'] ?? 0) > (after1['script|load'] ?? 0), 'the script was loaded again');
    const n = psql(`SELECT count(*) FROM expenses WHERE group_id = '${group.id}'
        AND description IN ('First', 'Second')`)[0][0];
    assert.equal(n, '2');
});

test('SCRIPT FLUSH over and over while writes go on: each write applied exactly once', async () => {
    const N = 120;
    const base = Number(psql(`SELECT count(*) FROM expenses WHERE group_id = '${group.id}'`)[0][0]);
    const owedBefore = Number(psql(`SELECT owed FROM balances WHERE member_id = '${B}'`)[0][0]);
    let writing = true;
    let flushes = 0;
    const flusher = (async () => {
        while (writing) {
            await flushScripts();
            flushes++;
            await new Promise((r) => setTimeout(r, 5));
        }
    })();
    const statuses = [];
    const keys = [];
    try {
        for (let i = 0; i < N; i += 12) {
            const round = [];
            for (let k = i; k < Math.min(N, i + 12); k++) {
                const key = randomUUID();
                keys.push(key);
                const headers = { 'Idempotency-Key': key };
                if (k % 3 === 0) headers.Prefer = 'wait=10';
                round.push(api('POST', `${G()}/expenses`, {
                    token: alice.token,
                    body: { description: `Load ${k}`, amount: 2, paid_by: [{ member_id: A, amount: 2 }],
                        split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }] } },
                    headers,
                }));
                // A cache refill (the api writes the view with a script) between the writes.
                if (k % 4 === 0) {
                    redisCli('DEL', `splitter:view:${group.id}`);
                    round.push(api('GET', `${G()}/balances`, { token: alice.token }));
                }
            }
            for (const r of await Promise.all(round)) statuses.push(r.status);
        }
    } finally {
        writing = false;
        await flusher;
    }
    assert.ok(flushes >= 3, `only ${flushes} flushes during the load`);
    const bad = statuses.filter((s) => s !== 200 && s !== 201 && s !== 202);
    assert.deepEqual(bad, [], 'every write accepted and every read answered');

    // Exactly once: N new expenses, B owes exactly N more, each key recorded once.
    await waitFor(() => Number(psql(`SELECT count(*) FROM expenses WHERE group_id = '${group.id}'`)[0][0]) >= base + N,
        { timeoutMs: 30_000, what: 'every write applied' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(Number(psql(`SELECT count(*) FROM expenses WHERE group_id = '${group.id}'`)[0][0]), base + N);
    assert.equal(Number(psql(`SELECT owed FROM balances WHERE member_id = '${B}'`)[0][0]), owedBefore + N);
    const dup = psql(`SELECT count(*) FROM (SELECT description FROM expenses WHERE group_id = '${group.id}'
        GROUP BY description HAVING count(*) > 1) d`)[0][0];
    assert.equal(dup, '0');
    // The cached view (written by the worker with a script) caught up with PostgreSQL.
    await waitFor(async () => {
        const r = await api('GET', `${G()}/balances`, { token: alice.token });
        const b = r.json?.balances?.find((x) => x.member_id === B);
        return b && b.balance === -(owedBefore + N) ? true : null;
    }, { timeoutMs: 15_000, what: 'the cached balances to show every write' });
});
