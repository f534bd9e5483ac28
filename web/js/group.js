// A group's pages: overview (balances, chart, who pays whom with "mark as paid"), expenses,
// insights (spending charts), activity log, members, invites and webhooks (webhooks.js); the
// payment form; accepting an invite.

import { ApiError, get, getAll, isMissingRoute, request, session, write } from './api.js';
import { canVerify, shortHash, verifyChain } from './chain.js';
import { balanceChart, barList, columns, spendingSeries } from './charts.js';
import { clear, field, formatDate, formatDateTime, h, initial, setFieldError, todayISO, toast } from './dom.js';
import { follow } from './live.js';
import { apportion, big, formatMoney, parseAmount, toInput } from './money.js';
import { CATEGORIES, loadGroup, memberName, myMember, remember } from './state.js';
import { problemSentence } from './problems.js';
import { currentLocale, t, tn } from './i18n.js';
import { formAlert, navigate, onSubmit, page, restoreScroll, routeAlive } from './ui.js';
import { waitingPanel, waitingRows } from './offline.js';
import { writeOrQueue } from './queue.js';
import { webhooksCard } from './webhooks.js';

const TABS = [
    ['overview', 'Overview'],
    ['expenses', 'Expenses'],
    ['insights', 'Insights'],
    ['activity', 'Activity'],
    ['members', 'Members'],
];

// How each split mode reads in a list row.
const SPLIT_WORDS = { equal: 'split equally', exact: 'split by amounts', percent: 'split by percent', shares: 'split by shares', items: 'itemised' };

const abs = (v) => (v < 0n ? -v : v);

/** A link that adds to the group, or the same words disabled while the group is archived. */
function addLink(group, href, cls, id, label) {
    if (!group.archived) return h('a', { href, class: cls, id }, label);
    return h('button', { type: 'button', class: cls, id, disabled: true, title: t('This group is archived') }, label);
}

function unavailable(what) {
    return h('p', { class: 'notice' }, t('{what} is not available from this server yet.', { what }));
}

function loading() {
    return h('p', { class: 'muted loading' }, t('Loading…'));
}

// Tabs that show the ledger: repainted when another member's change arrives on the stream.
const LIVE_TABS = new Set(['overview', 'expenses', 'insights', 'activity']);
const REPAINT_DELAY_MS = 250;

export async function groupView(gid, tab, query = new URLSearchParams()) {
    const alive = routeAlive();
    let group = await loadGroup(gid);
    if (!alive()) return;
    if (!TABS.some(([key]) => key === tab)) tab = 'overview';
    const base = `#/groups/${gid}`;
    const body = h('div', { class: 'tab-body', id: `tab-${tab}` }, loading());
    const liveState = h('span', { class: 'live-state', id: 'live-state', title: t('Changes by other members appear here as they happen') });
    const header = h('header', { class: 'group-header' },
        h('div', { class: 'group-title' },
            h('h1', {}, group.name),
            h('span', { class: 'badge', title: t('Group currency') }, group.currency),
            liveState),
        h('div', { class: 'group-actions' },
            addLink(group, `${base}/expenses/new`, 'btn btn-primary', 'add-expense', t('+ Add expense')),
            addLink(group, `${base}/payments/new`, 'btn btn-secondary', 'record-payment', t('Record a payment')),
            h('button', { type: 'button', class: 'btn btn-ghost', id: 'export-csv', onclick: (ev) => exportFile(group, ev.currentTarget, 'csv') }, t('Export CSV')),
            h('button', { type: 'button', class: 'btn btn-ghost', id: 'export-json', onclick: (ev) => exportFile(group, ev.currentTarget, 'json') }, t('Export JSON'))));
    const banner = group.archived
        ? h('p', { class: 'notice archived-banner', id: 'archived-banner', role: 'status' },
            t('This group is archived: it is read-only until someone unarchives it in Members.'))
        : null;
    const tabs = h('nav', { class: 'tabs', 'aria-label': t('Group sections') },
        h('ul', {}, TABS.map(([key, label]) => h('li', {},
            h('a', { href: key === 'overview' ? base : `${base}/${key}`, 'aria-current': key === tab ? 'page' : undefined, id: `tab-link-${key}` }, t(label))))));
    page(tab === 'overview' ? group.name : `${t(TABS.find(([key]) => key === tab)[1])} · ${group.name}`, header, banner, waitingPanel(gid), tabs, body);
    const view = { overview, expenses, insights, activity, members }[tab];
    const render = (g) => view(g, query);

    // Follow the group's events while this page is shown; connect before the first read, so a
    // change made between that read and the connect cannot slip through.
    let timer = null;
    let painting = null;
    const repaint = async () => {
        timer = null;
        if (painting) {
            await painting;
            if (!timer) timer = setTimeout(repaint, 0);
            return;
        }
        // Someone typing in a form of the tab (the list's search) keeps what they typed and the
        // focus: the repaint waits until they leave it.
        if (document.activeElement?.closest?.('form') && body.contains(document.activeElement)) {
            timer = setTimeout(repaint, REPAINT_DELAY_MS * 4);
            return;
        }
        painting = (async () => {
            try {
                const fresh = await loadGroup(gid);
                const content = await render(fresh);
                if (!alive()) return;
                group = fresh;
                // The reader stays where they were in the page (a list loads its pages again
                // as the scroll comes back).
                const y = window.scrollY;
                clear(body);
                body.append(...[content].flat());
                if (y > 0) restoreScroll(y, alive);
            } catch {
                // The next event, or a reload, tries again.
            }
        })();
        await painting;
        painting = null;
    };
    const live = follow(gid, {
        onEvent: () => {
            if (LIVE_TABS.has(tab) && alive() && !timer) timer = setTimeout(repaint, REPAINT_DELAY_MS);
        },
        onState: (state) => {
            liveState.dataset.state = state;
            liveState.textContent = state === 'live' ? t('Live') : state === 'reconnecting' ? t('Reconnecting…') : '';
        },
    });
    window.addEventListener('hashchange', live.stop, { once: true });
    await Promise.race([live.ready, new Promise((r) => setTimeout(r, 2000))]);
    if (!alive()) {
        live.stop();
        return;
    }

    painting = (async () => {
        try {
            const content = await render(group);
            clear(body);
            body.append(...[content].flat());
        } catch (e) {
            if (e instanceof ApiError && e.status === 401) return;
            clear(body);
            body.append(h('p', { class: 'error' }, `${t('Could not load this section.')} ${problemSentence(e)}`));
        }
    })();
    await painting;
    painting = null;
}

// --- overview ------------------------------------------------------------------------------

/** "paid … · share … · sent … · received …": the parts of a balance (paid - owed + sent -
 * received), payments shown when there are any, so the row adds up. */
function balanceDetail(b, cur) {
    const parts = [t('paid {amount}', { amount: formatMoney(b.paid, cur) }), t('share {amount}', { amount: formatMoney(b.owed, cur) })];
    if (big(b.sent) !== 0n) parts.push(t('sent {amount}', { amount: formatMoney(b.sent, cur) }));
    if (big(b.received) !== 0n) parts.push(t('received {amount}', { amount: formatMoney(b.received, cur) }));
    return parts.join(' · ');
}

/** "You are owed €206.15" / "You owe …" / "You are settled up": the reader's own balance, and
 * the suggested transfers that settle it ("Ben pays you €30.00"). */
