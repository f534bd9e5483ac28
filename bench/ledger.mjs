// Ledger benchmarks' client side, driven by scripts/bench.sh against its private stack.
//
//   node bench/ledger.mjs setup                 -> prints shell assignments: BENCH_TOKEN, BENCH_GROUP,
//                                                  BENCH_BODY_FILE (a valid expense body)
//   node bench/ledger.mjs events N FILE         -> writes N ledger events as Redis protocol
//                                                  into FILE: what the api writes when it
//                                                  accepts one (the status hash with its
//                                                  expiry, the XADD to the group's partition)
//   node bench/ledger.mjs applied               -> prints the events the workers applied or
//                                                  rejected so far (their /metrics)
//   node bench/ledger.mjs wait-applied TARGET   -> returns once that count reaches TARGET
//                                                  (polled every 100 ms; exit 1 after 10 min)
//   node bench/ledger.mjs lag RATE SECONDS      -> POSTs at RATE/s with Prefer: wait=10 and
//                                                  prints "p50_ms p99_ms sent late" (late:
//                                                  not applied within 10 s, or failed)
//
// BASE_URL, SPLITTER_PARTITIONS (16), WORKERS and WORKER_METRICS_PORT (worker k listens on
// WORKER_METRICS_PORT + k - 1) and STACK_STATE_DIR come from the environment.

import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agent as apiAgent, expense, request } from './client.mjs';

const P = Number(process.env.SPLITTER_PARTITIONS ?? 16);

// The api's answer with its JSON body parsed.
async function api(method, path, body, token, headers = {}) {
    const r = await request(method, path, body, token, headers);
    return { status: r.status, json: r.text ? JSON.parse(r.text) : null };
}

async function group(token, n) {
    const g = await api('POST', '/api/v1/groups', { name: 'bench', currency: 'EUR' }, token);
    const members = [g.json.members[0].id];
    for (let i = 1; i < n; i++)
        members.push((await api('POST', `/api/v1/groups/${g.json.id}/members`, { name: `m${i}` }, token)).json.id);
    return { id: g.json.id, members };
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

// Events applied or rejected so far, summed over the workers' /metrics: one process polling
// over kept-alive HTTP connections costs the machine far less than a database client started
// per poll.
const agent = new http.Agent({ keepAlive: true });
function metrics(port) {
    return new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/metrics', agent }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve(body));
        }).on('error', reject);
    });
}
async function applied() {
    const base = Number(process.env.WORKER_METRICS_PORT);
    let total = 0;
    for (let k = 0; k < Number(process.env.WORKERS); k++) {
        const text = await metrics(base + k);
        for (const line of text.split('\n'))
            if (/^splitter_worker_events_(applied|rejected)_total /.test(line)) total += Number(line.split(' ')[1]);
    }
    return total;
}

const cmd = process.argv[2];
if (cmd === 'setup') {
    const user = await register();
    const g = await group(user.token, 4);
    const file = join(process.env.STACK_STATE_DIR, 'expense.json');
    writeFileSync(file, JSON.stringify(expense(g.members, 1)));
    console.log(`BENCH_TOKEN=${user.token}\nBENCH_GROUP=${g.id}\nBENCH_BODY_FILE=${file}`);
} else if (cmd === 'events') {
    // Events exactly as the api writes them, spread over 64 groups (so over every partition);
    // with "keyed", each carries an Idempotency-Key and its hashes, as a client's retry-safe
    // write does (the worker then claims every key).
    const n = Number(process.argv[3]);
    const keyed = process.argv[5] === 'keyed';
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
        if (keyed) {
            const key = randomUUID();
            ev.idempotency_key = key;
            ev.idempotency_key_sha256 = createHash('sha256').update(key).digest('hex');
            ev.request_sha256 = createHash('sha256').update(JSON.stringify(ev.data)).digest('hex');
        }
        const status = `splitter:event:${ev.event_id}`;
        out.push(resp(['HSET', status, 'status', 'queued', 'type', ev.type, 'group_id', g.id,
            'accepted_at', now, 'target', ev.expense_id]));
        out.push(resp(['EXPIRE', status, '604800']));
        out.push(resp(['XADD', `splitter:stream:${fnv(g.id)}`, '*', 'event', JSON.stringify(ev)]));
    }
    writeFileSync(process.argv[4], out.join(''));
} else if (cmd === 'applied') {
    console.log(await applied());

} else if (cmd === 'wait-applied') {
    const target = Number(process.argv[3]);
    const deadline = Date.now() + 600_000;
    while ((await applied()) < target) {
        if (Date.now() > deadline) process.exit(1);
        await new Promise((r) => setTimeout(r, 100));
    }

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
    console.error('usage: node bench/ledger.mjs setup | events N FILE | applied | wait-applied TARGET | lag RATE SECONDS');
    process.exit(2);
}
apiAgent.destroy();
agent.destroy();
