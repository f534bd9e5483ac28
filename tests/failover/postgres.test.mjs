// `make failover`, PostgreSQL: the chaos stack's PostgreSQL and a synchronous streaming replica
// (pg_basebackup -R, synchronous_standby_names = '*'); api, workers and splitterctl get both
// (POSTGRES_HOSTS, target_session_attrs=read-write). Under the chaos suite's write load the
// primary is either stopped at once (pg_ctl stop -m immediate: connections break) or fenced
// (made read-only while it runs: statements on its connections fail with SQLSTATE 25006, which
// must make api and workers drop them), and the replica promoted. Then: ledger writes (through
// the workers) and synchronous writes (through the api's own pool) resume within RESUME_LIMIT_S
// of the fault, and nothing answered 201 or 202 is lost or applied twice (the chaos checker:
// PostgreSQL, now the promoted replica, against the suite's own model, splitterctl replay
// --verify).

import { test } from 'node:test';
import { chaosRun, recovery } from '../chaos/chaos.mjs';
import { freePort } from '../faults/stack.mjs';
import { startPgReplica } from './failover.mjs';

/** Bound on fault-to-writes-applied-again (seconds): generous, for a loaded 2-core machine. */
const RESUME_LIMIT_S = 30;

/** One failover run: `fault(replica)` takes the primary away and promotes the replica. */
async function failoverRun(name, seed, fault) {
    const primary = await freePort();
    const replicaPort = await freePort();
    let replica = null;
    let ok = false;
    try {
        await chaosRun(name, {
            seed,
            extraEnv: {
                POSTGRES_PORT: String(primary),
                POSTGRES_HOSTS: `127.0.0.1:${primary},127.0.0.1:${replicaPort}`,
            },
            async prepare(ctx) {
                replica = await startPgReplica(ctx.stack.state, primary, replicaPort);
            },
            async inject(ctx) {
                const faultAt = Date.now();
                await fault(replica);
                await replica.promote();
                const promotedAt = Date.now();
                // The checker's psql goes to the new primary from now on.
                ctx.env.POSTGRES_PORT = String(replicaPort);
                // A synchronous write: the api's pool must have found the new primary too.
                const sync = (async () => {
                    const res = await ctx.groups[0].session.call('POST', '/api/v1/groups', {
                        body: { name: 'after the failover', currency: 'EUR' }, deadline: Date.now() + 90_000,
                    });
                    return res?.status === 201 ? (Date.now() - faultAt) / 1000 : null;
                })();
                const resumeS = await recovery(ctx, faultAt, undefined, 90);
                const syncS = await sync;
                const extra = {
                    promoted_s: ((promotedAt - faultAt) / 1000).toFixed(1),
                    resume_s: resumeS === null ? 'never' : resumeS.toFixed(1),
                    sync_s: syncS === null ? 'never' : syncS.toFixed(1),
                };
                const problems = [];
                if (resumeS === null || resumeS > RESUME_LIMIT_S) {
                    problems.push(`ledger writes applied again ${extra.resume_s} s after the fault (limit ${RESUME_LIMIT_S} s)`);
                }
                if (syncS === null || syncS > RESUME_LIMIT_S) {
                    problems.push(`a group was created ${extra.sync_s} s after the fault (limit ${RESUME_LIMIT_S} s)`);
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
}

test('PostgreSQL primary stopped under load: the synchronous replica is promoted', { timeout: 300_000 }, () => failoverRun(
    'postgres-stop', 1402, (replica) => replica.stopPrimary(),
));

test('PostgreSQL primary fenced read-only under load: connections leave it on SQLSTATE 25006', { timeout: 300_000 }, () => failoverRun(
    'postgres-fence', 1404, (replica) => replica.fencePrimary(),
));
