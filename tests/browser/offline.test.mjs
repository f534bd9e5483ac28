// Offline use of the web client (web/sw.js, js/queue.js, js/offline.js), at desktop and phone
// sizes: a group seen online opens again without a connection (the service worker's last
// answers, marked "Offline copy"); an expense and a payment saved offline wait in the queue,
// shown as waiting, and are sent when the connection returns, each exactly once (checked
// through the API); a replay whose answer is lost after the server applied it still yields one
// expense; an offline edit that the server refuses (someone changed it meanwhile) leaves the
// queue and says why; logging out forgets the kept answers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
    BASE_URL, SIZES, a11yProblems, addEntry, api, createGroup, launch, loggedInAs, registerUser, screenshot,
    settled, waitFor, waitForRoute,
} from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const WEB = join(here, '..', '..', 'web');
const OVERVIEW = /^#\/groups\/[0-9a-f-]{36}$/;
// What Chromium logs for requests that cannot go out while offline or are cut on purpose.
const NETWORK_FAILURES = /Failed to load resource: net::ERR_(INTERNET_DISCONNECTED|CONNECTION_RESET|FAILED|NETWORK_CHANGED)|Failed to fetch|service worker:/;

let browser;
let ana;

before(async () => {
    browser = await launch();
    ana = await registerUser({ name: 'Ana' });
});

after(async () => {
    await browser?.close();
});

/** A group of Ana and Ben with one expense: Groceries 40.00 paid by Ana, split equally. */
async function cabin(name, who = ana) {
    const g = await createGroup(who.token, name, ['Ben']);
    const [a, b] = g.members.map((m) => m.id);
    const e = await addEntry(g.id, who.token, {
        description: 'Groceries', amount: 4000, date: '2026-11-20', category: 'groceries',
        paid_by: [{ member_id: a, amount: 4000 }],
        split: { mode: 'equal', members: [{ member_id: a }, { member_id: b }] },
    });
    return { gid: g.id, ana: a, ben: b, groceries: e.id ?? e.expense_id };
}

async function list(gid, kind) {
    const r = await api('GET', `/api/v1/groups/${gid}/${kind}?limit=200`, { token: ana.token });
    assert.equal(r.status, 200, r.text);
    return r.json.items;
}

async function balances(gid) {
    const r = await api('GET', `/api/v1/groups/${gid}/balances`, { token: ana.token });
    assert.equal(r.status, 200, r.text);
    return Object.fromEntries(r.json.balances.map((b) => [b.member_id, b.balance]));
}

/** Open a group page online and wait until the service worker controls it, then open the
 * overview and the expense list once more, through it, so their answers are kept. */
async function seeOnline(page, gid) {
    await page.goto(`/#/groups/${gid}`);
    await page.locator('#balance-list').waitFor();
    await page.waitForFunction(() => navigator.serviceWorker?.controller);
    await page.reload();
    await page.locator('#balance-list').waitFor();
    await page.locator('#tab-link-expenses').click();
    await page.locator('#expense-list', { hasText: 'Groceries' }).waitFor();
    await page.locator('#tab-link-overview').click();
    await page.locator('#balance-list').waitFor();
    await settled(page);
    // The service worker keeps each answer just after handing it over.
    await page.waitForFunction(async (id) => {
        const keys = (await (await caches.open('splitter-data')).keys()).map((r) => r.url);
        return ['', '/balances', '/settlements', '/expenses?', '/payments?'].every((p) => keys.some((u) => u.includes(`/groups/${id}${p}`)));
    }, gid);
}

