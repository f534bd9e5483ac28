// A locked group holds up only itself. One group's row is locked in PostgreSQL (a session
// holding SELECT ... FOR UPDATE); more writes to that group than the api has connections fail
// with 503 problems while reads of another group keep answering 200; after the lock, all is
// well again. Then a second api started with no lock or statement timeout shows what the
// request deadline does on its own: it cancels the waiting queries (PQcancel) and frees their
// connections while the lock is still held.
//
// Needs from scripts/test.sh: the stack's environment (POSTGRES_*, PG_POOL_SIZE, BUILD, ...).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { api, registerUser, psql, waitFor, delay } from './lib.mjs';

const env = process.env;
const POOL = Number(env.PG_POOL_SIZE ?? '4');
const children = [];

let alice, locked, other;

function assertProblem(r, status) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, r.text);
    assert.equal(r.json.status, status);
}

/** Hold FOR UPDATE on the group's row until release(); resolves once the lock is taken. */
async function lockGroup(gid) {
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
    children.push(child);
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

const addMember = (base, gid) =>
    api('POST', `${base}/api/v1/groups/${gid}/members`, { token: alice.token, body: { name: 'Late' } });

/** GET the other group every 100 ms until stop() and return every status seen. */
function keepReading(base) {
    let running = true;
    const seen = [];
    const loop = (async () => {
        while (running) {
            const r = await api('GET', `${base}/api/v1/groups/${other.id}`, { token: alice.token });
            seen.push(r.status === 200 ? 200 : `${r.status} ${r.text}`);
            await delay(100);
        }
    })();
    return async () => {
        running = false;
        await loop;
        return seen;
    };
}

before(async () => {
    alice = await registerUser();
    const mk = async (name) => {
        const r = await api('POST', '/api/v1/groups', { token: alice.token, body: { name, currency: 'EUR' } });
        assert.equal(r.status, 201, r.text);
        return r.json;
    };
    locked = await mk('Locked');
    other = await mk('Other');
});

after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
});

test('writes to a locked group answer 503 while reads of another group keep answering 200', async () => {
    const lock = await lockGroup(locked.id);
    const stop = keepReading('');
    const n = 2 * POOL + 2;
    const writes = await Promise.all(Array.from({ length: n }, () => addMember('', locked.id)));
    await delay(500);
    const seen = await stop();
    await lock.release();

    for (const w of writes) assertProblem(w, 503);
    assert.ok(seen.length >= 3, `only ${seen.length} reads ran`);
    assert.deepEqual(seen.filter((s) => s !== 200), [], 'reads of the other group failed');
    // Nothing of the refused writes committed, and the group takes writes again.
    assert.deepEqual(psql(`SELECT count(*) FROM members WHERE group_id = '${locked.id}'`), [['1']]);
    const ok = await addMember('', locked.id);
    assert.equal(ok.status, 201, ok.text);
});

async function freePort() {
    const srv = createServer();
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address();
    await new Promise((resolve) => srv.close(resolve));
    return port;
}

test('past its deadline a request cancels its query and frees the connection', async () => {
    // A second api without timeouts: only the deadline (5 s) ends a wait on the lock.
    const port = await freePort();
    const bin = path.join(env.BUILD ?? 'build', 'bin', 'api');
    const child = spawn(bin, [], {
        env: { ...env, API_PORT: String(port), PG_POOL_SIZE: '2', PG_LOCK_TIMEOUT_MS: '0', PG_STATEMENT_TIMEOUT_MS: '0' },
        stdio: 'ignore',
    });
    children.push(child);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/api/health`).catch(() => ({ status: 0 }))).status === 200, {
        what: 'the second api',
        timeoutMs: 20_000,
        intervalMs: 200,
    });
    const before = await api('GET', `${base}/api/v1/groups/${other.id}`, { token: alice.token });
    assert.equal(before.status, 200, before.text);

    const lock = await lockGroup(locked.id);
    try {
        // Both connections wait on the lock until the deadline answers.
        const writes = await Promise.all([addMember(base, locked.id), addMember(base, locked.id)]);
        for (const w of writes) assertProblem(w, 503);
        // The lock is still held, yet both connections are free again: the queries were
        // cancelled rather than left waiting (without the cancel this read would wait for the
        // lock's end, a minute away, and answer 503 at its own deadline).
        const read = await api('GET', `${base}/api/v1/groups/${other.id}`, { token: alice.token });
        assert.equal(read.status, 200, read.text);
        const waiting = psql(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
                              AND query LIKE 'WITH a AS%members%'`);
        assert.deepEqual(waiting, [['0']]);
    } finally {
        await lock.release();
        child.kill('SIGTERM');
    }
    assert.deepEqual(psql(`SELECT count(*) FROM members WHERE group_id = '${locked.id}' AND name = 'Late'`), [['1']]);
});
