// Helpers for the end-to-end tests (node:test). scripts/test.sh starts a private stack and
// passes its coordinates in the environment: BASE_URL (nginx), STACK_STATE_DIR, and the
// stack's own variables (REDIS_HOST/PORT/PASSWORD, POSTGRES_HOST/PORT/DB/USER/PASSWORD, ...).
// Run by hand against `make up`: BASE_URL defaults to the default local stack.

import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';

const env = process.env;

export const BASE_URL = env.BASE_URL ?? `http://127.0.0.1:${env.HTTP_PORT ?? '8080'}`;
export const STATE_DIR = env.STACK_STATE_DIR;

/**
 * One HTTP request through nginx.
 *
 * @param {string} method
 * @param {string} path   absolute path, e.g. "/api/v1/me"
 * @param {object} [opts]
 * @param {*} [opts.body]  an object or array is sent as JSON (Content-Type: application/json
 *                         unless headers say otherwise); a string or Buffer is sent as is
 * @param {string} [opts.token]  bearer token
 * @param {object} [opts.headers]
 * @returns {Promise<{status: number, headers: Headers, json: any, text: string}>}
 *          json is the parsed body when the Content-Type is JSON (application/json or
 *          application/problem+json), else null
 */
export async function api(method, path, { body, token, headers = {} } = {}) {
    const h = { ...headers };
    const has = (name) => Object.keys(h).some((k) => k.toLowerCase() === name);
    let payload;
    if (body !== undefined) {
        if (typeof body === 'string' || body instanceof Uint8Array) {
            payload = body;
        } else {
            payload = JSON.stringify(body);
        }
        if (!has('content-type')) h['Content-Type'] = 'application/json';
    }
    if (token) h.Authorization = `Bearer ${token}`;
    const res = await fetch(new URL(path, BASE_URL), {
        method,
        headers: h,
        body: payload,
        redirect: 'manual',
    });
    const text = await res.text();
    let json = null;
    const type = res.headers.get('content-type') ?? '';
    if (text !== '' && /^application\/(problem\+)?json\b/.test(type)) {
        json = JSON.parse(text);
    }
    return { status: res.status, headers: res.headers, json, text };
}

function run(cmd, args, extraEnv) {
    const r = spawnSync(cmd, args, {
        encoding: 'utf8',
        env: { ...env, ...extraEnv },
        timeout: 30_000,
    });
    if (r.error) throw r.error;
    if (r.status !== 0) {
        throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stderr.trim()}`);
    }
    return r.stdout;
}

/**
 * redis-cli against the stack's Redis, raw output: redisCli('XLEN', 'stream:0') -> "3".
 * @returns {string} the reply, trailing newline removed (one line per element for arrays)
 */
export function redisCli(...args) {
    const out = run(
        'redis-cli',
        ['--raw', '-h', env.REDIS_HOST ?? '127.0.0.1', '-p', env.REDIS_PORT ?? '6380', ...args.map(String)],
        env.REDIS_PASSWORD ? { REDISCLI_AUTH: env.REDIS_PASSWORD } : {},
    );
    return out.replace(/\n$/, '');
}

/**
 * One SQL statement as the application role.
 * @returns {string[][]} the rows, each an array of column texts (NULL reads as "")
 */
export function psql(sql) {
    const out = run(
        'psql',
        [
            '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-F', '\x1f',
            '-h', env.POSTGRES_HOST ?? '127.0.0.1',
            '-p', env.POSTGRES_PORT ?? '5433',
            '-U', env.POSTGRES_USER ?? 'splitter',
            '-d', env.POSTGRES_DB ?? 'splitter',
            '-c', sql,
        ],
        { PGPASSWORD: env.POSTGRES_PASSWORD ?? 'splitter-local-dev' },
    );
    return out.split('\n').filter((line) => line !== '').map((line) => line.split('\x1f'));
}

/** A fresh, valid e-mail address. */
export function uniqueEmail(prefix = 'user') {
    return `${prefix}-${randomUUID()}@example.test`;
}

/**
 * Register a new user; returns {user, token, email, password}. Throws unless 201.
 */
export async function registerUser({ name = 'Test User', password = 'correct horse battery' } = {}) {
    const email = uniqueEmail();
    const r = await api('POST', '/api/v1/auth/register', { body: { email, password, name } });
    if (r.status !== 201) throw new Error(`register answered ${r.status}: ${r.text}`);
    return { ...r.json, email, password };
}

/**
 * Poll fn until it returns a truthy value (returned) or timeoutMs passes (throws).
 */
export async function waitFor(fn, { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await delay(intervalMs);
    }
}

/** The partition of a group id (FNV-1a of its bytes, mod SPLITTER_PARTITIONS), as shared/keys.c. */
export function partitionOf(gid) {
    let h = 0x811c9dc5;
    for (const ch of Buffer.from(gid)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
    return h % Number(env.SPLITTER_PARTITIONS ?? '16');
}

/**
 * Hold the row locks sql takes (e.g. "SELECT 1 FROM groups WHERE id = '…' FOR UPDATE") for ms
 * in a psql session of its own. Resolves once the locks are held, to {done}: the session's exit.
 */
export async function holdLock(sql, ms) {
    const tag = `lock-${randomUUID()}`;
    const child = spawn('psql', [
        '-X', '-q', '-v', 'ON_ERROR_STOP=1',
        '-h', env.POSTGRES_HOST ?? '127.0.0.1',
        '-p', env.POSTGRES_PORT ?? '5433',
        '-U', env.POSTGRES_USER ?? 'splitter',
        '-d', env.POSTGRES_DB ?? 'splitter',
        '-c', `BEGIN; ${sql}; SELECT pg_sleep(${ms / 1000}) /* ${tag} */; COMMIT;`,
    ], { env: { ...env, PGPASSWORD: env.POSTGRES_PASSWORD ?? 'splitter-local-dev' }, stdio: 'ignore' });
    const done = new Promise((resolve) => child.on('exit', resolve));
    await waitFor(() => psql(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%/* ${tag} */%' AND state = 'active' AND pid <> pg_backend_pid()`)[0][0] === '1', {
        timeoutMs: 10_000,
        what: 'the lock held',
    });
    return { done };
}

export { delay };
