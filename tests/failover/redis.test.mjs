// `make failover`, Redis: a primary (the chaos stack's own Redis), two replicas and three
// sentinels; api, workers and splitterctl find the primary through the sentinels
// (REDIS_SENTINELS) and every 202 waits for one replica (REDIS_WAIT_REPLICAS=1). Under the chaos
// suite's write load the primary either is killed (SIGKILL: its connections drop) or is demoted
// by a manual failover (SENTINEL FAILOVER: it keeps its clients, and takes writes, until the
// sentinels reconfigure it seconds later; api and workers must notice from the sentinels); the
// sentinels promote a replica and point the others at it. Then: writes resume
// within RESUME_LIMIT_S, nothing answered 201 or 202 is lost or applied twice (the chaos
// checker: PostgreSQL against the suite's own model, splitterctl replay --verify). 202s that
// went missing from Redis (a follower got 404 and submitted again) show as `resubmitted`.
//
// Two replicas rather than one: with REDIS_WAIT_REPLICAS=1 the promoted primary needs a replica
// of its own to acknowledge writes again.

import { test } from 'node:test';
import { chaosRun, recovery, stackSh } from '../chaos/chaos.mjs';
import { MASTER_NAME, agreedPrimary, startRedisTopology, redisAt, until } from './failover.mjs';

/** Bound on fault-to-writes-applied-again (seconds): generous, for a loaded 2-core machine. */
const RESUME_LIMIT_S = 30;

/** One failover run: `fault(ctx, topo)` takes the primary away. */
async function failoverRun(name, seed, fault) {
    const topo = await startRedisTopology();
    let ok = false;
    try {
        await chaosRun(name, {
            seed,
            extraEnv: { ...topo.env, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '1000' },
            async inject(ctx) {
                await until('both replicas online', async () => {
                    const info = await redisAt(topo.primary, 'INFO', 'replication');
                    return (info.match(/^slave\d+:.*state=online/gm) ?? []).length === 2;
                });
                // Sentinels learn of replicas from the primary's INFO, every 10 s.
                await topo.ready();
                const faultAt = Date.now();
                await fault(ctx, topo);
                const promoted = await until('a replica promoted', async () => {
                    const port = await agreedPrimary(topo.sentinels);
                    return port !== topo.primary && port;
                }, { timeoutMs: 60_000, intervalMs: 100 });
                const promotedAt = Date.now();
                // The failover is over once the new primary has a replica again (only then can
                // a write be acknowledged): the chaos checker's recovery bound (5 s) counts from
                // then, RESUME_LIMIT_S from the fault.
                await until('a replica following the new primary', async () => {
                    const info = await redisAt(promoted, 'INFO', 'replication');
                    return /^slave\d+:.*state=online/m.test(info);
                }, { timeoutMs: 60_000, intervalMs: 100 });
                const settledAt = Date.now();
                const resumeS = await recovery(ctx, faultAt, undefined, 90);
                const extra = {
                    promoted_s: ((promotedAt - faultAt) / 1000).toFixed(1),
                    replicated_s: ((settledAt - faultAt) / 1000).toFixed(1),
                    resume_s: resumeS === null ? 'never' : resumeS.toFixed(1),
                    new_primary: topo.replicas.includes(promoted) ? `replica-${topo.replicas.indexOf(promoted) + 1}` : promoted,
                };
                const problems = [];
                if (resumeS === null || resumeS > RESUME_LIMIT_S) {
                    problems.push(`writes applied again ${extra.resume_s} s after the primary went (limit ${RESUME_LIMIT_S} s)`);
                }
                return { endedAt: settledAt, extra, problems };
            },
        });
        ok = true;
    } finally {
        if (!ok) topo.markFailed();
        await topo.stop();
    }
}

// With REDIS_WAIT_REPLICAS=1 and two replicas, Sentinel may promote the replica that had not
// acknowledged the last writes (it ranks them by an offset up to a second old): a followed 202
// can then be gone (seen once in three runs), so `resubmitted` is reported, not asserted here.
test('Redis primary killed under load: a sentinel-promoted replica takes over', { timeout: 300_000 }, () => failoverRun(
    'redis-kill', 1401, (ctx) => stackSh(ctx, 'kill', 'redis', 'KILL'),
));

// The demoted primary keeps accepting writes until the sentinels reconfigure it, a moment after
// the promotion; a write it took then, even one a replica acknowledged before following the new
// primary, is gone with its data. Clients that follow their events submit those again, so
// nothing acknowledged is lost from the ledger, but `resubmitted` may be above 0 here.
test('Redis primary demoted under load (SENTINEL FAILOVER): connections move to the new primary', { timeout: 300_000 }, () => failoverRun(
    'redis-demote', 1403, async (ctx, topo) => {
        const r = await redisAt(topo.sentinels[1], 'SENTINEL', 'FAILOVER', MASTER_NAME);
        if (r !== 'OK') throw new Error(`SENTINEL FAILOVER: ${r}`);
    },
));
