// splitter's web client: hash routing, the app shell, accounts and the list of groups.
// Group pages live in group.js, the expense form in expense.js.

import { ApiError, get, request, session, setUnauthorizedHandler } from './api.js';
import { clear, field, h, setFieldError, toast } from './dom.js';
import { problemSentence } from './problems.js';
import { initI18n, t } from './i18n.js';
import { formAlert, navigate, onSubmit, page, startRoute } from './ui.js';
import { CURRENCIES, formatMoney } from './money.js';
import { groupView, inviteView, paymentView } from './group.js';
import { expenseView } from './expense.js';

/** Parse "#/groups/abc/expenses?x=1" into {parts, query}. */
function currentRoute() {
    const raw = location.hash.replace(/^#/, '') || '/';
    const [path, qs = ''] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    return { path, parts, query: new URLSearchParams(qs) };
}

function renderSessionNav() {
    const nav = document.getElementById('session-nav');
    clear(nav);
    const user = session.user;
    if (session.token && user) {
        nav.append(
            h('span', { class: 'whoami', title: user.email }, user.name),
            h('button', { type: 'button', class: 'btn btn-ghost', id: 'logout', onclick: logout }, 'Log out'));
    } else {
        nav.append(
            h('a', { href: '#/login', class: 'btn btn-ghost' }, 'Log in'),
            h('a', { href: '#/register', class: 'btn btn-ghost' }, 'Register'));
    }
}

async function logout() {
    try {
        await request('POST', 'auth/logout');
    } catch {
        // The token may already be invalid; forgetting it is what matters here.
    }
    session.clear();
    renderSessionNav();
    toast('You are logged out.');
    navigate('#/login');
}

// --- accounts --------------------------------------------------------------------------

function authView(mode, query) {
    const next = query.get('next') || '#/';
    const isRegister = mode === 'register';
    const name = h('input', { type: 'text', autocomplete: 'name', required: true, maxlength: 100 });
    const email = h('input', { type: 'email', autocomplete: 'email', required: true, inputmode: 'email' });
    const password = h('input', {
        type: 'password', required: true, minlength: isRegister ? 8 : undefined,
        autocomplete: isRegister ? 'new-password' : 'current-password',
    });
    const form = h('form', { class: 'card form auth-form', novalidate: true },
        formAlert(),
        isRegister ? field({ label: 'Your name', control: name, name: 'name', hint: 'How your friends know you.' }) : null,
        field({ label: 'Email', control: email, name: 'email' }),
        field({ label: 'Password', control: password, name: 'password', hint: isRegister ? 'At least 8 characters.' : undefined }),
        h('div', { class: 'actions' },
            h('button', { type: 'submit', class: 'btn btn-primary' }, isRegister ? 'Create account' : 'Log in')));
    onSubmit(form, async () => {
        const errs = [];
        if (isRegister && !name.value.trim()) errs.push([name, 'Enter your name']);
        if (!email.value.trim() || !email.validity.valid) errs.push([email, 'Enter a valid email address']);
        if (!password.value || (isRegister && new TextEncoder().encode(password.value).length < 8)) {
            errs.push([password, isRegister ? 'Use at least 8 characters' : 'Enter your password']);
        }
        for (const el of form.querySelectorAll('[aria-invalid="true"]')) setFieldError(el, null);
        if (errs.length) {
            for (const [el, m] of errs) setFieldError(el, m);
            errs[0][0].focus();
            return;
        }
        const body = isRegister
            ? { email: email.value.trim(), password: password.value, name: name.value.trim() }
            : { email: email.value.trim(), password: password.value };
        const r = await request('POST', `auth/${isRegister ? 'register' : 'login'}`, { body }).catch((e) => {
            if (e instanceof ApiError && e.status === 401) {
                throw new ApiError(401, { title: 'Wrong email or password.', human: t('Wrong email or password.') });
            }
            throw e;
        });
        session.set(r.data.token, r.data.user);
        renderSessionNav();
        toast(isRegister ? `Welcome, ${r.data.user.name}!` : `Welcome back, ${r.data.user.name}.`);
        navigate(next.startsWith('#/') ? next : '#/');
    });
    const other = isRegister
        ? h('p', { class: 'muted center' }, 'Already have an account? ', h('a', { href: `#/login?next=${encodeURIComponent(next)}` }, 'Log in'))
        : h('p', { class: 'muted center' }, 'New here? ', h('a', { href: `#/register?next=${encodeURIComponent(next)}` }, 'Create an account'));
    page(isRegister ? 'Create an account' : 'Log in',
        h('section', { class: 'narrow' },
            h('h1', {}, isRegister ? 'Create an account' : 'Log in'),
            h('p', { class: 'lead' }, 'Share expenses with friends, flatmates or a trip, and settle up with the fewest transfers.'),
            form, other));
}

// --- groups ----------------------------------------------------------------------------

async function groupsView() {
    const list = h('ul', { class: 'group-list', id: 'group-list' }, h('li', { class: 'muted' }, 'Loading…'));
    const name = h('input', { type: 'text', required: true, maxlength: 100, autocomplete: 'off', placeholder: 'Lisbon trip' });
    const currency = h('select', {}, CURRENCIES.map((c) => h('option', { value: c }, c)));
    currency.value = guessCurrency();
    const form = h('form', { class: 'card form inline-form', id: 'create-group', novalidate: true },
        h('h2', {}, 'New group'),
        formAlert(),
        h('div', { class: 'row' },
            field({ label: 'Group name', control: name, name: 'name', className: 'grow' }),
            field({ label: 'Currency', control: currency, name: 'currency' })),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create group')));
    onSubmit(form, async () => {
        if (!name.value.trim()) {
            setFieldError(name, 'Give the group a name');
            name.focus();
            return;
        }
        const r = await request('POST', 'groups', { body: { name: name.value.trim(), currency: currency.value } });
        toast(`Group “${r.data.name}” created.`);
        navigate(`#/groups/${r.data.id}/members`);
    });
    page('Your groups',
        h('section', {},
            h('h1', {}, 'Your groups'),
            list),
        form);
    try {
        const data = await get('groups?limit=200');
        clear(list);
        if (!data.items.length) {
            list.append(h('li', { class: 'empty' }, 'No groups yet. Create one below for a trip, a flat or a dinner club.'));
        }
        for (const g of data.items) {
            const bal = BigInt(g.my_balance ?? 0);
            list.append(h('li', {},
                h('a', { href: `#/groups/${g.id}`, class: 'group-link' },
                    h('span', { class: 'group-name' }, g.name),
                    h('span', { class: ['amount', bal > 0n ? 'pos' : bal < 0n ? 'neg' : 'zero'] },
                        bal === 0n ? 'settled up' : `${bal > 0n ? 'you are owed' : 'you owe'} ${formatMoney(bal < 0n ? -bal : bal, g.currency)}`))));
        }
    } catch (e) {
        clear(list);
        list.append(h('li', { class: 'error' }, `${t('Could not load your groups.')} ${problemSentence(e)}`));
    }
}

function guessCurrency() {
    try {
        const region = new Intl.Locale(navigator.language).maximize().region;
        const map = { US: 'USD', GB: 'GBP', JP: 'JPY', CH: 'CHF', CA: 'CAD', AU: 'AUD', SE: 'SEK', NO: 'NOK', DK: 'DKK', PL: 'PLN', IN: 'INR' };
        return map[region] ?? 'EUR';
    } catch {
        return 'EUR';
    }
}

function notFound() {
    page('Not found', h('section', {}, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '#/' }, 'Back to your groups'))));
}

