// The REST client: bearer token, exact JSON for money, RFC 9457 problems, and retry-safe
// asynchronous writes (Prefer: wait + Idempotency-Key, polling the event status on 202).

import { RawNumber } from './money.js';

const TOKEN_KEY = 'splitter.token';
const USER_KEY = 'splitter.user';
const BASE = '/api/v1';

// The token lives in localStorage so a reload or a new tab stays logged in. The trade-off: any
// script running on this origin could read it. The CSP (default-src 'self', no inline script,
// no eval) and building every node with textContent (never innerHTML with data) keep foreign
// script out; logging out revokes the token on the server. See docs/WEB.md.
export const session = {
    get token() {
        return localStorage.getItem(TOKEN_KEY);
    },
    get user() {
        try {
            return JSON.parse(localStorage.getItem(USER_KEY) ?? 'null');
        } catch {
            return null;
        }
    },
    set(token, user) {
        localStorage.setItem(TOKEN_KEY, token);
        localStorage.setItem(USER_KEY, JSON.stringify(user));
    },
    setUser(user) {
        localStorage.setItem(USER_KEY, JSON.stringify(user));
    },
    clear() {
        localStorage.removeItem(TOKEN_KEY);
        localStorage.removeItem(USER_KEY);
    },
};

/** An answer that is not 2xx, with its problem document (RFC 9457). */
export class ApiError extends Error {
    constructor(status, problem) {
        super(problem?.detail || problem?.title || `HTTP ${status}`);
        this.status = status;
        this.problem = problem ?? {};
        this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
    }
}

/** A request body already written as JSON text (a write kept in the offline queue). */
export class JSONText {
    constructor(text) {
        this.text = text;
    }
}

/** JSON text with BigInt and RawNumber written as exact digits. */
export function toJSON(v) {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof RawNumber || v instanceof JSONText) return v.text;
    if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
    if (Array.isArray(v)) return `[${v.map(toJSON).join(',')}]`;
    const parts = [];
    for (const [k, x] of Object.entries(v)) {
        if (x === undefined) continue;
        parts.push(`${JSON.stringify(k)}:${toJSON(x)}`);
    }
    return `{${parts.join(',')}}`;
}

/** JSON.parse that keeps integers beyond 2^53 exact (as BigInt), using the source text. */
export function parseJSON(text) {
    return JSON.parse(text, function (key, value, context) {
        if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value) &&
            context && typeof context.source === 'string' && /^-?\d+$/.test(context.source)) {
            return BigInt(context.source);
        }
        return value;
    });
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
    onUnauthorized = fn;
}

// An answer the service worker gave from its cache while offline carries the time it was
// fetched (web/sw.js); the page says it shows an offline copy.
let onOfflineCopy = () => {};
export function setOfflineCopyHandler(fn) {
    onOfflineCopy = fn;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One request. Returns {status, data, headers, response}; throws ApiError unless 2xx/304.
 * opts: body (object, sent as JSON), headers, raw (return the Response untouched).
 */
export async function request(method, path, { body, headers = {}, raw = false } = {}) {
    const h = { Accept: 'application/json, application/problem+json', ...headers };
    const token = session.token;
    if (token) h.Authorization = `Bearer ${token}`;
    let payload;
    if (body !== undefined) {
        h['Content-Type'] = 'application/json';
        payload = toJSON(body);
    }
    const res = await fetch(path.startsWith('/') ? path : `${BASE}/${path}`, {
        method, headers: h, body: payload, cache: 'no-store', credentials: 'omit',
    });
    if (raw && res.ok) return { status: res.status, headers: res.headers, response: res };
    const text = res.status === 204 || res.status === 304 ? '' : await res.text();
    const type = res.headers.get('content-type') ?? '';
    const copy = res.headers.get('X-Splitter-Offline-Copy');
    if (copy !== null) onOfflineCopy(copy);
    let data = null;
    if (text && /^application\/(problem\+)?json/.test(type)) {
        try {
            data = parseJSON(text);
        } catch {
            data = null;
        }
    }
    if (!res.ok && res.status !== 304) {
        if (res.status === 401 && token && !path.includes('/auth/')) onUnauthorized();
        throw new ApiError(res.status, data ?? { title: res.statusText || `HTTP ${res.status}`, status: res.status });
    }
    return { status: res.status, data, headers: res.headers };
}

export const get = (path) => request('GET', path).then((r) => r.data);

/**
 * A ledger write (POST/PUT/DELETE of expenses and payments): waits up to 5 s for the worker,
 * sends the submission's Idempotency-Key, retries network failures and 503s with the same key
 * (never duplicating), and on 202 polls the event briefly.
 * @returns {{status: 'applied'|'queued', data: any, eventId?: string}}
 */
export async function write(method, path, body, { key, ifMatch } = {}) {
    const headers = { Prefer: 'wait=5', 'Idempotency-Key': key ?? crypto.randomUUID() };
    if (ifMatch !== undefined) headers['If-Match'] = `"${ifMatch}"`;
    let r;
    for (let attempt = 0; ; attempt++) {
        try {
            r = await request(method, path, { body, headers });
            break;
        } catch (e) {
            const retriable = !(e instanceof ApiError) || e.status === 503 || e.status === 502 || e.status === 504;
            if (!retriable || attempt >= 2) throw e;
            await sleep(400 * (attempt + 1));
        }
    }
    if (r.status !== 202) return { status: 'applied', data: r.data };
    const eventId = r.data?.event_id;
    if (!eventId) return { status: 'queued', data: r.data };
    for (let i = 0; i < 20; i++) {
        await sleep(250);
        let ev;
        try {
            ev = await get(`events/${eventId}`);
        } catch {
            continue;
        }
        if (ev?.status === 'applied') return { status: 'applied', data: r.data, eventId };
        if (ev?.status === 'rejected') throw new ApiError(ev.problem?.status ?? 422, ev.problem);
    }
    return { status: 'queued', data: r.data, eventId };
}

/** Fetch every page of a paginated list (bounded). */
export async function getAll(path, { limit = 200, maxPages = 20 } = {}) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < maxPages; page++) {
        const sep = path.includes('?') ? '&' : '?';
        const q = `${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const data = await get(`${path}${q}`);
        items.push(...(data?.items ?? []));
        cursor = data?.next_cursor;
        if (!cursor) return { items, complete: true };
    }
    return { items, complete: false };
}

/** Is this error the sign of a route the server does not have (yet)? */
export function isMissingRoute(e) {
    return e instanceof ApiError && (e.status === 404 || e.status === 405 || e.status === 501) &&
        !/group/i.test(e.problem?.detail ?? '');
}
