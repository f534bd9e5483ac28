// `make failover`, Redis: a primary (the chaos stack's own Redis), one replica and three
// sentinels; api, workers and splitterctl find the primary through the sentinels
// (REDIS_SENTINELS) and every 202 waits for the replica (REDIS_WAIT_REPLICAS=1). Under the
// chaos suite's write load the primary either is killed (SIGKILL: its connections drop) or is
// demoted by a manual failover (SENTINEL FAILOVER: it keeps its clients, and takes writes,
// until the sentinels reconfigure it seconds later; api and workers must notice from the
// sentinels); the sentinels promote the replica. Then: writes resume within RESUME_LIMIT_S,
// nothing answered 201 or 202 is lost or applied twice (the chaos checker: PostgreSQL against
// the suite's own model, splitterctl replay --verify), and no followed 202 went missing from
// Redis (`resubmitted`, a follower that got 404 and submitted again, is 0).
//
// One replica, acknowledging every 202 (N = the number of replicas): whatever was answered 202
// is on the replica that is promoted, the only one. The promoted primary then has no replica,
// so no write can be acknowledged (503) until one follows it: the demoted primary, which the
// sentinels reconfigure; the killed one once it is started again (with its own configuration,
// as a primary: the sentinels turn it into a replica of the new one).

import { test } from 'node:test';
import { chaosRun, recovery, stackSh } from '../chaos/chaos.mjs';
import { MASTER_NAME, agreedPrimary, startRedisTopology, redisAt, until } from './failover.mjs';

/**
 * Bound on fault-to-writes-applied-again (seconds). Writes wait for the old primary to follow
 * the promoted replica, and Sentinel turns a server that calls itself primary into a replica
 * only once it has said so for 8 s, seen on an INFO poll every 10 s: 10 to 20 s after the
 * promotion, then the full synchronisation. Generous above that, for a loaded 2-core machine.
 */
const RESUME_LIMIT_S = 45;

/** The replica online on the server at port (INFO replication), else false. */
async function replicaOnline(port) {
    const info = await redisAt(port, 'INFO', 'replication');
    return /^slave\d+:.*state=online/m.test(info);
}

/**
 * One failover run: `fault(ctx, topo)` takes the primary away; `afterPromotion(ctx, topo)`
 * (optional) runs once the sentinels agree on the promoted replica.
 */
async function failoverRun(name, seed, fault, afterPromotion) {
    const topo = await startRedisTopology({ replicaCount: 1 });
    let ok = false;
    try {
        await chaosRun(name, {
            seed,
            extraEnv: { ...topo.env, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '1000' },
            async inject(ctx) {
                await until('the replica online', () => replicaOnline(topo.primary));
                // Sentinels learn of replicas from the primary's INFO, every 10 s.
                await topo.ready();
                const faultAt = Date.now();
                await fault(ctx, topo);
                const promoted = await until('the replica promoted', async () => {
                    const port = await agreedPrimary(topo.sentinels);
                    return port !== topo.primary && port;
                }, { timeoutMs: 60_000, intervalMs: 100 });
                const promotedAt = Date.now();
                if (promoted !== topo.replicas[0]) throw new Error(`the sentinels name ${promoted}, not the replica`);
                if (afterPromotion) await afterPromotion(ctx, topo);
                // The failover is over once the new primary has a replica again (only then can
                // a write be acknowledged): the chaos checker's recovery bound (5 s) counts from
                // then, RESUME_LIMIT_S from the fault.
                await until('the old primary following the new one', () => replicaOnline(promoted),
                    { timeoutMs: 60_000, intervalMs: 100 });
                const settledAt = Date.now();
                const resumeS = await recovery(ctx, faultAt, undefined, 90);
                const extra = {
                    promoted_s: ((promotedAt - faultAt) / 1000).toFixed(1),
                    replicated_s: ((settledAt - faultAt) / 1000).toFixed(1),
                    resume_s: resumeS === null ? 'never' : resumeS.toFixed(1),
                };
                const problems = [];
                if (resumeS === null || resumeS > RESUME_LIMIT_S) {
                    problems.push(`writes applied again ${extra.resume_s} s after the primary went (limit ${RESUME_LIMIT_S} s)`);
                }
                return { endedAt: settledAt, extra, problems };
            },
            // Every 202 was on the promoted replica: none may be gone from Redis.
            verify: (fields) => (fields.resubmitted === 0 ? []
                : [`${fields.resubmitted} followed 202(s) gone from Redis after the failover (submitted again)`]),
        });
        ok = true;
    } finally {
        if (!ok) topo.markFailed();
        await topo.stop();
    }
}

// Killed: the replica had acknowledged every 202. Once promoted it takes writes but cannot
// acknowledge them until the old primary, started again by `up` (with the stack's
// configuration, as a primary holding its old data), is turned into its replica by the
// sentinels and has synchronised.
test('Redis primary killed under load: the sentinel-promoted replica keeps every 202', { timeout: 300_000 }, () => failoverRun(
    'redis-kill', 1401,
    (ctx) => stackSh(ctx, 'kill', 'redis', 'KILL'),
    (ctx) => stackSh(ctx, 'up'),
));

// Demoted: the old primary keeps its clients and takes writes until api and workers move (at
// most a second, they ask the sentinels) or the sentinels reconfigure it. Its only replica is
// the promoted one, which no longer replicates from it, so WAIT 1 cannot be met there: those
// writes answer 503 (retried with their key), never 202.
test('Redis primary demoted under load (SENTINEL FAILOVER): connections move, every 202 kept', { timeout: 300_000 }, () => failoverRun(
    'redis-demote', 1403, async (ctx, topo) => {
        const r = await redisAt(topo.sentinels[1], 'SENTINEL', 'FAILOVER', MASTER_NAME);
        if (r !== 'OK') throw new Error(`SENTINEL FAILOVER: ${r}`);
    },
));
