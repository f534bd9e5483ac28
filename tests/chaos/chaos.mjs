// The chaos suite's client, workload and checker. One fault per run, on a private stack
// (tests/faults/stack.mjs): a workload of concurrent ledger writes, each with its own
// Idempotency-Key and retried with the same key and body on timeouts, 5xx and connection
// errors; a client that got 202 follows its event and, when the event is gone (404: Redis
// forgot it), submits it again with the same key. After the fault, the checker compares that
// history with PostgreSQL and prints one line:
//
//   chaos NAME: acknowledged=A applied=P doubled=D lost=L dead=X recover_s=S balances=ok replay=ok ...
//
// Every expense's description and every payment's note is "chaos-<its idempotency key>", so
// the checker counts the ledger rows of each write without trusting any server-side key.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { startStack } from '../faults/stack.mjs';
import { rng, randomExpense, expectedBalances, jsonOf } from '../faults/model.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PARTITIONS = 16;

/** Lease of the chaos stacks: short, so that a stopped worker's partitions move quickly. */
export const LEASE_TTL_MS = 2000;
/** Recovery bound after a fault ends (seconds). */
export const RECOVER_LIMIT_S = 5;
/** How long a write is retried before its client gives up (ms)... */
const WRITE_PATIENCE_MS = 90_000;
/** ...and at most this long once the load is told to stop. */
const STOP_PATIENCE_MS = 30_000;

const TAG = 'chaos-';
/** The problem type of an event refused because its Idempotency-Key was already applied. */
const DUPLICATE = '/problems/duplicate-request';
const sleep = (ms) => delay(ms);

// --- running things asynchronously (the load must not stall while a fault is injected) ------

/** Run CMD ARGS with ENV in cwd; resolves {code, stdout, stderr}; killed after timeoutMs. */
export function run(cmd, args, { env, input, timeoutMs = 120_000, cwd = ROOT } = {}) {
    return new Promise((resolve) => {
        const child = spawn(cmd, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => { stdout += d; });
        child.stderr.on('data', (d) => { stderr += d; });
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
        });
        // A command that exits without reading its input must not fail the run (EPIPE).
        child.stdin.on('error', () => {});
        child.stdin.end(input ?? '');
    });
}

/** The stack's full configuration (`scripts/stack.sh env`), for psql, redis-cli, splitterctl. */
async function stackEnv(stack) {
    const r = await run('scripts/stack.sh', ['env'], { env: stack.env });
    if (r.code !== 0) throw new Error(`stack.sh env: ${r.stderr}`);
    const env = { ...stack.env };
    for (const line of r.stdout.split('\n')) {
        const m = line.match(/^([A-Z_0-9]+)=(.*)$/);
        // printf %q output: values here are plain words or quoted with '' / $''.
        if (m) env[m[1]] = m[2].replace(/^'(.*)'$/, '$1').replace(/\\(.)/g, '$1');
    }
    env.PGPASSWORD = env.POSTGRES_PASSWORD;
    return env;
}

// --- the HTTP client ---------------------------------------------------------------------

/** A user's session: logs in again when its token stops working (Redis lost it). */
class Session {
    constructor(ctx, email, password) {
        this.ctx = ctx;
        this.email = email;
        this.password = password;
        this.token = null;
        this.loggingIn = null;
    }

    async raw(method, path, { body, headers = {}, timeoutMs = 10_000, auth = true } = {}) {
        const res = await fetch(this.ctx.baseUrl + path, {
            method,
            headers: {
                ...(auth && this.token ? { Authorization: `Bearer ${this.token}` } : {}),
                ...(body ? { 'Content-Type': 'application/json' } : {}),
                ...headers,
            },
            body: body ? JSON.stringify(body) : undefined,
            signal: AbortSignal.timeout(timeoutMs),
        });
        return { status: res.status, json: jsonOf(await res.text()), headers: res.headers };
    }

    /**
     * Log in again after a 401 that `stale` (the token the request carried) earned: one login
     * at a time per user, and none when another request already replaced that token.
     */
    relogin(stale) {
        if (this.token !== stale) return Promise.resolve();
        if (!this.loggingIn) this.loggingIn = this.login().finally(() => { this.loggingIn = null; });
        return this.loggingIn;
    }

