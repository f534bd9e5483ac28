// Offline use: registers the service worker (web/sw.js), says when the page shows an offline
// copy of a group's data, and shows the writes waiting in the queue (js/queue.js) on the group
// page: a count, each one with "Discard", and the waiting expenses and payments in the list.

import { setOfflineCopyHandler } from './api.js';
import { clear, formatDateTime, formatDate, h, toast } from './dom.js';
import { t, tn } from './i18n.js';
import { formatMoney } from './money.js';
import { looseFieldSentence, problemSentence } from './problems.js';
import { discard, discardAll, flush, onQueueChange, startQueue, waiting } from './queue.js';

/** The service worker's cache of API answers (web/sw.js): one user's data. */
const DATA_CACHE = 'splitter-data';

// --- the "offline" line under the header ------------------------------------------------------

/** Waiting writes the server refused (a 4xx), kept for this page's life to show why. */
const rejected = [];

let oldestCopy = null; // the oldest offline copy the current page shows (ISO time)

function stateLine() {
    let el = document.getElementById('offline-state');
    if (!el) {
        el = h('p', { id: 'offline-state', class: 'offline-state', role: 'status', hidden: true });
        document.querySelector('.topbar')?.after(el);
    }
    return el;
}

function paintState() {
    const el = stateLine();
    const offline = navigator.onLine === false;
    const parts = [];
    if (oldestCopy !== null) {
        parts.push(oldestCopy ? t('Offline copy, last updated {time}.', { time: formatDateTime(oldestCopy) }) : t('Offline copy.'));
    } else if (offline) {
        parts.push(t('You are offline.'));
    }
    if (offline) parts.push(t('Expenses and payments you save are sent when the connection returns.'));
    el.textContent = parts.join(' ');
    el.hidden = !parts.length;
}

function noteOfflineCopy(fetchedAt) {
    if (oldestCopy === null || (fetchedAt && fetchedAt < oldestCopy)) oldestCopy = fetchedAt;
    paintState();
}

// --- start, logout ----------------------------------------------------------------------------

/** At start: the service worker, the queue, and the offline line. */
export function startOffline() {
    if ('serviceWorker' in navigator) {
        navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e) => console.warn('service worker:', e));
    }
    setOfflineCopyHandler(noteOfflineCopy);
    window.addEventListener('hashchange', () => {
        oldestCopy = null;
        paintState();
    });
    window.addEventListener('online', paintState);
    window.addEventListener('offline', paintState);
    onQueueChange((c) => {
        if (c.type !== 'rejected') return;
        const why = c.error?.errors?.length ? c.error.errors.map(looseFieldSentence).join(' ') : problemSentence(c.error);
        rejected.push({ ...c.entry, why });
        toast(t('Not saved: {what}. {why}', { what: label(c.entry), why }), 'error');
    });
    paintState();
    startQueue();
}

/** Forget the API answers kept on this device (logging out, or the session ended). */
export async function forgetData() {
    try {
        await caches.delete(DATA_CACHE);
    } catch {
        // No Cache Storage (not a secure context): nothing was kept.
    }
}

/**
 * Before logging out: send what waits (while the token still works), then forget what could
 * not be sent and the kept answers. Returns how many waiting writes were discarded.
 */
export async function beforeLogout() {
    try {
        await flush();
    } catch {
        // What could not be sent is discarded below.
    }
    const lost = await discardAll().catch(() => 0);
    await forgetData();
    return lost;
}

// --- what waits ---------------------------------------------------------------------------------

/** "Dinner" / "Ana paid Ben": what a waiting write is about. */
function label(e) {
    const p = e.preview ?? {};
    if (e.kind === 'payment') return t('{from} paid {to}', { from: p.from ?? '?', to: p.to ?? '?' });
    return p.description ?? t('an expense');
}

const ACTIONS = { create: 'new', update: 'change', delete: 'deletion' };

function amountText(e) {
    const p = e.preview ?? {};
    if (p.amount === undefined || !p.currency) return '';
    try {
        return formatMoney(BigInt(p.amount), p.currency);
    } catch {
        return '';
    }
}

/**
 * The panel of a group page: "2 changes waiting to be sent", each with Discard, and "Send now".
 * It follows the queue while shown; once something was sent it redraws the page (unless the
 * reader is typing in one of its forms).
 */
