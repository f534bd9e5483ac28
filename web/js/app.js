// splitter's web client: hash routing, the app shell, accounts and the list of groups.
// Group pages live in group.js, the expense form in expense.js.

import { ApiError, get, request, session, setUnauthorizedHandler } from './api.js';
import { clear, field, h, setFieldError, toast } from './dom.js';
import { problemSentence } from './problems.js';
import { LANGUAGES, currentLang, initI18n, setLanguage, t, tn } from './i18n.js';
import { formAlert, navigate, onSubmit, page, restoreScroll, routeAlive, startRoute } from './ui.js';
import { CURRENCIES, big, formatMoney } from './money.js';
import { groupView, inviteView, paymentView } from './group.js';
import { expenseView } from './expense.js';
import { beforeLogout, forgetData, startOffline } from './offline.js';

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
    renderGuestBanner(session.token && user?.guest);
    if (session.token && user) {
        nav.append(
            h('a', { href: '#/friends', class: 'btn btn-ghost', id: 'friends-link', 'aria-current': location.hash.startsWith('#/friends') ? 'page' : undefined }, t('Friends')),
            h('a', { href: '#/account', class: 'whoami', id: 'account-link', title: user.email ?? t('Guest account') }, user.name),
            h('button', { type: 'button', class: 'btn btn-ghost', id: 'logout', onclick: logout }, t('Log out')));
    } else {
        nav.append(
            h('a', { href: '#/login', class: 'btn btn-ghost' }, t('Log in')),
            h('a', { href: '#/register', class: 'btn btn-ghost' }, t('Register')));
    }
}

/** For a guest, a gentle reminder above every page that this browser is its only key. */
function renderGuestBanner(show) {
    let banner = document.getElementById('guest-banner');
    if (!show) {
        banner?.remove();
        return;
    }
    if (banner) return;
    banner = h('div', { class: 'guest-banner', id: 'guest-banner', role: 'note' },
        h('p', {}, t('Keep this account on other devices: add an email and password.'), ' ',
            h('a', { href: '#/account' }, t('Add email and password'))));
    document.getElementById('main').before(banner);
}

async function logout() {
    // A guest's token is its only key: logging out loses the account for good.
    if (session.user?.guest && !window.confirm(t('You joined as a guest, without an email or password. If you log out, you cannot get back into this account. Log out anyway?'))) {
        return;
    }
    const lost = await beforeLogout();
    try {
        await request('POST', 'auth/logout');
    } catch {
        // The token may already be invalid; forgetting it is what matters here.
    }
    session.clear();
    renderSessionNav();
    toast(lost ? `${t('You are logged out.')} ${tn(lost, '{n} change that could not be sent was discarded.', '{n} changes that could not be sent were discarded.')}` : t('You are logged out.'));
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
        isRegister ? field({ label: t('Your name'), control: name, name: 'name', hint: t('How your friends know you.') }) : null,
        field({ label: t('Email'), control: email, name: 'email' }),
        field({ label: t('Password'), control: password, name: 'password', hint: isRegister ? t('At least 8 characters.') : undefined }),
        h('div', { class: 'actions' },
            h('button', { type: 'submit', class: 'btn btn-primary' }, isRegister ? t('Create account') : t('Log in'))));
    onSubmit(form, async () => {
        const errs = [];
        if (isRegister && !name.value.trim()) errs.push([name, t('Enter your name')]);
        if (!email.value.trim() || !email.validity.valid) errs.push([email, t('Enter a valid email address')]);
        if (!password.value || (isRegister && new TextEncoder().encode(password.value).length < 8)) {
            errs.push([password, isRegister ? t('Use at least 8 characters') : t('Enter your password')]);
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
        toast(isRegister ? t('Welcome, {name}!', { name: r.data.user.name }) : t('Welcome back, {name}.', { name: r.data.user.name }));
        navigate(next.startsWith('#/') ? next : '#/');
    });
    const other = isRegister
        ? h('p', { class: 'muted center' }, t('Already have an account? '), h('a', { href: `#/login?next=${encodeURIComponent(next)}` }, t('Log in')))
        : h('p', { class: 'muted center' }, t('New here? '), h('a', { href: `#/register?next=${encodeURIComponent(next)}` }, t('Create an account')));
    page(isRegister ? t('Create an account') : t('Log in'),
        h('section', { class: 'narrow' },
            h('h1', {}, isRegister ? t('Create an account') : t('Log in')),
            h('p', { class: 'lead' }, t('Share expenses with friends, flatmates or a trip, and settle up with the fewest transfers.')),
            form, other));
}

