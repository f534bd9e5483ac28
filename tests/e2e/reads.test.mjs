// Reads: the expense list and one expense, the CSV export, the group list, balances and
// settlements from the cache and from PostgreSQL when the cache is missing, ETags and 304,
// pagination, and member-only access. Stopping Redis is in tests/e2e/serial/ (it would
// disturb the files that run in parallel with this one).

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { api, registerUser, redisCli, psql } from './lib.mjs';

let alice, bob; // bob is not a member
let group;
let A, B, C; // member ids: A is alice; B is "@Bob, the \"evil\""; C is Carol
const created = []; // expense resources as Prefer: wait answered them, oldest first

const G = () => `/api/v1/groups/${group.id}`;
const get = (path, { token = alice.token, headers } = {}) => api('GET', path, { token, headers });

async function write(method, path, body, headers = {}) {
    const r = await api(method, path, {
        body,
        token: alice.token,
        headers: { Prefer: 'wait=5', 'Idempotency-Key': randomUUID(), ...headers },
    });
    assert.ok(r.status === 200 || r.status === 201, `${method} ${path}: ${r.status} ${r.text}`);
    return r;
}

function expense(description, amount, extra = {}) {
    return {
        description,
        amount,
        paid_by: [{ member_id: A, amount }],
        split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }, { member_id: C }] },
        ...extra,
    };
}

/** The list order: date, newest first, then creation, latest first (xs is in creation order). */
const newestFirst = (xs) =>
    xs
        .map((x, i) => [x, i])
        .sort(([a, i], [b, j]) => (a.date !== b.date ? (a.date < b.date ? 1 : -1) : j - i))
        .map(([x]) => x);

/** Every page of a list, following next_cursor; returns the items and the page count. */
async function allPages(path, limit) {
    const items = [];
    let cursor = null;
    let pages = 0;
    do {
        const q = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const r = await get(`${path}?${q}`);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.json.items.length <= limit);
        items.push(...r.json.items);
        cursor = r.json.next_cursor;
        pages++;
        assert.ok(pages < 1000, 'pagination does not end');
    } while (cursor);
    return { items, pages };
}

/** RFC 4180 parser: rows of cells; checks every line ends with CRLF. */
function parseCsv(text) {
    const rows = [];
    let row = [];
    let cell = '';
    let i = 0;
    let quoted = false;
    while (i < text.length) {
        const ch = text[i];
        if (quoted) {
            if (ch === '"' && text[i + 1] === '"') {
                cell += '"';
                i += 2;
            } else if (ch === '"') {
                quoted = false;
                i++;
            } else {
                cell += ch;
                i++;
            }
        } else if (ch === '"') {
            quoted = true;
            i++;
        } else if (ch === ',') {
            row.push(cell);
            cell = '';
            i++;
        } else if (ch === '\r') {
            assert.equal(text[i + 1], '\n', 'a bare CR ends a line');
            row.push(cell);
            rows.push(row);
            row = [];
            cell = '';
            i += 2;
        } else {
            assert.notEqual(ch, '\n', 'a bare LF ends a line');
            cell += ch;
            i++;
        }
    }
    assert.equal(cell, '', 'the last line ends with CRLF');
    assert.equal(row.length, 0, 'the last line ends with CRLF');
    return rows;
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    bob = await registerUser({ name: 'Bob' });
    const g = await api('POST', '/api/v1/groups', {
        token: alice.token,
        body: { name: 'Lisbon "2026"; =cmd', currency: 'EUR' },
    });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    A = group.members[0].id;
    for (const name of ['@Bob, the "evil"', 'Carol']) {
        const m = await api('POST', `${G()}/members`, { token: alice.token, body: { name } });
        assert.equal(m.status, 201, m.text);
        if (name === 'Carol') C = m.json.id;
        else B = m.json.id;
    }
    created.push((await write('POST', `${G()}/expenses`, expense('Dinner', 100))).json);
    created.push(
        (await write('POST', `${G()}/expenses`, expense('=HYPERLINK("http://x.test")', 3000, {
            category: '+fees',
            currency: 'USD',
            exchange_rate: '0.9',
        }))).json,
    );
    created.push(
        (await write('POST', `${G()}/expenses`, {
            description: 'Taxi, late\nnight',
            amount: 900,
            paid_by: [{ member_id: C, amount: 900 }],
            split: { mode: 'exact', members: [{ member_id: A, value: 900 }, { member_id: B, value: 0 }] },
        })).json,
    );
    await write('POST', `${G()}/payments`, { from_member: B, to_member: A, amount: 33, note: '-payback' });
});

