// splitterctl top: the live view of the partitions, full screen in a terminal. It runs in a
// tmux session of its own (a private tmux server: -L), the test reads the screen with
// capture-pane and types keys with send-keys. The figures on screen are checked against
// `splitterctl queue --json`, `splitterctl workers --json` and the api's /metrics while one
// group's row is locked in PostgreSQL (its writes stay pending, so the numbers hold still);
// then the sort keys, the applied rate once the lock is gone, and `q`. `--once` on a pipe
// prints one frame of plain lines.
//
// Needs from scripts/test.sh: the stack's environment (REDIS_*, SPLITTER_PARTITIONS, API_PORT,
// WORKERS, BUILD) and tmux (scripts/deps.sh).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, registerUser, waitFor, partitionOf, lockGroupRow } from './lib.mjs';

const env = process.env;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CTL = path.join(path.resolve(ROOT, env.BUILD ?? 'build'), 'bin', 'splitterctl');
const API_PORT = env.API_PORT ?? '8081';
const PARTITIONS = Number(env.SPLITTER_PARTITIONS ?? '16');
const SOCKET = `splitter-top-${process.pid}`;
const SESSION = 'top';

function tmux(...args) {
    const r = spawnSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 10_000 });
    if (r.error) throw r.error;
    return r;
}

