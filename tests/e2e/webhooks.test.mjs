// Webhooks end to end: registration (the secret shown once, URL rules), deliveries made by the
// workers from applied events, signed (verified here with node:crypto), retried with backoff
// against a receiver that fails first, and isolation: a dead or a slow receiver does not delay
// a healthy webhook of another group. The stack runs with WEBHOOKS_ALLOW_INSECURE=1 (http://
// receivers on loopback), quick retries and a short timeout (scripts/test.sh); a second api
// with the production default shows that http:// and loopback are refused there.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, registerUser, freePort, startApi, waitFor } from './lib.mjs';

let alice, bob; // bob is in no group of alice's
const servers = [];

/**
 * An http receiver on loopback. respond(req, n) decides each answer (n counts from 1): a status
 * code, or null to never answer. Every request is kept with its body.
 */
async function receiver(respond = () => 200) {
    const got = [];
    const srv = createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const entry = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
            got.push(entry);
            const status = respond(req, got.length);
            if (status === null) return; // never answers
            res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
        });
    });
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    servers.push(srv);
    return { got, url: `http://127.0.0.1:${srv.address().port}/hook` };
}

/**
 * A key and certificate for subject alternative names san ("IP:127.0.0.1"), signed by the e2e CA
 * (signed false: self-signed, trusted by nobody).
 */
function certificate(san, { signed = true } = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'splitter-wh-'));
    const key = path.join(dir, 'key.pem');
    const crt = path.join(dir, 'crt.pem');
    const ca = process.env.WEBHOOKS_CA_FILE;
    const run = (args) => {
        const r = spawnSync('openssl', args, { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
    };
    const base = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', '/CN=receiver'];
    if (signed) {
        const csr = path.join(dir, 'csr.pem');
        run(['req', '-new', ...base, '-out', csr]);
        const ext = path.join(dir, 'ext.cnf');
        fs.writeFileSync(ext, `subjectAltName=${san}\n`);
        run(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', ca.replace(/ca\.pem$/, 'ca-key.pem'),
            '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', crt]);
    } else {
        run(['req', '-x509', ...base, '-days', '1', '-addext', `subjectAltName=${san}`, '-out', crt]);
    }
    const out = { key: fs.readFileSync(key), cert: fs.readFileSync(crt) };
    fs.rmSync(dir, { recursive: true, force: true });
    return out;
}

/** An https receiver on loopback answering 200, with the given key and certificate. */
async function tlsReceiver(tls) {
    const got = [];
    const srv = createTlsServer(tls, (req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
            res.writeHead(200).end();
        });
    });
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    servers.push(srv);
    return { got, url: `https://127.0.0.1:${srv.address().port}/hook` };
}

function assertProblem(r, status) {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
}