function myStanding(group, me, balance, transfers, cur) {
    const mine = transfers.filter((x) => x.from === me.id || x.to === me.id);
    const text = balance > 0n ? t('You are owed {amount}', { amount: formatMoney(balance, cur) })
        : balance < 0n ? t('You owe {amount}', { amount: formatMoney(-balance, cur) })
            : t('You are settled up');
    return h('section', { class: 'card my-standing', id: 'my-standing', 'aria-label': t('Where you stand') },
        h('p', { class: ['standing', balance > 0n ? 'pos' : balance < 0n ? 'neg' : 'zero'] }, text),
        h('p', { class: 'muted small' }, balance === 0n ? t('Nothing to pay, nothing to get back in this group.')
            : balance > 0n ? t('Others in this group owe you this in all.') : t('You owe this to others in this group in all.')),
        mine.length ? h('ul', { class: 'standing-lines' }, mine.map((x) => h('li', {}, x.to === me.id
            ? t('{name} pays you {amount}', { name: memberName(group, x.from), amount: formatMoney(x.amount, cur) })
            : t('You pay {name} {amount}', { name: memberName(group, x.to), amount: formatMoney(x.amount, cur) })))) : null);
}

/**
 * What an expense means for the reader, in the group currency: paid (their part of the payers,
 * converted with the server's rule: the converted total apportioned by what each paid) minus
 * their share. null when they are neither a payer nor in the split.
 */
export function myPart(e, meId) {
    if (!meId) return null;
    const payers = e.paid_by ?? [];
    const total = big(e.amount_in_group_currency ?? e.amount);
    const pi = payers.findIndex((p) => p.member_id === meId);
    const share = (e.shares ?? []).find((x) => x.member_id === meId);
    if (pi < 0 && !share) return null;
    const paid = pi < 0 ? 0n : apportion(total, payers.map((p) => big(p.amount)))[pi];
    return paid - (share ? big(share.amount) : 0n);
}

function myPartText(e, meId, cur) {
    const v = myPart(e, meId);
    if (v === null) return h('span', { class: 'mine muted small' }, t('not involved'));
    if (v === 0n) return h('span', { class: 'mine muted small' }, t('no balance'));
    return h('span', { class: ['mine', 'small', v > 0n ? 'pos' : 'neg'] },
        v > 0n ? t('you lent {amount}', { amount: formatMoney(v, cur) }) : t('you borrowed {amount}', { amount: formatMoney(-v, cur) }));
}

async function overview(group) {
    const cur = group.currency;
    const [bal, set, rules] = await Promise.all([
        get(`groups/${group.id}/balances`),
        get(`groups/${group.id}/settlements`),
        recurrences(group),
    ]);
    const rows = bal.balances.map((b) => ({ ...b, balance: big(b.balance) }));
    const me = myMember(group);
    const out = [];
    const mine = me ? rows.find((b) => b.member_id === me.id) : null;
    if (mine) out.push(myStanding(group, me, mine.balance, set.transfers ?? [], cur));
    if (group.members.length < 2) {
        out.push(h('div', { class: 'card callout' },
            h('p', {}, t('Add the people you share costs with first.')),
            h('a', { href: `#/groups/${group.id}/members`, class: 'btn btn-secondary' }, t('Add members'))));
    }
    const list = h('ul', { class: 'balance-list', id: 'balance-list' }, rows.map((b) => h('li', { dataset: { member: b.member_id } },
        h('span', { class: 'who' }, b.name, me && b.member_id === me.id ? h('span', { class: 'you' }, ` (${t('you')})`) : null),
        h('span', { class: 'detail muted' }, balanceDetail(b, cur)),
        h('span', { class: ['amount', b.balance > 0n ? 'pos' : b.balance < 0n ? 'neg' : 'zero'] },
            b.balance === 0n ? t('settled') : t(b.balance > 0n ? 'gets back {amount}' : 'owes {amount}', { amount: formatMoney(abs(b.balance), cur) })))));
    out.push(h('section', { class: 'card', 'aria-labelledby': 'h-balances' },
        h('h2', { id: 'h-balances' }, t('Balances')),
        rows.length ? balanceChart(rows, cur) : null,
        list));

    const transfers = set.transfers ?? [];
    const tlist = h('ul', { class: 'transfer-list', id: 'transfer-list' });
    if (!transfers.length) tlist.append(h('li', { class: 'empty' }, t('Everyone is settled up.')));
    for (const tr of transfers) {
        const from = memberName(group, tr.from);
        const to = memberName(group, tr.to);
        const what = t('{from} pays {to} {amount}', { from, to, amount: formatMoney(tr.amount, cur) });
        const key = crypto.randomUUID(); // one per suggested transfer shown: double clicks pay once
        const btn = h('button', {
            type: 'button', class: 'btn btn-secondary btn-small mark-paid', 'aria-label': t('Mark as paid: {what}', { what }),
            onclick: async () => {
                btn.disabled = true;
                btn.setAttribute('aria-busy', 'true');
                try {
                    const date = todayISO();
                    const r = await writeOrQueue('POST', `groups/${group.id}/payments`, {
                        from_member: tr.from, to_member: tr.to, amount: big(tr.amount), date, note: t('Settle up'),
                    }, { key }, { group: group.id, kind: 'payment', preview: { from, to, amount: String(tr.amount), currency: cur, date } });
                    toast(r.status === 'waiting' ? t('Saved on this device; it is sent when the connection returns.')
                        : r.status === 'queued' ? t('Payment recorded; balances update in a moment.') : t('Recorded: {what}.', { what }));
                    navigate(`#/groups/${group.id}`);
                } catch (e) {
                    btn.disabled = false;
                    btn.removeAttribute('aria-busy');
                    toast(`${t('Could not record the payment.')} ${problemSentence(e)}`, 'error');
                }
            },
        }, t('Mark as paid'));
        tlist.append(h('li', {},
            h('span', { class: 'transfer' }, t('{from} pays {to}', { from, to })),
            h('span', { class: 'amount' }, formatMoney(tr.amount, cur)),
            group.archived ? null : btn));
    }
    out.push(h('section', { class: 'card', 'aria-labelledby': 'h-settle' },
        h('h2', { id: 'h-settle' }, t('Who pays whom')),
        h('p', { class: 'muted' }, t('The fewest transfers that settle every balance.')),
        tlist));
    if (rules.length) out.push(upcoming(group, rules));
    return out;
}

// --- upcoming: the repeating expenses ------------------------------------------------------

/** The group's repeating expenses with their next dates; none from a server without them. */
async function recurrences(group) {
    try {
        return (await get(`groups/${group.id}/recurrences`)).items ?? [];
    } catch (e) {
        // Secondary to the balances: offline without a kept copy, the overview goes on without it.
        if (isMissingRoute(e) || globalThis.navigator?.onLine === false) return [];
        throw e;
    }
}

/** "Every 2 weeks · until 31 Dec 2026". */
export function repeatText(r) {
    const n = r.every;
    const every = r.unit === 'day' ? tn(n, 'Every day', 'Every {n} days')
        : r.unit === 'week' ? tn(n, 'Every week', 'Every {n} weeks')
            : r.unit === 'month' ? tn(n, 'Every month', 'Every {n} months')
                : tn(n, 'Every year', 'Every {n} years');
    return r.until ? `${every} · ${t('until {date}', { date: formatDate(r.until) })}` : every;
}

/** The request fields of expense e as they stand, for a replacement. */
function requestOf(e) {
    const body = {};
    for (const k of ['description', 'amount', 'currency', 'exchange_rate', 'date', 'category', 'paid_by', 'split']) body[k] = e[k];
    return body;
}