function ctlJson(...args) {
    const r = spawnSync(CTL, [...args, '--json'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
}

/** The screen, parsed: header figures and one row per stream, in screen order. */
function screen() {
    const text = tmux('capture-pane', '-p', '-t', SESSION).stdout;
    const num = (re) => {
        const m = text.match(re);
        return m ? m[1] : undefined;
    };
    const rows = [];
    for (const line of text.split('\n')) {
        const m = line.match(/^splitter:stream:(\d+)\s+(\d+)\s+(\d+|-)\s+(\d+)\s+(\S+)\s+(\S+)\s*$/);
        if (m) {
            rows.push({
                partition: Number(m[1]), length: Number(m[2]), lag: m[3] === '-' ? null : Number(m[3]), pending: Number(m[4]),
                applied: m[5] === '-' ? null : Number(m[5]), owner: m[6],
            });
        }
    }
    return {
        text,
        rows,
        sort: num(/sorted by (\w+)/),
        accepted: num(/accepted\/s (\S+)/),
        applied: num(/applied\/s (\S+)/),
        live: num(/live workers (\d+)/),
        dead: num(/dead letters (\d+)/),
    };
}

async function metrics() {
    const body = await (await fetch(`http://127.0.0.1:${API_PORT}/metrics`)).text();
    return (name, labels) => {
        const want = `${name}{${labels}} `;
        const line = body.split('\n').find((l) => l.startsWith(want));
        return line === undefined ? undefined : Number(line.slice(want.length));
    };
}

let alice, group, part;

before(async () => {
    alice = await registerUser({ name: 'Top' });
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'top', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    part = partitionOf(group.id);
});

after(() => {
    tmux('kill-server');
});

test('splitterctl top --once on a pipe prints one frame of plain lines', () => {
    const r = spawnSync(CTL, ['top', '--once'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.stdout.includes('\u001b'), 'escape codes in plain output');
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('splitter:stream:'));
    assert.equal(rows.length, PARTITIONS, r.stdout);
    assert.match(r.stdout, /^accepted\/s \d+\.\d  applied\/s \d+\.\d  length \d+  lag \d+  pending \d+$/m);
    assert.match(r.stdout, new RegExp(`^live workers ${env.WORKERS ?? 2}  dead letters \\d+$`, 'm'));
    assert.equal(spawnSync(CTL, ['top', '--bogus'], { encoding: 'utf8' }).status, 2);
});

test('splitterctl top in a terminal: figures match the queue, keys sort, q quits', async () => {
    const started = tmux('new-session', '-d', '-s', SESSION, '-x', '160', '-y', String(PARTITIONS + 10), CTL, 'top');
    assert.equal(started.status, 0, started.stderr);
    let s = await waitFor(() => {
        const v = screen();
        return v.rows.length === PARTITIONS && v.live !== undefined && v.applied !== '-' ? v : null;
    }, { what: 'the first frames of top', timeoutMs: 15_000 });
    assert.equal(s.sort, 'partition');
    assert.deepEqual(s.rows.map((r) => r.partition), [...Array(PARTITIONS).keys()]);
    const workers = ctlJson('workers').workers;
    assert.equal(Number(s.live), workers.filter((w) => w.live).length);
    assert.equal(Number(s.live), Number(env.WORKERS ?? 2));
    const live = new Set(workers.filter((w) => w.live).map((w) => w.name));
    for (const r of s.rows) assert.ok(live.has(r.owner), `partition ${r.partition} owned by ${r.owner}`);

    // Hold the group's writes: its row is locked, so they wait in its partition.
    const lock = await lockGroupRow(group.id);
    try {
        const m = group.members[0].id;
        for (let i = 0; i < 4; i++) {
            const w = await api('POST', `/api/v1/groups/${group.id}/expenses`, {
                token: alice.token,
                headers: { 'Idempotency-Key': randomUUID() },
                body: { description: `top ${i}`, amount: 100 + i, date: '2026-11-20',
                    paid_by: [{ member_id: m, amount: 100 + i }], split: { mode: 'equal', members: [{ member_id: m }] } },
            });
            assert.equal(w.status, 202, w.text);
        }
        // The screen agrees with splitterctl queue --json and /metrics, row by row.
        s = await waitFor(async () => {
            const q = ctlJson('queue');
            const v = screen();
            const mine = q.streams[part];
            if (mine.lag + mine.pending < 4 || v.rows.length !== PARTITIONS) return null;
            for (const r of v.rows) {
                const want = q.streams[r.partition];
                if (r.length !== want.length || r.lag !== want.lag || r.pending !== want.pending) return null;
            }
            const get = await metrics();
            const label = `stream="splitter:stream:${part}"`;
            const row = v.rows.find((r) => r.partition === part);
            if (get('splitter_stream_pending', label) !== row.pending || get('splitter_stream_lag', label) !== row.lag) return null;
            return Number(v.dead) === q.dead_letters ? v : null;
        }, { what: 'the screen to match splitterctl queue --json and /metrics', timeoutMs: 20_000, intervalMs: 300 });
        const held = s.rows.find((r) => r.partition === part);
        assert.ok(held.lag + held.pending >= 4, JSON.stringify(held));

        // Sort keys reorder the rows: largest first, partition order among equals. Figures may
        // change between two frames (a retried batch), so each check waits for a frame that
        // shows the key's order.
        const sortedBy = (rows, k) => rows.length === PARTITIONS && rows.every((r, i) => i === 0 ||
            rows[i - 1][k] > r[k] || (rows[i - 1][k] === r[k] && rows[i - 1].partition < r.partition));
        const sortsBy = async (typed, name, extra = () => true) => {
            tmux('send-keys', '-t', SESSION, typed);
            return waitFor(() => {
                const v = screen();
                return v.sort === name && (name === 'partition' ? true : sortedBy(v.rows, name)) && extra(v) ? v : null;
            }, { what: `a frame sorted by ${name}`, timeoutMs: 5_000 });
        };
        const key = held.pending > 0 ? 'pending' : 'lag';
        await sortsBy(key === 'pending' ? 'p' : 'l', key, (v) => v.rows[0].partition === part && v.rows[0][key] > 0);
        await sortsBy(key === 'pending' ? 'l' : 'p', key === 'pending' ? 'lag' : 'pending');
        await sortsBy('n', 'partition', (v) => v.rows.map((r) => r.partition).join() === [...Array(PARTITIONS).keys()].join());
    } finally {
        await lock.release();
    }

    // The held writes apply: the partition's applied rate and the total show them.
    s = await waitFor(() => {
        const v = screen();
        const row = v.rows.find((r) => r.partition === part);
        return row && row.applied > 0 && Number(v.applied) >= row.applied ? v : null;
    }, { what: 'an applied rate above 0', timeoutMs: 20_000, intervalMs: 200 });

    // A smaller window shows fewer rows at once (a resize redraws; it does not quit).
    assert.equal(tmux('resize-window', '-t', SESSION, '-y', '12').status, 0);
    s = await waitFor(() => { const v = screen(); return v.rows.length === 12 - 6 ? v : null; },
        { what: 'the rows that fit 12 lines', timeoutMs: 5_000 });
    assert.match(s.text, /^q quit {2}l sort by lag/m);

    tmux('send-keys', '-t', SESSION, 'q');
    await waitFor(() => tmux('has-session', '-t', SESSION).status !== 0, { what: 'top to quit on q' });
});
