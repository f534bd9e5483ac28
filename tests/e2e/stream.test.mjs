// Live updates: GET /api/v1/groups/{gid}/stream (server-sent events) through nginx.
// Headers, an event per applied ledger event with the audit-log entry as data, resume with
// Last-Event-ID and ?last_event_id across a page boundary while events keep arriving (no gap,
// no duplicate), heartbeats, access rules, the open-stream cap, and a logout ending the stream.
//
// Needs from scripts/test.sh: STREAM_HEARTBEAT_MS (1000) and STREAM_MAX (12) on the stack, and
// API_PORT (the api's own port, for /metrics). No other e2e file opens streams.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { api, psql, registerUser, waitFor, BASE_URL } from './lib.mjs';

const HEARTBEAT_MS = Number(process.env.STREAM_HEARTBEAT_MS ?? 15000);
const API_PORT = process.env.API_PORT ?? '8081';
const STREAM_MAX = Number(process.env.STREAM_MAX ?? 10000);

let alice, bob, carol; // alice and carol are members, bob is not
let group;
let A, C;
const open = new Set();

const G = () => `/api/v1/groups/${group.id}`;

/** The api's count of open streams (its /metrics). */
async function openStreams() {
    const m = await (await fetch(`http://127.0.0.1:${API_PORT}/metrics`)).text();
    return Number(/^splitter_api_sse_streams (\d+)$/m.exec(m)[1]);
}

/** Until the api has noticed every closed stream (at its next write to each: a heartbeat). */
async function allClosed() {
    await waitFor(async () => (await openStreams()) === 0, { what: 'no open stream', timeoutMs: HEARTBEAT_MS * 3 + 5000, intervalMs: 100 });
}

/**
 * One stream, read as it arrives. events: [{id, event, data}] (data parsed), comments: count.
 * next(pred, ms) resolves with the first event (from `from` on) that matches.
 */
async function connect(path, { token = alice.token, headers = {} } = {}) {
    const ctl = new AbortController();
    const h = { ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    const res = await fetch(new URL(path, BASE_URL), { headers: h, signal: ctl.signal });
    const s = { res, events: [], comments: 0, ended: false, firstChunkAt: null };
    const wake = new Set();
    s.close = () => {
        ctl.abort();
        open.delete(s);
    };
    s.until = (pred, what, timeoutMs = 10_000) =>
        new Promise((resolve, reject) => {
            const check = () => {
                const v = pred(s);
                if (v) {
                    clearTimeout(timer);
                    wake.delete(check);
                    resolve(v);
                }
            };
            const timer = setTimeout(() => {
                wake.delete(check);
                reject(new Error(`timed out waiting for ${what}`));
            }, timeoutMs);
            wake.add(check);
            check();
        });
    if (res.status !== 200) {
        s.text = await res.text();
        s.json = /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(s.text) : null;
        return s;
    }
    open.add(s);
    (async () => {
        const dec = new TextDecoder();
        let buf = '';
        try {
            for await (const chunk of res.body) {
                s.firstChunkAt ??= Date.now();
                buf += dec.decode(chunk, { stream: true });
                let cut;
                while ((cut = buf.indexOf('\n\n')) >= 0) {
                    const block = buf.slice(0, cut);
                    buf = buf.slice(cut + 2);
                    const ev = {};
                    for (const line of block.split('\n')) {
                        if (line.startsWith(':')) s.comments++;
                        else {
                            const i = line.indexOf(':');
                            const k = line.slice(0, i);
                            const v = line.slice(i + 1).replace(/^ /, '');
                            ev[k] = k === 'data' && ev.data !== undefined ? `${ev.data}\n${v}` : v;
                        }
                    }
                    if (ev.id !== undefined || ev.data !== undefined) {
                        s.events.push({ id: ev.id, event: ev.event, data: JSON.parse(ev.data) });
                    }
                    for (const f of [...wake]) f();
                }
            }
        } catch {
            // aborted by close()
        }
        s.ended = true;
        for (const f of [...wake]) f();
    })();
    return s;
}

async function addExpense(description, amount = 300, { wait = true } = {}) {
    const r = await api('POST', `${G()}/expenses`, {
        token: alice.token,
        headers: { ...(wait ? { Prefer: 'wait=5' } : {}), 'Idempotency-Key': randomUUID() },
        body: {
            description,
            amount,
            paid_by: [{ member_id: A, amount }],
            split: { mode: 'equal', members: [{ member_id: A }, { member_id: C }] },
        },
    });
    assert.ok([201, 202].includes(r.status), `${r.status} ${r.text}`);
    return r.json.id ?? r.json.expense_id; // the expense: the resource (201) or the receipt (202)
}

/** The stream's event of the expense created with id. */
function createdEvent(s, id) {
    return s.events.find((e) => e.data.type === 'expense.created' && e.data.payload.expense_id === id);
}

async function auditLog() {
    const items = [];
    let cursor = null;
    do {
        const r = await api('GET', `${G()}/events?limit=200${cursor ? `&cursor=${cursor}` : ''}`, {
            token: alice.token,
        });
        assert.equal(r.status, 200, r.text);
        items.push(...r.json.items);
        cursor = r.json.next_cursor;
    } while (cursor);
    return items;
}

before(async () => {
    [alice, bob, carol] = await Promise.all([
        registerUser({ name: 'Alice' }),
        registerUser({ name: 'Bob' }),
        registerUser({ name: 'Carol' }),
    ]);
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Live', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    A = group.members[0].id;
    const inv = await api('POST', `${G()}/invites`, { token: alice.token });
    assert.equal(inv.status, 201, inv.text);
    const acc = await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { token: carol.token });
    assert.equal(acc.status, 200, acc.text);
    C = acc.json.members.find((m) => m.user_id === carol.user.id).id;
});

