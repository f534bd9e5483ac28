// PostgreSQL down and back: writes accepted meanwhile (Redis queues them) apply within seconds
// of its return, without a restart of the workers (their reconnect back-off is capped at 1 s).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { api, registerUser, waitFor, delay } from '../lib.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let stopped = false;

function stack(...args) {
    const r = spawnSync('scripts/stack.sh', args, { cwd: root, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `stack.sh ${args.join(' ')}: ${r.stderr}`);
}

after(() => {
    if (stopped) stack('up');
});

test('after PostgreSQL comes back, the writes queued meanwhile apply within seconds', async () => {
    const alice = await registerUser({ name: 'Alice' });
    const g = (await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'PG', currency: 'EUR' } })).json;
    const m = g.members[0].id;
    const body = (amount) => ({
        description: 'Bread',
        amount,
        paid_by: [{ member_id: m, amount }],
        split: { mode: 'equal', members: [{ member_id: m }] },
    });
    const first = await api('POST', `/api/v1/groups/${g.id}/expenses`, { token: alice.token, headers: { Prefer: 'wait=5' }, body: body(100) });
    assert.equal(first.status, 201, first.text);

    stack('kill', 'postgres', 'INT'); // fast shutdown: clients are cut off
    stopped = true;
    await waitFor(async () => (await api('GET', '/api/health')).status === 503, { timeoutMs: 15_000, what: 'health degraded' });
    const queued = await api('POST', `/api/v1/groups/${g.id}/expenses`, { token: alice.token, body: body(200) });
    assert.equal(queued.status, 202, queued.text);
    // Long enough for an uncapped back-off to grow past several seconds.
    await delay(8000);
    stack('up');
    stopped = false;
    await waitFor(async () => (await api('GET', '/api/health')).status === 200, { timeoutMs: 30_000, what: 'health ok' });
    const back = Date.now();
    await waitFor(async () => {
        const s = await api('GET', `/api/v1/events/${queued.json.event_id}`, { token: alice.token });
        return s.status === 200 && s.json.status === 'applied';
    }, { timeoutMs: 15_000, what: 'the queued write applied' });
    const took = Date.now() - back;
    assert.ok(took < 3000, `applied ${took} ms after PostgreSQL was back`);
});
