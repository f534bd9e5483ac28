// Redis losing its data, and Redis out of memory. These flush and reconfigure the stack's Redis,
// so they run among the serial files (one at a time, after the others).
//
// PostgreSQL is the ledger: after a FLUSHALL (or a Redis gone back to an older state, or a
// consumer group gone) the workers notice, repair what they own and go on applying; users log
// in again. Fencing tokens come from PostgreSQL's view, so a flush after tokens were raised
// does not wedge a partition. Under Redis OOM a waited write is answered honestly.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { env } from 'node:process';
import { api, registerUser, redisCli, psql, waitFor, delay, groupsOnDistinctPartitions, soloExpense } from '../lib.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const PARTITIONS = Number(env.SPLITTER_PARTITIONS ?? '16');
const WORKERS = Number(env.WORKERS ?? '2');
const METRICS = Number(env.WORKER_METRICS_PORT ?? '9091');

function stack(...args) {
    const r = spawnSync('scripts/stack.sh', args, { cwd: root, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `stack.sh ${args.join(' ')}: ${r.stderr}`);
}

/** A worker series summed over the workers. */
async function workerSum(series) {
    let sum = 0;
    for (let i = 0; i < WORKERS; i++) {
        const r = await fetch(`http://127.0.0.1:${METRICS + i}/metrics`);
        const m = (await r.text()).match(new RegExp(`^${series} (\\d+)$`, 'm'));
        assert.ok(m, `${series} is exported`);
        sum += Number(m[1]);
    }
    return sum;
}

const stateLosses = () => workerSum('splitter_worker_redis_state_loss_total');

let alice;
const groups = [];

async function login() {
    const r = await api('POST', '/api/v1/auth/login', { body: { email: alice.email, password: alice.password } });
    assert.equal(r.status, 200, r.text);
    alice.token = r.json.token;
}

/** One waited expense in every group; each must answer 201 (applied). */
async function writeAll(amount, wait = 8) {
    const rs = await Promise.all(groups.map((g) => api('POST', `/api/v1/groups/${g.id}/expenses`, {
        token: alice.token,
        headers: { Prefer: `wait=${wait}` },
        body: soloExpense(g, amount),
    })));
    for (const r of rs) assert.equal(r.status, 201, r.text);
    return rs;
}

function nothingDeadOrRejected() {
    const ids = groups.map((g) => `'${g.id}'`).join(',');
    assert.equal(psql(`SELECT count(*) FROM rejected_events WHERE group_id IN (${ids})`)[0][0], '0');
    assert.equal(redisCli('XLEN', 'splitter:dead'), '0');
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    // Groups over several partitions.
    groups.push(...await groupsOnDistinctPartitions(alice.token, 6, 'L'));
    await writeAll(100, 5);
    redisCli('DEL', 'splitter:dead');
});

after(() => {
    redisCli('CONFIG', 'SET', 'maxmemory', '0');
    for (let n = 1; n <= WORKERS; n++) spawnSync('scripts/stack.sh', ['kill', `worker-${n}`, 'CONT'], { cwd: root });
});

test('a FLUSHALL after the fencing tokens were raised: writes apply again within seconds', async () => {
    const before1 = await stateLosses();
    // PostgreSQL saw tokens far above Redis's counters (worker crashes and restarts, a restore):
    // the holders are fenced off and must take their leases again above them.
    psql('UPDATE partitions SET token = token + 1000');
    redisCli('FLUSHALL');
    await login(); // sessions live in Redis: users log in again
    const started = Date.now();
    await writeAll(200, 10);
    assert.ok(Date.now() - started < 10_000);
    await waitFor(async () => (await stateLosses()) > before1, { timeoutMs: 10_000, what: 'the loss counted' });
    assert.ok(Number(redisCli('GET', 'splitter:idem_horizon')) > 0, 'the idempotency horizon is set');
    const tokens = psql('SELECT min(token) FROM partitions')[0][0];
    assert.ok(Number(tokens) > 1000, `every token fenced with is above the raised ones (${tokens})`);
    nothingDeadOrRejected();
    for (const g of groups) {
        const b = await api('GET', `/api/v1/groups/${g.id}/balances`, { token: alice.token });
        assert.equal(b.status, 200, b.text);
        assert.equal(b.json.balances[0].paid, 300, JSON.stringify(b.json));
    }
});