function upcoming(group, rules) {
    const list = h('ul', { class: 'upcoming-list', id: 'upcoming-list' }, rules.map((r) => {
        const key = crypto.randomUUID(); // one per rule shown: a double click stops it once
        const btn = h('button', {
            type: 'button', class: 'btn btn-ghost btn-small stop-repeat', 'aria-label': t('Stop repeating {what}', { what: r.description }),
            onclick: async () => {
                btn.disabled = true;
                btn.setAttribute('aria-busy', 'true');
                try {
                    const e = await get(`groups/${group.id}/expenses/${r.expense_id}`);
                    await write('PUT', `groups/${group.id}/expenses/${r.expense_id}`, { ...requestOf(e), recurrence: null }, { key, ifMatch: e.version });
                    toast(t('Stopped: no more occurrences of {what}.', { what: r.description }));
                    navigate(`#/groups/${group.id}`);
                } catch (e) {
                    btn.disabled = false;
                    btn.removeAttribute('aria-busy');
                    toast(`${t('Could not stop it.')} ${problemSentence(e)}`, 'error');
                }
            },
        }, t('Stop'));
        const next = r.next_dates ?? [];
        return h('li', { dataset: { expense: r.expense_id } },
            h('span', { class: 'main' },
                h('a', { href: `#/groups/${group.id}/expenses/${r.expense_id}`, class: 'desc' }, r.description),
                h('span', { class: 'meta muted' }, repeatText(r.recurrence))),
            h('span', { class: 'next' }, next.length ? t('Next: {dates}', { dates: next.map((d) => formatDate(d)).join(', ') }) : t('No more dates')),
            h('span', { class: 'amount' }, formatMoney(r.amount, r.currency)),
            btn);
    }));
    return h('section', { class: 'card', 'aria-labelledby': 'h-upcoming' },
        h('h2', { id: 'h-upcoming' }, t('Upcoming')),
        h('p', { class: 'muted' }, t('Repeating expenses: each is added on its day.')),
        list);
}

// --- expenses ------------------------------------------------------------------------------

function expenseItem(group, e) {
    const cur = group.currency;
    remember(e);
    const payers = (e.paid_by ?? []).map((p) => memberName(group, p.member_id)).join(', ');
    const foreign = e.currency && e.currency !== cur;
    const mine = myPartText(e, myMember(group)?.id, cur);
    return h('li', {},
        h('a', { href: `#/groups/${group.id}/expenses/${e.id}`, class: 'expense-link', 'aria-label': `${t('Edit {what}', { what: e.description })}, ${formatMoney(e.amount_in_group_currency ?? e.amount, cur)}, ${mine.textContent}` },
            h('span', { class: 'cat-dot', dataset: { cat: e.category ?? '' }, 'aria-hidden': 'true' }, initial(e.category || '•')),
            h('span', { class: 'main' },
                h('span', { class: 'desc' }, e.description),
                h('span', { class: 'meta muted' }, [formatDate(e.date), e.category, payers ? t('paid by {names}', { names: payers }) : null, t(SPLIT_WORDS[e.split?.mode] ?? 'split')].filter(Boolean).join(' · '))),
            h('span', { class: 'amounts' },
                h('span', { class: 'amount' }, formatMoney(e.amount_in_group_currency ?? e.amount, cur)),
                foreign ? h('span', { class: 'muted small' }, formatMoney(e.amount, e.currency)) : null,
                mine)));
}

function paymentItem(group, p) {
    const cur = group.currency;
    const me = myMember(group);
    const who = t('{from} paid {to}', { from: memberName(group, p.from_member), to: memberName(group, p.to_member) });
    return h('li', { class: 'payment-entry' },
        h('a', { href: `#/groups/${group.id}/payments/${p.id}`, class: 'expense-link', 'aria-label': `${t('Edit payment: {who}', { who })}, ${formatMoney(p.amount, cur)}` },
            h('span', { class: 'cat-dot', dataset: { cat: t('payment') }, 'aria-hidden': 'true' }, '⇄'),
            h('span', { class: 'main' },
                h('span', { class: 'desc' }, who),
                h('span', { class: 'meta muted' }, [formatDate(p.date), t('payment'), p.note].filter(Boolean).join(' · '))),
            h('span', { class: 'amounts' },
                h('span', { class: 'amount' }, formatMoney(p.amount, cur)),
                me && p.from_member === me.id ? h('span', { class: 'mine small pos' }, t('you paid')) : null,
                me && p.to_member === me.id ? h('span', { class: 'mine small neg' }, t('you received')) : null)));
}

/** The list's filters as the query of the tab's hash gives them (the API's names). */
const FILTERS = ['q', 'payer', 'member', 'category', 'from', 'to'];

function filterForm(group, query) {
    const opts = (label) => [h('option', { value: '' }, label), ...group.members.map((m) => h('option', { value: m.id }, m.name))];
    const q = h('input', { type: 'search', id: 'filter-q', autocomplete: 'off', maxlength: 200, value: query.get('q') ?? '', placeholder: t('Dinner, taxi…') });
    const payer = h('select', { id: 'filter-payer' }, opts(t('Anyone')));
    payer.value = query.get('payer') ?? '';
    const member = h('select', { id: 'filter-member' }, opts(t('Anyone')));
    member.value = query.get('member') ?? '';
    const category = h('input', { type: 'text', id: 'filter-category', list: 'filter-categories', autocomplete: 'off', maxlength: 50, value: query.get('category') ?? '' });
    const from = h('input', { type: 'date', id: 'filter-from', value: query.get('from') ?? '' });
    const to = h('input', { type: 'date', id: 'filter-to', value: query.get('to') ?? '' });
    const more = FILTERS.slice(1).some((k) => query.get(k));
    const active = FILTERS.some((k) => query.get(k));
    const form = h('form', { class: 'filter-form', id: 'expense-filter', role: 'search', novalidate: true },
        h('div', { class: 'row row-end' },
            field({ label: t('Search'), control: q, name: 'q', className: 'grow' }),
            h('button', { type: 'submit', class: 'btn btn-secondary' }, t('Search'))),
        h('details', { open: more || undefined },
            h('summary', {}, t('More filters')),
            h('div', { class: 'row' },
                field({ label: t('Paid by'), control: payer, name: 'payer', className: 'grow' }),
                field({ label: t('Shared by'), control: member, name: 'member', className: 'grow' }),
                field({ label: t('Category'), control: category, name: 'category', className: 'grow' })),
            h('datalist', { id: 'filter-categories' }, CATEGORIES.map((c) => h('option', { value: c }))),
            h('div', { class: 'row' },
                field({ label: t('From'), control: from, name: 'from', className: 'grow' }),
                field({ label: t('To'), control: to, name: 'to', className: 'grow' }))),
        active ? h('p', {}, h('a', { href: `#/groups/${group.id}/expenses`, id: 'clear-filters' }, t('Clear the filters'))) : null);
    form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        setFieldError(to, null);
        if (from.value && to.value && from.value > to.value) {
            setFieldError(to, t('Pick a date on or after the first one.'));
            to.focus();
            return;
        }
        const qs = new URLSearchParams();
        const values = { q: q.value.trim(), payer: payer.value, member: member.value, category: category.value.trim(), from: from.value, to: to.value };
        for (const k of FILTERS) if (values[k]) qs.set(k, values[k]);
        const text = qs.toString();
        navigate(`#/groups/${group.id}/expenses${text ? `?${text}` : ''}`);
    });
    return { form, active };
}

const monthFormat = () => new Intl.DateTimeFormat(currentLocale(), { month: 'long', year: 'numeric', timeZone: 'UTC' });

