// A group's pages: overview (balances, chart, who pays whom with "mark as paid"), expenses,
// insights (spending charts), activity log, members and invites; the payment form; accepting
// an invite.

import { ApiError, get, getAll, isMissingRoute, request, write } from './api.js';
import { canVerify, shortHash, verifyChain } from './chain.js';
import { balanceChart, barList, columns, spendingSeries } from './charts.js';
import { clear, field, formatDate, formatDateTime, h, initial, setFieldError, todayISO, toast } from './dom.js';
import { follow } from './live.js';
import { big, formatMoney, parseAmount, toInput } from './money.js';
import { loadGroup, memberName, myMember, remember } from './state.js';
import { problemSentence } from './problems.js';
import { t, tn } from './i18n.js';
import { formAlert, navigate, onSubmit, page, routeAlive } from './ui.js';

const TABS = [
    ['overview', 'Overview'],
    ['expenses', 'Expenses'],
    ['insights', 'Insights'],
    ['activity', 'Activity'],
    ['members', 'Members'],
];

const abs = (v) => (v < 0n ? -v : v);

function unavailable(what) {
    return h('p', { class: 'notice' }, `${what} is not available from this server yet.`);
}

function loading() {
    return h('p', { class: 'muted loading' }, 'Loading…');
}

// Tabs that show the ledger: repainted when another member's change arrives on the stream.
const LIVE_TABS = new Set(['overview', 'expenses', 'insights', 'activity']);
const REPAINT_DELAY_MS = 250;

