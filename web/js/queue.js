// Writes made offline: an IndexedDB queue of expense and payment writes, sent in order when
// the connection returns, each exactly once.
//
// A write that cannot reach the server (offline, a network error, or a 5xx after the retries
// of api.js), or one made while earlier writes of its group still wait, is kept here with its
// method, path, JSON body, If-Match and its Idempotency-Key: the one key it was first sent
// with (or a new one, made once, when it was never sent). Replays send that same key, so a
// replay whose answer is lost after the server accepted it is answered with the first result
// and applied once (the server remembers a key for 24 hours). A 4xx problem removes the write
// and is shown to the reader; 5xx and network failures keep it, in order, for the next
// attempt: on `online`, on start, every 20 s while something waits, or "Send now".

import { ApiError, JSONText, session, toJSON, write } from './api.js';

const DB_NAME = 'splitter-offline';
const STORE = 'writes';
const RETRY_MS = 20_000;

let dbPromise = null;
function db() {
    if (!dbPromise) {
        dbPromise = new Promise((resolve, reject) => {
            const req = indexedDB.open(DB_NAME, 1);
            req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'seq', autoIncrement: true });
            req.onsuccess = () => resolve(req.result);
            req.onerror = () => reject(req.error);
        });
        dbPromise.catch(() => {
            dbPromise = null;
        });
    }
    return dbPromise;
}

/** Run fn(store) in one transaction; resolves with fn's request result once committed. */
async function tx(mode, fn) {
    const d = await db();
    return new Promise((resolve, reject) => {
        const t = d.transaction(STORE, mode);
        const req = fn(t.objectStore(STORE));
        t.oncomplete = () => resolve(req?.result);
        t.onerror = () => reject(t.error);
        t.onabort = () => reject(t.error);
    });
}

const listeners = new Set();
/** fn(change) on every change: {type: 'queued'|'sent'|'rejected'|'discarded', entry, error?}. */
export function onQueueChange(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
}
function notify(change) {
    for (const fn of listeners) {
        try {
            fn(change);
        } catch (e) {
            console.warn(e);
        }
    }
}

/** The reader's waiting writes, oldest first (optionally of one group). */
export async function waiting(gid) {
    const uid = session.user?.id;
    if (!uid) return [];
    let all;
    try {
        all = await tx('readonly', (s) => s.getAll());
    } catch {
        return [];
    }
    return (all ?? []).filter((e) => e.user === uid && (!gid || e.group === gid)).sort((a, b) => a.seq - b.seq);
}

export async function discard(seq) {
    const [entry] = (await waiting()).filter((e) => e.seq === seq);
    await tx('readwrite', (s) => s.delete(seq));
    if (entry) notify({ type: 'discarded', entry });
}

/** Forget every waiting write of the reader (logging out). Returns how many there were. */
export async function discardAll() {
    const mine = await waiting();
    for (const e of mine) await tx('readwrite', (s) => s.delete(e.seq));
    return mine.length;
}

/** A failure worth keeping the write for: the network, or the server unavailable. */
export function isTransient(e) {
    return !(e instanceof ApiError) || e.status >= 500 || e.status === 408 || e.status === 429;
}

/**
 * A ledger write that is queued when it cannot be sent now: write()'s answer, or
 * {status: 'waiting'} once it is in the queue.
 * what: {group, kind: 'expense'|'payment', action: 'create'|'update'|'delete', preview}.
 */
export async function writeOrQueue(method, path, body, { key, ifMatch } = {}, what = {}) {
    const k = key ?? crypto.randomUUID();
    const text = body === undefined ? null : toJSON(body);
    const behind = (await waiting(what.group)).length > 0;
    if (navigator.onLine !== false && !behind) {
        try {
            return await write(method, path, text === null ? undefined : new JSONText(text), { key: k, ifMatch });
        } catch (e) {
            if (!isTransient(e) || (e instanceof ApiError && e.status === 401)) throw e;
        }
    }
    const entry = {
        user: session.user?.id, group: what.group ?? null, kind: what.kind ?? null,
        action: what.action ?? 'create', preview: what.preview ?? {},
        method, path, body: text, key: k, ifMatch: ifMatch ?? null, queuedAt: new Date().toISOString(),
    };
    entry.seq = await tx('readwrite', (s) => s.add(entry));
    notify({ type: 'queued', entry });
    // Online behind others: send them all now; after a failure: at the next attempt.
    if (behind && navigator.onLine !== false) flush();
    else schedule();
    return { status: 'waiting', entry };
}

let flushing = null;
/** Send the waiting writes in order; stops at the first that cannot be sent now. */
export function flush() {
    if (!flushing) {
        flushing = (async () => {
            const run = () => sendAll();
            try {
                if (navigator.locks) await navigator.locks.request('splitter-offline-queue', run);
                else await run();
            } finally {
                flushing = null;
                schedule();
            }
        })();
    }
    return flushing;
}

async function sendAll() {
    for (;;) {
        if (!session.token || navigator.onLine === false) return;
        const [e] = await waiting();
        if (!e) return;
        try {
            const r = await write(e.method, e.path, e.body === null ? undefined : new JSONText(e.body), { key: e.key, ifMatch: e.ifMatch ?? undefined });
            await tx('readwrite', (s) => s.delete(e.seq));
            notify({ type: 'sent', entry: e, result: r });
        } catch (err) {
            if (isTransient(err) || err.status === 401) return;
            await tx('readwrite', (s) => s.delete(e.seq));
            notify({ type: 'rejected', entry: e, error: err });
        }
    }
}

let timer = null;
/** Retry every RETRY_MS while something waits. */
async function schedule() {
    clearTimeout(timer);
    timer = null;
    if (!(await waiting()).length) return;
    timer = setTimeout(flush, RETRY_MS);
}

/** On start: send what waits, and again whenever the connection returns. */
export function startQueue() {
    window.addEventListener('online', () => flush());
    flush();
}