// --- the account: a guest adds an email and password ------------------------------------

function accountView() {
    const user = session.user ?? {};
    if (!user.guest) {
        page(t('Account'), h('section', { class: 'narrow' },
            h('h1', {}, t('Account')),
            h('div', { class: 'card' },
                h('p', {}, user.name),
                h('p', { class: 'muted' }, user.email ?? ''))));
        return;
    }
    const email = h('input', { type: 'email', autocomplete: 'email', required: true, inputmode: 'email' });
    const password = h('input', { type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
    const form = h('form', { class: 'card form', id: 'credentials-form', novalidate: true },
        formAlert(),
        field({ label: t('Email'), control: email, name: 'email' }),
        field({ label: t('Password'), control: password, name: 'password', hint: t('At least 8 characters.') }),
        h('div', { class: 'actions' },
            h('button', { type: 'submit', class: 'btn btn-primary' }, t('Save email and password'))));
    onSubmit(form, async () => {
        const errs = [];
        if (!email.value.trim() || !email.validity.valid) errs.push([email, t('Enter a valid email address')]);
        if (new TextEncoder().encode(password.value).length < 8) errs.push([password, t('Use at least 8 characters')]);
        for (const el of form.querySelectorAll('[aria-invalid="true"]')) setFieldError(el, null);
        if (errs.length) {
            for (const [el, m] of errs) setFieldError(el, m);
            errs[0][0].focus();
            return;
        }
        const r = await request('POST', 'me/credentials', { body: { email: email.value.trim(), password: password.value } }).catch((e) => {
            if (e instanceof ApiError && e.status === 409 && /email-taken$/.test(e.problem.type ?? '')) {
                throw new ApiError(409, { ...e.problem, human: t('An account with this email already exists.') });
            }
            throw e;
        });
        session.setUser(r.data);
        renderSessionNav();
        toast(t('Saved. You can now log in with this email on any device.'));
        navigate('#/');
    });
    page(t('Account'), h('section', { class: 'narrow' },
        h('h1', {}, t('Account')),
        h('p', { class: 'lead' }, t('You joined as a guest, {name}: only this browser can open your account.', { name: user.name })),
        h('p', {}, t('Keep this account on other devices: add an email and password.')),
        form));
}

// --- groups ----------------------------------------------------------------------------

async function groupsView() {
    const list = h('ul', { class: 'group-list', id: 'group-list' }, h('li', { class: 'muted' }, t('Loading…')));
    const name = h('input', { type: 'text', required: true, maxlength: 100, autocomplete: 'off', placeholder: t('Lisbon trip') });
    const currency = h('select', {}, CURRENCIES.map((c) => h('option', { value: c }, c)));
    currency.value = guessCurrency();
    const form = h('form', { class: 'card form inline-form', id: 'create-group', novalidate: true },
        h('h2', {}, t('New group')),
        formAlert(),
        h('div', { class: 'row' },
            field({ label: t('Group name'), control: name, name: 'name', className: 'grow' }),
            field({ label: t('Currency'), control: currency, name: 'currency' })),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('Create group'))));
    onSubmit(form, async () => {
        if (!name.value.trim()) {
            setFieldError(name, t('Give the group a name'));
            name.focus();
            return;
        }
        const r = await request('POST', 'groups', { body: { name: name.value.trim(), currency: currency.value } });
        toast(t('Group “{name}” created.', { name: r.data.name }));
        navigate(`#/groups/${r.data.id}/members`);
    });
    page(t('Your groups'),
        h('section', {},
            h('h1', {}, t('Your groups')),
            list),
        form,
        importForm());
    try {
        const data = await get('groups?limit=200');
        clear(list);
        if (!data.items.length) {
            list.append(h('li', { class: 'empty' }, t('No groups yet. Create one below for a trip, a flat or a dinner club.')));
        }
        for (const g of data.items) {
            const bal = BigInt(g.my_balance ?? 0);
            list.append(h('li', {},
                h('a', { href: `#/groups/${g.id}`, class: 'group-link' },
                    h('span', { class: 'group-name' }, g.name,
                        g.archived ? h('span', { class: 'badge archived-badge' }, t('archived')) : null),
                    h('span', { class: ['amount', bal > 0n ? 'pos' : bal < 0n ? 'neg' : 'zero'] },
                        bal === 0n ? t('settled up') : t(bal > 0n ? 'you are owed {amount}' : 'you owe {amount}', { amount: formatMoney(bal < 0n ? -bal : bal, g.currency) })))));
        }
    } catch (e) {
        clear(list);
        list.append(h('li', { class: 'error' }, `${t('Could not load your groups.')} ${problemSentence(e)}`));
    }
}

