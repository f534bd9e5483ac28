// A private stack per test file, for tests that kill and restart its parts: each gets its own
// state directory and free ports through scripts/stack.sh, exactly like `make up`.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, chmodSync, rmSync, cpSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// Ports this process has handed out: one not yet bound (a stack still starting) is free to
// the kernel, so only this set keeps two draws of one test from answering the same port.
const handedOut = new Set();

// A free port below the kernel's ephemeral range (32768 and up), so that no outgoing
// connection of the stack itself can take it between this check and the bind.
export async function freePort() {
    for (;;) {
        const port = 20000 + Math.floor(Math.random() * 12000);
        if (handedOut.has(port)) continue;
        const free = await new Promise((resolve) => {
            const srv = createServer();
            srv.unref();
            srv.once('error', () => resolve(false));
            srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
        });
        if (free) {
            handedOut.add(port);
            return port;
        }
    }
}

/**
 * Start a stack with `workers` workers. Returns {env, baseUrl, sh(args), psql(sql), redis(args),
 * down()}. Throws if it does not come up.
 */
export async function startStack({ workers = 2, extraEnv = {} } = {}) {
    const state = mkdtempSync(join(tmpdir(), 'splitter-faults-'));
    chmodSync(state, 0o711); // PostgreSQL runs as postgres and must reach its data directory
    const [http, api, pg, redis] = [await freePort(), await freePort(), await freePort(), await freePort()];
    // Only what a fresh shell has: the variables of any other stack (the e2e one exports its
    // own) must not leak into this one.
    const keep = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'BUILD', 'SANITIZE', 'VALGRIND', 'ASAN_OPTIONS', 'UBSAN_OPTIONS'];
    const env = {
        ...Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]])),
        STATE_DIR: state,
        SPLITTER_ENV_FILE: '/dev/null',
        HTTP_PORT: String(http),
        API_PORT: String(api),
        POSTGRES_PORT: String(pg),
        REDIS_PORT: String(redis),
        WORKERS: String(workers),
        // Fault tests wait for lease takeovers: keep them short.
        LEASE_TTL_MS: '2000',
        // No metrics ports: stacks of other runs may hold any fixed range.
        WORKER_METRICS_PORT: '0',
        ...extraEnv,
    };
    const sh = (...args) => {
        const r = spawnSync('scripts/stack.sh', args, { cwd: ROOT, env, encoding: 'utf8', timeout: 180_000 });
        if (r.status !== 0) throw new Error(`stack.sh ${args.join(' ')}: ${r.status}\n${r.stdout}\n${r.stderr}`);
        return r.stdout.trim();
    };
    try {
        sh('up');
    } catch (e) {
        // Leave nothing running behind a stack that did not come up.
        try {
            sh('down');
        } catch {
            /* already reported by up */
        }
        rmSync(state, { recursive: true, force: true });
        throw e;
    }
    const pgEnv = { ...env, PGPASSWORD: env.POSTGRES_PASSWORD ?? 'splitter-local-dev' };
    const stack = {
        env,
        state,
        baseUrl: `http://127.0.0.1:${http}`,
        sh,
        psql(sql) {
            const r = spawnSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
                '-p', String(pg), '-U', env.POSTGRES_USER ?? 'splitter', '-d', env.POSTGRES_DB ?? 'splitter', '-c', sql],
            { env: pgEnv, encoding: 'utf8', timeout: 30_000 });
            if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
            return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('|'));
        },
        redis(...args) {
            const r = spawnSync('redis-cli', ['--raw', '-p', String(redis), ...args.map(String)], { encoding: 'utf8', timeout: 30_000 });
            if (r.status !== 0) throw new Error(`redis-cli: ${r.stderr}`);
            return r.stdout.replace(/\n$/, '');
        },
        down({ failed = false } = {}) {
            try {
                sh('down');
            } finally {
                if (failed || process.env.KEEP_FAULT_LOGS) {
                    const keep = join(ROOT, 'tests', 'artifacts', `faults-${Date.now()}`);
                    mkdirSync(keep, { recursive: true });
                    cpSync(join(state, 'logs'), keep, { recursive: true });
                    console.log(`# logs kept in ${keep}`);
                }
                rmSync(state, { recursive: true, force: true });
            }
        },
    };
    return stack;
}
