// The mixed benchmark's client side, driven by scripts/bench.sh (bench_mixed) against its
// private stack: what a busy installation sees, many groups read far more than written.
//
//   node bench/mixed.mjs setup GROUPS FILE    -> one user, GROUPS groups of 4 members, each with
//                                                5 applied expenses (so cached views and a
//                                                page of expenses); their ids into FILE
//   node bench/mixed.mjs run FILE SECONDS CONNECTIONS
//                                             -> CONNECTIONS closed loops for SECONDS: each
//                                                request is, at random, 30 % a balance read,
//                                                30 % a settlement read, 30 % a page of 50
//                                                expenses, 10 % an expense write (202), of a
//                                                random group; prints one line per kind:
//                                                "kind count per_second p50_ms p99_ms errors"
//
// Why node rather than wrk: wrk's Lua has no clock per request (response() gets no timing), so
// it cannot give p50 and p99 of each kind apart; a node client with kept-alive connections
// can, at the price of more CPU on the shared cores (scripts/bench.sh reports it).
//
// BASE_URL comes from the environment.

import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { agent, expense, must, request } from './client.mjs';

// parallel N ITEMS FN: FN over ITEMS, N at a time.
async function parallel(n, items, fn) {
    let next = 0;
    await Promise.all(
        Array.from({ length: n }, async () => {
            while (next < items.length) await fn(items[next++]);
        }),
    );
}

async function setup(count, file) {
    const reg = await must('POST', '/api/v1/auth/register', {
        email: `mixed-${randomUUID()}@bench.test`,
        password: 'benchmark password',
        name: 'Mixed',
    });
    const token = reg.token;
    const groups = [];
    await parallel(16, Array.from({ length: count }, (_, i) => i), async (i) => {
        const g = await must('POST', '/api/v1/groups', { name: `mixed ${i}`, currency: 'EUR' }, token);
        const members = [g.members[0].id];
        for (let k = 1; k < 4; k++)
            members.push((await must('POST', `/api/v1/groups/${g.id}/members`, { name: `m${k}` }, token)).id);
        // The last write waits: once it is applied, so are the others of its group (one stream).
        for (let k = 0; k < 5; k++)
            await must('POST', `/api/v1/groups/${g.id}/expenses`, expense(members, i + k, 'mixed'), token,
                k === 4 ? { Prefer: 'wait=30' } : {});
        groups.push({ id: g.id, members });
    });
    writeFileSync(file, JSON.stringify({ token, groups }));
}

const KINDS = ['balances', 'settlements', 'expense page', 'write'];

async function run(file, seconds, connections) {
    const { token, groups } = JSON.parse(readFileSync(file, 'utf8'));
    const lat = KINDS.map(() => []);
    const errors = KINDS.map(() => 0);
    const end = performance.now() + seconds * 1000;
    let n = 0;
    await Promise.all(
        Array.from({ length: connections }, async () => {
            while (performance.now() < end) {
                const g = groups[Math.floor(Math.random() * groups.length)];
                const r = Math.random();
                const kind = r < 0.3 ? 0 : r < 0.6 ? 1 : r < 0.9 ? 2 : 3;
                const t0 = performance.now();
                let res;
                try {
                    if (kind === 0) res = await request('GET', `/api/v1/groups/${g.id}/balances`, null, token);
                    else if (kind === 1) res = await request('GET', `/api/v1/groups/${g.id}/settlements`, null, token);
                    else if (kind === 2) res = await request('GET', `/api/v1/groups/${g.id}/expenses?limit=50`, null, token);
                    else res = await request('POST', `/api/v1/groups/${g.id}/expenses`, expense(g.members, n++, 'mixed'), token);
                } catch {
                    res = { status: 0 };
                }
                const ok = kind === 3 ? res.status === 202 : res.status === 200;
                if (ok) lat[kind].push(performance.now() - t0);
                else errors[kind]++;
            }
        }),
    );
    for (let k = 0; k < KINDS.length; k++) {
        const l = lat[k].sort((a, b) => a - b);
        const q = (p) => (l.length ? l[Math.min(l.length - 1, Math.floor(p * l.length))] : 0);
        console.log(`${KINDS[k].replace(' ', '_')} ${l.length} ${(l.length / seconds).toFixed(0)} ${q(0.5).toFixed(1)} ${q(0.99).toFixed(1)} ${errors[k]}`);
    }
}

const cmd = process.argv[2];
if (cmd === 'setup') await setup(Number(process.argv[3]), process.argv[4]);
else if (cmd === 'run') await run(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else {
    console.error('usage: node bench/mixed.mjs setup GROUPS FILE | run FILE SECONDS CONNECTIONS');
    process.exit(2);
}
agent.destroy();
