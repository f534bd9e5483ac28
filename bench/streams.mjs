// Live-update stream benchmarks' client side, driven by scripts/bench.sh against its private
// stack.
//
//   node bench/streams.mjs idle 1000,5000,10000
//       opens idle streams (GET /api/v1/groups/{gid}/stream) straight on the api, spread over
//       10 groups, up to each count in turn; once every stream got its first bytes and the api
//       settled, reads the api's resident memory (VmRSS of API_PID). Prints one line per step,
//       "streams rss_kib", the first with 0 streams (before any), then "ready", and holds the
//       streams open until SIGTERM (so another process can measure latency meanwhile: one
//       process holding 10,000 sockets is itself too slow to time anything).
//   node bench/streams.mjs latency N
//       one stream through nginx; N expenses POSTed through nginx one after another (no
//       Prefer: wait); for each, the time from its 202 answer to its event on the stream.
//       Prints "latency p50_ms p99_ms n".
//
// BASE_URL (nginx), API_HOST, API_PORT and API_PID come from the environment.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

const BASE = process.env.BASE_URL;
const DIRECT = `http://${process.env.API_HOST ?? '127.0.0.1'}:${process.env.API_PORT}`;
const GROUPS = 10;

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function request(base, method, path, { body, token, headers = {} } = {}) {
    const url = new URL(base + path);
    const data = body ? JSON.stringify(body) : undefined;
    return new Promise((resolve, reject) => {
        const req = http.request({
            host: url.hostname, port: url.port, path: url.pathname + url.search, method, agent,
            headers: {
                ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
                ...(token ? { Authorization: `Bearer ${token}` } : {}),
                ...headers,
            },
        }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c) => {
                text += c;
            });
            res.on('end', () => {
                if (res.statusCode >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
                else resolve(text ? JSON.parse(text) : null);
            });
        });
        req.on('error', reject);
        req.end(data);
    });
}

/** A stream on base; resolves once its first bytes arrived. onEvent(data) per event. */
function openStream(base, gid, token, onEvent = null) {
    const url = new URL(`${base}/api/v1/groups/${gid}/stream`);
    return new Promise((resolve, reject) => {
        const req = http.get({
            host: url.hostname, port: url.port, path: url.pathname, agent: false,
            headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
        }, (res) => {
            if (res.statusCode !== 200) {
                reject(new Error(`stream: ${res.statusCode}`));
                res.resume();
                return;
            }
            res.setEncoding('utf8');
            let buf = '';
            let first = true;
            res.on('data', (chunk) => {
                if (first) {
                    first = false;
                    resolve(req);
                }
                if (!onEvent) return;
                buf += chunk;
                let cut;
                while ((cut = buf.indexOf('\n\n')) >= 0) {
                    const block = buf.slice(0, cut);
                    buf = buf.slice(cut + 2);
                    const data = block.split('\n').find((l) => l.startsWith('data: '));
                    if (data) onEvent(JSON.parse(data.slice(6)), process.hrtime.bigint());
                }
            });
            res.on('error', () => {});
        });
        req.on('error', reject);
    });
}

function rssKib() {
    const status = readFileSync(`/proc/${process.env.API_PID}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function setup() {
    const reg = await request(BASE, 'POST', '/api/v1/auth/register', {
        body: { email: `streams-${randomUUID()}@bench.test`, password: 'correct horse battery', name: 'Streams' },
    });
    const groups = [];
    for (let i = 0; i < GROUPS; i++) {
        groups.push(await request(BASE, 'POST', '/api/v1/groups', { token: reg.token, body: { name: `s${i}`, currency: 'EUR' } }));
    }
    return { token: reg.token, groups };
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function latency(n, token, group) {
    const seen = new Map(); // event_id -> hrtime of arrival
    const waiting = new Map(); // event_id -> resolve
    const stream = await openStream(BASE, group.id, token, (data, at) => {
        seen.set(data.event_id, at);
        waiting.get(data.event_id)?.(at);
    });
    const member = group.members[0].id;
    const ms = [];
    for (let i = 0; i < n; i++) {
        const r = await request(BASE, 'POST', `/api/v1/groups/${group.id}/expenses`, {
            token,
            headers: { 'Idempotency-Key': randomUUID() },
            body: { description: `l${i}`, amount: 100, paid_by: [{ member_id: member, amount: 100 }], split: { mode: 'equal', members: [{ member_id: member }] } },
        });
        const accepted = process.hrtime.bigint();
        const at = seen.get(r.event_id) ?? await Promise.race([
            new Promise((resolve) => waiting.set(r.event_id, resolve)),
            sleep(10_000).then(() => null),
        ]);
        waiting.delete(r.event_id);
        if (at === null) throw new Error(`event ${r.event_id} not delivered within 10 s`);
        ms.push(Number(at - accepted) / 1e6);
        await sleep(10);
    }
    stream.destroy();
    ms.sort((a, b) => a - b);
    console.log(`latency ${pct(ms, 50).toFixed(1)} ${pct(ms, 99).toFixed(1)} ${ms.length}`);
}

async function idle(counts) {
    const { token, groups } = await setup();
    const open = [];
    await sleep(500);
    console.log(`0 ${rssKib()}`);
    for (const target of counts) {
        while (open.length < target) {
            const batch = Math.min(250, target - open.length);
            const opened = await Promise.all(Array.from({ length: batch }, (_, k) =>
                openStream(DIRECT, groups[(open.length + k) % GROUPS].id, token)));
            open.push(...opened);
        }
        await sleep(1500);
        console.log(`${open.length} ${rssKib()}`);
    }
    console.log('ready');
    await new Promise((resolve) => process.once('SIGTERM', resolve));
    for (const s of open) s.destroy();
}

const [cmd, arg] = process.argv.slice(2);
if (cmd === 'idle') await idle(arg.split(',').map(Number));
else if (cmd === 'latency') {
    const { token, groups } = await setup();
    await latency(Number(arg), token, groups[0]);
} else {
    console.error('usage: streams.mjs idle N1,N2,... | latency N');
    process.exit(2);
}
process.exit(0);