/** "November 2026" for "2026-11-20". */
function monthLabel(date) {
    const [y, m] = String(date).split('-').map(Number);
    if (!y || !m) return '';
    return monthFormat().format(new Date(Date.UTC(y, m - 1, 1)));
}

async function expenses(group, query = new URLSearchParams()) {
    const list = h('ul', { class: 'expense-list', id: 'expense-list' });
    const status = h('p', { class: 'list-status muted', id: 'list-status', 'aria-live': 'polite' });
    const retry = h('button', { type: 'button', class: 'btn btn-ghost', id: 'list-retry', hidden: true }, t('Try again'));
    const sentinel = h('div', { class: 'list-sentinel', 'aria-hidden': 'true' });
    const { form, active } = filterForm(group, query);
    const filters = new URLSearchParams();
    for (const k of FILTERS) if (query.get(k)) filters.set(k, query.get(k));
    let cursor = null;
    let done = false;
    let loading = null;
    let month = null;
    // Payments are listed among the expenses by date: each page of expenses brings the
    // payments dated on or after its last expense; the last page brings the rest. The filters
    // are the expense list's; with any of them set, payments are left out.
    let payments = [];
    const add = (date, item) => {
        const m = String(date).slice(0, 7);
        if (m !== month) {
            month = m;
            list.append(h('li', { class: 'month-header' }, h('h3', {}, monthLabel(date))));
        }
        list.append(item);
    };
    async function load() {
        const qs = new URLSearchParams(filters);
        qs.set('limit', '50');
        if (cursor) qs.set('cursor', cursor);
        const data = await get(`groups/${group.id}/expenses?${qs}`);
        cursor = data.next_cursor;
        done = !cursor;
        const floor = cursor && data.items.length ? data.items[data.items.length - 1].date : '';
        for (const e of data.items) {
            while (payments.length && payments[0].date > e.date) add(payments[0].date, paymentItem(group, payments.shift()));
            add(e.date, expenseItem(group, e));
        }
        while (payments.length && payments[0].date >= floor) add(payments[0].date, paymentItem(group, payments.shift()));
        if (!list.querySelector('li:not(.waiting-entry)')) list.append(h('li', { class: 'empty' }, active ? t('Nothing matches these filters.') : t('No expenses yet.')));
        status.textContent = done ? '' : t('Scroll for more…');
    }
    // Load as the reader scrolls: the next page when the end of the list comes near.
    const near = () => sentinel.isConnected && sentinel.getBoundingClientRect().top < window.innerHeight + 800;
    const next = () => {
        if (loading || done) return;
        retry.hidden = true;
        status.textContent = t('Loading more…');
        loading = load().then(() => {
            loading = null;
            if (near()) next();
        }, (e) => {
            loading = null;
            status.textContent = `${t('Could not load more.')} ${problemSentence(e)}`;
            retry.hidden = false;
        });
    };
    retry.addEventListener('click', next);
    const observer = new IntersectionObserver((entries) => {
        if (entries.some((x) => x.isIntersecting)) next();
    }, { rootMargin: '0px 0px 800px 0px' });
    window.addEventListener('hashchange', () => observer.disconnect(), { once: true });
    // New expenses and payments still waiting to be sent head the list (not with filters).
    if (!active) list.append(...await waitingRows(group.id));
    try {
        if (!active) {
            try {
                ({ items: payments } = await getAll(`groups/${group.id}/payments`, { maxPages: 5 }));
            } catch (e) {
                if (!isMissingRoute(e)) throw e;
            }
        }
        await load();
    } catch (e) {
        if (isMissingRoute(e)) return h('section', { class: 'card' }, h('h2', {}, t('Expenses')), unavailable(t('The list of expenses')));
        if (e instanceof ApiError && e.status === 422) {
            list.append(h('li', { class: 'error' }, `${t('These filters are not valid.')} ${problemSentence(e)}`));
            done = true;
        } else throw e;
    }
    if (!done) observer.observe(sentinel);
    return h('section', { class: 'card', 'aria-labelledby': 'h-expenses' },
        h('h2', { id: 'h-expenses' }, t('Expenses and payments')),
        form,
        h('p', { class: 'muted' }, active ? t('Expenses matching the filters, newest first.') : t('Newest first. Open one to edit or delete it.')),
        list, sentinel, status, retry);
}

// --- insights ------------------------------------------------------------------------------

async function insights(group) {
    let items;
    try {
        ({ items } = await getAll(`groups/${group.id}/expenses`, { maxPages: 10 }));
    } catch (e) {
        if (isMissingRoute(e)) return h('section', { class: 'card' }, h('h2', {}, t('Insights')), unavailable(t('Spending by category and over time')));
        throw e;
    }
    if (!items.length) return h('section', { class: 'card' }, h('h2', {}, t('Insights')), h('p', { class: 'empty' }, t('Add expenses to see where the money goes.')));
    const { categories, time } = spendingSeries(items);
    const total = items.reduce((sum, e) => sum + big(e.amount_in_group_currency ?? e.amount), 0n);
    return [
        h('section', { class: 'card stat-row', 'aria-label': t('Totals') },
            h('div', { class: 'stat' }, h('span', { class: 'stat-value' }, formatMoney(total, group.currency)), h('span', { class: 'muted' }, t('spent in all'))),
            h('div', { class: 'stat' }, h('span', { class: 'stat-value' }, String(items.length)), h('span', { class: 'muted' }, tn(items.length, 'expense', 'expenses')))),
        h('section', { class: 'card', 'aria-labelledby': 'h-cat' }, h('h2', { id: 'h-cat' }, t('By category')), barList(t('Spending by category'), categories, group.currency, 'chart-categories')),
        h('section', { class: 'card', 'aria-labelledby': 'h-time' }, h('h2', { id: 'h-time' }, t('Over time')), columns(t('Spending over time'), time, group.currency, 'chart-time')),
    ];
}

// --- activity ------------------------------------------------------------------------------

/** The expense or payment an event touched. */
const targetOf = (ev) => ev.payload?.expense_id ?? ev.payload?.payment_id ?? null;

function describeEvent(group, ev, actorName, names) {
    const p = ev.payload ?? {};
    const reverted = ev.type?.endsWith('.reverted');
    const d = { ...((reverted ? p.data?.restore : p.data) ?? {}) };
    const eid = p.expense_id;
    if (eid && d.description) names.set(eid, d.description);
    else if (eid && names.has(eid)) d.description = names.get(eid);
    const money = (amount, currency) => (amount === undefined || amount === null ? '' : ` (${formatMoney(amount, currency || group.currency)})`);
    const paid = (x) => `${t('{from} paid {to}', { from: memberName(group, x.from_member), to: memberName(group, x.to_member) })}${money(x.amount)}`;
    const what = d.description ? `“${d.description}”` : t('an expense');
    const actor = actorName;
    switch (ev.type) {
        case 'expense.created':
            return t('{actor} added {what}', { actor, what }) + money(d.amount, d.currency);
        case 'expense.replaced':
            return t('{actor} edited {what}', { actor, what }) + money(d.amount, d.currency);
        case 'expense.deleted':
            return t('{actor} deleted {what}', { actor, what });
        case 'expense.reverted':
            return p.data?.restore ? t('{actor} undid a change: {what} is back', { actor, what }) + money(d.amount, d.currency)
                : t('{actor} undid a change: {what} removed', { actor, what });
        case 'payment.created':
            return t('{actor} recorded that {payment}', { actor, payment: paid(d) });
        case 'payment.replaced':
            return t('{actor} changed a payment: {payment}', { actor, payment: paid(d) });
        case 'payment.deleted':
            return ev.before ? t('{actor} deleted the payment: {payment}', { actor, payment: paid(ev.before) }) : t('{actor} deleted a payment', { actor });
        case 'payment.reverted':
            return p.data?.restore ? t('{actor} undid a change: {payment}', { actor, payment: paid(d) }) : t('{actor} undid a change: a payment removed', { actor });
        case 'group.renamed':
            return t('{actor} renamed the group “{name}”', { actor, name: d.name });
        case 'group.archived':
            return t('{actor} archived the group', { actor });
        case 'group.unarchived':
            return t('{actor} unarchived the group', { actor });
        case 'member.renamed':
            return t('{actor} renamed a member “{name}”', { actor, name: d.name });
        case 'member.removed':
            return t('{actor} removed {name} from the group', { actor, name: d.name ?? memberName(group, d.member_id) });
        case 'member.left':
            return t('{name} left the group', { name: memberName(group, d.member_id) });
        case 'invite.revoked':
            return t('{actor} revoked an invite', { actor });
        default:
            return `${actorName}: ${ev.type}`;
    }
}