after(() => {
    for (const s of [...open]) s.close();
});

test('a stream answers text/event-stream, uncached, and its first bytes arrive at once', async () => {
    const t0 = Date.now();
    const s = await connect(`${G()}/stream`);
    assert.equal(s.res.status, 200);
    assert.match(s.res.headers.get('content-type'), /^text\/event-stream/);
    assert.equal(s.res.headers.get('cache-control'), 'no-store');
    assert.equal(s.res.headers.get('content-length'), null);
    await s.until((x) => x.firstChunkAt, 'the first chunk', 3000);
    assert.ok(s.firstChunkAt - t0 < 3000);
    s.close();
});

test('an applied expense arrives as one event: id its seq, event its type, data its audit entry', async () => {
    const s = await connect(`${G()}/stream`, { token: carol.token });
    assert.equal(s.res.status, 200);
    await s.until((x) => x.firstChunkAt, 'the first chunk');
    const written = await addExpense('Live dinner', 1200);
    // Through nginx, promptly: buffering anywhere would hold it until the stream ends.
    const ev = await s.until((x) => createdEvent(x, written), 'the event', 5000);
    const log = await auditLog();
    const entry = log.find((e) => e.event_id === ev.data.event_id);
    assert.ok(entry);
    assert.equal(ev.id, String(entry.seq));
    assert.equal(ev.event, 'expense.created');
    assert.deepEqual(ev.data, entry);
    assert.equal(s.events.length, 1, 'only entries after the connect');
    s.close();
});

test('Last-Event-ID and ?last_event_id resume after that seq, with no gap and no duplicate', async () => {
    for (let i = 0; i < 3; i++) await addExpense(`Resume ${i}`);
    const log = await auditLog();
    const from = log[log.length - 3].seq;
    const want = log.filter((e) => e.seq > from).map((e) => String(e.seq));

    const byHeader = await connect(`${G()}/stream`, { headers: { 'Last-Event-ID': String(from) } });
    const byQuery = await connect(`${G()}/stream?last_event_id=${from}`);
    for (const s of [byHeader, byQuery]) {
        assert.equal(s.res.status, 200);
        await s.until((x) => x.events.length >= want.length, 'the backlog');
        assert.deepEqual(s.events.map((e) => e.id), want);
        assert.deepEqual(s.events.map((e) => e.data), log.filter((e) => e.seq > from));
    }
    const live = await addExpense('After the resume');
    for (const s of [byHeader, byQuery]) {
        await s.until((x) => createdEvent(x, live), 'the live event');
        const ids = s.events.map((e) => Number(e.id));
        assert.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b), 'ascending, no duplicate');
        assert.equal(ids.length, want.length + 1);
        s.close();
    }
});

test('a resume over more than one page hands over to live events without gap or duplicate', async () => {
    // 230 entries in all: the backlog spans two pages of 200, and writes go on while it pages.
    const before = (await auditLog()).length;
    const first = [];
    for (let i = before; i < 210; i += 30) {
        const n = Math.min(30, 210 - i);
        first.push(...(await Promise.all(Array.from({ length: n }, (_, k) => addExpense(`Bulk ${i + k}`, 100, { wait: false })))));
    }
    await waitFor(async () => (await auditLog()).length >= 210, { what: '210 applied events', timeoutMs: 60_000, intervalMs: 200 });
    const s = await connect(`${G()}/stream`, { headers: { 'Last-Event-ID': '0' } });
    assert.equal(s.res.status, 200);
    const more = [];
    for (let i = 0; i < 20; i++) more.push(await addExpense(`During ${i}`, 100, { wait: false }));
    await waitFor(async () => (await auditLog()).length >= 230, { what: '230 applied events', timeoutMs: 30_000, intervalMs: 200 });
    const total = (await auditLog()).length;
    await s.until((x) => x.events.length >= total, `${total} events`, 20_000);
    const ids = s.events.map((e) => Number(e.id));
    assert.deepEqual(ids, Array.from({ length: total }, (_, i) => i + 1));
    s.close();
});