    /** Log in (or register first); retried until the deadline. */
    async login(register = false) {
        const deadline = Date.now() + 60_000;
        const path = register ? '/api/v1/auth/register' : '/api/v1/auth/login';
        const body = register
            ? { email: this.email, password: this.password, name: 'Chaos' }
            : { email: this.email, password: this.password };
        for (let i = 0; Date.now() < deadline; i++) {
            try {
                const r = await this.raw('POST', path, { body, auth: false });
                if (r.status === 200 || r.status === 201) {
                    this.token = r.json.token;
                    this.ctx.stats.logins++;
                    return;
                }
                if (r.status < 500 && r.status !== 429) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.json)}`);
            } catch (e) {
                if (e.message.startsWith(path)) throw e;
            }
            await sleep(Math.min(100 * 2 ** i, 1000));
        }
        throw new Error(`${path}: no answer within 60 s`);
    }

    /**
     * A request retried (same method, path, body and headers) on connection errors, timeouts,
     * 5xx and 429 until it gets another answer or the deadline passes (then null). A 401 logs in
     * again first. `onRetry` sees each retried failure.
     */
    async call(method, path, { body, headers, timeoutMs, deadline, onRetry = () => {}, pauseMs = 200 } = {}) {
        for (let i = 0; Date.now() < Math.min(deadline, this.ctx.cutoff); i++) {
            let res;
            const token = this.token;
            try {
                res = await this.raw(method, path, { body, headers, timeoutMs });
            } catch (e) {
                onRetry(e.name === 'TimeoutError' ? 'timeout' : 'conn');
                await sleep(Math.min(pauseMs * 1.5 ** i, 1000));
                continue;
            }
            if (res.status === 401) {
                await this.relogin(token);
                continue;
            }
            if (res.status >= 500 || res.status === 429) {
                onRetry(String(res.status));
                await sleep(Math.min(pauseMs * 1.5 ** i, 1000));
                continue;
            }
            return res;
        }
        return null;
    }
}

// --- the stack and its groups -----------------------------------------------------------

/** FNV-1a of the group id, mod the partitions (shared/keys.c keys_partition). */
export function partitionOf(groupId) {
    let h = 0x811c9dc5;
    for (const ch of Buffer.from(groupId)) {
        h ^= ch;
        h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h % PARTITIONS;
}

/**
 * A private stack with `workers` workers and `groups` groups of 3 to 5 members, each group
 * owned by its own user. Returns the context every other function takes.
 */
export async function setUp({ seed, workers = 2, groups = 6, extraEnv = {} }) {
    const stack = await startStack({
        workers,
        extraEnv: { LEASE_TTL_MS: String(LEASE_TTL_MS), AUTH_RATE_LIMIT: '100r/s', AUTH_RATE_BURST: '200', ...extraEnv },
    });
    const ctx = {
        stack,
        baseUrl: stack.baseUrl,
        env: null,
        r: rng(seed),
        groups: [],
        history: [],
        pending: new Set(),
        cutoff: Infinity, // once the load stops: no write is retried past this
        stats: { logins: 0, retries: {} },
    };
    try {
        ctx.env = await stackEnv(stack);
        for (let g = 0; g < groups; g++) {
            const s = new Session(ctx, `chaos-${randomUUID()}@example.test`, 'correct horse battery');
            await s.login(true);
            const deadline = Date.now() + 30_000;
            const grp = await s.call('POST', '/api/v1/groups', { body: { name: `chaos ${g}`, currency: 'EUR' }, deadline });
            if (grp?.status !== 201) throw new Error(`create group: ${grp?.status}`);
            const members = [grp.json.members[0].id];
            const n = ctx.r.int(3, 5);
            for (let i = 1; i < n; i++) {
                const m = await s.call('POST', `/api/v1/groups/${grp.json.id}/members`, { body: { name: `m${i}` }, deadline });
                if (m?.status !== 201) throw new Error(`add member: ${m?.status}`);
                members.push(m.json.id);
            }
            ctx.groups.push({ session: s, id: grp.json.id, members, partition: partitionOf(grp.json.id) });
        }
    } catch (e) {
        stack.down({ failed: true });
        throw e;
    }
    return ctx;
}

/** scripts/stack.sh ARGS on the context's stack, without blocking the load. */
export async function stackSh(ctx, ...args) {
    const r = await run('scripts/stack.sh', args, { env: ctx.stack.env, timeoutMs: 180_000 });
    if (r.code !== 0) throw new Error(`stack.sh ${args.join(' ')}: ${r.code}\n${r.stderr}`);
    return r.stdout.trim();
}

/** redis-cli ARGS against the context's Redis. */
export async function redis(ctx, ...args) {
    const r = await run('redis-cli', ['--raw', '-h', ctx.env.REDIS_HOST, '-p', ctx.env.REDIS_PORT, ...args.map(String)], {
        env: { ...ctx.env, ...(ctx.env.REDIS_PASSWORD ? { REDISCLI_AUTH: ctx.env.REDIS_PASSWORD } : {}) },
        timeoutMs: 30_000,
    });
    if (r.code !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.replace(/\n$/, '');
}

/** psql SQL against the context's database: rows of fields. */
export async function psql(ctx, sql, { timeoutMs = 60_000 } = {}) {
    const r = await run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', ctx.env.POSTGRES_PORT,
        '-U', ctx.env.POSTGRES_USER, '-d', ctx.env.POSTGRES_DB, '-f', '-'], { env: ctx.env, input: sql, timeoutMs });
    if (r.code !== 0) throw new Error(`psql: ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('|'));
}

