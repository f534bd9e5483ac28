// What the failover tests add to a chaos stack (tests/chaos/chaos.mjs): Redis replicas and
// sentinels, or a PostgreSQL streaming replica, on free loopback ports, each started here and
// always stopped here (by the pid of the process this file started, never by name).

import { spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../chaos/chaos.mjs';
import { freePort } from '../faults/stack.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PG_BIN = '/usr/lib/postgresql/15/bin';
export const MASTER_NAME = 'splitter';

/** Poll fn() every intervalMs until it returns a truthy value; throws after timeoutMs. */
export async function until(what, fn, { timeoutMs = 30_000, intervalMs = 200 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn().catch(() => null);
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
        await sleep(intervalMs);
    }
}

/** Keep the logs of a failed run under tests/artifacts/. */
function keepLogs(dir, name) {
    const keep = join(ROOT, 'tests', 'artifacts', `failover-${name}-${Date.now()}`);
    mkdirSync(keep, { recursive: true });
    cpSync(dir, keep, { recursive: true, filter: (src) => !/appendonlydir|\.rdb$|\/data(\/|$)/.test(src) });
    console.log(`# ${name} logs kept in ${keep}`);
}

// --- Redis: replicas and sentinels ------------------------------------------------------------

/** redis-cli against 127.0.0.1:port; stdout without the last newline. */
export async function redisAt(port, ...args) {
    const r = await run('redis-cli', ['--raw', '-h', '127.0.0.1', '-p', String(port), ...args.map(String)], { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`redis-cli -p ${port} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.replace(/\n$/, '');
}

/** The port the sentinel at sentinelPort names as the primary. */
async function primaryPort(sentinelPort) {
    const out = await redisAt(sentinelPort, 'SENTINEL', 'get-master-addr-by-name', MASTER_NAME);
    return Number(out.split('\n')[1]);
}

/** The port every one of the sentinels names as the primary, or 0 while they differ. */
export async function agreedPrimary(sentinelPorts) {
    const ports = await Promise.all(sentinelPorts.map(primaryPort));
    return ports.every((p) => p === ports[0]) ? ports[0] : 0;
}

/**
 * `replicaCount` replicas of a primary that will listen on 127.0.0.1:primary (the chaos stack's
 * Redis, started later by scripts/stack.sh) and three sentinels watching it, quorum 2,
 * declaring it down after downAfterMs (at 1000 ms a loaded machine made them declare a
 * just-promoted replica down too, and fail over a second time). Returns {env (for the stack),
 * primary, replicas, sentinels, ready(), stop()}.
 */
export async function startRedisTopology({ replicaCount = 1, downAfterMs = 3000 } = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'splitter-failover-redis-'));
    const children = [];
    const primary = await freePort();
    const replicas = [];
    for (let i = 0; i < replicaCount; i++) replicas.push(await freePort());
    const sentinels = [await freePort(), await freePort(), await freePort()];
    const start = (name, conf, extra = []) => {
        const path = join(dir, `${name}.conf`);
        writeFileSync(path, conf);
        const child = spawn('redis-server', [path, ...extra], { stdio: 'ignore' });
        children.push({ name, child });
        return child;
    };
    let failed = true;
    const stop = async ({ keep = false } = {}) => {
        for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await Promise.all(children.map(({ child }) => (child.exitCode === null && child.signalCode === null
            ? new Promise((resolve) => child.once('exit', resolve)) : null)));
        if (keep || failed) keepLogs(dir, 'redis');
        rmSync(dir, { recursive: true, force: true });
    };
    try {
        for (const [i, port] of replicas.entries()) {
            mkdirSync(join(dir, `replica-${i + 1}`));
            // The primary's own settings (AOF everysec, noeviction...), as a replica.
            start(`replica-${i + 1}`, [
                `include ${join(ROOT, 'redis', 'redis.conf')}`,
                'bind 127.0.0.1',
                `port ${port}`,
                `dir ${join(dir, `replica-${i + 1}`)}`,
                `logfile ${join(dir, `replica-${i + 1}.log`)}`,
                `replicaof 127.0.0.1 ${primary}`,
                '',
            ].join('\n'));
        }
        for (const [i, port] of sentinels.entries()) {
            start(`sentinel-${i + 1}`, [
                'bind 127.0.0.1',
                `port ${port}`,
                `dir ${dir}`,
                `logfile ${join(dir, `sentinel-${i + 1}.log`)}`,
                `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary} 2`,
                `sentinel down-after-milliseconds ${MASTER_NAME} ${downAfterMs}`,
                // Also the pause before another attempt (twice this) when one found no
                // replica fit to promote.
                `sentinel failover-timeout ${MASTER_NAME} 3000`,
                `sentinel parallel-syncs ${MASTER_NAME} 1`,
                '',
            ].join('\n'), ['--sentinel']);
        }
        for (const port of [...replicas, ...sentinels]) await until(`redis on ${port}`, async () => (await redisAt(port, 'PING')) === 'PONG');
        failed = false;
    } catch (e) {
        await stop();
        throw e;
    }
    /** Until every sentinel knows every replica, none down, and the two other sentinels. */
    const ready = () => Promise.all(sentinels.map((port) => until(`sentinel ${port} ready`, async () => {
        const known = (await redisAt(port, 'SENTINEL', 'replicas', MASTER_NAME)).split('\n');
        const others = (await redisAt(port, 'SENTINEL', 'sentinels', MASTER_NAME)).split('\n');
        const flags = known.filter((_, i) => known[i - 1] === 'flags');
        return replicas.every((r) => known.includes(`127.0.0.1:${r}`))
            && flags.length === replicas.length && flags.every((f) => !/s_down|disconnected/.test(f))
            && others.filter((l) => l === 'name').length === sentinels.length - 1;
    }, { timeoutMs: 60_000, intervalMs: 500 })));
    return {
        primary,
        replicas,
        sentinels,
        ready,
        env: {
            REDIS_PORT: String(primary),
            REDIS_SENTINELS: sentinels.map((p) => `127.0.0.1:${p}`).join(','),
            REDIS_MASTER_NAME: MASTER_NAME,
        },
        stop,
        markFailed() { failed = true; },
    };
}

// --- PostgreSQL: a synchronous streaming replica -------------------------------------------

/** A PostgreSQL command as the account that owns the clusters (postgres when root). */
function pgRun(cmd, args) {
    const root = process.getuid() === 0;
    // From /: the work tree may not be readable by that account.
    return run(root ? 'runuser' : cmd, root ? ['-u', 'postgres', '--', cmd, ...args] : args, { timeoutMs: 120_000, cwd: '/' });
}

async function pgOk(what, cmd, args) {
    const r = await pgRun(cmd, args);
    if (r.code !== 0) throw new Error(`${what}: ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
}

/** The superuser's psql over the socket in sockDir: rows of fields. */
async function superSql(sockDir, port, sql) {
    const out = await pgOk(`psql -p ${port}`, join(PG_BIN, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
        '-h', sockDir, '-p', String(port), '-d', 'postgres', '-c', sql]);
    return out.split('\n').filter((l) => l !== '').map((l) => l.split('|'));
}

/**
 * A streaming replica of the chaos stack's PostgreSQL (in stackState, on primaryPort), made
 * with pg_basebackup -R, listening on replicaPort, and made synchronous
 * (synchronous_standby_names = '*' on the primary): a commit is acknowledged once the
 * replica flushed it. Returns {dir, stopPrimary(), promote(), stop()}.
 */
export async function startPgReplica(stackState, primaryPort, replicaPort) {
    const root = process.getuid() === 0;
    const owner = root ? 'postgres' : process.env.USER;
    const primarySock = join(stackState, 'postgres', 'socket');
    const primaryData = join(stackState, 'postgres', 'data');
    const dir = mkdtempSync(join(tmpdir(), 'splitter-failover-pg-'));
    chmodSync(dir, 0o755);
    const data = join(dir, 'data');
    const sock = join(dir, 'socket');
    mkdirSync(sock);
    writeFileSync(join(dir, 'replica.log'), '');
    if (root) {
        const { uid, gid } = await pgUid();
        chownSync(dir, uid, gid);
        chownSync(sock, uid, gid);
        chownSync(join(dir, 'replica.log'), uid, gid);
    }
    let started = false;
    let failed = true;
    const stop = async () => {
        if (started) await pgRun(join(PG_BIN, 'pg_ctl'), ['stop', '-w', '-m', 'immediate', '-D', data]);
        started = false;
        if (failed) keepLogs(dir, 'postgres');
        rmSync(dir, { recursive: true, force: true });
    };
    try {
        await pgOk('pg_basebackup', join(PG_BIN, 'pg_basebackup'), ['-D', data, '-R', '-X', 'stream', '-c', 'fast',
            '-h', primarySock, '-p', String(primaryPort), '-U', owner]);
        await pgOk('pg_ctl start (replica)', join(PG_BIN, 'pg_ctl'), ['start', '-w', '-t', '60', '-D', data,
            '-l', join(dir, 'replica.log'), '-o', `-p ${replicaPort} -k ${sock} -h 127.0.0.1`]);
        started = true;
        await until('the replica streaming', async () => {
            const rows = await superSql(primarySock, primaryPort, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'");
            return rows[0][0] === '1';
        });
        // After the base backup, so that the replica (promoted later) has no standby to wait for.
        await superSql(primarySock, primaryPort, "ALTER SYSTEM SET synchronous_standby_names = '*'");
        await superSql(primarySock, primaryPort, 'SELECT pg_reload_conf()');
        await until('the replica synchronous', async () => {
            const rows = await superSql(primarySock, primaryPort, 'SELECT sync_state FROM pg_stat_replication');
            return rows[0]?.[0] === 'sync';
        });
        failed = false;
    } catch (e) {
        await stop().catch(() => {});
        throw e;
    }
    return {
        dir,
        /** Stop the primary at once (pg_ctl stop -m immediate: no shutdown checkpoint). */
        stopPrimary: () => pgOk('pg_ctl stop -m immediate (primary)', join(PG_BIN, 'pg_ctl'),
            ['stop', '-w', '-m', 'immediate', '-D', primaryData]),
        /**
         * Make the primary refuse writes while it keeps running and keeps its clients
         * (default_transaction_read_only, reloaded: their statements fail with SQLSTATE 25006),
         * then wait until the replica has replayed all it wrote: a controlled switchover.
         */
        async fencePrimary() {
            await superSql(primarySock, primaryPort, 'ALTER SYSTEM SET default_transaction_read_only = on');
            await superSql(primarySock, primaryPort, 'SELECT pg_reload_conf()');
            await until('the replica caught up', async () => {
                const rows = await superSql(primarySock, primaryPort,
                    'SELECT replay_lsn >= pg_current_wal_lsn() FROM pg_stat_replication');
                return rows[0]?.[0] === 't';
            }, { timeoutMs: 60_000, intervalMs: 100 });
        },
        /** Promote the replica; resolves once it accepts writes. */
        promote: () => pgOk('pg_ctl promote', join(PG_BIN, 'pg_ctl'), ['promote', '-w', '-t', '60', '-D', data]),
        stop,
        markFailed() { failed = true; },
    };
}

/** uid and gid of the postgres account. */
async function pgUid() {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
    if (!line) throw new Error('no postgres account');
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
}