export async function groupView(gid, tab) {
    const alive = routeAlive();
    let group = await loadGroup(gid);
    if (!alive()) return;
    if (!TABS.some(([t]) => t === tab)) tab = 'overview';
    const base = `#/groups/${gid}`;
    const body = h('div', { class: 'tab-body', id: `tab-${tab}` }, loading());
    const liveState = h('span', { class: 'live-state', id: 'live-state', title: 'Changes by other members appear here as they happen' });
    const header = h('header', { class: 'group-header' },
        h('div', { class: 'group-title' },
            h('h1', {}, group.name),
            h('span', { class: 'badge', title: 'Group currency' }, group.currency),
            liveState),
        h('div', { class: 'group-actions' },
            h('a', { href: `${base}/expenses/new`, class: 'btn btn-primary', id: 'add-expense' }, '+ Add expense'),
            h('a', { href: `${base}/payments/new`, class: 'btn btn-secondary', id: 'record-payment' }, 'Record a payment'),
            h('button', { type: 'button', class: 'btn btn-ghost', id: 'export-csv', onclick: (ev) => exportCsv(group, ev.currentTarget) }, 'Export CSV')));
    const tabs = h('nav', { class: 'tabs', 'aria-label': 'Group sections' },
        h('ul', {}, TABS.map(([t, label]) => h('li', {},
            h('a', { href: t === 'overview' ? base : `${base}/${t}`, 'aria-current': t === tab ? 'page' : undefined, id: `tab-link-${t}` }, label)))));
    page(tab === 'overview' ? group.name : `${TABS.find(([t]) => t === tab)[1]} · ${group.name}`, header, tabs, body);
    const render = { overview, expenses, insights, activity, members }[tab];

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
        painting = (async () => {
            try {
                const fresh = await loadGroup(gid);
                const content = await render(fresh);
                if (!alive()) return;
                group = fresh;
                clear(body);
                body.append(...[content].flat());
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
            liveState.textContent = state === 'live' ? 'Live' : state === 'reconnecting' ? 'Reconnecting…' : '';
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
    const parts = [`paid ${formatMoney(b.paid, cur)}`, `share ${formatMoney(b.owed, cur)}`];
    if (big(b.sent) !== 0n) parts.push(`sent ${formatMoney(b.sent, cur)}`);
    if (big(b.received) !== 0n) parts.push(`received ${formatMoney(b.received, cur)}`);
    return parts.join(' · ');
}

async function overview(group) {
    const cur = group.currency;
    const [bal, set] = await Promise.all([
        get(`groups/${group.id}/balances`),
        get(`groups/${group.id}/settlements`),
    ]);
    const rows = bal.balances.map((b) => ({ ...b, balance: big(b.balance) }));
    const me = myMember(group);
    const out = [];
    if (group.members.length < 2) {
        out.push(h('div', { class: 'card callout' },
            h('p', {}, 'Add the people you share costs with first.'),
            h('a', { href: `#/groups/${group.id}/members`, class: 'btn btn-secondary' }, 'Add members')));
    }
    const list = h('ul', { class: 'balance-list', id: 'balance-list' }, rows.map((b) => h('li', { dataset: { member: b.member_id } },
        h('span', { class: 'who' }, b.name, me && b.member_id === me.id ? h('span', { class: 'you' }, ' (you)') : null),
        h('span', { class: 'detail muted' }, balanceDetail(b, cur)),
        h('span', { class: ['amount', b.balance > 0n ? 'pos' : b.balance < 0n ? 'neg' : 'zero'] },
            b.balance === 0n ? 'settled' : `${b.balance > 0n ? 'gets back' : 'owes'} ${formatMoney(abs(b.balance), cur)}`))));
    out.push(h('section', { class: 'card', 'aria-labelledby': 'h-balances' },
        h('h2', { id: 'h-balances' }, 'Balances'),
        rows.length ? balanceChart(rows, cur) : null,
        list));

    const transfers = set.transfers ?? [];
    const tlist = h('ul', { class: 'transfer-list', id: 'transfer-list' });
    if (!transfers.length) tlist.append(h('li', { class: 'empty' }, 'Everyone is settled up.'));
    for (const t of transfers) {
        const from = memberName(group, t.from);
        const to = memberName(group, t.to);
        const what = `${from} pays ${to} ${formatMoney(t.amount, cur)}`;
        const key = crypto.randomUUID(); // one per suggested transfer shown: double clicks pay once
        const btn = h('button', {
            type: 'button', class: 'btn btn-secondary btn-small mark-paid', 'aria-label': `Mark as paid: ${what}`,
            onclick: async () => {
                btn.disabled = true;
                btn.setAttribute('aria-busy', 'true');
                try {
                    const r = await write('POST', `groups/${group.id}/payments`, {
                        from_member: t.from, to_member: t.to, amount: big(t.amount), date: todayISO(), note: 'Settle up',
                    }, { key });
                    toast(r.status === 'queued' ? 'Payment recorded; balances update in a moment.' : `Recorded: ${what}.`);
                    navigate(`#/groups/${group.id}`);
                } catch (e) {
                    btn.disabled = false;
                    btn.removeAttribute('aria-busy');
                    toast(`${t('Could not record the payment.')} ${problemSentence(e)}`, 'error');
                }
            },
        }, 'Mark as paid');
        tlist.append(h('li', {},
            h('span', { class: 'transfer' }, h('strong', {}, from), ' pays ', h('strong', {}, to)),
            h('span', { class: 'amount' }, formatMoney(t.amount, cur)),
            btn));
    }
    out.push(h('section', { class: 'card', 'aria-labelledby': 'h-settle' },
        h('h2', { id: 'h-settle' }, 'Who pays whom'),
        h('p', { class: 'muted' }, 'The fewest transfers that settle every balance.'),
        tlist));
    return out;
}

// --- expenses ------------------------------------------------------------------------------

function expenseItem(group, e) {
    const cur = group.currency;
    remember(e);
    const payers = (e.paid_by ?? []).map((p) => memberName(group, p.member_id)).join(', ');
    const foreign = e.currency && e.currency !== cur;
    return h('li', {},
        h('a', { href: `#/groups/${group.id}/expenses/${e.id}`, class: 'expense-link', 'aria-label': `Edit ${e.description}, ${formatMoney(e.amount_in_group_currency ?? e.amount, cur)}` },
            h('span', { class: 'cat-dot', dataset: { cat: e.category ?? '' }, 'aria-hidden': 'true' }, initial(e.category || '•')),
            h('span', { class: 'main' },
                h('span', { class: 'desc' }, e.description),
                h('span', { class: 'meta muted' }, [formatDate(e.date), e.category, payers ? `paid by ${payers}` : null, `split ${e.split?.mode ?? ''}`].filter(Boolean).join(' · '))),
            h('span', { class: 'amounts' },
                h('span', { class: 'amount' }, formatMoney(e.amount_in_group_currency ?? e.amount, cur)),
                foreign ? h('span', { class: 'muted small' }, formatMoney(e.amount, e.currency)) : null)));
}

function paymentItem(group, p) {
    const cur = group.currency;
    const who = `${memberName(group, p.from_member)} paid ${memberName(group, p.to_member)}`;
    return h('li', { class: 'payment-entry' },
        h('a', { href: `#/groups/${group.id}/payments/${p.id}`, class: 'expense-link', 'aria-label': `Edit payment: ${who}, ${formatMoney(p.amount, cur)}` },
            h('span', { class: 'cat-dot', dataset: { cat: 'payment' }, 'aria-hidden': 'true' }, '⇄'),
            h('span', { class: 'main' },
                h('span', { class: 'desc' }, who),
                h('span', { class: 'meta muted' }, [formatDate(p.date), 'payment', p.note].filter(Boolean).join(' · '))),
            h('span', { class: 'amounts' },
                h('span', { class: 'amount' }, formatMoney(p.amount, cur)))));
}

async function expenses(group) {
    const list = h('ul', { class: 'expense-list', id: 'expense-list' });
    const more = h('button', { type: 'button', class: 'btn btn-ghost', hidden: true }, 'Load more');
    let cursor = null;
    // Payments are listed among the expenses by date: each page of expenses brings the
    // payments dated on or after its last expense; the last page brings the rest.
    let payments = [];
    async function load() {
        more.disabled = true;
        const data = await get(`groups/${group.id}/expenses?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        cursor = data.next_cursor;
        const floor = cursor && data.items.length ? data.items[data.items.length - 1].date : '';
        for (const e of data.items) {
            while (payments.length && payments[0].date > e.date) list.append(paymentItem(group, payments.shift()));
            list.append(expenseItem(group, e));
        }
        while (payments.length && payments[0].date >= floor) list.append(paymentItem(group, payments.shift()));
        if (!list.children.length) list.append(h('li', { class: 'empty' }, 'No expenses yet.'));
        more.hidden = !cursor;
        more.disabled = false;
    }
    more.addEventListener('click', () => load().catch((e) => toast(problemSentence(e), 'error')));
    try {
        try {
            ({ items: payments } = await getAll(`groups/${group.id}/payments`, { maxPages: 5 }));
        } catch (e) {
            if (!isMissingRoute(e)) throw e;
        }
        await load();
    } catch (e) {
        if (isMissingRoute(e)) return h('section', { class: 'card' }, h('h2', {}, 'Expenses'), unavailable('The list of expenses'));
        throw e;
    }
    return h('section', { class: 'card', 'aria-labelledby': 'h-expenses' },
        h('h2', { id: 'h-expenses' }, 'Expenses and payments'),
        h('p', { class: 'muted' }, 'Newest first. Open one to edit or delete it.'),
        list, more);
}

// --- insights ------------------------------------------------------------------------------

async function insights(group) {
    let items;
    try {
        ({ items } = await getAll(`groups/${group.id}/expenses`, { maxPages: 10 }));
    } catch (e) {
        if (isMissingRoute(e)) return h('section', { class: 'card' }, h('h2', {}, 'Insights'), unavailable('Spending by category and over time'));
        throw e;
    }
    if (!items.length) return h('section', { class: 'card' }, h('h2', {}, 'Insights'), h('p', { class: 'empty' }, 'Add expenses to see where the money goes.'));
    const { categories, time } = spendingSeries(items);
    const total = items.reduce((t, e) => t + big(e.amount_in_group_currency ?? e.amount), 0n);
    return [
        h('section', { class: 'card stat-row', 'aria-label': 'Totals' },
            h('div', { class: 'stat' }, h('span', { class: 'stat-value' }, formatMoney(total, group.currency)), h('span', { class: 'muted' }, 'spent in all')),
            h('div', { class: 'stat' }, h('span', { class: 'stat-value' }, String(items.length)), h('span', { class: 'muted' }, items.length === 1 ? 'expense' : 'expenses'))),
        h('section', { class: 'card', 'aria-labelledby': 'h-cat' }, h('h2', { id: 'h-cat' }, 'By category'), barList('Spending by category', categories, group.currency, 'chart-categories')),
        h('section', { class: 'card', 'aria-labelledby': 'h-time' }, h('h2', { id: 'h-time' }, 'Over time'), columns('Spending over time', time, group.currency, 'chart-time')),
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
    const paid = (x) => `${memberName(group, x.from_member)} paid ${memberName(group, x.to_member)}${money(x.amount)}`;
    const what = d.description ? `“${d.description}”` : 'an expense';
    switch (ev.type) {
        case 'expense.created':
            return `${actorName} added “${d.description ?? 'an expense'}”${money(d.amount, d.currency)}`;
        case 'expense.replaced':
            return `${actorName} edited “${d.description ?? 'an expense'}”${money(d.amount, d.currency)}`;
        case 'expense.deleted':
            return `${actorName} deleted ${what}`;
        case 'expense.reverted':
            return p.data?.restore ? `${actorName} undid a change: ${what} is back${money(d.amount, d.currency)}` : `${actorName} undid a change: ${what} removed`;
        case 'payment.created':
            return `${actorName} recorded that ${paid(d)}`;
        case 'payment.replaced':
            return `${actorName} changed a payment: ${paid(d)}`;
        case 'payment.deleted':
            return ev.before ? `${actorName} deleted the payment: ${paid(ev.before)}` : `${actorName} deleted a payment`;
        case 'payment.reverted':
            return p.data?.restore ? `${actorName} undid a change: ${paid(d)}` : `${actorName} undid a change: a payment removed`;
        default:
            return `${actorName}: ${ev.type}`;
    }
}

async function activity(group) {
    let res;
    try {
        res = await getAll(`groups/${group.id}/events`, { maxPages: 10 });
    } catch (e) {
        if (isMissingRoute(e)) return h('section', { class: 'card' }, h('h2', {}, 'Activity'), unavailable('The activity log'));
        throw e;
    }
    const byUser = new Map(group.members.filter((m) => m.user_id).map((m) => [m.user_id, m.name]));
    const list = h('ol', { class: 'activity-list', id: 'activity-list', reversed: true });
    // Oldest first to follow each expense's description; shown newest first.
    const names = new Map();
    const texts = res.items.map((ev) => describeEvent(group, ev, byUser.get(ev.actor) ?? 'Someone', names));
    // Undo is offered on the last change of each expense or payment (an older one would be
    // refused: the resource changed since). Its version is the number of events that touched it.
    const versions = new Map();
    const last = new Map();
    for (const ev of res.items) {
        const t = targetOf(ev);
        if (!t) continue;
        versions.set(t, (versions.get(t) ?? 0) + 1);
        last.set(t, ev.event_id);
    }
    if (!res.items.length) list.append(h('li', { class: 'empty' }, 'Nothing has happened yet.'));
    for (let i = res.items.length - 1; i >= 0; i--) {
        const ev = res.items[i];
        const t = targetOf(ev);
        const undo = res.complete && t && last.get(t) === ev.event_id
            ? h('button', {
                type: 'button', class: 'btn btn-ghost btn-small undo', 'aria-label': `Undo: ${texts[i]}`,
                onclick: async (e) => {
                    const btn = e.currentTarget;
                    btn.disabled = true;
                    try {
                        await write('POST', `groups/${group.id}/events/${ev.event_id}/revert`, undefined, { ifMatch: versions.get(t) });
                        toast('Undone.');
                        const section = list.closest('section');
                        const fresh = await activity(group);
                        section.replaceWith(fresh);
                        fresh.querySelector('h2')?.focus?.();
                    } catch (err) {
                        btn.disabled = false;
                        toast(err instanceof ApiError && err.status === 409 ? t('This changed meanwhile; reload to see the latest.') : `${t('Could not undo.')} ${problemSentence(err)}`, 'error');
                    }
                },
            }, 'Undo')
            : null;
        list.append(h('li', { class: `ev ev-${String(ev.type).replace(/\W/g, '-')}` },
            h('span', { class: 'ev-text' }, texts[i]),
            h('time', { datetime: ev.accepted_at, class: 'muted small' }, formatDateTime(ev.accepted_at)),
            undo));
    }
    return h('section', { class: 'card', 'aria-labelledby': 'h-activity' },
        h('h2', { id: 'h-activity', tabindex: '-1' }, 'Activity'),
        h('p', { class: 'muted' }, 'Every change to the ledger, newest first. Nothing is ever erased from it; Undo adds a change that reverses the last one.'),
        await chainStatus(group, res),
        res.complete ? null : h('p', { class: 'muted' }, 'Showing the first part of a long history.'),
        list);
}

/** The ledger's head hash and whether the loaded log chains up to it. */
async function chainStatus(group, res) {
    const box = h('p', { class: 'chain-status small', id: 'chain-status' });
    if (!res.items.length) return null;
    const code = (hash) => h('code', { class: 'mono', id: 'chain-head', title: hash }, shortHash(hash));
    if (!canVerify()) {
        box.dataset.state = 'unchecked';
        box.append('Ledger head ', code(res.items.at(-1).hash), ' · not checked: this browser needs HTTPS to compute SHA-256.');
        return box;
    }
    const r = await verifyChain(group.id, res.items);
    if (!r.ok) {
        box.dataset.state = 'broken';
        box.classList.add('error');
        box.append(`The ledger's hash chain is broken at event #${r.at.seq} (${r.why}): the stored history was changed.`);
        return box;
    }
    // The group was read before its log, so the log reaches the group's head.
    if (res.complete && group.head_hash && !res.items.some((ev) => ev.hash === group.head_hash)) {
        box.dataset.state = 'broken';
        box.classList.add('error');
        box.append(`The group's head hash ${shortHash(group.head_hash)} is not in its ledger: the stored history was changed.`);
        return box;
    }
    box.dataset.state = res.complete ? 'verified' : 'partial';
    box.append('Ledger head ', code(res.items.at(-1).hash), res.complete
        ? ` · ✓ hash chain verified over all ${r.count} changes.`
        : ` · ✓ hash chain verified up to the ${r.count} changes loaded (the rest is not loaded).`);
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
        field({ label: who ? `Invite link for ${who}` : 'Invite link', control: input, name: 'invite', hint: 'Anyone with this link can join the group for 7 days. Share it like a key.' }),
        h('button', {
            type: 'button', class: 'btn btn-secondary', id: 'copy-invite',
            onclick: async () => {
                try {
                    await navigator.clipboard.writeText(url);
                    toast('Link copied.');
                } catch {
                    input.select();
                    toast('Select the link and copy it.');
                }
            },
        }, 'Copy link')));
    input.focus();
    input.select();
}

async function members(group) {
    const box = h('div', { class: 'invite-slot', 'aria-live': 'polite' });
    const makeInvite = async (member, btn) => {
        btn.disabled = true;
        try {
            const r = await request('POST', `groups/${group.id}/invites`);
            showInvite(box, inviteLink(r.data.token, group, member), member?.name);
        } catch (e) {
            toast(`${t('Could not create an invite.')} ${problemSentence(e)}`, 'error');
        } finally {
            btn.disabled = false;
        }
    };
    const me = myMember(group);
    const list = h('ul', { class: 'member-list', id: 'member-list' }, group.members.map((m) => {
        const li = h('li', {},
            h('span', { class: 'avatar', 'aria-hidden': 'true' }, initial(m.name)),
            h('span', { class: 'who' }, m.name, me && me.id === m.id ? h('span', { class: 'you' }, ' (you)') : null),
            h('span', { class: 'muted small' }, m.user_id ? 'has an account' : 'no account yet'));
        if (!m.user_id) {
            const b = h('button', { type: 'button', class: 'btn btn-ghost btn-small invite-member', 'aria-label': `Invite ${m.name}`, onclick: () => makeInvite(m, b) }, 'Invite');
            li.append(b);
        }
        return li;
    }));
    const name = h('input', { type: 'text', required: true, maxlength: 100, autocomplete: 'off', id: 'member-name', placeholder: 'Ben' });
    const form = h('form', { class: 'form inline-form', id: 'add-member', novalidate: true },
        formAlert(),
        h('div', { class: 'row row-end' },
            field({ label: 'Name', control: name, name: 'name', className: 'grow', hint: 'People without an account can join later through an invite.' }),
            h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add member')));
    onSubmit(form, async () => {
        if (!name.value.trim()) {
            setFieldError(name, 'Enter a name');
            name.focus();
            return;
        }
        const r = await request('POST', `groups/${group.id}/members`, { body: { name: name.value.trim() } });
        toast(`${r.data.name} added.`);
        await groupView(group.id, 'members');
        document.getElementById('member-name')?.focus();
    });
    const general = h('button', { type: 'button', class: 'btn btn-secondary', id: 'invite-anyone', onclick: () => makeInvite(null, general) }, 'Create an invite link');
    return [
        h('section', { class: 'card', 'aria-labelledby': 'h-members' },
            h('h2', { id: 'h-members' }, 'Members'),
            list,
            form),
        h('section', { class: 'card', 'aria-labelledby': 'h-invite' },
            h('h2', { id: 'h-invite' }, 'Invite'),
            h('p', { class: 'muted' }, 'Send someone a link to join. To hand over a member without an account (with their expenses), use “Invite” next to their name.'),
            general, box),
    ];
}

// --- CSV -----------------------------------------------------------------------------------

async function exportCsv(group, btn) {
    btn.disabled = true;
    try {
        const r = await request('GET', `groups/${group.id}/export.csv`, { raw: true, headers: { Accept: 'text/csv' } });
        const blob = await r.response.blob();
        const url = URL.createObjectURL(blob);
        const safe = group.name.replace(/[^\p{L}\p{N}_-]+/gu, '-').replace(/^-+|-+$/g, '') || 'group';
        const a = h('a', { href: url, download: `splitter-${safe}-${todayISO()}.csv`, class: 'visually-hidden' }, 'download');
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        toast('CSV downloaded.');
    } catch (e) {
        toast(isMissingRoute(e) ? 'CSV export is not available from this server yet.' : `${t('Could not export.')} ${problemSentence(e)}`, 'error');
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
    const note = h('input', { type: 'text', id: 'pay-note', maxlength: 200, autocomplete: 'off', placeholder: 'Bank transfer', value: existing?.note ?? undefined });
    let pending = { text: null, key: null };
    const form = h('form', { class: 'card form', id: 'payment-form', novalidate: true },
        formAlert(),
        h('div', { class: 'row' },
            field({ label: 'From (who paid)', control: from, name: 'from_member', className: 'grow' }),
            field({ label: 'To (who received)', control: to, name: 'to_member', className: 'grow' })),
        h('div', { class: 'row' },
            field({ label: `Amount (${cur})`, control: amount, name: 'amount', className: 'grow' }),
            field({ label: 'Date', control: date, name: 'date', className: 'grow' })),
        field({ label: 'Note', control: note, name: 'note', hint: 'Optional' }),
        h('div', { class: 'actions' },
            h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-payment' }, existing ? 'Save payment' : 'Record payment'),
            h('a', { href: back, class: 'btn btn-ghost' }, 'Cancel')));
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
        try {
            const r = existing
                ? await write('PUT', `groups/${gid}/payments/${existing.id}`, body, { key: pending.key, ifMatch: existing.version })
                : await write('POST', `groups/${gid}/payments`, body, { key: pending.key });
            toast(r.status === 'queued' ? 'Payment saved; balances update in a moment.' : existing ? 'Payment updated.' : 'Payment recorded.');
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
            h('p', { id: 'confirm-delete-text' }, 'Delete this payment? It disappears from the balances; the activity log keeps it.'),
            h('div', { class: 'actions' },
                h('button', {
                    type: 'button', class: 'btn btn-danger', id: 'confirm-delete',
                    onclick: async (ev) => {
                        const btn = ev.currentTarget;
                        btn.disabled = true;
                        try {
                            await write('DELETE', `groups/${gid}/payments/${existing.id}`, undefined, { key: delKey, ifMatch: existing.version });
                            toast('Payment deleted.');
                            navigate(back);
                        } catch (e) {
                            btn.disabled = false;
                            toast(`${t('Could not delete.')} ${problemSentence(e)}`, 'error');
                        }
                    },
                }, 'Yes, delete it'),
                h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => { confirmBox.hidden = true; delBtn.focus(); } }, 'Keep it')));
        const delBtn = h('button', {
            type: 'button', class: 'btn btn-danger-ghost', id: 'delete-payment',
            onclick: () => { confirmBox.hidden = false; confirmBox.querySelector('#confirm-delete').focus(); },
        }, 'Delete payment');
        del = h('section', { class: 'danger-zone', 'aria-label': 'Delete this payment' }, delBtn, confirmBox);
    }
    const title = existing ? 'Edit payment' : 'Record a payment';
    page(`${title} · ${group.name}`,
        h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: back }, `← ${group.name}`)),
        h('h1', {}, title),
        h('p', { class: 'muted' }, existing
            ? 'Change the amount (a partial payment), the people or the date; saved changes replace the payment for everyone.'
            : 'Someone paid someone back, outside splitter: the payer’s balance rises, the receiver’s falls.'),
        form, del);
}

