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
import { api, registerUser, psql, delay, startApi, lockGroupRow } from './lib.mjs';

const env = process.env;
const POOL = Number(env.PG_POOL_SIZE ?? '4');
const children = [];

let alice, locked, other;

function assertProblem(r, status) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, r.text);
    assert.equal(r.json.status, status);
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
    const lock = await lockGroupRow(locked.id);
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

test('past its deadline a request cancels its query and frees the connection', async () => {
    // A second api without timeouts: only the deadline (5 s) ends a wait on the lock.
    const { child, base } = await startApi({ PG_POOL_SIZE: '2', PG_LOCK_TIMEOUT_MS: '0', PG_STATEMENT_TIMEOUT_MS: '0' });
    children.push(child);
    const before = await api('GET', `${base}/api/v1/groups/${other.id}`, { token: alice.token });
    assert.equal(before.status, 200, before.text);

    const lock = await lockGroupRow(locked.id);
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