async function activity(group) {
    let res;
    try {
        res = await getAll(`groups/${group.id}/events`, { maxPages: 10 });
    } catch (e) {
        if (isMissingRoute(e)) return h('section', { class: 'card' }, h('h2', {}, t('Activity')), unavailable(t('The activity log')));
        throw e;
    }
    const byUser = new Map(group.members.filter((m) => m.user_id).map((m) => [m.user_id, m.name]));
    const list = h('ol', { class: 'activity-list', id: 'activity-list', reversed: true });
    // Oldest first to follow each expense's description; shown newest first.
    const names = new Map();
    const texts = res.items.map((ev) => describeEvent(group, ev, byUser.get(ev.actor) ?? t('Someone'), names));
    // Undo is offered on the last change of each expense or payment (an older one would be
    // refused: the resource changed since). Its version is the number of events that touched it.
    const versions = new Map();
    const last = new Map();
    for (const ev of res.items) {
        const target = targetOf(ev);
        if (!target) continue;
        versions.set(target, (versions.get(target) ?? 0) + 1);
        last.set(target, ev.event_id);
    }
    if (!res.items.length) list.append(h('li', { class: 'empty' }, t('Nothing has happened yet.')));
    for (let i = res.items.length - 1; i >= 0; i--) {
        const ev = res.items[i];
        const target = targetOf(ev);
        const undo = res.complete && !group.archived && target && last.get(target) === ev.event_id
            ? h('button', {
                type: 'button', class: 'btn btn-ghost btn-small undo', 'aria-label': t('Undo: {what}', { what: texts[i] }),
                onclick: async (e) => {
                    const btn = e.currentTarget;
                    btn.disabled = true;
                    try {
                        await write('POST', `groups/${group.id}/events/${ev.event_id}/revert`, undefined, { ifMatch: versions.get(target) });
                        toast(t('Undone.'));
                        const section = list.closest('section');
                        const fresh = await activity(group);
                        section.replaceWith(fresh);
                        fresh.querySelector('h2')?.focus?.();
                    } catch (err) {
                        btn.disabled = false;
                        toast(err instanceof ApiError && err.status === 409 ? t('This changed meanwhile; reload to see the latest.') : `${t('Could not undo.')} ${problemSentence(err)}`, 'error');
                    }
                },
            }, t('Undo'))
            : null;
        list.append(h('li', { class: `ev ev-${String(ev.type).replace(/\W/g, '-')}` },
            h('span', { class: 'ev-text' }, texts[i]),
            h('time', { datetime: ev.accepted_at, class: 'muted small' }, formatDateTime(ev.accepted_at)),
            undo));
    }
    return h('section', { class: 'card', 'aria-labelledby': 'h-activity' },
        h('h2', { id: 'h-activity', tabindex: '-1' }, t('Activity')),
        h('p', { class: 'muted' }, t('Every change to the ledger, newest first. Nothing is ever erased from it; Undo adds a change that reverses the last one.')),
        await chainStatus(group, res),
        res.complete ? null : h('p', { class: 'muted' }, t('Showing the first part of a long history.')),
        list);
}

/** The ledger's head hash and whether the loaded log chains up to it. */
async function chainStatus(group, res) {
    const box = h('p', { class: 'chain-status small', id: 'chain-status' });
    if (!res.items.length) return null;
    const code = (hash) => h('code', { class: 'mono', id: 'chain-head', title: hash }, shortHash(hash));
    if (!canVerify()) {
        box.dataset.state = 'unchecked';
        box.append(t('Ledger head'), ' ', code(res.items.at(-1).hash), ` · ${t('not checked: this browser needs HTTPS to compute SHA-256.')}`);
        return box;
    }
    const r = await verifyChain(group.id, res.items);
    if (!r.ok) {
        box.dataset.state = 'broken';
        box.classList.add('error');
        box.append(t('The ledger’s hash chain is broken at event #{seq} ({why}): the stored history was changed.', { seq: r.at.seq, why: r.why }));
        return box;
    }
    // The group was read before its log, so the log reaches the group's head.
    if (res.complete && group.head_hash && !res.items.some((ev) => ev.hash === group.head_hash)) {
        box.dataset.state = 'broken';
        box.classList.add('error');
        box.append(t('The group’s head hash {hash} is not in its ledger: the stored history was changed.', { hash: shortHash(group.head_hash) }));
        return box;
    }
    box.dataset.state = res.complete ? 'verified' : 'partial';
    box.append(t('Ledger head'), ' ', code(res.items.at(-1).hash), ` · ✓ ${res.complete
        ? tn(r.count, 'hash chain verified over its {n} change.', 'hash chain verified over all {n} changes.')
        : t('hash chain verified up to the {n} changes loaded (the rest is not loaded).', { n: r.count })}`);
    return box;
}

// --- members and invites -----------------------------------------------------------------

function inviteLink(token, group, member) {
    const q = new URLSearchParams({ group: group.name });
    if (member) {
        q.set('claim', member.id);
        q.set('as', member.name);
    }
    return `${location.origin}/#/invite/${encodeURIComponent(token)}?${q}`;
}

function showInvite(box, url, who) {
    clear(box);
    const input = h('input', { type: 'text', readonly: true, value: url, id: 'invite-url', class: 'mono' });
    box.append(h('div', { class: 'invite-box' },
        field({ label: who ? t('Invite link for {name}', { name: who }) : t('Invite link'), control: input, name: 'invite', hint: t('Anyone with this link can join the group for 7 days. Share it like a key.') }),
        h('button', {
            type: 'button', class: 'btn btn-secondary', id: 'copy-invite',
            onclick: async () => {
                try {
                    await navigator.clipboard.writeText(url);
                    toast(t('Link copied.'));
                } catch {
                    input.select();
                    toast(t('Select the link and copy it.'));
                }
            },
        }, t('Copy link'))));
    input.focus();
    input.select();
}

