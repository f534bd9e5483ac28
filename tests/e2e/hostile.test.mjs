// Hostile and odd input at the edges: If-Match values that can never match, 405 with Allow,
// e-mail addresses that look alike, and errors produced by nginx or h2o rather than by the
// api's routes, which must still be problem documents on API paths.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { api, registerUser, BASE_URL } from './lib.mjs';

let alice;
let group;
let A, B;

function assertProblem(r, status) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, r.text);
    const p = JSON.parse(r.text);
    assert.equal(p.status, status);
    assert.equal(typeof p.title, 'string');
    assert.equal(typeof p.type, 'string');
    return p;
}

function expense(amount) {
    return {
        description: 'Taxi',
        amount,
        paid_by: [{ member_id: A, amount }],
        split: { mode: 'equal', members: [{ member_id: A }, { member_id: B }] },
    };
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name: 'Odd', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    A = group.members[0].id;
    const b = await api('POST', `/api/v1/groups/${group.id}/members`, { token: alice.token, body: { name: 'Bob' } });
    assert.equal(b.status, 201, b.text);
    B = b.json.id;
});

test('If-Match: only the quoted version itself holds a write; anything else is 412', async () => {
    const c = await api('POST', `/api/v1/groups/${group.id}/expenses`, {
        token: alice.token,
        body: expense(100),
        headers: { Prefer: 'wait=5' },
    });
    assert.equal(c.status, 201, c.text);
    const url = `/api/v1/groups/${group.id}/expenses/${c.json.id}`;
    for (const value of ['" 1"', '"+1"', '"01"', '"0"', '"1 "', 'W/"1"', '"1", "2"', '1', '"9223372036854775808"',
        '"99999999999999999999999999"']) {
        for (const method of ['PUT', 'DELETE']) {
            const r = await api(method, url, {
                token: alice.token,
                body: method === 'PUT' ? expense(200) : undefined,
                headers: { 'If-Match': value },
            });
            const p = assertProblem(r, 412);
            assert.match(p.detail, /If-Match/);
        }
    }
    // "*" holds a write to no version: a replacement still needs the version (428).
    const star = await api('PUT', url, { token: alice.token, body: expense(200), headers: { 'If-Match': '*' } });
    assertProblem(star, 428);
    // The expense is untouched, and its own ETag still works.
    const got = await api('GET', url, { token: alice.token });
    assert.equal(got.json.version, 1);
    assert.equal(got.json.amount, 100);
    const put = await api('PUT', url, {
        token: alice.token,
        body: expense(300),
        headers: { 'If-Match': got.headers.get('etag'), Prefer: 'wait=5' },
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.version, 2);
    // A stale version that is well formed is still a conflict (409), not a failed precondition.
    const stale = await api('PUT', url, {
        token: alice.token,
        body: expense(400),
        headers: { 'If-Match': '"1"', Prefer: 'wait=5' },
    });
    assertProblem(stale, 409);
    // "*" on a delete: no version check, the expense goes.
    const del = await api('DELETE', url, { token: alice.token, headers: { 'If-Match': '*', Prefer: 'wait=5' } });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.version, 3);
});

