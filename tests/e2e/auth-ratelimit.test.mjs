// nginx limits /api/v1/auth/ per client address (AUTH_RATE_LIMIT, AUTH_RATE_BURST; the e2e
// stack uses 10r/s, burst 50) and answers 429 with a problem body.
//
// The burst comes from a loopback address of its own (127.x.y.z, all of 127/8 is local on
// Linux), so nginx counts it in a bucket no other test shares, whatever runs in parallel.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { BASE_URL, rawRequest } from './lib.mjs';

const base = new URL(BASE_URL);
const loopback = ['127.0.0.1', 'localhost'].includes(base.hostname);
const source = `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(2, 255)}`;

function post(path, body, localAddress) {
    return rawRequest('POST', path, { headers: { 'Content-Type': 'application/json' }, body, localAddress });
}

test('a burst on /api/v1/auth/login from one address gets 429 problems', { skip: !loopback && 'BASE_URL is not on loopback' }, async () => {
    // Malformed bodies: the api answers 422 at once, no password hashing.
    const body = JSON.stringify({ email: 'burst@example.test' });
    const all = await Promise.all(Array.from({ length: 80 }, () => post('/api/v1/auth/login', body, source)));
    const limited = all.filter((r) => r.status === 429);
    const passed = all.filter((r) => r.status === 422);
    assert.equal(limited.length + passed.length, all.length, all.map((r) => r.status).join(','));
    assert.ok(limited.length >= 20, `${limited.length} of 80 limited`);
    assert.ok(passed.length >= 50, `${passed.length} of 80 passed`);
    for (const r of limited) {
        assert.match(r.headers['content-type'], /^application\/problem\+json/);
        const p = JSON.parse(r.text);
        assert.equal(p.status, 429);
        assert.equal(typeof p.title, 'string');
        assert.ok(Number(r.headers['retry-after']) >= 1);
    }

    // Other addresses are not affected: another loopback address passes at once.
    const other = await post('/api/v1/auth/login', body, '127.0.0.1');
    assert.equal(other.status, 422, other.text);
    // Nor are routes outside /api/v1/auth/.
    const health = await rawRequest('GET', '/api/health', { localAddress: source });
    assert.equal(health.status, 200, health.text);
});
