// Helpers for the end-to-end tests (node:test). scripts/test.sh starts a private stack and
// passes its coordinates in the environment: BASE_URL (nginx), STACK_STATE_DIR, and the
// stack's own variables (REDIS_HOST/PORT/PASSWORD, POSTGRES_HOST/PORT/DB/USER/PASSWORD, ...).
// Run by hand against `make up`: BASE_URL defaults to the default local stack.

import http from 'node:http';
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
 * @param {string} [opts.baseUrl]  where to send it (default BASE_URL, nginx)
 * @returns {Promise<{status: number, headers: Headers, json: any, text: string}>}
 *          json is the parsed body when the Content-Type is JSON (application/json or
 *          application/problem+json), else null
 */
export async function api(method, path, { body, token, headers = {}, baseUrl = BASE_URL } = {}) {
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
    const res = await fetch(new URL(path, baseUrl), {
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

// Helpers that start processes of their own beside the stack.
import { createServer } from 'node:net';
import path from 'node:path';

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort() {
    const srv = createServer();
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address();
    await new Promise((resolve) => srv.close(resolve));
    return port;
}

/**
 * A second api process of this stack's build, on its own port, with extra environment (e.g.
 * other timeouts); resolves once its /api/health answers 200. The caller stops it
 * (child.kill()).
 * @returns {Promise<{child: import('node:child_process').ChildProcess, base: string}>}
 */
export async function startApi(extraEnv) {
    const port = await freePort();
    const child = spawn(path.join(env.BUILD ?? 'build', 'bin', 'api'), [], {
        env: { ...env, ...extraEnv, API_PORT: String(port) },
        stdio: 'ignore',
    });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/api/health`).catch(() => ({ status: 0 }))).status === 200, {
        what: 'a second api',
        timeoutMs: 20_000,
        intervalMs: 200,
    });
    return { child, base };
}

/**
 * Hold SELECT ... FOR UPDATE on a group's row from a psql session of its own until release()
 * (which cancels it and waits for psql to exit); resolves once the lock is taken.
 */
export async function lockGroupRow(gid) {
    const app = `locker-${randomUUID()}`;
    const child = spawn(
        'psql',
        [
            '-X', '-q', '-v', 'ON_ERROR_STOP=1',
            '-h', env.POSTGRES_HOST ?? '127.0.0.1', '-p', env.POSTGRES_PORT ?? '5433',
            '-U', env.POSTGRES_USER ?? 'splitter', '-d', env.POSTGRES_DB ?? 'splitter',
            '-c', `BEGIN; SELECT 1 FROM groups WHERE id = '${gid}' FOR UPDATE; SELECT pg_sleep(60); COMMIT;`,
        ],
        {
            env: { ...env, PGAPPNAME: app, PGPASSWORD: env.POSTGRES_PASSWORD ?? 'splitter-local-dev' },
            stdio: 'ignore',
        },
    );
    await waitFor(
        () => psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${app}'
                    AND query LIKE '%pg_sleep%' AND state = 'active'`)[0][0] === '1',
        { what: 'the row lock', timeoutMs: 15_000 },
    );
    return {
        release: async () => {
            psql(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '${app}'`);
            await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', resolve)));
        },
    };
}

/**
 * One request on a fresh connection with node:http, nothing added: for tests of the proxy
 * itself (preflights, rate limits by source address). headers go out as given; a body (a
 * string) gets its Content-Length. Resolves `{status, headers, text}`.
 */
export function rawRequest(method, path, { headers = {}, body, localAddress, baseUrl = BASE_URL } = {}) {
    const base = new URL(baseUrl);
    return new Promise((resolve, reject) => {
        const h = { ...headers };
        if (body !== undefined) h['Content-Length'] = Buffer.byteLength(body);
        const req = http.request(
            { host: base.hostname, port: base.port, path, method, localAddress, agent: false, headers: h },
            (res) => {
                let text = '';
                res.setEncoding('utf8');
                res.on('data', (d) => (text += d));
                res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
            },
        );
        req.on('error', reject);
        req.end(body);
    });
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
 * An expense of amount that g's member paid for alone (g as groupsOnDistinctPartitions gives).
 */
export function soloExpense(g, amount, description = 'Taxi') {
    return {
        description,
        amount,
        paid_by: [{ member_id: g.member, amount }],
        split: { mode: 'equal', members: [{ member_id: g.member }] },
    };
}

/**
 * n groups of token's (named prefix0, prefix1, ...), each on a partition of its own:
 * [{id, member (the creator's member id), p (its partition)}].
 */
export async function groupsOnDistinctPartitions(token, n, prefix = 'G') {
    const groups = [];
    const seen = new Set();
    for (let i = 0; groups.length < n && i < 100; i++) {
        const g = await api('POST', '/api/v1/groups', { token, body: { name: `${prefix}${i}`, currency: 'EUR' } });
        if (g.status !== 201) throw new Error(`creating a group answered ${g.status}: ${g.text}`);
        const p = partitionOf(g.json.id);
        if (seen.has(p)) continue;
        seen.add(p);
        groups.push({ id: g.json.id, member: g.json.members[0].id, p });
    }
    if (groups.length < n) throw new Error(`only ${groups.length} of ${n} partitions drawn in 100 groups`);
    return groups;
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