async function members(group) {
    const archived = Boolean(group.archived);
    const box = h('div', { class: 'invite-slot', 'aria-live': 'polite' });
    const invites = h('ul', { class: 'invite-list', id: 'invite-list' });
    const refresh = () => groupView(group.id, 'members');
    const makeInvite = async (member, btn) => {
        btn.disabled = true;
        try {
            const r = await request('POST', `groups/${group.id}/invites`);
            showInvite(box, inviteLink(r.data.token, group, member), member?.name);
            await listInvites(group, invites, archived);
        } catch (e) {
            toast(`${t('Could not create an invite.')} ${problemSentence(e)}`, 'error');
        } finally {
            btn.disabled = false;
        }
    };
    const me = myMember(group);
    // A member may be removed when it has no account and nothing in the balances (the server
    // also refuses one that a deleted expense still names, and says so).
    let balances = [];
    try {
        balances = (await get(`groups/${group.id}/balances`)).balances;
    } catch {
        // Without balances nothing is offered for removal.
    }
    const untouched = (m) => balances.some((b) => b.member_id === m.id &&
        [b.paid, b.owed, b.sent, b.received].every((v) => big(v) === 0n));
    const list = h('ul', { class: 'member-list', id: 'member-list' }, group.members.map((m) => {
        const li = h('li', { dataset: { member: m.id } },
            h('span', { class: 'avatar', 'aria-hidden': 'true' }, initial(m.name)),
            h('span', { class: 'who' }, m.name, me && me.id === m.id ? h('span', { class: 'you' }, ` (${t('you')})`) : null),
            h('span', { class: 'muted small' }, m.user_id ? t('has an account') : t('no account yet')));
        if (archived) return li;
        if (!m.user_id) {
            const b = h('button', { type: 'button', class: 'btn btn-ghost btn-small invite-member', 'aria-label': t('Invite {name}', { name: m.name }), onclick: () => makeInvite(m, b) }, t('Invite'));
            li.append(b);
        }
        li.append(h('button', {
            type: 'button', class: 'btn btn-ghost btn-small rename-member', 'aria-label': t('Rename {name}', { name: m.name }),
            onclick: () => li.replaceWith(renameForm(m.name, 'member-rename', async (name) => {
                await request('PATCH', `groups/${group.id}/members/${m.id}`, { body: { name } });
                toast(t('Renamed to {name}.', { name }));
                await refresh();
            }, refresh)),
        }, t('Rename')));
        if (!m.user_id && untouched(m)) {
            const rm = h('button', {
                type: 'button', class: 'btn btn-danger-ghost btn-small remove-member', 'aria-label': t('Remove {name}', { name: m.name }),
                onclick: async () => {
                    rm.disabled = true;
                    try {
                        await request('DELETE', `groups/${group.id}/members/${m.id}`);
                        toast(t('{name} removed.', { name: m.name }));
                        await refresh();
                    } catch (e) {
                        rm.disabled = false;
                        toast(`${t('Could not remove {name}.', { name: m.name })} ${problemSentence(e)}`, 'error');
                    }
                },
            }, t('Remove'));
            li.append(rm);
        }
        return li;
    }));
    const name = h('input', { type: 'text', required: true, maxlength: 100, autocomplete: 'off', id: 'member-name', placeholder: 'Ben' });
    const form = h('form', { class: 'form inline-form', id: 'add-member', novalidate: true },
        formAlert(),
        h('div', { class: 'row row-end' },
            field({ label: t('Name'), control: name, name: 'name', className: 'grow', hint: t('People without an account can join later through an invite.') }),
            h('button', { type: 'submit', class: 'btn btn-primary' }, t('Add member'))));
    onSubmit(form, async () => {
        if (!name.value.trim()) {
            setFieldError(name, t('Enter a name'));
            name.focus();
            return;
        }
        const r = await request('POST', `groups/${group.id}/members`, { body: { name: name.value.trim() } });
        toast(t('{name} added.', { name: r.data.name }));
        await groupView(group.id, 'members');
        document.getElementById('member-name')?.focus();
    });
    const general = h('button', { type: 'button', class: 'btn btn-secondary', id: 'invite-anyone', onclick: () => makeInvite(null, general) }, t('Create an invite link'));
    await listInvites(group, invites, archived);
    return [
        h('section', { class: 'card', 'aria-labelledby': 'h-members' },
            h('h2', { id: 'h-members' }, t('Members')),
            list,
            archived ? null : form),
        h('section', { class: 'card', 'aria-labelledby': 'h-invite' },
            h('h2', { id: 'h-invite' }, t('Invite')),
            archived ? null : h('p', { class: 'muted' }, t('Send someone a link to join. To hand over a member without an account (with their expenses), use “Invite” next to their name.')),
            archived ? null : general, box,
            h('h3', { id: 'h-open-invites' }, t('Open invites')),
            invites),
        webhooksCard(group),
        settings(group),
    ];
}

/** A small form that renames something: name in, onSave(name) on submit, onCancel. */
function renameForm(current, id, onSave, onCancel) {
    const input = h('input', { type: 'text', required: true, maxlength: 100, autocomplete: 'off', id: `${id}-name`, value: current });
    const form = h('form', { class: 'form inline-form rename-form', id, novalidate: true },
        formAlert(),
        h('div', { class: 'row row-end' },
            field({ label: t('New name'), control: input, name: 'name', className: 'grow' }),
            h('button', { type: 'submit', class: 'btn btn-primary' }, t('Save')),
            h('button', { type: 'button', class: 'btn btn-ghost', onclick: onCancel }, t('Cancel'))));
    onSubmit(form, async () => {
        const name = input.value.trim();
        if (!name) {
            setFieldError(input, t('Enter a name'));
            input.focus();
            return;
        }
        await onSave(name);
    });
    setTimeout(() => input.focus(), 0);
    return form;
}

/** The group's open invites, each with "Revoke" (tokens are never shown again). */
async function listInvites(group, list, archived) {
    let items;
    try {
        items = (await get(`groups/${group.id}/invites`)).items;
    } catch (e) {
        clear(list);
        list.append(h('li', { class: 'error' }, `${t('Could not load the invites.')} ${problemSentence(e)}`));
        return;
    }
    clear(list);
    if (!items.length) list.append(h('li', { class: 'empty' }, t('No open invites.')));
    const byUser = new Map(group.members.filter((m) => m.user_id).map((m) => [m.user_id, m.name]));
    for (const inv of items) {
        const what = t('Invite by {name}, valid until {date}', { name: byUser.get(inv.created_by) ?? t('Someone'), date: formatDateTime(inv.expires_at) });
        const revoke = archived ? null : h('button', {
            type: 'button', class: 'btn btn-danger-ghost btn-small revoke-invite', 'aria-label': t('Revoke: {what}', { what }),
            onclick: async () => {
                revoke.disabled = true;
                try {
                    await request('DELETE', `groups/${group.id}/invites/${inv.id}`);
                    toast(t('Invite revoked: its link no longer works.'));
                    await listInvites(group, list, archived);
                } catch (e) {
                    revoke.disabled = false;
                    toast(`${t('Could not revoke the invite.')} ${problemSentence(e)}`, 'error');
                }
            },
        }, t('Revoke'));
        list.append(h('li', { dataset: { invite: inv.id } }, h('span', { class: 'grow' }, what), revoke));
    }
}

