// Live updates of a group: GET /api/v1/groups/{gid}/stream (server-sent events).
//
// EventSource cannot send the bearer token, so the stream is read with fetch() and a body
// reader, and the event-stream format is parsed here. A dropped stream reconnects after a
// back-off (1 s doubling to 30 s, with jitter) and resumes with Last-Event-ID from the last
// event it got, so nothing is missed or repeated; a 401 or 404 ends it for good.

import { parseJSON, session } from './api.js';

const sleep = (ms, signal) => new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
    }, { once: true });
});

/**
 * Split event-stream text into events. Returns the events of every complete block and the
 * unfinished rest: {events: [{id, event, data}], rest}. Comment lines (":") are skipped.
 */
export function parseEventStream(text) {
    const events = [];
    const blocks = text.replace(/\r\n?/g, '\n').split('\n\n');
    const rest = blocks.pop();
    for (const block of blocks) {
        const ev = { id: null, event: 'message', data: null };
        for (const line of block.split('\n')) {
            if (line === '' || line.startsWith(':')) continue;
            const i = line.indexOf(':');
            const name = i < 0 ? line : line.slice(0, i);
            const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
            if (name === 'id') ev.id = value;
            else if (name === 'event') ev.event = value;
            else if (name === 'data') ev.data = ev.data === null ? value : `${ev.data}\n${value}`;
        }
        if (ev.data !== null) events.push(ev);
    }
    return { events, rest };
}

/**
 * Follow a group's applied events until stop() is called.
 * onEvent({id, type, entry}) gets each event (entry: the audit-log entry, parsed exactly);
 * onState('connecting' | 'live' | 'reconnecting' | 'off') reports the connection.
 * @returns {{stop: () => void, ready: Promise<void>}} ready settles at the first connect
 *          (or the first failure)
 */
export function follow(gid, { onEvent, onState = () => {} }) {
    const ctl = new AbortController();
    let lastId = null;
    let backoff = 1000;
    let settle;
    const ready = new Promise((resolve) => {
        settle = resolve;
    });

    async function once() {
        const headers = { Accept: 'text/event-stream' };
        const token = session.token;
        if (!token) return false;
        headers.Authorization = `Bearer ${token}`;
        if (lastId !== null) headers['Last-Event-ID'] = lastId;
        const res = await fetch(`/api/v1/groups/${encodeURIComponent(gid)}/stream`, {
            headers, signal: ctl.signal, cache: 'no-store', credentials: 'omit',
        });
        if (res.status === 401 || res.status === 404) return false;
        if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
        onState('live');
        settle();
        backoff = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
            const { value, done } = await reader.read();
            if (done) return true;
            const { events, rest } = parseEventStream(buf + value);
            buf = rest;
            for (const ev of events) {
                if (ev.id !== null) lastId = ev.id;
                let entry;
                try {
                    entry = parseJSON(ev.data);
                } catch {
                    continue;
                }
                onEvent({ id: ev.id, type: ev.event, entry });
            }
        }
    }

    (async () => {
        onState('connecting');
        while (!ctl.signal.aborted) {
            let again;
            try {
                again = await once();
            } catch {
                again = true;
            }
            settle();
            if (ctl.signal.aborted) break;
            if (!again) {
                onState('off');
                return;
            }
            onState('reconnecting');
            await sleep(backoff / 2 + Math.random() * backoff, ctl.signal);
            backoff = Math.min(backoff * 2, 30_000);
        }
        onState('off');
    })();

    return {
        stop: () => ctl.abort(),
        ready,
    };
}