// --- router ----------------------------------------------------------------------------

async function route() {
    startRoute();
    const { parts, query } = currentRoute();
    const [first, id, sub, subId] = parts;
    const authed = Boolean(session.token);
    renderSessionNav();
    if (first === 'login' || first === 'register') {
        if (authed) return navigate(query.get('next') || '#/');
        return authView(first, query);
    }
    if (!authed) {
        const next = location.hash && location.hash !== '#/' ? location.hash : '#/';
        if (first === 'invite') return inviteView(id, query, { loggedIn: false });
        return navigate(`#/login${next !== '#/' ? `?next=${encodeURIComponent(next)}` : ''}`);
    }
    try {
        if (!first) return await groupsView();
        if (first === 'invite' && id) return await inviteView(id, query, { loggedIn: true });
        if (first === 'groups' && id) {
            if (sub === 'expenses' && subId) return await expenseView({ gid: id, eid: subId === 'new' ? null : subId });
            if (sub === 'payments' && subId) return await paymentView(id, query, subId === 'new' ? null : subId);
            return await groupView(id, sub || 'overview');
        }
        return notFound();
    } catch (e) {
        if (e instanceof ApiError && e.status === 401) return undefined;
        const msg = e instanceof ApiError && e.status === 404 ? 'This group does not exist, or you are not a member.' : problemSentence(e);
        page('Error', h('section', {}, h('h1', {}, 'Could not open this page'), h('p', { class: 'error' }, msg),
            h('p', {}, h('a', { href: '#/' }, 'Back to your groups'))));
        return undefined;
    }
}

setUnauthorizedHandler(() => {
    session.clear();
    renderSessionNav();
    toast('Your session has ended. Please log in again.', 'error');
    const next = location.hash || '#/';
    navigate(`#/login?next=${encodeURIComponent(next)}`);
});

// Back and Forward return to where the reader was in a page (a long list): each history entry
// gets a key in history.state, the scroll position is kept per key, and restored once the page
// is drawn again. A new entry starts at the top.
const scrollSpots = new Map();
let routing = false;
history.scrollRestoration = 'manual';

function historyKey() {
    if (!history.state?.key) history.replaceState({ key: crypto.randomUUID() }, '');
    return history.state.key;
}

window.addEventListener('scroll', () => {
    if (!routing) scrollSpots.set(historyKey(), window.scrollY);
}, { passive: true });

/** Scroll to y, waiting up to 3 s for a list that loads as it scrolls to grow tall enough. */
async function restoreScroll(y) {
    const until = Date.now() + 3000;
    for (;;) {
        window.scrollTo(0, y);
        if (Math.abs(window.scrollY - y) < 2 || Date.now() > until) return;
        await new Promise((r) => setTimeout(r, 100));
    }
}

window.addEventListener('hashchange', async () => {
    document.activeElement?.blur?.();
    routing = true;
    const want = scrollSpots.get(historyKey()) ?? 0;
    try {
        await route();
        await restoreScroll(want);
    } finally {
        routing = false;
    }
});

// Refresh the stored user (and find out early whether the token still works).
if (session.token) {
    get('me').then((u) => {
        session.setUser(u);
        renderSessionNav();
    }).catch(() => {});
}
await initI18n();
route();