/** splitterctl ARGS with the stack's configuration. */
export function splitterctl(ctx, ...args) {
    return run(join(ctx.env.BUILD, 'bin', 'splitterctl'), args, { env: ctx.env, timeoutMs: 120_000 });
}

/** The worker-N (1-based) whose lease holds group g's partition, or 0 if none. */
export async function ownerOf(ctx, g) {
    const lease = await redis(ctx, 'GET', `splitter:lease:${ctx.groups[g].partition}`);
    for (let n = 1; n <= Number(ctx.env.WORKERS); n++) {
        let pid;
        try {
            pid = await stackSh(ctx, 'pid', `worker-${n}`);
        } catch {
            continue;
        }
        if (lease.includes(`-${pid}-`)) return n;
    }
    return 0;
}

// --- writes ------------------------------------------------------------------------------

/** A new write (expense in any split mode, or payment) for group g, in the history. */
function newWrite(ctx, g, { wait = false, probe = false } = {}) {
    const grp = ctx.groups[g];
    const key = randomUUID();
    const isPayment = ctx.r.chance(0.25);
    let body;
    if (isPayment) {
        const from = ctx.r.pick(grp.members);
        const to = ctx.r.pick(grp.members.filter((m) => m !== from));
        body = { from_member: from, to_member: to, amount: ctx.r.int(1, 50_000), note: TAG + key };
    } else {
        body = randomExpense(ctx.r, grp.members);
        body.description = TAG + key;
    }
    const w = {
        key,
        g,
        kind: isPayment ? 'payment' : 'expense',
        body,
        path: `/api/v1/groups/${grp.id}/${isPayment ? 'payments' : 'expenses'}`,
        wait,
        probe,
        started: Date.now(),
        attempts: 0,
        ack: null, // {status, at}
        eventIds: [],
        resubmits: 0,
        outcome: null, // applied | rejected | unconfirmed | refused | gave-up
        appliedSeen: null,
        detail: '',
    };
    ctx.history.push(w);
    return w;
}

function noteRetry(ctx, why) {
    ctx.stats.retries[why] = (ctx.stats.retries[why] ?? 0) + 1;
}

/** Submit w (retried with its key and body) until an answer other than a failure. */
async function submit(ctx, w, deadline, pauseMs = 200) {
    const headers = { 'Idempotency-Key': w.key, ...(w.wait ? { Prefer: `wait=${w.wait}` } : {}) };
    const res = await ctx.groups[w.g].session.call('POST', w.path, {
        body: w.body,
        headers,
        timeoutMs: w.wait ? (w.wait + 10) * 1000 : 10_000,
        deadline,
        pauseMs,
        onRetry: (why) => {
            w.attempts++;
            noteRetry(ctx, why);
        },
    });
    w.attempts++;
    if (!res) {
        w.outcome = 'gave-up';
        return false;
    }
    if (res.status === 200 || res.status === 201 || res.status === 202) {
        if (!w.ack) w.ack = { status: res.status, at: Date.now() };
        const ev = res.json?.event_id ?? res.headers.get('location')?.match(/events\/([0-9a-f-]{36})/)?.[1];
        if (ev && !w.eventIds.includes(ev)) w.eventIds.push(ev);
        if (res.status !== 202) {
            w.outcome = 'applied';
            w.appliedSeen = Date.now();
        }
        return true;
    }
    w.outcome = 'refused';
    w.detail = `${res.status} ${JSON.stringify(res.json)}`;
    return false;
}

