// REDIS_WAIT_REPLICAS: an api that answers 202 only once a Redis replica holds the write.
// The test starts its own replica of the stack's Redis (redis-server --replicaof, on
// loopback) and a second api with REDIS_WAIT_REPLICAS=1: every 202 it gives is on the replica
// when it arrives; with the replica stopped, writes answer 503 within the timeout, and the
// client's retry with its Idempotency-Key, once a replica is back, answers with the same event.
//
// Needs from scripts/test.sh: the stack's environment (REDIS_*, BUILD, ...).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID, createHash } from 'node:crypto';
import { api, registerUser, waitFor, freePort, startApi } from './lib.mjs';

const env = process.env;
// Generous: the replica shares two cores with the rest of the suite running in parallel, and a
// round of acknowledgement that misses it answers 503 (500 ms was once too short under load).
const TIMEOUT_MS = 2000;
const children = [];
let dir, replicaPort, replica, base, alice, group, A, B;

function onReplica(...args) {
    const r = spawnSync('redis-cli', ['--raw', '-h', '127.0.0.1', '-p', String(replicaPort), ...args], {
        encoding: 'utf8',
        env: { ...env, ...(env.REDIS_PASSWORD ? { REDISCLI_AUTH: env.REDIS_PASSWORD } : {}) },
    });
    return r.status === 0 ? r.stdout.trim() : `error: ${r.stderr}`;
}

async function startReplica() {
    const args = [
        '--port', String(replicaPort), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
        '--appendonly', 'no', '--replicaof', env.REDIS_HOST ?? '127.0.0.1', env.REDIS_PORT ?? '6380',
    ];
    if (env.REDIS_PASSWORD) args.push('--masterauth', env.REDIS_PASSWORD, '--requirepass', env.REDIS_PASSWORD);
    replica = spawn('redis-server', args, { stdio: 'ignore' });
    children.push(replica);
    await waitFor(() => /master_link_status:up/.test(onReplica('INFO', 'replication')), {
        what: 'the replica to sync',
        timeoutMs: 30_000,
        intervalMs: 100,
    });
}

async function stopReplica() {
    const exited = new Promise((resolve) => replica.on('exit', resolve));
    replica.kill('SIGKILL');
    await exited;
}

/** What the accept script wrote for r (sent with key) is on the replica: the event's status
 *  (deleted once a worker applied it) or the key's idempotency record (kept a day). */
function there(r, key) {
    const idem = `splitter:idem:${alice.user.id}:${createHash('sha256').update(key).digest('hex')}`;
    return onReplica('EXISTS', `splitter:event:${r.json?.event_id}`, idem) !== '0';
}

const payment = (amount, key) =>
    api('POST', `${base}/api/v1/groups/${group.id}/payments`, {
        token: alice.token,
        body: { from_member: A, to_member: B, amount },
        headers: { 'Idempotency-Key': key ?? randomUUID() },
    });

before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'splitter-replica-'));
    replicaPort = await freePort();
    await startReplica();
    const second = await startApi({ REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: String(TIMEOUT_MS) });
    children.push(second.child);
    base = second.base;
    alice = await registerUser();
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Replicated', currency: 'EUR' } });
    group = g.json;
    A = group.members[0].id;
    const b = await api('POST', `/api/v1/groups/${group.id}/members`, { token: alice.token, body: { name: 'B' } });
    B = b.json.id;
});

after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
});

test('with a replica, every 202 is on the replica when it is answered', async () => {
    // Concurrent writes share WAIT rounds; each must still be covered by one, checked on the
    // replica the moment its answer arrives.
    const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) => {
            const key = randomUUID();
            return payment(i + 1, key).then((r) => ({ r, there: there(r, key) }));
        }),
    );
    for (const { r, there } of answers) {
        assert.equal(r.status, 202, r.text);
        assert.ok(there, `event ${r.json.event_id} was not on the replica when answered`);
    }
});

test('with the replica stopped, writes answer 503 within the timeout; the retry is safe', async () => {
    await stopReplica();
    const key = randomUUID();
    const t0 = Date.now();
    const r = await payment(7, key);
    const took = Date.now() - t0;
    assert.equal(r.status, 503, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.ok(took >= TIMEOUT_MS - 50, `answered after ${took} ms, before the timeout`);
    assert.ok(took < TIMEOUT_MS + 4000, `answered after ${took} ms`);

    await startReplica();
    const retry = await payment(7, key);
    assert.equal(retry.status, 202, retry.text);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.ok(there(retry, key));
});