test('a Redis gone back to an older state is detected: the idempotency horizon moves to now', async () => {
    const before1 = await stateLosses();
    const t0 = Date.now();
    redisCli('SET', 'splitter:idem_horizon', '1');
    // What a restore from an older snapshot looks like to the workers: counters below the tokens
    // PostgreSQL recorded, the marker key present.
    for (let p = 0; p < PARTITIONS; p++) redisCli('SET', `splitter:lease_token:${p}`, '1');
    await waitFor(() => Number(redisCli('GET', 'splitter:idem_horizon')) >= t0 - 1000, {
        timeoutMs: 10_000,
        what: 'the horizon overwritten',
    });
    await waitFor(async () => (await stateLosses()) > before1, { timeoutMs: 10_000, what: 'the loss counted' });
    await writeAll(50);
    nothingDeadOrRejected();
});

test('consumer groups that vanished are recreated; nothing written after is skipped', async () => {
    const before1 = await stateLosses();
    for (let p = 0; p < PARTITIONS; p++) redisCli('XGROUP', 'DESTROY', `splitter:stream:${p}`, 'workers');
    const rs = await Promise.all(groups.map((g) => api('POST', `/api/v1/groups/${g.id}/expenses`, {
        token: alice.token,
        body: soloExpense(g, 7),
    })));
    for (const r of rs) assert.equal(r.status, 202, r.text);
    for (const r of rs) {
        await waitFor(async () => {
            const s = await api('GET', `/api/v1/events/${r.json.event_id}`, { token: alice.token });
            return s.status === 200 && s.json.status === 'applied';
        }, { timeoutMs: 10_000, what: 'the write after the loss applied' });
    }
    await waitFor(async () => (await stateLosses()) > before1, { timeoutMs: 10_000, what: 'the loss counted' });
    nothingDeadOrRejected();
});

test('Redis out of memory: a waited write still answers with its outcome, never "queued"', async () => {
    // Workers paused: the writes are accepted (Redis has room), then Redis fills up before the
    // workers record the outcomes.
    for (let n = 1; n <= WORKERS; n++) stack('kill', `worker-${n}`, 'STOP');
    const pending = groups.map((g) => api('POST', `/api/v1/groups/${g.id}/expenses`, {
        token: alice.token,
        headers: { Prefer: 'wait=8' },
        body: soloExpense(g, 11),
    }));
    await delay(1000);
    redisCli('CONFIG', 'SET', 'maxmemory', '1');
    try {
        for (let n = 1; n <= WORKERS; n++) stack('kill', `worker-${n}`, 'CONT');
        const rs = await Promise.all(pending);
        for (const r of rs) assert.equal(r.status, 201, `a waited write answered ${r.status}: ${r.text}`);
        // Out of memory for longer than a lease: heartbeats are refused, yet the workers keep
        // their partitions (renewing a lease needs no memory) and would go on applying.
        await delay(Number(env.LEASE_TTL_MS ?? '10000') + 2000);
        assert.equal(await workerSum('splitter_worker_partitions_owned'), PARTITIONS);
        for (const r of rs) {
            const [[eventId]] = psql(`SELECT event_id FROM events WHERE payload->>'expense_id' = '${r.json.id}'`);
            const s = await api('GET', `/api/v1/events/${eventId}`, { token: alice.token });
            assert.equal(s.status, 200, s.text);
            assert.equal(s.json.status, 'applied', `event of expense ${r.json.id}: ${s.text}`);
        }
    } finally {
        redisCli('CONFIG', 'SET', 'maxmemory', '0');
    }
    nothingDeadOrRejected();
});