test('405 answers carry Allow with exactly the methods of the route', async () => {
    const gid = group.id;
    const eid = '00000000-0000-4000-8000-000000000001';
    const cases = [
        ['DELETE', '/api/v1/auth/register', ['POST']],
        ['GET', '/api/v1/auth/login', ['POST']],
        ['PUT', '/api/v1/auth/logout', ['POST']],
        ['POST', '/api/v1/me', ['GET']],
        ['DELETE', '/api/v1/groups', ['GET', 'POST']],
        ['DELETE', `/api/v1/groups/${gid}`, ['GET', 'PATCH']],
        ['GET', `/api/v1/groups/${gid}/members`, ['POST']],
        ['GET', `/api/v1/groups/${gid}/members/${eid}`, ['DELETE', 'PATCH']],
        ['GET', `/api/v1/groups/${gid}/leave`, ['POST']],
        ['PUT', `/api/v1/groups/${gid}/invites`, ['GET', 'POST']],
        ['GET', `/api/v1/groups/${gid}/invites/${eid}`, ['DELETE']],
        ['GET', '/api/v1/invites/abc/accept', ['POST']],
        ['PUT', `/api/v1/groups/${gid}/expenses`, ['GET', 'POST']],
        ['POST', `/api/v1/groups/${gid}/expenses/${eid}`, ['DELETE', 'GET', 'PUT']],
        ['PUT', `/api/v1/groups/${gid}/payments`, ['GET', 'POST']],
        ['POST', `/api/v1/groups/${gid}/payments/${eid}`, ['DELETE', 'GET', 'PUT']],
        ['GET', `/api/v1/groups/${gid}/events/${eid}/revert`, ['POST']],
        ['POST', '/api/v1/me/balances', ['GET']],
        ['POST', `/api/v1/groups/${gid}/balances`, ['GET']],
        ['POST', `/api/v1/groups/${gid}/settlements`, ['GET']],
        ['POST', `/api/v1/groups/${gid}/export.csv`, ['GET']],
        ['DELETE', `/api/v1/events/${eid}`, ['GET']],
        ['POST', `/api/v1/groups/${gid}/events`, ['GET']],
        ['POST', '/api/health', ['GET']],
        ['HEAD', '/api/v1/me', ['GET']],
    ];
    for (const [method, path, allowed] of cases) {
        const r = await api(method, path, { token: alice.token });
        assert.equal(r.status, 405, `${method} ${path}: ${r.status}`);
        if (method !== 'HEAD') assertProblem(r, 405);
        const allow = (r.headers.get('allow') ?? '').split(',').map((m) => m.trim()).filter(Boolean);
        assert.deepEqual(allow.sort(), allowed, `${method} ${path}: Allow ${r.headers.get('allow')}`);
    }
});