// --- the expense list ---------------------------------------------------------------------

test('GET expenses lists newest first, in the shape Prefer: wait answered', async () => {
    const r = await get(`${G()}/expenses`);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.json.next_cursor, null);
    assert.deepEqual(r.json.items, newestFirst(created));
    assert.deepEqual(r.json.items.find((x) => x.id === created[2].id).shares, [
        { member_id: A, amount: 900 },
        { member_id: B, amount: 0 },
    ]);
});

test('GET expenses carries the group version as ETag and answers 304 to it', async () => {
    const g = await get(G());
    const r = await get(`${G()}/expenses`);
    assert.equal(r.headers.get('etag'), `"${g.json.version}"`);
    const n = await get(`${G()}/expenses`, { headers: { 'If-None-Match': r.headers.get('etag') } });
    assert.equal(n.status, 304);
    assert.equal(n.text, '');
});

test('the expense list paginates with limit and cursor', async () => {
    const { items, pages } = await allPages(`${G()}/expenses`, 1);
    assert.equal(pages, 3);
    assert.deepEqual(items.map((x) => x.id), newestFirst(created).map((x) => x.id));
    const two = await get(`${G()}/expenses?limit=2`);
    assert.equal(two.json.items.length, 2);
    assert.equal(typeof two.json.next_cursor, 'string');
});

test('a bad limit or cursor is a 422 problem naming the parameter', async () => {
    for (const q of ['limit=0', 'limit=201', 'limit=abc', 'limit=', 'limit=5x', 'limit=-1']) {
        const r = await get(`${G()}/expenses?${q}`);
        assert.equal(r.status, 422, `${q}: ${r.text}`);
        assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
        assert.equal(r.json.errors[0].field, 'limit');
    }
    for (const q of ['cursor=nope', 'cursor=' + Buffer.from('x|y').toString('base64url'), 'cursor=']) {
        const r = await get(`${G()}/expenses?${q}`);
        assert.equal(r.status, 422, `${q}: ${r.text}`);
        assert.equal(r.json.errors[0].field, 'cursor');
    }
    const g = await get(`/api/v1/groups?limit=999`);
    assert.equal(g.status, 422);
    assert.equal(g.json.errors[0].field, 'limit');
});

test('a deleted expense is no longer listed and its GET is 404', async () => {
    const x = (await write('POST', `${G()}/expenses`, expense('Short-lived', 60))).json;
    assert.equal((await get(`${G()}/expenses/${x.id}`)).status, 200);
    await write('DELETE', `${G()}/expenses/${x.id}`, undefined, { 'If-Match': '"1"' });
    const r = await get(`${G()}/expenses/${x.id}`);
    assert.equal(r.status, 404);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    const l = await get(`${G()}/expenses?limit=200`);
    assert.ok(!l.json.items.some((i) => i.id === x.id));
});

// --- one expense --------------------------------------------------------------------------