test('a comment line arrives every heartbeat interval', async () => {
    const s = await connect(`${G()}/stream`);
    await s.until((x) => x.comments >= 1, 'the opening comment');
    const t0 = Date.now();
    await s.until((x) => x.comments >= 3, 'two heartbeats', HEARTBEAT_MS * 4 + 2000);
    assert.ok(Date.now() - t0 <= HEARTBEAT_MS * 4 + 2000);
    assert.equal(s.events.length, 0);
    s.close();
});

test('no or a bad token is 401; a non-member and an unknown group are the same 404', async () => {
    for (const token of [null, 'not-a-token']) {
        const s = await connect(`${G()}/stream`, { token });
        assert.equal(s.res.status, 401);
        assert.match(s.res.headers.get('content-type'), /^application\/problem\+json/);
        assert.equal(s.json.status, 401);
    }
    const outsider = await connect(`${G()}/stream`, { token: bob.token });
    const unknown = await connect(`/api/v1/groups/${randomUUID()}/stream`);
    const malformed = await connect('/api/v1/groups/not-a-uuid/stream');
    for (const s of [outsider, unknown, malformed]) {
        assert.equal(s.res.status, 404);
        assert.match(s.res.headers.get('content-type'), /^application\/problem\+json/);
    }
    assert.deepEqual(outsider.json, unknown.json);
    // Access first: a non-member's bad resume point is still a 404.
    const both = await connect(`${G()}/stream?last_event_id=x`, { token: bob.token });
    assert.equal(both.res.status, 404);
});

test('a malformed resume point is 422 naming the header or the parameter', async () => {
    for (const [opts, field] of [
        [{ headers: { 'Last-Event-ID': 'abc' } }, 'Last-Event-ID'],
        [{ headers: { 'Last-Event-ID': '-1' } }, 'Last-Event-ID'],
        [{ headers: { 'Last-Event-ID': '99999999999999999999' } }, 'Last-Event-ID'],
        [{ query: '?last_event_id=1.5' }, 'last_event_id'],
        [{ query: '?last_event_id=' }, 'last_event_id'],
    ]) {
        const s = await connect(`${G()}/stream${opts.query ?? ''}`, { headers: opts.headers });
        assert.equal(s.res.status, 422, JSON.stringify(opts));
        assert.match(s.res.headers.get('content-type'), /^application\/problem\+json/);
        assert.equal(s.json.errors[0].field, field);
    }
});

test('past STREAM_MAX open streams the api answers 503 with a problem, and recovers', async () => {
    await allClosed();
    const streams = [];
    for (let i = 0; i < STREAM_MAX; i++) {
        const s = await connect(`${G()}/stream`);
        assert.equal(s.res.status, 200, `stream ${i + 1} of ${STREAM_MAX}`);
        streams.push(s);
    }
    assert.equal(await openStreams(), STREAM_MAX);
    const refused = await connect(`${G()}/stream`);
    assert.equal(refused.res.status, 503);
    assert.match(refused.res.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal(refused.json.status, 503);
    assert.ok(refused.res.headers.get('retry-after'));
    // A closed stream frees its place once the api notices (at its next write: a heartbeat).
    streams.pop().close();
    await waitFor(async () => (await openStreams()) === STREAM_MAX - 1, { what: 'a free place', timeoutMs: HEARTBEAT_MS * 3 + 5000, intervalMs: 100 });
    const again = await connect(`${G()}/stream`);
    assert.equal(again.res.status, 200);
    again.close();
    for (const s of streams) s.close();
    await allClosed();
});

test('a logout ends the stream at the next heartbeat', async () => {
    const dave = await registerUser({ name: 'Dave' });
    const g = await api('POST', '/api/v1/groups', { token: dave.token, body: { name: 'Solo', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    const s = await connect(`/api/v1/groups/${g.json.id}/stream`, { token: dave.token });
    assert.equal(s.res.status, 200);
    await s.until((x) => x.firstChunkAt, 'the first chunk');
    const out = await api('POST', '/api/v1/auth/logout', { token: dave.token });
    assert.equal(out.status, 204);
    await s.until((x) => x.ended, 'the end of the stream', HEARTBEAT_MS * 3 + 5000);
});

test('a caller who is no longer a member loses the stream at the next heartbeat', async () => {
    const erin = await registerUser({ name: 'Erin' });
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Leaving', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    const inv = await api('POST', `/api/v1/groups/${g.json.id}/invites`, { token: alice.token });
    const acc = await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { token: erin.token });
    assert.equal(acc.status, 200, acc.text);
    const mine = await connect(`/api/v1/groups/${g.json.id}/stream`);
    const hers = await connect(`/api/v1/groups/${g.json.id}/stream`, { token: erin.token });
    assert.equal(hers.res.status, 200);
    await hers.until((x) => x.firstChunkAt, 'the first chunk');
    // No route removes a member yet: her account lets go of its member, as an operator would.
    psql(`UPDATE members SET user_id = NULL WHERE group_id = '${g.json.id}' AND user_id = '${erin.user.id}'`);
    await hers.until((x) => x.ended, 'the end of her stream', HEARTBEAT_MS * 3 + 5000);
    assert.equal(mine.ended, false, "the remaining member's stream goes on");
    mine.close();
});