/** Group settings: rename, archive or unarchive, leave (with a confirmation). */
function settings(group) {
    const archived = Boolean(group.archived);
    const refresh = () => groupView(group.id, 'members');
    const slot = h('div', { class: 'settings-slot' });
    const rename = h('button', {
        type: 'button', class: 'btn btn-ghost', id: 'rename-group', disabled: archived,
        onclick: () => {
            clear(slot);
            slot.append(renameForm(group.name, 'group-rename', async (name) => {
                await request('PATCH', `groups/${group.id}`, { body: { name }, headers: { 'If-Match': `"${group.version}"` } });
                toast(t('Renamed to {name}.', { name }));
                await refresh();
            }, () => clear(slot)));
        },
    }, t('Rename group'));
    const archive = h('button', {
        type: 'button', class: 'btn btn-secondary', id: archived ? 'unarchive-group' : 'archive-group',
        onclick: async () => {
            archive.disabled = true;
            try {
                await request('PATCH', `groups/${group.id}`, { body: { archived: !archived } });
                toast(archived ? t('The group is active again.') : t('The group is archived: nobody can change it until it is unarchived.'));
                await refresh();
            } catch (e) {
                archive.disabled = false;
                toast(`${t('Could not change the group.')} ${problemSentence(e)}`, 'error');
            }
        },
    }, archived ? t('Unarchive group') : t('Archive group'));
    const refusal = h('p', { class: 'error', id: 'leave-refusal', role: 'alert', tabindex: '-1', hidden: true });
    const leave = h('button', {
        type: 'button', class: 'btn btn-danger-ghost', id: 'leave-group', disabled: archived,
        onclick: () => {
            clear(slot);
            refusal.hidden = true;
            const yes = h('button', {
                type: 'button', class: 'btn btn-danger', id: 'confirm-leave',
                onclick: async () => {
                    yes.disabled = true;
                    try {
                        await request('POST', `groups/${group.id}/leave`);
                        toast(t('You left {name}.', { name: group.name }));
                        navigate('#/');
                    } catch (e) {
                        clear(slot);
                        refusal.textContent = leaveRefusal(e);
                        refusal.hidden = false;
                        refusal.focus?.();
                    }
                },
            }, t('Leave'));
            slot.append(h('div', { class: 'confirm', id: 'leave-confirm', role: 'group', 'aria-label': t('Confirm leaving') },
                h('p', {}, t('Leave {name}? You will no longer see it; your name stays on its expenses.', { name: group.name })),
                h('div', { class: 'row' }, yes, h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => clear(slot) }, t('Cancel')))));
            yes.focus();
        },
    }, t('Leave group'));
    return h('section', { class: 'card', 'aria-labelledby': 'h-settings', id: 'group-settings' },
        h('h2', { id: 'h-settings' }, t('Group settings')),
        h('p', { class: 'muted' }, archived
            ? t('Archived groups are read-only. Unarchive it to add expenses or change it.')
            : t('Archive a finished group to keep it read-only; you can unarchive it any time.')),
        h('div', { class: 'row settings-actions' }, rename, archive, leave),
        slot, refusal);
}

/** Why the server refused to let the caller leave, in a sentence. */
function leaveRefusal(e) {
    const detail = String(e?.problem?.detail ?? '');
    if (e instanceof ApiError && e.status === 409 && /settle up/.test(detail)) {
        return t('You cannot leave yet: your balance in this group is not zero. Settle up first.');
    }
    if (e instanceof ApiError && e.status === 409 && /last member/.test(detail)) {
        return t('You cannot leave: you are the last member with an account, so nobody could reach the group after you.');
    }
    return `${t('Could not leave the group.')} ${problemSentence(e)}`;
}

// --- exports: CSV for a spreadsheet, JSON to import elsewhere --------------------------------

async function exportFile(group, btn, kind) {
    btn.disabled = true;
    try {
        const accept = kind === 'csv' ? 'text/csv' : 'application/json';
        const r = await request('GET', `groups/${group.id}/export.${kind}`, { raw: true, headers: { Accept: accept } });
        const blob = await r.response.blob();
        const url = URL.createObjectURL(blob);
        const safe = group.name.replace(/[^\p{L}\p{N}_-]+/gu, '-').replace(/^-+|-+$/g, '') || 'group';
        const a = h('a', { href: url, download: `splitter-${safe}-${todayISO()}.${kind}`, class: 'visually-hidden' }, 'download');
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        toast(kind === 'csv' ? t('CSV downloaded.') : t('JSON downloaded.'));
    } catch (e) {
        toast(isMissingRoute(e) ? t('CSV export is not available from this server yet.') : `${t('Could not export.')} ${problemSentence(e)}`, 'error');
    } finally {
        btn.disabled = false;
    }
}

// --- payment form --------------------------------------------------------------------------

export async function paymentView(gid, query, pid = null) {
    const alive = routeAlive();
    const group = await loadGroup(gid);
    const existing = pid ? await get(`groups/${gid}/payments/${encodeURIComponent(pid)}`) : null;
    if (!alive()) return;
    const cur = group.currency;
    const back = pid ? `#/groups/${gid}/expenses` : `#/groups/${gid}`;
    const me = myMember(group);
    const opts = () => group.members.map((m) => h('option', { value: m.id }, m.name));
    const from = h('select', { id: 'pay-from' }, opts());
    const to = h('select', { id: 'pay-to' }, opts());
    from.value = existing?.from_member ?? (query.get('from') || me?.id || group.members[0]?.id);
    to.value = existing?.to_member ?? (query.get('to') || group.members.find((m) => m.id !== from.value)?.id || '');
    const amount = h('input', {
        type: 'text', id: 'pay-amount', inputmode: 'decimal', autocomplete: 'off', placeholder: '0.00',
        value: existing ? toInput(existing.amount, cur) : undefined,
    });
    const date = h('input', { type: 'date', id: 'pay-date', value: existing?.date ?? todayISO() });
    const note = h('input', { type: 'text', id: 'pay-note', maxlength: 200, autocomplete: 'off', placeholder: t('Bank transfer'), value: existing?.note ?? undefined });
    let pending = { text: null, key: null };
    const form = h('form', { class: 'card form', id: 'payment-form', novalidate: true },
        formAlert(),
        h('div', { class: 'row' },
            field({ label: t('From (who paid)'), control: from, name: 'from_member', className: 'grow' }),
            field({ label: t('To (who received)'), control: to, name: 'to_member', className: 'grow' })),
        h('div', { class: 'row' },
            field({ label: t('Amount ({currency})', { currency: cur }), control: amount, name: 'amount', className: 'grow' }),
            field({ label: t('Date'), control: date, name: 'date', className: 'grow' })),
        field({ label: t('Note'), control: note, name: 'note', hint: t('Optional') }),
        h('div', { class: 'actions' },
            h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-payment' }, existing ? t('Save payment') : t('Record payment')),
            h('a', { href: back, class: 'btn btn-ghost' }, t('Cancel'))));
    onSubmit(form, async () => {
        const a = parseAmount(amount.value, cur);
        if (a.error) {
            setFieldError(amount, a.error);
            amount.focus();
            return;
        }
        const body = { from_member: from.value, to_member: to.value, amount: a.minor, date: date.value || todayISO() };
        if (note.value.trim()) body.note = note.value.trim();
        const text = JSON.stringify({ ...body, amount: String(body.amount) });
        if (text !== pending.text) pending = { text, key: crypto.randomUUID() };
        const what = {
            group: gid, kind: 'payment', action: existing ? 'update' : 'create',
            preview: { from: memberName(group, body.from_member), to: memberName(group, body.to_member), amount: String(body.amount), currency: cur, date: body.date },
        };
        try {
            const r = existing
                ? await writeOrQueue('PUT', `groups/${gid}/payments/${existing.id}`, body, { key: pending.key, ifMatch: existing.version }, what)
                : await writeOrQueue('POST', `groups/${gid}/payments`, body, { key: pending.key }, what);
            toast(r.status === 'waiting' ? t('Saved on this device; it is sent when the connection returns.')
                : r.status === 'queued' ? t('Payment saved; balances update in a moment.') : existing ? t('Payment updated.') : t('Payment recorded.'));
        } catch (e) {
            if (e instanceof ApiError && e.status === 409 && existing) {
                throw new ApiError(409, { ...e.problem, human: t('Someone changed this payment meanwhile. Reload the page to edit the latest version.'), errors: [] });
            }
            throw e;
        }
        navigate(back);
    });
    let del = null;
    if (existing) {
        const delKey = crypto.randomUUID();
        const confirmBox = h('div', { class: 'confirm', hidden: true, role: 'group', 'aria-labelledby': 'confirm-delete-text' },
            h('p', { id: 'confirm-delete-text' }, t('Delete this payment? It disappears from the balances; the activity log keeps it.')),
            h('div', { class: 'actions' },
                h('button', {
                    type: 'button', class: 'btn btn-danger', id: 'confirm-delete',
                    onclick: async (ev) => {
                        const btn = ev.currentTarget;
                        btn.disabled = true;
                        try {
                            const r = await writeOrQueue('DELETE', `groups/${gid}/payments/${existing.id}`, undefined, { key: delKey, ifMatch: existing.version }, {
                                group: gid, kind: 'payment', action: 'delete',
                                preview: { from: memberName(group, existing.from_member), to: memberName(group, existing.to_member), amount: String(existing.amount), currency: cur, date: existing.date },
                            });
                            toast(r.status === 'waiting' ? t('Saved on this device; it is sent when the connection returns.') : t('Payment deleted.'));
                            navigate(back);
                        } catch (e) {
                            btn.disabled = false;
                            toast(`${t('Could not delete.')} ${problemSentence(e)}`, 'error');
                        }
                    },
                }, t('Yes, delete it')),
                h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => { confirmBox.hidden = true; delBtn.focus(); } }, t('Keep it'))));
        const delBtn = h('button', {
            type: 'button', class: 'btn btn-danger-ghost', id: 'delete-payment',
            onclick: () => { confirmBox.hidden = false; confirmBox.querySelector('#confirm-delete').focus(); },
        }, t('Delete payment'));
        del = h('section', { class: 'danger-zone', 'aria-label': t('Delete this payment') }, delBtn, confirmBox);
    }
    const title = existing ? t('Edit payment') : t('Record a payment');
    page(`${title} · ${group.name}`,
        h('nav', { class: 'crumbs', 'aria-label': t('Breadcrumb') }, h('a', { href: back }, `← ${group.name}`)),
        h('h1', {}, title),
        h('p', { class: 'muted' }, existing
            ? t('Change the amount (a partial payment), the people or the date; saved changes replace the payment for everyone.')
            : t('Someone paid someone back, outside splitter: the payer’s balance rises, the receiver’s falls.')),
        form, del);
}