/**
 * Follow an acknowledged 202 until its event is applied or rejected; an event that is gone
 * (404) is submitted again with the same key and body, as a retrying client would.
 */
async function follow(ctx, w, deadline, pollMs) {
    let pause = pollMs;
    while (w.outcome === null) {
        if (Date.now() >= Math.min(deadline, ctx.cutoff)) {
            w.outcome = 'unconfirmed';
            return;
        }
        await sleep(pause);
        pause = pollMs < 500 ? pollMs : Math.min(pause * 1.5, 3000);
        const ev = w.eventIds[w.eventIds.length - 1];
        const res = await ctx.groups[w.g].session.call('GET', `/api/v1/events/${ev}`, {
            deadline, timeoutMs: 10_000, pauseMs: pollMs, onRetry: (why) => noteRetry(ctx, `poll-${why}`),
        });
        if (!res) continue;
        if (res.status === 200 && res.json.status === 'applied') {
            w.outcome = 'applied';
            w.appliedSeen = Date.now();
        } else if (res.status === 200 && res.json.status === 'rejected' && res.json.problem?.type === DUPLICATE
            && res.json.problem.original_event_id && !w.eventIds.includes(res.json.problem.original_event_id)) {
            // A retry that raced its first request through a Redis loss: the ledger kept the
            // first one; follow that.
            w.eventIds.push(res.json.problem.original_event_id);
            pause = pollMs;
        } else if (res.status === 200 && res.json.status === 'rejected') {
            w.outcome = 'rejected';
            w.detail = JSON.stringify(res.json.problem);
        } else if (res.status === 404) {
            w.resubmits++;
            await submit(ctx, w, deadline, pollMs);
        }
    }
}

/** One write from start to its outcome; tracked in ctx.pending until done. */
export function write(ctx, g, opts = {}) {
    const w = newWrite(ctx, g, opts);
    const deadline = Date.now() + (opts.patienceMs ?? WRITE_PATIENCE_MS);
    const pollMs = opts.probe ? 100 : 500;
    const acked = submit(ctx, w, deadline, opts.probe ? 100 : 200);
    const done = acked.then((ok) => (ok ? follow(ctx, w, deadline, pollMs) : undefined));
    ctx.pending.add(done);
    done.finally(() => ctx.pending.delete(done));
    return { w, acked, done };
}

/**
 * The background load: `loops` clients, each writing to random groups every `paceMs` once its
 * previous write was acknowledged, with at most `outstanding` writes not yet final. Stops at
 * `maxWrites` or when stop() is called; stop() resolves when every write is final.
 */
export function startLoad(ctx, { loops = 4, paceMs = 120, maxWrites = 600, outstanding = 40, waitShare = 0.3 } = {}) {
    let stopped = false;
    let inFlight = 0;
    let count = 0;
    const loop = async () => {
        while (!stopped && count < maxWrites) {
            if (inFlight >= outstanding) {
                await sleep(50);
                continue;
            }
            count++;
            inFlight++;
            const { acked, done } = write(ctx, ctx.r.int(0, ctx.groups.length - 1), { wait: ctx.r.chance(waitShare) ? 5 : 0 });
            done.finally(() => inFlight--);
            await acked;
            await sleep(paceMs);
        }
    };
    const loopsDone = Promise.all(Array.from({ length: loops }, loop));
    return {
        written: () => count,
        async stop() {
            stopped = true;
            ctx.cutoff = Date.now() + STOP_PATIENCE_MS;
            await loopsDone;
            while (ctx.pending.size > 0) await Promise.allSettled([...ctx.pending]);
        },
    };
}

/**
 * Seconds from `since` until a new write (one per listed group, submitted now, followed every
 * 100 ms) is seen applied in every one of them; null if not within limitS.
 */
export async function recovery(ctx, since, groups = ctx.groups.map((_, g) => g), limitS = 20) {
    const probes = groups.map((g) => write(ctx, g, { probe: true, patienceMs: limitS * 1000 }));
    await Promise.all(probes.map((p) => p.done));
    if (!probes.every((p) => p.w.outcome === 'applied')) return null;
    return Math.max(...probes.map((p) => p.w.appliedSeen - since)) / 1000;
}

