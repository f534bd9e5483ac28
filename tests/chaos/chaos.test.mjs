// `make chaos`: one fault per test, each on its own stack under a workload of concurrent,
// retried ledger writes (tests/chaos/chaos.mjs). Every test prints its checker line
// ("chaos NAME: acknowledged=... doubled=0 lost=0 dead=0 recover_s=... balances=ok replay=ok")
// and fails with every problem the checker found.

import { test } from 'node:test';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
    chaosRun, stackSh, redis, psql, run, recovery, write, ownerOf, resendAcknowledged, LEASE_TTL_MS, RECOVER_LIMIT_S,
} from './chaos.mjs';

const T = { timeout: 240_000 };

/** Highest fencing token PostgreSQL has seen for any partition. */
async function pgMaxToken(ctx) {
    const [[max]] = await psql(ctx, 'SELECT coalesce(max(token), 0) FROM partitions');
    return Number(max);
}

/** Send SIGSTOP or SIGCONT to every worker. */
async function pauseWorkers(ctx, sig) {
    for (let n = 1; n <= Number(ctx.env.WORKERS); n++) await stackSh(ctx, 'kill', `worker-${n}`, sig);
}

/** A Redis error counter from INFO errorstats (e.g. OOM), 0 if absent. */
async function redisErrors(ctx, kind) {
    const m = (await redis(ctx, 'INFO', 'errorstats')).match(new RegExp(`errorstat_${kind}:count=(\\d+)`));
    return m ? Number(m[1]) : 0;
}

test('FLUSHALL mid-load after worker crashes raised the fencing tokens', T, () => chaosRun('flushall', {
    seed: 1301,
    async inject(ctx) {
        // Each crash moves the worker's partitions (new tokens); each restart takes its share
        // back (new tokens again): PostgreSQL's tokens end up well above 1.
        for (const n of [1, 2, 1]) {
            await stackSh(ctx, 'kill', `worker-${n}`, 'KILL');
            await sleep(LEASE_TTL_MS + 1000);
            await stackSh(ctx, 'up');
            await sleep(1500);
        }
        const tokens = await pgMaxToken(ctx);
        // The workers paused for a second around the flush, so that it catches writes that
        // were accepted (202) but not yet applied: their clients find them gone and resubmit.
        await pauseWorkers(ctx, 'STOP');
        await sleep(1000);
        await redis(ctx, 'FLUSHALL');
        await pauseWorkers(ctx, 'CONT');
        const endedAt = Date.now();
        // Clients whose answers were lost retry writes the ledger already applied.
        const { resent, problems } = await resendAcknowledged(ctx, 20);
        return { endedAt, extra: { pg_token_before: tokens, resent }, problems };
    },
}));

test('Redis restarted without its AOF', T, () => chaosRun('aof-loss', {
    seed: 1302,
    async inject(ctx) {
        // The workers paused meanwhile, so that accepted, unapplied writes go with the data.
        await pauseWorkers(ctx, 'STOP');
        await sleep(1000);
        await stackSh(ctx, 'stop', 'redis');
        const dir = join(ctx.stack.state, 'redis');
        for (const f of readdirSync(dir)) {
            if (f !== 'redis.conf') rmSync(join(dir, f), { recursive: true, force: true });
        }
        await stackSh(ctx, 'up');
        await pauseWorkers(ctx, 'CONT');
        const endedAt = Date.now();
        const { resent, problems } = await resendAcknowledged(ctx, 20);
        return { endedAt, extra: { resent }, problems };
    },
}));

test('a worker stopped (SIGSTOP) for longer than its lease, then continued', T, () => chaosRun('sigstop', {
    seed: 1303,
    async inject(ctx) {
        const n = (await ownerOf(ctx, 0)) || 1;
        await stackSh(ctx, 'kill', `worker-${n}`, 'STOP');
        const stoppedAt = Date.now();
        // Group 0 is on the stopped worker: its writes must move with the lease meanwhile.
        const moved = recovery(ctx, stoppedAt, [0], 30);
        await sleep(4 * LEASE_TTL_MS);
        await stackSh(ctx, 'kill', `worker-${n}`, 'CONT');
        const endedAt = Date.now();
        const movedS = await moved;
        const extra = { stopped_s: ((endedAt - stoppedAt) / 1000).toFixed(1), moved_s: movedS === null ? 'never' : movedS.toFixed(1) };
        // The lease expires after LEASE_TTL_MS: the other worker must take the partition over
        // while this one is still stopped.
        const limit = LEASE_TTL_MS / 1000 + RECOVER_LIMIT_S;
        const problems = movedS === null || movedS > limit
            ? [`writes of the stopped worker's partition applied ${extra.moved_s} s after the stop (lease ${LEASE_TTL_MS} ms, limit ${limit} s)`] : [];
        return { endedAt, extra, problems };
    },
}));

