// `make failover`, PostgreSQL: the chaos stack's PostgreSQL and a synchronous streaming replica
// (pg_basebackup -R, synchronous_standby_names = '*'); api, workers and splitterctl get both
// (POSTGRES_HOSTS, target_session_attrs=read-write). Under the chaos suite's write load the
// primary is stopped at once (pg_ctl stop -m immediate) and the replica promoted. Then: ledger
// writes (through the workers) and synchronous writes (through the api's own pool) resume within
// RESUME_LIMIT_S of the stop, and nothing answered 201 or 202 is lost or applied twice (the chaos checker: PostgreSQL, now the promoted replica, against the suite's own
// model, splitterctl replay --verify).

import { test } from 'node:test';
import { chaosRun, recovery } from '../chaos/chaos.mjs';
import { freePort } from '../faults/stack.mjs';
import { startPgReplica } from './failover.mjs';

/** Bound on stop-to-writes-applied-again (seconds): generous, for a loaded 2-core machine. */
const RESUME_LIMIT_S = 30;

test('PostgreSQL primary stopped under load: the synchronous replica is promoted', { timeout: 360_000 }, async () => {
    const primary = await freePort();
    let replicaPort = await freePort();
    while (replicaPort === primary) replicaPort = await freePort();
    let replica = null;
    let ok = false;
    try {
        await chaosRun('postgres-failover', {
            seed: 1402,
            extraEnv: {
                POSTGRES_PORT: String(primary),
                POSTGRES_HOSTS: `127.0.0.1:${primary},127.0.0.1:${replicaPort}`,
            },
            async prepare(ctx) {
                replica = await startPgReplica(ctx.stack.state, primary, replicaPort);
            },
            async inject(ctx) {
                const stoppedAt = Date.now();
                await replica.stopPrimary();
                await replica.promote();
                const promotedAt = Date.now();
                // The checker's psql goes to the new primary from now on.
                ctx.env.POSTGRES_PORT = String(replicaPort);
                // A synchronous write: the api's pool must have found the new primary too.
                const sync = (async () => {
                    const res = await ctx.groups[0].session.call('POST', '/api/v1/groups', {
                        body: { name: 'after the failover', currency: 'EUR' }, deadline: Date.now() + 90_000,
                    });
                    return res?.status === 201 ? (Date.now() - stoppedAt) / 1000 : null;
                })();
                const resumeS = await recovery(ctx, stoppedAt, undefined, 90);
                const syncS = await sync;
                const extra = {
                    promoted_s: ((promotedAt - stoppedAt) / 1000).toFixed(1),
                    resume_s: resumeS === null ? 'never' : resumeS.toFixed(1),
                    sync_s: syncS === null ? 'never' : syncS.toFixed(1),
                };
                const problems = [];
                if (resumeS === null || resumeS > RESUME_LIMIT_S) {
                    problems.push(`ledger writes applied again ${extra.resume_s} s after the primary stopped (limit ${RESUME_LIMIT_S} s)`);
                }
                if (syncS === null || syncS > RESUME_LIMIT_S) {
                    problems.push(`a group was created ${extra.sync_s} s after the primary stopped (limit ${RESUME_LIMIT_S} s)`);
                }
                return { endedAt: promotedAt, extra, problems };
            },
        });
        ok = true;
    } finally {
        if (replica) {
            if (!ok) replica.markFailed();
            await replica.stop();
        }
    }
});
