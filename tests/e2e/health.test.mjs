// The stack as a whole: nginx in front, the api healthy behind it, the static client, the
// headers and the problems nginx answers itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { api } from './lib.mjs';

test('GET /api/health through nginx is 200 with postgres and redis ok', async () => {
    const r = await api('GET', '/api/health');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.json.status, 'ok');
    assert.deepEqual(r.json.checks, { postgres: 'ok', redis: 'ok' });
});

test('/metrics is not exposed through nginx', async () => {
    const r = await api('GET', '/metrics');
    assert.equal(r.status, 404);
});

test('/ serves web/index.html', async () => {
    const r = await api('GET', '/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    const file = await readFile(new URL('../../web/index.html', import.meta.url), 'utf8');
    assert.equal(r.text, file);
});

test('security headers are set on /', async () => {
    const r = await api('GET', '/');
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.ok(r.headers.get('referrer-policy'), 'Referrer-Policy missing');
    assert.ok(r.headers.get('permissions-policy'), 'Permissions-Policy missing');
});

test('a body over 64 KiB gets a 413 problem from nginx', async () => {
    const body = JSON.stringify({ email: 'big@example.test', password: 'x'.repeat(70_000), name: 'Big' });
    const r = await api('POST', '/api/v1/auth/register', { body });
    assert.equal(r.status, 413);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    assert.equal(r.json.status, 413);
    assert.ok(r.json.title);
});