test('GET one expense: the resource, ETag its own version, 304, then a replacement', async () => {
    const x = created[0];
    const r = await get(`${G()}/expenses/${x.id}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, x);
    assert.equal(r.headers.get('etag'), '"1"');
    const n = await get(`${G()}/expenses/${x.id}`, { headers: { 'If-None-Match': '"1"' } });
    assert.equal(n.status, 304);

    const put = await write('PUT', `${G()}/expenses/${x.id}`, expense('Dinner (fixed)', 120), {
        'If-Match': r.headers.get('etag'),
    });
    assert.equal(put.json.version, 2);
    const after = await get(`${G()}/expenses/${x.id}`, { headers: { 'If-None-Match': '"1"' } });
    assert.equal(after.status, 200);
    assert.equal(after.headers.get('etag'), '"2"');
    assert.deepEqual(after.json, put.json);
    created[0] = put.json;
});

test('unknown, malformed and foreign expense ids are 404', async () => {
    for (const id of [randomUUID(), 'not-a-uuid', randomUUID().toUpperCase()]) {
        const r = await get(`${G()}/expenses/${id}`);
        assert.equal(r.status, 404, `${id}: ${r.text}`);
    }
    // An expense of another group, asked for through this one.
    const other = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Other', currency: 'EUR' } });
    const m = other.json.members[0].id;
    const x = await api('POST', `/api/v1/groups/${other.json.id}/expenses`, {
        token: alice.token,
        headers: { Prefer: 'wait=5' },
        body: { description: 'x', amount: 5, paid_by: [{ member_id: m, amount: 5 }], split: { mode: 'equal', members: [{ member_id: m }] } },
    });
    assert.equal(x.status, 201, x.text);
    assert.equal((await get(`${G()}/expenses/${x.json.id}`)).status, 404);
    assert.equal((await get(`/api/v1/groups/${other.json.id}/expenses/${x.json.id}`)).status, 200);
});

// --- access -------------------------------------------------------------------------------

test('non-members get 404 on every read, exactly like an unknown group', async () => {
    const x = created[1];
    const paths = [
        G(), `${G()}/expenses`, `${G()}/expenses/${x.id}`, `${G()}/export.csv`,
        `${G()}/balances`, `${G()}/settlements`,
    ];
    const unknown = `/api/v1/groups/${randomUUID()}`;
    for (const p of paths) {
        const r = await get(p, { token: bob.token });
        assert.equal(r.status, 404, `${p}: ${r.text}`);
        assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
        const u = await get(p.replace(G(), unknown), { token: bob.token });
        assert.equal(u.status, 404);
        assert.deepEqual(r.json, u.json, p);
    }
});

test('reads without a valid token are 401', async () => {
    for (const p of [`${G()}/expenses`, `${G()}/expenses/${created[1].id}`, `${G()}/export.csv`]) {
        assert.equal((await api('GET', p)).status, 401, p);
        assert.equal((await api('GET', p, { token: 'nope' })).status, 401, p);
    }
});

// --- balances, settlements, the cache -----------------------------------------------------

test('balances and settlements: ETag is the body version, 304 on it', async () => {
    for (const what of ['balances', 'settlements']) {
        const r = await get(`${G()}/${what}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.headers.get('etag'), `"${r.json.version}"`);
        const n = await get(`${G()}/${what}`, { headers: { 'If-None-Match': `W/"${r.json.version}"` } });
        assert.equal(n.status, 304);
        const old = await get(`${G()}/${what}`, { headers: { 'If-None-Match': `"${r.json.version - 1}"` } });
        assert.equal(old.status, 200);
    }
    const b = await get(`${G()}/balances`);
    assert.equal(b.json.balances.reduce((s, x) => s + x.balance, 0), 0);
});

test('a missing view is rebuilt from PostgreSQL, identical, and refilled', async () => {
    const key = `splitter:view:${group.id}`;
    const before1 = await get(`${G()}/balances`);
    const before2 = await get(`${G()}/settlements`);
    assert.equal(redisCli('DEL', key), '1');
    const b = await get(`${G()}/balances`);
    assert.equal(b.status, 200);
    assert.equal(b.text, before1.text);
    assert.equal(b.headers.get('etag'), before1.headers.get('etag'));
    assert.equal(redisCli('HGET', key, 'version'), String(before1.json.version));
    assert.equal((await get(`${G()}/settlements`)).text, before2.text);
});

test('after FLUSHALL every read still answers the same', async () => {
    const paths = [`${G()}/balances`, `${G()}/settlements`, `${G()}/expenses`, G()];
    const before1 = await Promise.all(paths.map((p) => get(p)));
    // FLUSHALL would drop every session and the other files' state: flush what a read
    // needs from the cache (all cached views), like an eviction of everything evictable.
    const keys = redisCli('--scan', '--pattern', 'splitter:view:*').split('\n').filter(Boolean);
    if (keys.length) redisCli('DEL', ...keys);
    const after = await Promise.all(paths.map((p) => get(p)));
    for (let i = 0; i < paths.length; i++) {
        assert.equal(after[i].status, 200, paths[i]);
        assert.equal(after[i].text, before1[i].text, paths[i]);
    }
});

