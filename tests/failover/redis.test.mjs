// `make failover`, Redis: a primary (the chaos stack's own Redis), two replicas and three
// sentinels; api, workers and splitterctl find the primary through the sentinels
// (REDIS_SENTINELS) and every 202 waits for one replica (REDIS_WAIT_REPLICAS=1). Under the chaos
// suite's write load the primary is killed (SIGKILL); the sentinels promote a replica and point
// the other one at it. Then: writes resume within RESUME_LIMIT_S of the kill, nothing answered
// 201 or 202 is lost or applied twice (the chaos checker: PostgreSQL against the suite's own
// model, splitterctl replay --verify), and no acknowledged 202 went missing from Redis: none of
// the clients following their events ever got a 404 and had to submit again.
//
// Two replicas rather than one: with REDIS_WAIT_REPLICAS=1 the promoted primary needs a replica
// of its own to acknowledge writes again.

import { test } from 'node:test';
import { chaosRun, recovery, stackSh } from '../chaos/chaos.mjs';
import { startRedisTopology, primaryPort, redisAt, until } from './failover.mjs';

/** Bound on kill-to-writes-applied-again (seconds): generous, for a loaded 2-core machine. */
const RESUME_LIMIT_S = 30;

test('Redis primary killed under load: a sentinel-promoted replica takes over', { timeout: 360_000 }, async () => {
    const topo = await startRedisTopology();
    let ok = false;
    try {
        await chaosRun('redis-failover', {
            seed: 1401,
            extraEnv: { ...topo.env, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '1000' },
            async inject(ctx) {
                await until('both replicas online', async () => {
                    const info = await redisAt(topo.primary, 'INFO', 'replication');
                    return (info.match(/^slave\d+:.*state=online/gm) ?? []).length === 2;
                });
                // Sentinels learn of replicas from the primary's INFO, every 10 s.
                await topo.ready();
                const killedAt = Date.now();
                await stackSh(ctx, 'kill', 'redis', 'KILL');
                const promoted = await until('a replica promoted', async () => {
                    const port = await primaryPort(topo.sentinels[0]);
                    return port !== topo.primary && port;
                }, { timeoutMs: 60_000, intervalMs: 100 });
                const promotedAt = Date.now();
                const resumeS = await recovery(ctx, killedAt, undefined, 90);
                const extra = {
                    promoted_s: ((promotedAt - killedAt) / 1000).toFixed(1),
                    resume_s: resumeS === null ? 'never' : resumeS.toFixed(1),
                    new_primary: topo.replicas.indexOf(promoted) + 1 ? `replica-${topo.replicas.indexOf(promoted) + 1}` : promoted,
                };
                const problems = [];
                if (resumeS === null || resumeS > RESUME_LIMIT_S) {
                    problems.push(`writes applied again ${extra.resume_s} s after the primary was killed (limit ${RESUME_LIMIT_S} s)`);
                }
                // Every 202 waited for a replica: the promoted one holds them all, so no client
                // following its event may have found it gone.
                const forgotten = ctx.history.filter((w) => w.resubmits > 0);
                if (forgotten.length) {
                    problems.push(`${forgotten.length} acknowledged write(s) were gone from Redis after the failover (e.g. ${forgotten[0].key})`);
                }
                return { endedAt: promotedAt, extra, problems };
            },
        });
        ok = true;
    } finally {
        if (!ok) topo.markFailed();
        await topo.stop();
    }
});