/**
 * Send `n` acknowledged writes again, same key and body, as clients whose first answer was
 * lost on the way would. Returns {resent, problems}: each must answer 200/201/202 again (the
 * checker then sees whether any was applied twice).
 */
export async function resendAcknowledged(ctx, n) {
    const acked = ctx.history.filter((w) => w.ack && !w.probe);
    const picked = [];
    for (let i = 0; i < n && acked.length > 0; i++) picked.push(acked.splice(ctx.r.int(0, acked.length - 1), 1)[0]);
    const problems = [];
    await Promise.all(picked.map(async (w) => {
        const res = await ctx.groups[w.g].session.call('POST', w.path, {
            body: w.body, headers: { 'Idempotency-Key': w.key }, deadline: Date.now() + 30_000,
            onRetry: (why) => noteRetry(ctx, `resend-${why}`),
        });
        if (![200, 201, 202].includes(res?.status)) problems.push(`the retry of acknowledged write ${w.key} answered ${res?.status ?? 'nothing'} ${JSON.stringify(res?.json)}`);
    }));
    return { resent: picked.length, problems };
}

// --- the checker ---------------------------------------------------------------------------

const quoteList = (ids) => ids.map((i) => `'${i}'`).join(',');

/** Ledger rows per write key: Map key -> number of expenses + payments that carry it. */
async function ledgerRows(ctx) {
    const ids = quoteList(ctx.groups.map((g) => g.id));
    const rows = await psql(ctx,
        `SELECT substr(description, ${TAG.length + 1}), count(*) FROM expenses WHERE group_id IN (${ids}) AND description LIKE '${TAG}%' GROUP BY 1
         UNION ALL SELECT substr(note, ${TAG.length + 1}), count(*) FROM payments WHERE group_id IN (${ids}) AND note LIKE '${TAG}%' GROUP BY 1`);
    const m = new Map();
    for (const [k, n] of rows) m.set(k, (m.get(k) ?? 0) + Number(n));
    return m;
}

/**
 * Compare the history with PostgreSQL (waiting up to drainS for acknowledged writes to apply),
 * print the fault's line, and return {line, problems}: problems is empty when it passed.
 */
