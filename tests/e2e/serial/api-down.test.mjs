// The api down and back: nginx answers the API paths itself with a 503 problem document (it
// gets 502 from a refused connection) while the web client is still served, and everything
// answers as before once the api is up again. Stops the shared stack's api, so it runs among
// the serial files.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { api, registerUser, waitFor } from '../lib.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function stack(...args) {
    const r = spawnSync('scripts/stack.sh', args, { cwd: root, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `stack.sh ${args.join(' ')}: ${r.stderr}`);
}

let apiStopped = false;

async function startApi() {
    if (!apiStopped) return;
    stack('up');
    apiStopped = false;
    await waitFor(async () => (await api('GET', '/api/health')).status === 200, {
        timeoutMs: 30_000,
        what: 'the api back',
    });
}

after(startApi);

test('with the api down, nginx answers API paths with a 503 problem and still serves the web client', async () => {
    const alice = await registerUser({ name: 'Alice' });
    // Stopped and gone (under valgrind an api takes seconds to exit), so `up` starts a new one.
    apiStopped = true;
    stack('stop', 'api');
    await waitFor(async () => (await api('GET', '/api/health')).status === 503, {
        timeoutMs: 20_000,
        what: 'nginx answering 503',
    });
    for (const [method, path] of [['GET', '/api/health'], ['GET', '/api/v1/me'], ['POST', '/api/v1/groups']]) {
        const r = await api(method, path, { token: alice.token, body: method === 'POST' ? { name: 'x', currency: 'EUR' } : undefined });
        assert.equal(r.status, 503, `${method} ${path}: ${r.text}`);
        assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(r.json.status, 503);
        assert.ok(r.headers.get('retry-after'), 'Retry-After');
    }
    const web = await api('GET', '/');
    assert.equal(web.status, 200);
    assert.match(web.headers.get('content-type'), /^text\/html/);

    await startApi();
    const me = await api('GET', '/api/v1/me', { token: alice.token });
    assert.equal(me.status, 200, me.text);
});