for (const [size, opts] of SIZES) {
    test(`${size}: a group opens offline; an expense and a payment made offline are sent once when back online`, async () => {
        const g = await cabin(`Cabin ${size}`);
        const { context, page, assertClean, allow } = await loggedInAs(browser, ana, opts);
        allow(NETWORK_FAILURES);
        try {
            await seeOnline(page, g.gid);

            // Offline, a reload still shows the group from the last answers, marked as a copy.
            await context.setOffline(true);
            await page.reload();
            await page.locator('#offline-state', { hasText: 'Offline copy, last updated' }).waitFor();
            await page.locator('#balance-list li', { hasText: 'Ben' }).getByText(/owes\s+€20\.00/).waitFor();
            await page.locator('#tab-link-expenses').click();
            await page.locator('#expense-list', { hasText: 'Groceries' }).waitFor();

            // An expense and a payment saved offline wait in the queue.
            await page.locator('#add-expense').click();
            await page.getByLabel('Description').fill('Firewood');
            await page.getByLabel('Amount', { exact: true }).fill('30.00');
            await page.locator('#save-expense').click();
            await waitForRoute(page, OVERVIEW);
            await page.locator('#waiting-panel', { hasText: '1 change waiting to be sent' }).waitFor();
            await page.locator('#record-payment').click();
            await page.locator('#pay-from').selectOption(g.ben);
            await page.locator('#pay-to').selectOption(g.ana);
            await page.locator('#pay-amount').fill('5.00');
            await page.locator('#save-payment').click();
            await waitForRoute(page, OVERVIEW);
            await page.locator('#waiting-panel', { hasText: '2 changes waiting to be sent' }).waitFor();
            const items = page.locator('#waiting-list li');
            assert.equal(await items.count(), 2);
            assert.match(await items.nth(0).innerText(), /Firewood/);
            assert.match(await items.nth(1).innerText(), /Ben paid Ana/);
            await page.locator('#tab-link-expenses').click();
            await page.locator('#expense-list li.waiting-entry', { hasText: 'Firewood' }).getByText('waiting').waitFor();
            await page.locator('#expense-list li.waiting-entry', { hasText: 'Ben paid Ana' }).getByText('waiting').waitFor();
            assert.deepEqual(await a11yProblems(page), []);
            await screenshot(page, `offline-${size}-waiting`);
            // Nothing reached the server yet.
            assert.equal((await list(g.gid, 'expenses')).length, 1);
            assert.equal((await list(g.gid, 'payments')).length, 0);

            // Back online: both are sent, once, in order, and the page shows them as saved.
            await context.setOffline(false);
            await page.locator('#waiting-panel').waitFor({ state: 'hidden', timeout: 20_000 });
            await page.locator('#expense-list li:not(.waiting-entry)', { hasText: 'Firewood' }).waitFor({ timeout: 10_000 });
            await page.locator('#expense-list li:not(.waiting-entry)', { hasText: 'Ben paid Ana' }).waitFor();
            assert.equal(await page.locator('#expense-list li.waiting-entry').count(), 0);
            await page.locator('#offline-state').waitFor({ state: 'hidden' });
            await new Promise((r) => setTimeout(r, 500)); // a second send would have landed by now
            const expenses = await list(g.gid, 'expenses');
            assert.equal(expenses.filter((e) => e.description === 'Firewood').length, 1, 'one Firewood');
            assert.equal(expenses.length, 2);
            const payments = await list(g.gid, 'payments');
            assert.equal(payments.length, 1, 'one payment');
            assert.equal(payments[0].amount, 500);
            // Ana: paid 70.00, share 35.00, received 5.00 -> +30.00; Ben the opposite.
            assert.deepEqual(await balances(g.gid), { [g.ana]: 3000, [g.ben]: -3000 });
            await screenshot(page, `offline-${size}-sent`);
            assertClean();
        } finally {
            await context.close();
        }
    });
}

test('a replay whose answer is lost after the server applied it still makes one expense', async () => {
    const g = await cabin('Cabin lost answers');
    const { context, page, assertClean, allow } = await loggedInAs(browser, ana);
    allow(NETWORK_FAILURES);
    try {
        await seeOnline(page, g.gid);
        // Every POST reaches the server, but its answer is lost on the way back while `cut`.
        let cut = true;
        const keys = [];
        await page.route('**/api/v1/groups/*/expenses', async (route) => {
            if (route.request().method() !== 'POST') return route.fallback();
            keys.push(route.request().headers()['idempotency-key']);
            if (!cut) return route.continue();
            await route.fetch();
            return route.abort('connectionreset');
        });
        await page.locator('#add-expense').click();
        await page.getByLabel('Description').fill('Lost answer');
        await page.getByLabel('Amount', { exact: true }).fill('12.00');
        await page.locator('#save-expense').click();
        await waitForRoute(page, OVERVIEW);
        await page.locator('#waiting-panel', { hasText: '1 change waiting to be sent' }).waitFor();
        const sentBefore = keys.length;
        assert.ok(sentBefore >= 1);
        // The server has it already (from the first send), once.
        await waitFor(async () => (await list(g.gid, 'expenses')).length === 2, { what: 'the expense applied' });

        // A replay interrupted the same way: still waiting.
        await page.locator('#send-waiting').click();
        await waitFor(async () => keys.length > sentBefore, { what: 'a replay' });
        await page.locator('#send-waiting:not([disabled])').waitFor();
        await page.locator('#waiting-panel', { hasText: '1 change waiting to be sent' }).waitFor();

        // The connection heals: the next replay gets the first answer again and the queue empties.
        cut = false;
        await page.locator('#send-waiting').click();
        await page.locator('#waiting-panel').waitFor({ state: 'hidden', timeout: 15_000 });
        assert.ok(keys.length >= 3);
        assert.equal(new Set(keys).size, 1, `every send carried the same Idempotency-Key: ${keys}`);
        await new Promise((r) => setTimeout(r, 500));
        const expenses = await list(g.gid, 'expenses');
        assert.equal(expenses.filter((e) => e.description === 'Lost answer').length, 1, 'one expense');
        assert.deepEqual(await balances(g.gid), { [g.ana]: 2600, [g.ben]: -2600 });
        assertClean();
    } finally {
        await context.close();
    }
});