// --- invites ---------------------------------------------------------------------------------

export async function inviteView(token, query, { loggedIn }) {
    const groupName = query.get('group');
    const claim = query.get('claim');
    const as = query.get('as');
    const here = location.hash;
    const intro = h('p', { class: 'lead' },
        'You have been invited to join ', groupName ? h('strong', {}, groupName) : 'a group', ' on splitter',
        claim && as ? [' as ', h('strong', {}, as)] : null, '.');
    if (!loggedIn) {
        page('Invitation', h('section', { class: 'narrow' },
            h('h1', {}, 'Join a group'), intro,
            h('div', { class: 'card' },
                h('p', {}, 'Log in or create an account to accept.'),
                h('div', { class: 'actions' },
                    h('a', { class: 'btn btn-primary', href: `#/register?next=${encodeURIComponent(here)}` }, 'Create an account'),
                    h('a', { class: 'btn btn-secondary', href: `#/login?next=${encodeURIComponent(here)}` }, 'Log in')))));
        return;
    }
    const alert = formAlert();
    const accept = async (memberId, btn) => {
        btn.disabled = true;
        alert.hidden = true;
        try {
            const r = await request('POST', `invites/${encodeURIComponent(token)}/accept`, { body: memberId ? { member_id: memberId } : {} });
            toast(`Welcome to ${r.data.name}!`);
            navigate(`#/groups/${r.data.id}`);
        } catch (e) {
            btn.disabled = false;
            clear(alert);
            const msg = e instanceof ApiError && e.status === 404 ? 'This invite link is invalid or has expired. Ask for a new one.'
                : e instanceof ApiError && e.status === 409 ? `${as ?? 'That member'} already has an account, or you are already in this group. Join as a new member instead.`
                    : problemSentence(e);
            alert.append(h('p', {}, msg));
            alert.hidden = false;
        }
    };
    const buttons = [];
    if (claim && as) {
        const b1 = h('button', { type: 'button', class: 'btn btn-primary', id: 'accept-claim', onclick: () => accept(claim, b1) }, `Join as ${as}`);
        buttons.push(b1);
    }
    const b2 = h('button', { type: 'button', class: claim ? 'btn btn-secondary' : 'btn btn-primary', id: 'accept-new', onclick: () => accept(null, b2) }, claim ? 'Join as a new member' : 'Join the group');
    buttons.push(b2);
    page('Invitation', h('section', { class: 'narrow' },
        h('h1', {}, 'Join a group'), intro,
        h('div', { class: 'card' }, alert,
            claim && as ? h('p', { class: 'muted' }, `Joining as ${as} makes their expenses and balance yours.`) : null,
            h('div', { class: 'actions' }, buttons))));
}
