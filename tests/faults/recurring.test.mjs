// A recurring expense's catch-up survives its workers: a daily rule started 30 days ago is
// caught up by the scheduler a couple of dates per tick; both workers are killed (-9) in the
// middle, the scheduler's progress is even rewound as if every XADD so far had been followed by a
// crash before its commit, and after the restart the group holds exactly 31 occurrences, each
// once, with the balances of 31, and `splitterctl replay --verify` agrees.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { startStack } from './stack.mjs';
import { setupGroup } from './model.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD = path.resolve(ROOT, process.env.BUILD ?? 'build');

let stack;
let failed = false;

before(async () => {
    // A slow catch-up (two dates per rule and tick), so that the kill lands in its middle.
    stack = await startStack({ workers: 2, extraEnv: { WORKER_SCHEDULE_MS: '400', WORKER_SCHEDULE_BATCH: '2' } });
});

after(() => stack?.down({ failed }));

function day(days) {
    const d = new Date();
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
}

function count(sql) {
    return Number(stack.psql(sql)[0][0]);
}

async function until(fn, what, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = fn();
        if (v) return v;
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await delay(100);
    }
}

test('kill -9 of every worker mid catch-up, progress rewound: still exactly 31 occurrences', { timeout: 300_000 }, async () => {
    try {
        const { call, group, members } = await setupGroup(stack.baseUrl, 2);
        const [A, B] = members;
        const t = await call('POST', `/api/v1/groups/${group.id}/expenses`, {
            headers: { Prefer: 'wait=5' },
            body: {
                description: 'Rent',
                amount: 300,
                date: day(-30),
                paid_by: [{ member_id: A, amount: 300 }],
                split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }] },
                recurrence: { every: 1, unit: 'day' },
            },
        });
        assert.equal(t.status, 201, JSON.stringify(t.json));
        const rule = t.json.id;
        const occurrences = `SELECT count(*) FROM expenses WHERE recurrence_of = '${rule}'`;
        const seen = await until(() => {
            const n = count(occurrences);
            return n >= 6 ? n : 0;
        }, 'the catch-up to begin');
        stack.sh('kill', 'worker-1', 'KILL');
        stack.sh('kill', 'worker-2', 'KILL');
        const atKill = count(occurrences);
        assert.ok(atKill < 30, `the catch-up was over before the kill (${seen}, ${atKill})`);
        // As if each XADD so far had been followed by a crash before its commit: every date is
        // queued again from the start.
        stack.psql(`UPDATE recurrences SET last_date = '${day(-30)}', next_date = '${day(-30)}' WHERE rule_id = '${rule}'`);
        stack.sh('up');
        await until(() => count(occurrences) === 30, 'the catch-up to finish');
        await until(() => count(`SELECT count(*) FROM recurrences WHERE rule_id = '${rule}' AND last_date = '${day(0)}'`) === 1,
            'the rewound progress to reach today');
        await delay(3000); // the stream drained and a few more ticks: nothing more comes
        assert.equal(count(occurrences), 30);
        assert.equal(count(`SELECT count(DISTINCT date) FROM expenses WHERE recurrence_of = '${rule}'`), 30);
        assert.equal(count(`SELECT count(*) FROM expenses WHERE recurrence_of = '${rule}' AND (date < '${day(-29)}' OR date > '${day(0)}')`), 0);
        assert.equal(count(`SELECT count(*) FROM events WHERE group_id = '${group.id}'`), 31);
        assert.equal(count(`SELECT count(*) FROM rejected_events WHERE group_id = '${group.id}'`), 0);
        const bal = await call('GET', `/api/v1/groups/${group.id}/balances`);
        const of = Object.fromEntries(bal.json.balances.map((b) => [b.member_id, b]));
        assert.equal(of[A].paid, 31 * 300);
        assert.equal(of[B].owed, 31 * 150);
        const r = spawnSync(path.join(BUILD, 'bin', 'splitterctl'), ['replay', '--verify', '--group', group.id], {
            encoding: 'utf8',
            timeout: 60_000,
            env: { ...stack.env, POSTGRES_PASSWORD: stack.env.POSTGRES_PASSWORD ?? 'splitter-local-dev' },
        });
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /1 groups verified, 0 differ/);
    } catch (e) {
        failed = true;
        throw e;
    }
});