test('an offline edit the server refuses leaves the queue and says why', async () => {
    const g = await cabin('Cabin conflict');
    const { context, page, assertClean, allow } = await loggedInAs(browser, ana);
    allow(NETWORK_FAILURES);
    allow(/status of 4(09|12)/);
    try {
        await seeOnline(page, g.gid);
        await page.locator('#tab-link-expenses').click();
        await page.locator('#expense-list a', { hasText: 'Groceries' }).click();
        await page.getByLabel('Description').waitFor();
        await context.setOffline(true);
        await page.getByLabel('Amount', { exact: true }).fill('44.00');
        await page.locator('#save-expense').click();
        await waitForRoute(page, OVERVIEW);
        await page.locator('#waiting-panel', { hasText: '1 change waiting to be sent' }).waitFor();
        // Meanwhile someone else changes it.
        const cur = await api('GET', `/api/v1/groups/${g.gid}/expenses/${g.groceries}`, { token: ana.token });
        assert.equal(cur.status, 200, cur.text);
        const { description, amount, date, category, paid_by: paidBy, split } = cur.json;
        const put = await api('PUT', `/api/v1/groups/${g.gid}/expenses/${g.groceries}`, {
            token: ana.token, headers: { 'If-Match': `"${cur.json.version}"`, Prefer: 'wait=5' },
            body: { description, amount: 5000, date, category, paid_by: [{ ...paidBy[0], amount: 5000 }], split },
        });
        assert.ok(put.status === 200 || put.status === 202, put.text);
        await waitFor(async () => (await list(g.gid, 'expenses'))[0].amount === 5000, { what: 'the other change applied' });

        await context.setOffline(false);
        await page.locator('#refused-list', { hasText: 'Not saved: Groceries' }).waitFor({ timeout: 20_000 });
        await page.locator('#waiting-list').waitFor({ state: 'detached' });
        const [e] = await list(g.gid, 'expenses');
        assert.equal(e.amount, 5000, 'the refused edit changed nothing');
        await page.getByRole('button', { name: 'Dismiss: Groceries' }).click();
        await page.locator('#waiting-panel').waitFor({ state: 'hidden' });
        assertClean();
    } finally {
        await context.close();
    }
});

test('the service worker keeps every file of the app; sw.js is revalidated; logging out forgets the kept answers', async () => {
    const res = await fetch(new URL('/sw.js', BASE_URL));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-security-policy') ?? '', /worker-src 'self'/);
    await res.text();
    // Files of the app have no such header (nginx's defaults).
    const css = await fetch(new URL('/app.css', BASE_URL));
    assert.equal(css.headers.get('cache-control'), null);
    await css.text();

    // Someone of their own: logging out revokes the token.
    const dee = await registerUser({ name: 'Dee' });
    const g = await cabin('Cabin files', dee);
    const { context, page, assertClean, allow } = await loggedInAs(browser, dee);
    allow(NETWORK_FAILURES);
    try {
        await seeOnline(page, g.gid);
        const cached = await page.evaluate(async () => {
            const names = await caches.keys();
            const shell = names.find((n) => n.startsWith('splitter-shell-'));
            const keys = await (await caches.open(shell)).keys();
            return { names, shell: keys.map((r) => new URL(r.url).pathname) };
        });
        const want = ['/index.html', '/app.css', '/manifest.webmanifest', '/favicon.svg',
            ...readdirSync(join(WEB, 'icons')).map((f) => `/icons/${f}`),
            ...readdirSync(join(WEB, 'js')).filter((f) => f.endsWith('.js')).map((f) => `/js/${f}`),
            ...readdirSync(join(WEB, 'js', 'locales')).map((f) => `/js/locales/${f}`)];
        const missing = want.filter((p) => !cached.shell.includes(p));
        assert.deepEqual(missing, [], 'files of the app the service worker does not keep (web/sw.js, SHELL)');
        assert.ok(cached.names.includes('splitter-data'), `caches: ${cached.names}`);

        await page.locator('#logout').click();
        await waitForRoute(page, /^#\/login/);
        const after = await page.evaluate(() => caches.keys());
        assert.ok(!after.includes('splitter-data'), `caches after logout: ${after}`);
        assertClean();
    } finally {
        await context.close();
    }
});