test('a membership change is visible at once in balances (tombstone rebuilt)', async () => {
    const b1 = await get(`${G()}/balances`);
    const m = await api('POST', `${G()}/members`, { token: alice.token, body: { name: 'Dan' } });
    assert.equal(m.status, 201);
    const b2 = await get(`${G()}/balances`);
    assert.ok(b2.json.version > b1.json.version);
    assert.ok(b2.json.balances.some((x) => x.member_id === m.json.id));
    const g = await get(G());
    assert.equal(g.json.version, b2.json.version);
});

test('read-your-writes: a confirmed write shows in every read at once', async () => {
    const x = (await write('POST', `${G()}/expenses`, expense('Coffee', 30))).json;
    const [l, one, bal, g] = await Promise.all([
        get(`${G()}/expenses?limit=1`), get(`${G()}/expenses/${x.id}`), get(`${G()}/balances`), get(G()),
    ]);
    assert.equal(l.json.items[0].created_at, x.created_at);
    const all = await get(`${G()}/expenses?limit=200`);
    assert.ok(all.json.items.some((i) => i.id === x.id));
    assert.deepEqual(one.json, x);
    assert.equal(bal.json.version, g.json.version);
    assert.equal(l.headers.get('etag'), `"${g.json.version}"`);
    created.push(x);
});

// --- the group list -----------------------------------------------------------------------

test('the group list shows my_balance from the balances, and paginates', async () => {
    const carol = await registerUser({ name: 'Lister' });
    const ids = [];
    for (let i = 0; i < 3; i++) {
        const g = await api('POST', '/api/v1/groups', { token: carol.token, body: { name: `L${i}`, currency: 'JPY' } });
        ids.push(g.json.id);
    }
    const { items, pages } = await allPages('/api/v1/groups', 2);
    assert.ok(pages >= 1);
    assert.ok(items.some((g) => g.id === group.id));
    const mine = items.find((g) => g.id === group.id);
    const bal = (await get(`${G()}/balances`)).json.balances.find((b) => b.member_id === A);
    assert.deepEqual(Object.keys(mine).sort(), ['archived', 'currency', 'id', 'my_balance', 'name']);
    assert.equal(mine.archived, false);
    assert.equal(mine.my_balance, bal.balance);
    assert.equal(mine.currency, 'EUR');

    const r = await api('GET', '/api/v1/groups?limit=2', { token: carol.token });
    assert.deepEqual(r.json.items.map((g) => g.id), [ids[2], ids[1]]);
    const r2 = await api('GET', `/api/v1/groups?limit=2&cursor=${r.json.next_cursor}`, { token: carol.token });
    assert.deepEqual(r2.json.items.map((g) => g.id), [ids[0]]);
    assert.equal(r2.json.next_cursor, null);
    assert.equal(r2.json.items[0].my_balance, 0);
});

// --- CSV export ---------------------------------------------------------------------------