/** "Import a group": an export file of splitter, Spliit, IHateMoney or Splitwise, sent as it is. */
function importForm() {
    const file = h('input', { type: 'file', accept: '.json,.csv,application/json,text/csv' });
    const format = h('select', {},
        h('option', { value: 'splitter' }, 'splitter (JSON)'),
        h('option', { value: 'spliit' }, 'Spliit (JSON)'),
        h('option', { value: 'ihatemoney' }, 'IHateMoney (JSON)'),
        h('option', { value: 'splitwise' }, 'Splitwise (CSV)'));
    const currency = h('select', {}, CURRENCIES.map((c) => h('option', { value: c }, c)));
    currency.value = guessCurrency();
    let key = crypto.randomUUID(); // one per file: a retry of the same import never doubles it
    file.addEventListener('change', () => { key = crypto.randomUUID(); });
    format.addEventListener('change', () => { key = crypto.randomUUID(); });
    const form = h('form', { class: 'card form inline-form', id: 'import-group', novalidate: true },
        h('h2', {}, t('Import a group')),
        formAlert(),
        h('div', { class: 'row' },
            field({ label: t('Export file'), control: file, name: 'file', className: 'grow' }),
            field({ label: t('Format'), control: format, name: 'format' }),
            field({ label: t('Currency'), control: currency, name: 'currency' })),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-secondary' }, t('Import'))));
    onSubmit(form, async () => {
        const f = file.files?.[0];
        if (!f) {
            setFieldError(file, t('Choose an export file'));
            file.focus();
            return;
        }
        const text = await f.text();
        let data = text;
        if (format.value !== 'splitwise') {
            try {
                data = JSON.parse(text);
            } catch {
                setFieldError(file, t('The file is not valid JSON.'));
                return;
            }
        }
        const body = { format: format.value, data };
        // splitter's and Spliit's exports name their currency; the others need one.
        if (format.value === 'ihatemoney' || format.value === 'splitwise') body.currency = currency.value;
        const r = await request('POST', 'groups/import', { body, headers: { 'Idempotency-Key': key } });
        const notes = r.data.report?.length ?? 0;
        toast(notes ? t('Group “{name}” imported with {count} notes.', { name: r.data.group.name, count: notes })
            : t('Group “{name}” imported.', { name: r.data.group.name }));
        navigate(`#/groups/${r.data.group.id}`);
    });
    return form;
}

// --- friends: where I stand with each person, across all my groups -------------------------

/** "owes you €12.50" / "you owe €3.00" / "settled up" for one amount (positive: they owe me). */
function owesText(amount, currency) {
    const v = big(amount);
    if (v === 0n) return t('settled up');
    return v > 0n ? t('owes you {amount}', { amount: formatMoney(v, currency) })
        : t('you owe {amount}', { amount: formatMoney(-v, currency) });
}

const owesClass = (amount) => ['amount', big(amount) > 0n ? 'pos' : big(amount) < 0n ? 'neg' : 'zero'];

async function friendsView() {
    const alive = routeAlive();
    const data = await get('me/balances');
    if (!alive()) return;
    const people = data.people ?? [];
    const list = h('ul', { class: 'friend-list', id: 'friend-list' });
    if (!people.length) list.append(h('li', { class: 'empty' }, t('Nobody yet: the people you share a group with show here.')));
    for (const p of people) {
        const totals = (p.totals ?? []).filter((x) => big(x.amount) !== 0n);
        list.append(h('li', { dataset: { person: p.user_id ?? p.member_id ?? '' } },
            h('div', { class: 'friend-head' },
                h('span', { class: 'friend-name' }, p.name),
                totals.length
                    ? totals.map((x) => h('span', { class: owesClass(x.amount) }, owesText(x.amount, x.currency)))
                    : h('span', { class: 'amount zero' }, t('settled up'))),
            h('ul', { class: 'friend-groups' }, (p.groups ?? []).map((g) => h('li', {},
                h('a', { href: `#/groups/${g.group_id}` }, g.name),
                h('span', { class: [...owesClass(g.amount), 'small'] }, owesText(g.amount, g.currency)))))));
    }
    const all = new Map();
    for (const p of people) {
        for (const x of p.totals ?? []) all.set(x.currency, (all.get(x.currency) ?? 0n) + big(x.amount));
    }
    const overall = [...all].filter(([, v]) => v !== 0n);
    page(t('Friends'),
        h('section', {},
            h('h1', {}, t('Friends')),
            h('p', { class: 'lead' }, t('What you and each person owe each other, over all your groups.')),
            h('section', { class: 'card my-standing', id: 'my-standing', 'aria-label': t('Where you stand') },
                overall.length
                    ? overall.map(([c, v]) => h('p', { class: ['standing', v > 0n ? 'pos' : 'neg'] },
                        v > 0n ? t('You are owed {amount}', { amount: formatMoney(v, c) }) : t('You owe {amount}', { amount: formatMoney(-v, c) })))
                    : h('p', { class: 'standing zero' }, t('You are settled up'))),
            h('section', { class: 'card', 'aria-labelledby': 'h-people' },
                h('h2', { id: 'h-people' }, t('People')),
                list)));
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
    page(t('Not found'), h('section', {}, h('h1', {}, t('Page not found')), h('p', {}, h('a', { href: '#/' }, t('Back to your groups')))));
}

// --- the shell: its static words in the reader's language, and the language switch ---------

function shell() {
    document.getElementById('skip-link').textContent = t('Skip to content');
    document.querySelector('.brand')?.setAttribute('aria-label', t('splitter, your groups'));
    document.getElementById('session-nav')?.setAttribute('aria-label', t('Account'));
    const boot = document.getElementById('boot');
    if (boot) boot.textContent = t('Loading…');
    const footer = document.querySelector('.footer');
    if (!footer) return;
    clear(footer);
    const select = h('select', { id: 'lang-switch', class: 'lang-switch' },
        LANGUAGES.map(([code, name]) => h('option', { value: code, lang: code }, name)));
    select.value = currentLang();
    select.addEventListener('change', () => setLanguage(select.value));
    footer.append(
        h('p', {}, t('splitter is open source · amounts are exact to the cent')),
        h('p', { class: 'lang-row' }, h('label', { for: 'lang-switch' }, t('Language')), ' ', select));
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
        if (first === 'friends') return await friendsView();
        if (first === 'account') return accountView();
        if (first === 'invite' && id) return await inviteView(id, query, { loggedIn: true });
        if (first === 'groups' && id) {
            if (sub === 'expenses' && subId) return await expenseView({ gid: id, eid: subId === 'new' ? null : subId });
            if (sub === 'payments' && subId) return await paymentView(id, query, subId === 'new' ? null : subId);
            return await groupView(id, sub || 'overview', query);
        }
        return notFound();
    } catch (e) {
        if (e instanceof ApiError && e.status === 401) return undefined;
        const msg = e instanceof ApiError && e.status === 404 ? t('This group does not exist, or you are not a member.') : problemSentence(e);
        page(t('Error'), h('section', {}, h('h1', {}, t('Could not open this page')), h('p', { class: 'error' }, msg),
            h('p', {}, h('a', { href: '#/' }, t('Back to your groups')))));
        return undefined;
    }
}

setUnauthorizedHandler(() => {
    session.clear();
    forgetData();
    renderSessionNav();
    toast(t('Your session has ended. Please log in again.'), 'error');
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
shell();
startOffline();
route();