test('e-mail addresses: one account per NFC spelling; control and invisible characters refused', async () => {
    const local = `jose-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
    const decomposed = `${local}e\u0301@example.test`; // e + COMBINING ACUTE ACCENT
    const composed = `${local}\u00e9@example.test`; // é
    const password = 'correct horse battery';
    const first = await api('POST', '/api/v1/auth/register', { body: { email: decomposed, password, name: 'José' } });
    assert.equal(first.status, 201, first.text);
    assert.equal(first.json.user.email, composed);
    const second = await api('POST', '/api/v1/auth/register', { body: { email: composed, password, name: 'Jose' } });
    assertProblem(second, 409);
    for (const email of [composed, decomposed, composed.toUpperCase().replace('EXAMPLE', 'example')]) {
        const l = await api('POST', '/api/v1/auth/login', { body: { email, password } });
        if (email === composed.toUpperCase().replace('EXAMPLE', 'example')) {
            // Only ASCII is case-folded: É is another address than é.
            assertProblem(l, 401);
        } else {
            assert.equal(l.status, 200, `${JSON.stringify(email)}: ${l.text}`);
            assert.equal(l.json.user.id, first.json.user.id);
        }
    }
    for (const [email, why] of [
        [`a\u0085b-${local}@example.test`, /control/], // C1 NEXT LINE
        [`a\u009fb-${local}@example.test`, /control/], // C1
        [`a\u0001b-${local}@example.test`, /control/],
        [`a\u007fb-${local}@example.test`, /control/],
        [`a\u200bb-${local}@example.test`, /invisible/], // ZERO WIDTH SPACE
        [`a\u202eb-${local}@example.test`, /invisible/], // RIGHT-TO-LEFT OVERRIDE
        [`a\u00a0b-${local}@example.test`, /space/], // NO-BREAK SPACE
        [`\u212b-${local}@example.test`, /compared/], // ANGSTROM SIGN, a singleton NFC would change
    ]) {
        const r = await api('POST', '/api/v1/auth/register', { body: { email, password, name: 'X' } });
        const p = assertProblem(r, 422);
        assert.equal(p.errors[0].field, 'email', r.text);
        assert.match(p.errors[0].message, why, r.text);
        // Login names no reason: any credential that matches no account is 401.
        assertProblem(await api('POST', '/api/v1/auth/login', { body: { email, password } }), 401);
    }
});

// A raw HTTP/1.1 exchange with nginx (what fetch refuses to send): the status line, the headers
// (lower-cased names) and the body, once nginx closes the connection.
function rawRequest(text) {
    const { hostname, port } = new URL(BASE_URL);
    return new Promise((resolve, reject) => {
        const sock = net.connect(Number(port), hostname);
        const chunks = [];
        sock.setTimeout(10_000, () => sock.destroy(new Error('no answer within 10 s')));
        sock.on('data', (c) => chunks.push(c));
        sock.on('error', reject);
        sock.on('close', () => {
            const all = Buffer.concat(chunks).toString('latin1');
            const end = all.indexOf('\r\n\r\n');
            const head = all.slice(0, end).split('\r\n');
            const headers = new Map(head.slice(1).map((l) => {
                const i = l.indexOf(':');
                return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
            }));
            const status = Number(head[0].split(' ')[1]);
            resolve({ status, headers: { get: (n) => headers.get(n.toLowerCase()) ?? null }, text: all.slice(end + 4) });
        });
        sock.end(text);
    });
}

const big = 'a'.repeat(9000);

test('errors nginx answers itself are problem documents on API paths, HTML for the web client', async () => {
    const cases = [
        // [what, request, API path status]
        ['a duplicate Host header', (p) => `GET ${p} HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n`, 400],
        ['an unreadable Content-Length', (p) => `POST ${p} HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\nConnection: close\r\n\r\n`, 400],
        ['Content-Length with chunked', (p) => `POST ${p} HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`, 400],
        ['a header line over 8 KiB', (p) => `GET ${p} HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\nConnection: close\r\n\r\n`, 431],
        ['an unknown transfer coding', (p) => `POST ${p} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n`, 501],
    ];
    for (const [what, request, status] of cases) {
        for (const path of ['/api/v1/me', '/api/health', '/api']) {
            const r = await rawRequest(request(path));
            assert.equal(r.status, status, `${what} on ${path}: ${r.status} ${r.text}`);
            assertProblem(r, status);
        }
        const web = await rawRequest(request('/index.html'));
        assert.equal(web.status, status === 431 ? 400 : status, `${what} on the web client`);
        assert.match(web.headers.get('content-type') ?? '', /^text\/html/, `${what} on the web client`);
    }
    // Request lines nginx cannot read carry no path: answered as on the API.
    assertProblem(await rawRequest(`GET /api/v1/groups?x=${big} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`), 414);
    assertProblem(await rawRequest(`GET /${big} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`), 414);
    assertProblem(await rawRequest('NOT HTTP AT ALL\r\n\r\n'), 400);
    assertProblem(await rawRequest('GET /api/health HTTP/2.0\r\nHost: a\r\nConnection: close\r\n\r\n'), 505);
    // The web client's own 404 stays nginx's HTML page; the metrics path is a problem.
    const missing = await api('GET', '/no-such-page.html');
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type'), /^text\/html/);
    assertProblem(await api('GET', '/metrics'), 404);
});

test('more request headers than h2o takes never reach it: the api answers as usual', async () => {
    const headers = {};
    for (let i = 0; i < 150; i++) headers[`x-filler-${i}`] = 'v';
    const anonymous = await api('GET', '/api/v1/me', { headers });
    assertProblem(anonymous, 401);
    const me = await api('GET', '/api/v1/me', { token: alice.token, headers });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.id, alice.user.id);
    // The headers the api reads still arrive: a conditional read answers 304.
    const g = await api('GET', `/api/v1/groups/${group.id}`, { token: alice.token });
    const again = await api('GET', `/api/v1/groups/${group.id}`, {
        token: alice.token,
        headers: { ...headers, 'If-None-Match': g.headers.get('etag') },
    });
    assert.equal(again.status, 304);
});
