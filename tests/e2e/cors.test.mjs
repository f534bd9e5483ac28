// Browser clients on other origins (nginx, CORS_ALLOWED_ORIGINS; docs/SECURITY.md, "Other
// origins"). The e2e stack allows "https://client.example" and "http://127.0.0.1:5173". nginx
// answers every preflight itself; allowed answers carry Access-Control-Allow-Origin and the
// exposed headers, nginx's own errors included, so a browser can read the problem.
//
// Raw node:http requests: fetch would not send an Origin header of our choosing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, registerUser } from './lib.mjs';

const ALLOWED = 'https://client.example';
const ALLOWED_WITH_PORT = 'http://127.0.0.1:5173';

function request(method, path, headers = {}, body = undefined) {
    return rawRequest(method, path, { headers, body });
}

function preflight(origin, path = '/api/v1/groups', method = 'POST') {
    return request('OPTIONS', path, {
        Origin: origin,
        'Access-Control-Request-Method': method,
        'Access-Control-Request-Headers': 'authorization, content-type, idempotency-key, if-match',
    });
}

const list = (v) => (v ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);

test('a preflight from an allowed origin is answered by nginx with the grants', async () => {
    for (const origin of [ALLOWED, ALLOWED_WITH_PORT]) {
        const r = await preflight(origin, '/api/v1/groups/00000000-0000-4000-8000-000000000000/expenses/x', 'PUT');
        assert.equal(r.status, 204, `${origin}: ${r.text}`);
        assert.equal(r.headers['access-control-allow-origin'], origin);
        for (const m of ['get', 'post', 'put', 'patch', 'delete']) {
            assert.ok(list(r.headers['access-control-allow-methods']).includes(m), `method ${m}`);
        }
        for (const h of ['authorization', 'content-type', 'idempotency-key', 'if-match', 'prefer', 'last-event-id']) {
            assert.ok(list(r.headers['access-control-allow-headers']).includes(h), `header ${h}`);
        }
        assert.equal(r.headers['access-control-max-age'], '600');
        assert.ok(list(r.headers.vary).includes('origin'));
        // Bearer tokens only: a browser never sends cookies cross-origin to this API.
        assert.equal(r.headers['access-control-allow-credentials'], undefined);
        // The security headers stay on this answer too.
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
        assert.equal(r.text, '');
    }
});

test('a preflight from any other origin is refused with a problem, near misses included', async () => {
    for (const origin of [
        'https://evil.example',
        'https://client.example.evil.test',
        'https://evil.client.example',
        'https://client.exampl',
        'http://client.example',
        'https://client.example:8443',
        'http://127.0.0.1:5174',
        'null',
    ]) {
        const r = await preflight(origin);
        assert.equal(r.status, 403, `${origin}: ${r.status}`);
        assert.match(r.headers['content-type'], /^application\/problem\+json/);
        const p = JSON.parse(r.text);
        assert.equal(p.status, 403);
        assert.match(p.detail, /origin/);
        assert.equal(r.headers['access-control-allow-origin'], undefined, origin);
        assert.equal(r.headers['access-control-allow-methods'], undefined, origin);
    }
});

test('an allowed origin reads answers and their exposed headers; others get no grant', async () => {
    const u = await registerUser();
    const auth = { Authorization: `Bearer ${u.token}`, 'Content-Type': 'application/json' };
    const made = await request(
        'POST',
        '/api/v1/groups',
        { ...auth, Origin: ALLOWED },
        JSON.stringify({ name: 'Cross-origin trip', currency: 'EUR' }),
    );
    assert.equal(made.status, 201, made.text);
    assert.equal(made.headers['access-control-allow-origin'], ALLOWED);
    const exposed = list(made.headers['access-control-expose-headers']);
    for (const h of ['etag', 'location', 'retry-after', 'preference-applied', 'idempotent-replayed']) {
        assert.ok(exposed.includes(h), `exposes ${h}`);
    }
    assert.ok(list(made.headers.vary).includes('origin'));
    // Grants belong to preflights only.
    assert.equal(made.headers['access-control-allow-methods'], undefined);

    const other = await request('GET', '/api/v1/groups', { ...auth, Origin: 'https://evil.example' });
    assert.equal(other.status, 200); // the browser, not the server, withholds the answer
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    assert.equal(other.headers['access-control-expose-headers'], undefined);

    const none = await request('GET', '/api/v1/groups', auth);
    assert.equal(none.status, 200);
    assert.equal(none.headers['access-control-allow-origin'], undefined);
});

test("nginx's own errors carry the grant, so a browser on an allowed origin can read them", async () => {
    const big = JSON.stringify({ name: 'x'.repeat(70 * 1024) });
    const r = await request('POST', '/api/v1/groups', { Origin: ALLOWED, 'Content-Type': 'application/json' }, big);
    assert.equal(r.status, 413);
    assert.match(r.headers['content-type'], /^application\/problem\+json/);
    assert.equal(r.headers['access-control-allow-origin'], ALLOWED);
});

test('OPTIONS without Access-Control-Request-Method is not a preflight and reaches the api', async () => {
    const r = await request('OPTIONS', '/api/v1/groups', { Origin: ALLOWED });
    assert.equal(r.status, 405);
    assert.match(r.headers.allow ?? '', /GET/);
    assert.equal(r.headers['access-control-allow-origin'], ALLOWED);
});