export async function check(ctx, name, { recoverS, extra = {}, drainS = 15 }) {
    const acked = ctx.history.filter((w) => w.ack);
    let rows;
    const drainUntil = Date.now() + drainS * 1000;
    for (;;) {
        rows = await ledgerRows(ctx);
        if (acked.every((w) => rows.has(w.key)) || Date.now() > drainUntil) break;
        await sleep(500);
    }
    const applied = acked.filter((w) => rows.has(w.key)).length;
    const lost = acked.length - applied;
    let doubled = 0;
    for (const n of rows.values()) doubled += Math.max(0, n - 1);
    const known = new Set(ctx.history.map((w) => w.key));
    const strangers = [...rows.keys()].filter((k) => !known.has(k)).length;
    const unacked = ctx.history.filter((w) => !w.ack);
    const unackedApplied = unacked.filter((w) => rows.has(w.key)).length;

    const deadList = await splitterctl(ctx, 'dead', 'list', '--json', '--count', '100000');
    let deadStream = 0;
    try {
        const parsed = JSON.parse(deadList.stdout || '[]');
        deadStream = Array.isArray(parsed) ? parsed.length : (parsed.items ?? parsed.entries ?? []).length;
    } catch {
        deadStream = deadList.stdout.trim() ? -1 : 0;
    }
    // Rejections of a retry whose key the ledger already holds are the idempotency check at
    // work, not a write refused: counted apart.
    const [[rejected, dupRejected]] = await psql(ctx, `SELECT count(*) FILTER (WHERE problem->>'type' IS DISTINCT FROM '${DUPLICATE}'),
        count(*) FILTER (WHERE problem->>'type' = '${DUPLICATE}') FROM rejected_events WHERE group_id IN (${quoteList(ctx.groups.map((g) => g.id))})`);
    const dead = Math.max(deadStream, 0) + Number(rejected);

    // Balances: the api's answer against this suite's own model of the acknowledged writes.
    const badGroups = [];
    for (let g = 0; g < ctx.groups.length; g++) {
        const grp = ctx.groups[g];
        const mine = acked.filter((w) => w.g === g);
        const want = expectedBalances(grp.members, mine.filter((w) => w.kind === 'expense').map((w) => w.body),
            mine.filter((w) => w.kind === 'payment').map((w) => w.body));
        const res = await grp.session.call('GET', `/api/v1/groups/${grp.id}/balances`, { deadline: Date.now() + 30_000 });
        const got = new Map((res?.json?.balances ?? []).map((b) => [b.member_id, BigInt(b.balance)]));
        const m = grp.members.find((id) => got.get(id) !== want.get(id));
        if (res?.status !== 200) badGroups.push(`${g} (answered ${res?.status ?? 'nothing'})`);
        else if (m) badGroups.push(`${g} (member ${m}: ${got.get(m)}, model ${want.get(m)})`);
    }
    const replay = await splitterctl(ctx, 'replay', '--verify');

    const retries = Object.entries(ctx.stats.retries).map(([k, v]) => `${k}:${v}`).join(',') || '0';
    const fields = {
        acknowledged: acked.length,
        applied,
        doubled,
        lost,
        dead,
        recover_s: recoverS === null ? 'never' : recoverS.toFixed(1),
        balances: badGroups.length === 0 ? 'ok' : `differ(${badGroups.length}/${ctx.groups.length})`,
        replay: replay.code === 0 ? 'ok' : 'differs',
        ...extra,
        unacked: unacked.length,
        resubmitted: ctx.history.reduce((a, w) => a + w.resubmits, 0),
        duplicates_refused: Number(dupRejected),
        retries,
        logins: ctx.stats.logins,
    };
    const line = `chaos ${name}: ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}`;
    console.log(line);
    if (process.env.CHAOS_RESULTS) appendFileSync(process.env.CHAOS_RESULTS, `${line}\n`);

    const problems = [];
    if (doubled) problems.push(`${doubled} write(s) applied twice`);
    if (lost) {
        const ex = acked.find((w) => !rows.has(w.key));
        problems.push(`${lost} acknowledged write(s) missing from the ledger (e.g. ${ex.key}: ${ex.ack.status}, outcome ${ex.outcome} ${ex.detail})`);
    }
    if (dead) problems.push(`${dead} dead-lettered or rejected (dead stream ${deadStream}, rejected_events ${rejected})`);
    if (recoverS === null || recoverS > RECOVER_LIMIT_S) problems.push(`new writes applied ${fields.recover_s} s after the fault ended (limit ${RECOVER_LIMIT_S})`);
    if (badGroups.length) problems.push(`balances differ from the model in group ${badGroups.join(', group ')}`);
    if (replay.code !== 0) problems.push(`splitterctl replay --verify: ${replay.code} ${(replay.stdout + replay.stderr).trim().slice(0, 400)}`);
    if (unacked.length) {
        const ex = unacked[0];
        problems.push(`${unacked.length} write(s) never acknowledged (${unackedApplied} of them applied; e.g. ${ex.outcome} ${ex.detail})`);
    }
    if (strangers) problems.push(`${strangers} ledger row(s) of no write of this run`);
    return { line, problems, fields };
}

/**
 * One fault run: a fresh stack, `prepare` (optional), the load, `inject` (resolves with
 * {endedAt: when the fault ended (ms), extra: fields for the line, problems: what it saw}),
 * recovery measured from then, a little more load, the checker, and `verify` (optional: the
 * checker's fields -> more problems, for what a fault promises beyond the checker's own
 * properties). Fails with every problem found; the stack's logs are kept under
 * tests/artifacts/ when it fails.
 */
export async function chaosRun(name, { seed, workers = 2, extraEnv = {}, load = {}, warmupMs = 2000, prepare, inject, verify }) {
    const ctx = await setUp({ seed, workers, extraEnv });
    let failed = true;
    try {
        if (prepare) await prepare(ctx);
        const bg = startLoad(ctx, load);
        await sleep(warmupMs);
        const { endedAt, extra = {}, problems: seen = [] } = await inject(ctx, bg);
        const recoverS = await recovery(ctx, endedAt);
        await sleep(1000);
        await bg.stop();
        const { problems, fields } = await check(ctx, name, { recoverS, extra });
        problems.push(...seen);
        if (verify) problems.push(...verify(fields));
        if (problems.length) throw new Error(`chaos ${name}:\n  ${problems.join('\n  ')}`);
        failed = false;
    } finally {
        // Leave nothing stopped (SIGSTOP) or locked behind for `down`.
        for (let n = 1; n <= workers; n++) await stackSh(ctx, 'kill', `worker-${n}`, 'CONT').catch(() => {});
        ctx.stack.down({ failed });
    }
}