export function waitingPanel(gid) {
    const panel = h('section', { class: 'card waiting-panel', id: 'waiting-panel', 'aria-labelledby': 'waiting-title', hidden: true });
    let sent = false;
    let redraw = null;
    async function paint() {
        const list = await waiting(gid);
        const refused = rejected.filter((e) => e.group === gid);
        clear(panel);
        panel.hidden = !list.length && !refused.length;
        if (refused.length) {
            panel.append(h('ul', { class: 'refused-list', id: 'refused-list' }, refused.map((e) => h('li', { class: 'error' },
                t('Not saved: {what}. {why}', { what: label(e), why: e.why }), ' ',
                h('button', {
                    type: 'button', class: 'btn btn-ghost btn-small',
                    'aria-label': t('Dismiss: {what}', { what: label(e) }),
                    onclick: () => {
                        rejected.splice(rejected.indexOf(e), 1);
                        paint();
                    },
                }, t('Dismiss'))))));
        }
        if (!list.length) return;
        const send = h('button', {
            type: 'button', class: 'btn btn-secondary btn-small', id: 'send-waiting',
            onclick: () => {
                send.disabled = true;
                flush().finally(() => {
                    if (send.isConnected) send.disabled = false;
                });
            },
        }, t('Send now'));
        panel.append(
            h('div', { class: 'waiting-head' },
                h('h2', { id: 'waiting-title' }, tn(list.length, '{n} change waiting to be sent', '{n} changes waiting to be sent')),
                send),
            h('p', { class: 'muted small' }, navigator.onLine === false
                ? t('Saved on this device while offline; sent in order when the connection returns.')
                : t('Saved on this device; sent in order as soon as splitter can be reached.')),
            h('ul', { class: 'waiting-list', id: 'waiting-list' }, list.map((e) => h('li', { dataset: { seq: String(e.seq) } },
                h('span', { class: 'waiting-what' },
                    h('span', { class: 'badge waiting-badge' }, t(ACTIONS[e.action] ?? 'new')), ' ',
                    label(e), amountText(e) ? ` · ${amountText(e)}` : ''),
                h('button', {
                    type: 'button', class: 'btn btn-ghost btn-small discard-waiting',
                    'aria-label': t('Discard: {what}', { what: label(e) }),
                    onclick: () => discard(e.seq),
                }, t('Discard'))))));
    }
    const stop = onQueueChange((c) => {
        if (!panel.isConnected) return;
        if (c.type === 'sent' || c.type === 'discarded' || c.type === 'rejected') {
            for (const li of document.querySelectorAll(`.waiting-entry[data-seq="${c.entry.seq}"]`)) li.remove();
        }
        if (c.type === 'sent' && c.entry.group === gid) sent = true;
        paint();
        if (sent && !redraw) {
            redraw = setTimeout(async () => {
                redraw = null;
                if (!panel.isConnected || (await waiting(gid)).length) return;
                if (document.activeElement?.closest?.('form')) return;
                sent = false;
                window.dispatchEvent(new HashChangeEvent('hashchange'));
            }, 400);
        }
    });
    const onNet = () => paint();
    window.addEventListener('online', onNet);
    window.addEventListener('offline', onNet);
    window.addEventListener('hashchange', () => {
        stop();
        clearTimeout(redraw);
        window.removeEventListener('online', onNet);
        window.removeEventListener('offline', onNet);
    }, { once: true });
    paint();
    return panel;
}

/** The group's waiting new expenses and payments, as rows of the expense list marked "waiting". */
export async function waitingRows(gid) {
    const rows = [];
    for (const e of await waiting(gid)) {
        if (e.action !== 'create') continue;
        const p = e.preview ?? {};
        rows.push(h('li', { class: ['waiting-entry', e.kind === 'payment' ? 'payment-entry' : null], dataset: { seq: String(e.seq) } },
            h('div', { class: 'expense-link' },
                h('span', { class: 'cat-dot', 'aria-hidden': 'true' }, e.kind === 'payment' ? '⇄' : '…'),
                h('span', { class: 'main' },
                    h('span', { class: 'desc' }, label(e)),
                    h('span', { class: 'meta muted' }, [formatDate(p.date), e.kind === 'payment' ? t('payment') : p.category].filter(Boolean).join(' · '))),
                h('span', { class: 'amounts' },
                    h('span', { class: 'amount' }, amountText(e)),
                    h('span', { class: 'badge waiting-badge' }, t('waiting'))))));
    }
    return rows;
}
