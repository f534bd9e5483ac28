// Ledger benchmarks' client side, driven by scripts/bench.sh against its private stack.
//
//   node bench/ledger.mjs setup                 -> prints shell assignments: BENCH_TOKEN, BENCH_GROUP,
//                                                  BENCH_BODY_FILE (a valid expense body)
//   node bench/ledger.mjs events N FILE         -> writes N ledger events as Redis protocol
//                                                  (XADD to each group's partition) into FILE
//   node bench/ledger.mjs lag RATE SECONDS      -> POSTs at RATE/s with Prefer: wait=10 and
//                                                  prints "p50_ms p99_ms sent late" (late:
//                                                  not applied within 10 s, or failed)
//
// BASE_URL, SPLITTER_PARTITIONS (16) come from the environment.

import { randomUUID } from 'node:crypto';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BASE = process.env.BASE_URL;
const P = Number(process.env.SPLITTER_PARTITIONS ?? 16);

async function api(method, path, body, token, headers = {}) {
    const res = await fetch(BASE + path, {
        method,
        headers: {
            'Content-Type': 'application/json',
            ...(token ? { Authorization: `Bearer ${token}` } : {}),
            ...headers,
        },
        body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function group(token, n) {
    const g = await api('POST', '/api/v1/groups', { name: 'bench', currency: 'EUR' }, token);
    const members = [g.json.members[0].id];
    for (let i = 1; i < n; i++)
        members.push((await api('POST', `/api/v1/groups/${g.json.id}/members`, { name: `m${i}` }, token)).json.id);
    return { id: g.json.id, members };
}

function expense(members, i) {
    const amount = 100 + (i % 9973);
    return {
        description: `bench ${i}`,
        amount,
        paid_by: [{ member_id: members[i % members.length], amount }],
        split: { mode: 'equal', members: members.map((m) => ({ member_id: m })) },
    };
}

async function register() {
    const r = await api('POST', '/api/v1/auth/register', {
        email: `bench-${randomUUID()}@example.test`,
        password: 'benchmark password',
        name: 'Bench',
    });
    return r.json;
}

function fnv(s) {
    let h = 2166136261;
    for (const c of Buffer.from(s)) {
        h ^= c;
        h = Math.imul(h, 16777619) >>> 0;
    }
    return h % P;
}

const cmd = process.argv[2];
if (cmd === 'setup') {
    const user = await register();
    const g = await group(user.token, 4);
    const dir = mkdtempSync(join(tmpdir(), 'splitter-bench-body-'));
    const file = join(dir, 'expense.json');
    writeFileSync(file, JSON.stringify(expense(g.members, 1)));
    console.log(`BENCH_TOKEN=${user.token}\nBENCH_GROUP=${g.id}\nBENCH_BODY_FILE=${file}`);
} else if (cmd === 'events') {
    // Events exactly as the api writes them, spread over 64 groups (so over every partition).
    const n = Number(process.argv[3]);
    const user = await register();
    const groups = [];
    for (let i = 0; i < 64; i++) groups.push(await group(user.token, 4));
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const resp = (args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
    const out = [];
    for (let i = 0; i < n; i++) {
        const g = groups[i % groups.length];
        const body = expense(g.members, i);
        const ev = {
            event_id: randomUUID(), type: 'expense.created', group_id: g.id, actor: user.user.id,
            accepted_at: now, expense_id: randomUUID(),
            data: { ...body, currency: 'EUR', exchange_rate: '1', date: '2026-11-20', category: null },
        };
        out.push(resp(['XADD', `splitter:stream:${fnv(g.id)}`, '*', 'event', JSON.stringify(ev)]));
    }
    writeFileSync(process.argv[4], out.join(''));
} else if (cmd === 'lag') {
    const rate = Number(process.argv[3]);
    const seconds = Number(process.argv[4]);
    const user = await register();
    const groups = [];
    for (let i = 0; i < 8; i++) groups.push(await group(user.token, 4));
    const lat = [];
    let late = 0;
    const inflight = [];
    const start = performance.now();
    const total = Math.round(rate * seconds);
    for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const t0 = performance.now();
        const g = groups[i % groups.length];
        inflight.push(
            api('POST', `/api/v1/groups/${g.id}/expenses`, expense(g.members, i), user.token, { Prefer: 'wait=10' })
                .then((r) => {
                    if (r.status === 201) lat.push(performance.now() - t0);
                    else late++;
                })
                .catch(() => {
                    late++;
                }),
        );
    }
    await Promise.all(inflight);
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
    console.log(`${q(0.5).toFixed(1)} ${q(0.99).toFixed(1)} ${total} ${late}`);
} else {
    console.error('usage: node bench/ledger.mjs setup | events N FILE | lag RATE SECONDS');
    process.exit(2);
}