async function newGroup(name) {
    const g = await api('POST', '/api/v1/groups', { token: alice.token, body: { name, currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    return g.json;
}

async function addWebhook(group, body, token = alice.token) {
    return api('POST', `/api/v1/groups/${group.id}/webhooks`, { token, body });
}

async function expense(group, amount = 1000) {
    const me = group.members[0].id;
    const r = await api('POST', `/api/v1/groups/${group.id}/expenses`, {
        token: alice.token,
        headers: { Prefer: 'wait=5' },
        body: {
            description: 'Lunch',
            amount,
            paid_by: [{ member_id: me, amount }],
            split: { mode: 'equal', members: [{ member_id: me }] },
        },
    });
    assert.equal(r.status, 201, r.text);
    return r.json;
}

async function deliveries(group, wid) {
    const r = await api('GET', `/api/v1/groups/${group.id}/webhooks/${wid}/deliveries`, { token: alice.token });
    assert.equal(r.status, 200, r.text);
    return r.json.items;
}

function verify(secret, entry) {
    const ts = entry.headers['splitter-timestamp'];
    const sig = /^v1=([0-9a-f]{64})$/.exec(entry.headers['splitter-signature'] ?? '');
    assert.ok(sig, `signature header: ${entry.headers['splitter-signature']}`);
    const want = createHmac('sha256', secret).update(`${ts}.${entry.body}`).digest();
    return timingSafeEqual(want, Buffer.from(sig[1], 'hex'));
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    bob = await registerUser({ name: 'Bob' });
});

after(() => {
    for (const s of servers) s.closeAllConnections?.(), s.close();
});

test('registering answers 201 with the secret once; the list never shows it', async () => {
    const group = await newGroup('Hooks');
    const rx = await receiver();
    const r = await addWebhook(group, { url: rx.url, events: ['expense.created', 'payment.created'] });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(Object.keys(r.json).sort(), ['created_at', 'events', 'id', 'secret', 'url']);
    assert.match(r.json.secret, /^whsec_[0-9a-f]{64}$/);
    assert.deepEqual(r.json.events, ['expense.created', 'payment.created']);
    const all = await addWebhook(group, { url: rx.url });
    assert.equal(all.status, 201, all.text);
    assert.equal(all.json.events, null); // every type
    assert.notEqual(all.json.secret, r.json.secret);

    const list = await api('GET', `/api/v1/groups/${group.id}/webhooks`, { token: alice.token });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
        list.json.items.map((w) => w.id),
        [r.json.id, all.json.id],
    );
    assert.ok(!list.text.includes('whsec_'), 'no secret in the list');
    assert.equal(list.json.items[0].last_delivery, null);
    assert.equal(list.json.next_cursor, null);

    const del = await api('DELETE', `/api/v1/groups/${group.id}/webhooks/${all.json.id}`, { token: alice.token });
    assert.equal(del.status, 204);
    assertProblem(await api('DELETE', `/api/v1/groups/${group.id}/webhooks/${all.json.id}`, { token: alice.token }), 404);
    assertProblem(await api('DELETE', `/api/v1/groups/${group.id}/webhooks/nope`, { token: alice.token }), 404);
    const after1 = await api('GET', `/api/v1/groups/${group.id}/webhooks`, { token: alice.token });
    assert.deepEqual(after1.json.items.map((w) => w.id), [r.json.id]);
});

test('a retry with the same Idempotency-Key gets the same webhook and secret, and adds none', async () => {
    const group = await newGroup('Retry-safe');
    const rx = await receiver();
    const headers = { 'Idempotency-Key': `wh-${Date.now()}` };
    const path = `/api/v1/groups/${group.id}/webhooks`;
    const first = await api('POST', path, { token: alice.token, headers, body: { url: rx.url } });
    assert.equal(first.status, 201, first.text);
    const again = await api('POST', path, { token: alice.token, headers, body: { url: rx.url } });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(again.json, first.json);
    const other = await api('POST', path, { token: alice.token, headers, body: { url: `${rx.url}2` } });
    assertProblem(other, 422);
    const list = await api('GET', path, { token: alice.token });
    assert.equal(list.json.items.length, 1);
});

test('a non-member gets 404 for every webhook route, whatever it sends', async () => {
    const group = await newGroup('Private');
    const rx = await receiver();
    const w = await addWebhook(group, { url: rx.url });
    assert.equal(w.status, 201, w.text);
    const base = `/api/v1/groups/${group.id}/webhooks`;
    assertProblem(await addWebhook(group, { url: 'ftp://x' }, bob.token), 404);
    assertProblem(await api('GET', base, { token: bob.token }), 404);
    assertProblem(await api('DELETE', `${base}/${w.json.id}`, { token: bob.token }), 404);
    assertProblem(await api('GET', `${base}/${w.json.id}/deliveries`, { token: bob.token }), 404);
    assert.equal((await api('GET', base)).status, 401);
});

test('invalid registrations answer 422 naming the field', async () => {
    const group = await newGroup('Rules');
    const bad = [
        [{ url: 'ftp://example.com/' }, 'url'],
        [{ url: 'https://user:pw@example.com/' }, 'url'],
        [{ url: 'https://10.0.0.7/hook' }, 'url'],
        [{ url: 'https://169.254.169.254/latest/meta-data' }, 'url'],
        [{ url: 'https://[::ffff:192.168.1.1]/' }, 'url'],
        [{ url: 'https://[fd00::1]/' }, 'url'],
        [{ url: 'https://100.64.0.1/' }, 'url'],
        [{ url: 'https://0.0.0.0/' }, 'url'],
        [{ url: 'https://no-such-host.invalid/' }, 'url'],
        [{ url: 42 }, 'url'],
        [{}, 'url'],
        [{ url: 'https://example.com/', events: [] }, 'events'],
        [{ url: 'https://example.com/', events: ['expense.exploded'] }, 'events'],
        [{ url: 'https://example.com/', events: ['expense.created', 'expense.created'] }, 'events'],
        [{ url: 'https://example.com/', secret: 'mine' }, 'secret'],
    ];
    for (const [body, field] of bad) {
        const r = await addWebhook(group, body);
        assertProblem(r, 422);
        assert.ok(
            r.json.errors.some((e) => e.field === field),
            `${JSON.stringify(body)}: ${r.text}`,
        );
    }
    assertProblem(
        await api('POST', `/api/v1/groups/${group.id}/webhooks`, {
            token: alice.token,
            body: 'not json',
            headers: { 'content-type': 'text/plain' },
        }),
        415,
    );
});

test('with the production default, http:// and loopback receivers are refused', async () => {
    const { child, base } = await startApi({ WEBHOOKS_ALLOW_INSECURE: '0' });
    try {
        const group = await newGroup('Strict');
        const rx = await receiver();
        for (const url of [rx.url, rx.url.replace('http:', 'https:'), 'https://[::1]/hook', 'https://localhost/hook']) {
            const r = await api('POST', `/api/v1/groups/${group.id}/webhooks`, {
                token: alice.token,
                body: { url },
                baseUrl: base,
            });
            assertProblem(r, 422);
            assert.equal(r.json.errors[0].field, 'url', r.text);
        }
    } finally {
        child.kill();
    }
});

test('a receiver failing twice gets the event on the third attempt, signed', async () => {
    const group = await newGroup('Retry');
    const rx = await receiver((req, n) => (n <= 2 ? 503 : 200));
    const w = await addWebhook(group, { url: rx.url });
    assert.equal(w.status, 201, w.text);
    await expense(group, 1234);

    const d = await waitFor(
        async () => {
            const items = await deliveries(group, w.json.id);
            return items.length === 1 && items[0].status !== 'pending' && items[0];
        },
        { what: 'the delivery to finish', timeoutMs: 15_000, intervalMs: 100 },
    );
    assert.equal(d.status, 'delivered', JSON.stringify(d));
    assert.equal(d.attempts, 3);
    assert.equal(d.last_status_code, 200);
    assert.equal(d.last_error, null);
    assert.equal(d.type, 'expense.created');
    assert.equal(d.next_attempt_at, null);
    assert.match(d.delivered_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    assert.equal(rx.got.length, 3);
    // Backed off: the retries are apart (base 200 ms, doubling, +-20%).
    assert.ok(rx.got[1].at - rx.got[0].at >= 150, `${rx.got[1].at - rx.got[0].at} ms`);
    assert.ok(rx.got[2].at - rx.got[1].at >= 300, `${rx.got[2].at - rx.got[1].at} ms`);
    for (const entry of rx.got) {
        assert.equal(entry.headers['content-type'], 'application/json');
        assert.equal(entry.headers['splitter-webhook-id'], w.json.id);
        assert.equal(entry.headers['splitter-delivery-id'], d.id);
        assert.equal(entry.headers['splitter-event-id'], d.event_id);
        assert.match(entry.headers['splitter-timestamp'], /^\d{10}$/);
        assert.ok(Math.abs(Number(entry.headers['splitter-timestamp']) - Date.now() / 1000) < 60);
        assert.ok(verify(w.json.secret, entry), 'a valid signature');
        assert.ok(!verify(`${w.json.secret}x`, entry), 'another secret does not verify');
    }
    const body = JSON.parse(rx.got[2].body);
    assert.deepEqual(Object.keys(body).sort(), ['accepted_at', 'actor', 'event_id', 'group_id', 'payload', 'seq', 'type']);
    assert.equal(body.event_id, d.event_id);
    assert.equal(body.group_id, group.id);
    assert.equal(body.type, 'expense.created');
    assert.equal(body.actor, alice.user.id);
    assert.equal(body.seq, 1);
    // The body is the group's audit-log entry.
    const audit = await api('GET', `/api/v1/groups/${group.id}/events`, { token: alice.token });
    const entry = audit.json.items.find((e) => e.event_id === d.event_id);
    assert.deepEqual(body.payload, entry.payload);
    assert.equal(body.accepted_at, entry.accepted_at);

    // The webhook list shows the last delivery's status.
    const list = await api('GET', `/api/v1/groups/${group.id}/webhooks`, { token: alice.token });
    assert.equal(list.json.items[0].last_delivery.status, 'delivered');
    assert.equal(list.json.items[0].last_delivery.id, d.id);
});

test('only the event types a webhook asked for are delivered', async () => {
    const group = await newGroup('Filter');
    const rx = await receiver();
    const w = await addWebhook(group, { url: rx.url, events: ['payment.created'] });
    assert.equal(w.status, 201, w.text);
    await expense(group);
    const me = group.members[0].id;
    const other = await api('POST', `/api/v1/groups/${group.id}/members`, { token: alice.token, body: { name: 'Bea' } });
    const p = await api('POST', `/api/v1/groups/${group.id}/payments`, {
        token: alice.token,
        headers: { Prefer: 'wait=5' },
        body: { from_member: other.json.id, to_member: me, amount: 100 },
    });
    assert.equal(p.status, 201, p.text);
    await waitFor(async () => rx.got.length === 1, { what: 'the payment delivery' });
    const items = await deliveries(group, w.json.id);
    assert.deepEqual(items.map((d) => d.type), ['payment.created']);
    assert.equal(JSON.parse(rx.got[0].body).type, 'payment.created');
});

test('a dead and a slow receiver do not delay a healthy webhook of another group', async () => {
    const deadGroup = await newGroup('Dead');
    const slowGroup = await newGroup('Slow');
    const okGroup = await newGroup('Healthy');
    const deadUrl = `http://127.0.0.1:${await freePort()}/hook`; // nothing listens
    const slow = await receiver(() => null); // accepts, never answers
    const ok = await receiver();
    const wDead = await addWebhook(deadGroup, { url: deadUrl });
    const wSlow = await addWebhook(slowGroup, { url: slow.url });
    const wOk = await addWebhook(okGroup, { url: ok.url });
    for (const w of [wDead, wSlow, wOk]) assert.equal(w.status, 201, w.text);

    // Several events for the bad receivers first, then one for the healthy one.
    for (let i = 0; i < 3; i++) {
        await expense(deadGroup, 100 + i);
        await expense(slowGroup, 100 + i);
    }
    await expense(okGroup); // applied: its delivery is due from now on
    const start = Date.now();
    await waitFor(async () => ok.got.length === 1, { what: 'the healthy delivery', timeoutMs: 10_000, intervalMs: 20 });
    const took = Date.now() - start;
    // Well under one slow attempt (WEBHOOKS_TIMEOUT_MS=2000 in the e2e stack).
    assert.ok(took < 1500, `the healthy receiver waited ${took} ms`);
    // A webhook has one delivery in flight at a time: the slow one holds one thread.
    assert.ok(slow.got.length <= 1, `${slow.got.length} concurrent attempts at the slow receiver`);

    // The dead receiver's deliveries are retried, then given up after the window (4 s here).
    const dead = await waitFor(
        async () => {
            const items = await deliveries(deadGroup, wDead.json.id);
            return items.length === 3 && items.every((d) => d.status === 'failed') && items;
        },
        { what: 'the dead deliveries to fail', timeoutMs: 30_000, intervalMs: 200 },
    );
    for (const d of dead) {
        assert.ok(d.attempts >= 2, JSON.stringify(d));
        assert.equal(d.last_status_code, null);
        assert.match(d.last_error, /connect/);
        assert.equal(d.next_attempt_at, null);
        assert.equal(d.delivered_at, null);
    }
    // The slow one's attempts time out.
    const slowItems = await waitFor(
        async () => {
            const items = await deliveries(slowGroup, wSlow.json.id);
            return items.some((d) => d.attempts > 0) && items;
        },
        { what: 'a slow attempt to end', timeoutMs: 15_000, intervalMs: 200 },
    );
    assert.match(slowItems.find((d) => d.attempts > 0).last_error, /timed out/);
});

test('deliveries are listed newest first and paginated', async () => {
    const group = await newGroup('Pages');
    const rx = await receiver();
    const w = await addWebhook(group, { url: rx.url });
    const events = [];
    for (let i = 0; i < 3; i++) events.push(await expense(group, 10 + i));
    await waitFor(async () => rx.got.length === 3, { what: 'three deliveries' });
    const base = `/api/v1/groups/${group.id}/webhooks/${w.json.id}/deliveries`;
    const p1 = await api('GET', `${base}?limit=2`, { token: alice.token });
    assert.equal(p1.status, 200, p1.text);
    assert.equal(p1.json.items.length, 2);
    assert.ok(p1.json.next_cursor);
    const p2 = await api('GET', `${base}?limit=2&cursor=${p1.json.next_cursor}`, { token: alice.token });
    assert.equal(p2.json.items.length, 1);
    assert.equal(p2.json.next_cursor, null);
    const seqs = [...p1.json.items, ...p2.json.items].map((d) => d.event_id);
    assert.equal(new Set(seqs).size, 3);
    const bodies = rx.got.map((g) => JSON.parse(g.body));
    assert.deepEqual(
        seqs,
        bodies.sort((a, b) => b.seq - a.seq).map((b) => b.event_id),
    );
    assertProblem(await api('GET', `${base}?limit=0`, { token: alice.token }), 422);
    assertProblem(await api('GET', `${base}?cursor=zzz`, { token: alice.token }), 422);
    assertProblem(
        await api('GET', `/api/v1/groups/${group.id}/webhooks/00000000-0000-4000-8000-000000000000/deliveries`, {
            token: alice.token,
        }),
        404,
    );
});

test('https receivers: a verified certificate is delivered to; a wrong name or an untrusted one is not', async () => {
    const group = await newGroup('TLS');
    const good = await tlsReceiver(certificate('IP:127.0.0.1'));
    const wrongName = await tlsReceiver(certificate('DNS:elsewhere.example'));
    const untrusted = await tlsReceiver(certificate('IP:127.0.0.1', { signed: false }));
    const hooks = [];
    for (const rx of [good, wrongName, untrusted]) {
        const w = await addWebhook(group, { url: rx.url });
        assert.equal(w.status, 201, w.text);
        hooks.push(w.json);
    }
    await expense(group);
    const [ok, name, trust] = await waitFor(
        async () => {
            const all = await Promise.all(hooks.map((h) => deliveries(group, h.id)));
            return all.every((items) => items.length === 1 && items[0].attempts > 0) && all.map((items) => items[0]);
        },
        { what: 'an attempt at each https receiver', timeoutMs: 15_000, intervalMs: 100 },
    );
    assert.equal(ok.status, 'delivered', JSON.stringify(ok));
    assert.equal(good.got.length, 1);
    assert.ok(verify(hooks[0].secret, good.got[0]));
    assert.equal(name.last_status_code, null);
    assert.match(name.last_error, /^tls handshake: .*mismatch/i, JSON.stringify(name));
    assert.equal(wrongName.got.length, 0);
    assert.match(trust.last_error, /^tls handshake: .*certificate/i, JSON.stringify(trust));
    assert.equal(untrusted.got.length, 0);
});

test('the workers count deliveries, failed attempts and given-up deliveries in /metrics', async () => {
    const port = Number(process.env.WORKER_METRICS_PORT ?? '9091');
    const workers = Number(process.env.WORKERS ?? '2');
    const sum = { delivered: 0, failedAttempts: 0, gaveUp: 0 };
    const series = (body, name) => {
        const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
        assert.ok(m, `${name} in /metrics`);
        return Number(m[1]);
    };
    for (let n = 0; n < workers; n++) {
        const body = await (await fetch(`http://127.0.0.1:${port + n}/metrics`)).text();
        sum.delivered += series(body, 'splitter_worker_webhook_deliveries_total');
        sum.failedAttempts += series(body, 'splitter_worker_webhook_attempts_failed_total');
        sum.gaveUp += series(body, 'splitter_worker_webhook_deliveries_failed_total');
        assert.ok(series(body, 'splitter_worker_webhook_deliveries_pending') >= 0);
        assert.ok(series(body, 'splitter_worker_webhook_oldest_due_seconds') >= 0);
    }
    // The tests above: seven deliveries, failures of the retried, dead, slow and TLS receivers,
    // and the dead receiver's three given up.
    assert.ok(sum.delivered >= 7, JSON.stringify(sum)); // retried, filtered, healthy, 3 pages, https
    assert.ok(sum.failedAttempts >= 10, JSON.stringify(sum));
    assert.ok(sum.gaveUp >= 3, JSON.stringify(sum));
});