// --- invites ---------------------------------------------------------------------------------

/**
 * Joining without an account: as the member the link names (claim, as), or under a typed name.
 * The server makes a guest account whose token this browser keeps like any other; one POST per
 * click (each successful join is a new guest, so nothing retries it).
 */
function guestJoinCard(token, claim, as) {
    const joined = (r) => {
        session.set(r.data.token, r.data.user);
        toast(t('Welcome to {name}!', { name: r.data.group.name }));
        navigate(`#/groups/${r.data.group.id}`);
    };
    const join = (body) => request('POST', `invites/${encodeURIComponent(token)}/accept`, { body }).catch((e) => {
        if (e instanceof ApiError && e.status === 404) {
            throw new ApiError(404, { ...e.problem, human: t('This invite link is invalid or has expired. Ask for a new one.') });
        }
        if (e instanceof ApiError && e.status === 409) {
            throw new ApiError(409, { ...e.problem, human: t('{name} already has an account. Join under your own name instead.', { name: as ?? t('That member') }) });
        }
        throw e;
    });
    const claimForm = claim && as ? h('form', { class: 'form', id: 'guest-claim-form', novalidate: true },
        formAlert(),
        h('div', { class: 'actions' },
            h('button', { type: 'submit', class: 'btn btn-primary', id: 'guest-claim' }, t('Join as {name}', { name: as })))) : null;
    if (claimForm) onSubmit(claimForm, async () => joined(await join({ member_id: claim })));
    const name = h('input', { type: 'text', autocomplete: 'name', required: true, maxlength: 100 });
    const nameForm = h('form', { class: 'form', id: 'guest-name-form', novalidate: true },
        formAlert(),
        field({ label: t('Your name'), control: name, name: 'name', hint: t('How your friends know you.') }),
        h('div', { class: 'actions' },
            h('button', { type: 'submit', class: claimForm ? 'btn btn-secondary' : 'btn btn-primary', id: 'guest-join' }, t('Join with this name'))));
    onSubmit(nameForm, async () => {
        if (!name.value.trim()) {
            setFieldError(name, t('Enter your name'));
            name.focus();
            return;
        }
        joined(await join({ name: name.value.trim() }));
    });
    return h('div', { class: 'card', id: 'guest-join-card' },
        h('h2', {}, t('Join without an account')),
        h('p', { class: 'muted' }, t('No email or password needed: this browser keeps you signed in. You can add an email and password later to use other devices.')),
        claimForm,
        claimForm ? h('p', { class: 'muted' }, t('Or join under another name:')) : null,
        nameForm);
}

export async function inviteView(token, query, { loggedIn }) {
    const groupName = query.get('group');
    const claim = query.get('claim');
    const as = query.get('as');
    const here = location.hash;
    const intro = h('p', { class: 'lead' }, claim && as
        ? t('You have been invited to join {group} on splitter as {name}.', { group: groupName || t('a group'), name: as })
        : t('You have been invited to join {group} on splitter.', { group: groupName || t('a group') }));
    if (!loggedIn) {
        page('Invitation', h('section', { class: 'narrow' },
            h('h1', {}, t('Join a group')), intro,
            guestJoinCard(token, claim, as),
            h('div', { class: 'card' },
                h('p', {}, t('Or log in or create an account to accept.')),
                h('div', { class: 'actions' },
                    h('a', { class: 'btn btn-secondary', href: `#/register?next=${encodeURIComponent(here)}` }, t('Create an account')),
                    h('a', { class: 'btn btn-secondary', href: `#/login?next=${encodeURIComponent(here)}` }, t('Log in'))))));
        return;
    }
    const alert = formAlert();
    const accept = async (memberId, btn) => {
        btn.disabled = true;
        alert.hidden = true;
        try {
            const r = await request('POST', `invites/${encodeURIComponent(token)}/accept`, { body: memberId ? { member_id: memberId } : {} });
            toast(t('Welcome to {name}!', { name: r.data.name }));
            navigate(`#/groups/${r.data.id}`);
        } catch (e) {
            btn.disabled = false;
            clear(alert);
            const msg = e instanceof ApiError && e.status === 404 ? t('This invite link is invalid or has expired. Ask for a new one.')
                : e instanceof ApiError && e.status === 409 ? t('{name} already has an account, or you are already in this group. Join as a new member instead.', { name: as ?? t('That member') })
                    : problemSentence(e);
            alert.append(h('p', {}, msg));
            alert.hidden = false;
        }
    };
    const buttons = [];
    if (claim && as) {
        const b1 = h('button', { type: 'button', class: 'btn btn-primary', id: 'accept-claim', onclick: () => accept(claim, b1) }, t('Join as {name}', { name: as }));
        buttons.push(b1);
    }
    const b2 = h('button', { type: 'button', class: claim ? 'btn btn-secondary' : 'btn btn-primary', id: 'accept-new', onclick: () => accept(null, b2) }, claim ? t('Join as a new member') : t('Join the group'));
    buttons.push(b2);
    page('Invitation', h('section', { class: 'narrow' },
        h('h1', {}, t('Join a group')), intro,
        h('div', { class: 'card' }, alert,
            claim && as ? h('p', { class: 'muted' }, t('Joining as {name} makes their expenses and balance yours.', { name: as })) : null,
            h('div', { class: 'actions' }, buttons))));
}