test('export.csv: RFC 4180, a column pair per member, formulas neutralised', async () => {
    const r = await get(`${G()}/export.csv`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('content-type'), 'text/csv; charset=utf-8');
    const cd = r.headers.get('content-disposition');
    assert.match(cd, /^attachment; filename="Lisbon _2026_; =cmd\.csv"; filename\*=UTF-8''/);
    const g = await get(G());
    assert.equal(r.headers.get('etag'), `"${g.json.version}"`);
    assert.equal((await get(`${G()}/export.csv`, { headers: { 'If-None-Match': `"${g.json.version}"` } })).status, 304);

    const rows = parseCsv(r.text);
    const head = rows[0];
    const fixed = ['type', 'id', 'date', 'created_at', 'description', 'category', 'currency', 'amount',
        'exchange_rate', 'amount_in_group_currency'];
    assert.deepEqual(head.slice(0, fixed.length), fixed);
    const members = g.json.members;
    assert.equal(head.length, fixed.length + 2 * members.length);
    assert.equal(head[fixed.length], 'Alice paid');
    assert.equal(head[fixed.length + 2], `'@Bob, the "evil" paid`);
    for (const row of rows) assert.equal(row.length, head.length);
    // Raw text: quotes doubled, a quoted field for the comma.
    assert.ok(r.text.includes(`"'@Bob, the ""evil"" paid"`));

    const body = rows.slice(1);
    const expenses = body.filter((x) => x[0] === 'expense');
    const payments = body.filter((x) => x[0] === 'payment');
    assert.equal(expenses.length, created.length);
    assert.equal(payments.length, 1);
    const byId = Object.fromEntries(body.map((x) => [x[1], x]));
    const inj = byId[created[1].id];
    assert.equal(inj[4], `'=HYPERLINK("http://x.test")`);
    assert.equal(inj[5], "'+fees");
    assert.equal(inj[6], 'USD');
    assert.equal(inj[7], '30.00');
    assert.equal(inj[8], '0.9');
    assert.equal(inj[9], '27.00');
    assert.equal(byId[created[2].id][4], 'Taxi, late\nnight');
    assert.equal(payments[0][4], "'-payback");
    assert.equal(payments[0][9], '0.33');
    for (const x of body) {
        for (const c of x) assert.ok(!/^[=+\-@\t\r]/.test(c), `unneutralised cell ${c}`);
    }

    // Over the file, each member's paid minus owed is their balance.
    const bal = (await get(`${G()}/balances`)).json.balances;
    members.forEach((m, i) => {
        const col = fixed.length + 2 * i;
        const cents = (s) => (s === '' ? 0 : Math.round(Number(s) * 100));
        const net = body.reduce((s, x) => s + cents(x[col]) - cents(x[col + 1]), 0);
        assert.equal(net, bal.find((b) => b.member_id === m.id).balance, m.name);
    });
    // Oldest first.
    const at = body.map((x) => x[3]);
    assert.deepEqual(at, [...at].sort());
});

// --- a larger group: keyset pagination across tied timestamps, streamed export -------------

test('a seeded group of 1,500 expenses pages without gaps or repeats', async () => {
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Big', currency: 'EUR' } });
    const gid = g.json.id;
    const sql = fileURLToPath(new URL('../../bench/seed_group.sql', import.meta.url));
    const env = process.env;
    const r = spawnSync('psql', [
        '-X', '-q', '-h', env.POSTGRES_HOST ?? '127.0.0.1', '-p', env.POSTGRES_PORT ?? '5433',
        '-U', env.POSTGRES_USER ?? 'splitter', '-d', env.POSTGRES_DB ?? 'splitter',
        '-v', `gid=${gid}`, '-v', `uid=${alice.user.id}`, '-v', 'members=12', '-v', 'expenses=1500',
        '-f', sql,
    ], { encoding: 'utf8', env: { ...env, PGPASSWORD: env.POSTGRES_PASSWORD ?? 'splitter-local-dev' } });
    assert.equal(r.status, 0, r.stderr);
    redisCli('DEL', `splitter:view:${gid}`);

    const { items, pages } = await allPages(`/api/v1/groups/${gid}/expenses`, 200);
    assert.equal(pages, 8);
    assert.equal(items.length, 1500);
    assert.equal(new Set(items.map((x) => x.id)).size, 1500);
    const rows = psql(
        `SELECT id FROM expenses WHERE group_id = '${gid}' ORDER BY date DESC, created_at DESC, id DESC`,
    );
    assert.deepEqual(items.map((x) => x.id), rows.map((x) => x[0]));
    assert.equal(items[0].shares.length, 12);

    const bal = await get(`/api/v1/groups/${gid}/balances`);
    assert.equal(bal.status, 200);
    assert.equal(bal.json.balances.length, 12);
    assert.equal(bal.json.balances.reduce((s, x) => s + x.balance, 0), 0);
    assert.equal(bal.json.balances.reduce((s, x) => s + x.owed, 0), 1500 * 1200);

    const csv = await get(`/api/v1/groups/${gid}/export.csv`);
    assert.equal(csv.status, 200);
    const lines = parseCsv(csv.text);
    assert.equal(lines.length, 1501);
    assert.equal(new Set(lines.slice(1).map((x) => x[1])).size, 1500);
});