test('PostgreSQL stopped for 30 s under load', { timeout: 300_000 }, () => chaosRun('pg-stop', {
    seed: 1304,
    async inject(ctx) {
        await stackSh(ctx, 'stop', 'postgres');
        await sleep(30_000);
        await stackSh(ctx, 'up');
        return { endedAt: Date.now() };
    },
}));

test('a group row locked for 20 s, lock_timeout set', T, () => chaosRun('row-lock', {
    seed: 1305,
    // Every statement of the api and the workers waits at most 2 s for a lock.
    extraEnv: { WORKER_LOCK_TIMEOUT_MS: '2000', PG_LOCK_TIMEOUT_MS: '2000' },
    async inject(ctx) {
        const locker = run('psql', ['-X', '-q', '-h', '127.0.0.1', '-p', ctx.env.POSTGRES_PORT, '-U', ctx.env.POSTGRES_USER,
            '-d', ctx.env.POSTGRES_DB, '-v', 'ON_ERROR_STOP=1', '-f', '-'], {
            env: ctx.env,
            input: `SET lock_timeout = 0;\nBEGIN;\nSELECT id FROM groups WHERE id = '${ctx.groups[0].id}' FOR UPDATE;\nSELECT pg_sleep(20);\nCOMMIT;\n`,
            timeoutMs: 60_000,
        });
        const lockedAt = Date.now();
        // Meanwhile the other groups keep applying writes and answering reads.
        let readsFailed = 0;
        let reads = 0;
        const others = ctx.groups.map((_, g) => g).filter((g) => g !== 0);
        const reader = (async () => {
            while (Date.now() < lockedAt + 18_000) {
                const g = ctx.groups[others[reads % others.length]];
                reads++;
                try {
                    const r = await g.session.raw('GET', `/api/v1/groups/${g.id}/balances`, { timeoutMs: 5000 });
                    if (r.status !== 200) readsFailed++;
                } catch {
                    readsFailed++;
                }
                await sleep(250);
            }
        })();
        await sleep(4000);
        const probeAt = Date.now();
        const othersS = await recovery(ctx, probeAt, others, 15);
        await reader;
        const l = await locker;
        if (l.code !== 0) throw new Error(`the locking psql failed: ${l.stderr}`);
        const extra = { others_s: othersS === null ? 'never' : othersS.toFixed(1), other_reads_failed: `${readsFailed}/${reads}` };
        const problems = [];
        if (othersS === null || othersS > RECOVER_LIMIT_S) problems.push(`writes to other groups took ${extra.others_s} s during the lock`);
        if (readsFailed) problems.push(`${readsFailed} of ${reads} reads of other groups failed during the lock`);
        return { endedAt: Date.now(), extra, problems };
    },
}));

test('kill -9 of the api with 50 requests waiting (Prefer: wait)', T, () => chaosRun('api-kill', {
    seed: 1306,
    async inject(ctx) {
        // Workers paused for a moment, so that the 50 requests are still waiting at the kill.
        await pauseWorkers(ctx, 'STOP');
        const burst = Array.from({ length: 50 }, (_, i) => write(ctx, i % ctx.groups.length, { wait: 10 }));
        await sleep(1500);
        const waiting = burst.filter((b) => !b.w.ack && b.w.attempts === 0).length;
        await stackSh(ctx, 'kill', 'api', 'KILL');
        await pauseWorkers(ctx, 'CONT');
        await stackSh(ctx, 'up');
        return { endedAt: Date.now(), extra: { waiting } };
    },
}));

test('Redis at its maxmemory under load', T, () => chaosRun('maxmemory', {
    seed: 1307,
    async inject(ctx) {
        const used = Number((await redis(ctx, 'INFO', 'memory')).match(/used_memory:(\d+)/)[1]);
        const policy = (await redis(ctx, 'CONFIG', 'GET', 'maxmemory-policy')).split('\n')[1];
        const oomBefore = await redisErrors(ctx, 'OOM');
        await redis(ctx, 'CONFIG', 'SET', 'maxmemory', used + 32 * 1024);
        await sleep(10_000);
        await redis(ctx, 'CONFIG', 'SET', 'maxmemory', 0);
        const endedAt = Date.now();
        return { endedAt, extra: { policy, oom_refused: (await redisErrors(ctx, 'OOM')) - oomBefore } };
    },
}));
