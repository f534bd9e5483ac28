// Every flow of the web client, in order, as one person (Ana) and then a second (Ben) would
// use it: register, create a group, add members, expenses in all four split modes with two
// payers and a foreign currency, edit, delete, a payment, "mark as paid", the activity log, the
// CSV download, an invite accepted in a second browser context (claiming a member), log out.
// Screenshots of the main pages go to tests/artifacts/screenshots/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
    a11yProblems, api, groupIdOf, launch, openPage, registerViaUI, screenshot, tokenOf, waitFor, waitForRoute,
} from './lib.mjs';

let browser;
let ctx; // Ana's
let page;
let token;
let gid;
const OVERVIEW = /^#\/groups\/[0-9a-f-]{36}$/;

before(async () => {
    browser = await launch();
    ctx = await openPage(browser, { locale: 'en-US' });
    page = ctx.page;
});

after(async () => {
    await browser?.close();
});

async function balances() {
    const r = await api('GET', `/api/v1/groups/${gid}/balances`, { token });
    assert.equal(r.status, 200, r.text);
    return Object.fromEntries(r.json.balances.map((b) => [b.name, b.balance]));
}

async function expectBalances(want) {
    await waitFor(async () => JSON.stringify(await balances()) === JSON.stringify(want), { what: `balances ${JSON.stringify(want)}`, timeoutMs: 8000 })
        .catch(async (e) => {
            assert.deepEqual(await balances(), want, e.message);
        });
}

async function openOverview() {
    await page.goto(`/#/groups/${gid}`);
    await page.locator('#balance-list').waitFor();
}

/**
 * Fill the expense form. payers: {name: amount|true}; mode: equal|exact|percent|shares;
 * split: {name: value} (members not named are unticked; for equal, a list of names).
 */
async function fillExpense({ description, amount, currency, rate, payers, mode = 'equal', split }) {
    const form = page.locator('#expense-form');
    await form.getByLabel('Description').fill(description);
    await form.getByLabel('Amount', { exact: true }).fill(amount);
    if (currency) await form.getByLabel('Currency').selectOption(currency);
    if (rate) await form.getByLabel('Exchange rate').fill(rate);
    const names = ['Ana', 'Ben', 'Cleo'];
    const p = page.locator('#payers');
    for (const n of names) await p.getByLabel(n, { exact: true }).setChecked(n in payers);
    for (const [n, v] of Object.entries(payers)) {
        if (v !== true) await p.getByLabel(`Amount paid by ${n}`).fill(v);
    }
    await page.check(`#mode-${mode}`);
    const s = page.locator('#split');
    const included = Array.isArray(split) ? split : Object.keys(split ?? {});
    for (const n of names) await s.getByLabel(n, { exact: true }).setChecked(!split || included.includes(n));
    if (split && !Array.isArray(split)) {
        const what = { exact: 'amount in', percent: 'percentage', shares: 'shares' }[mode];
        for (const [n, v] of Object.entries(split)) await s.getByLabel(new RegExp(`^${n}'s ${what}`)).fill(v);
    }
}

async function saveExpense() {
    await page.locator('#save-expense').click();
    await waitForRoute(page, OVERVIEW);
    await page.locator('#balance-list').waitFor();
}

test('register: a new account lands on its (empty) list of groups', async () => {
    await page.goto('/');
    await waitForRoute(page, /^#\/login/);
    await screenshot(page, '01-login');
    await registerViaUI(page, 'Ana');
    await page.getByRole('heading', { name: 'Your groups' }).waitFor();
    token = await tokenOf(page);
    assert.ok(token, 'the token is kept in localStorage');
    const me = await api('GET', '/api/v1/me', { token });
    assert.equal(me.json.name, 'Ana');
    assert.deepEqual(await a11yProblems(page), []);
    ctx.assertClean();
});

test('create a group, add members without accounts', async () => {
    const form = page.locator('#create-group');
    await form.getByLabel('Group name').fill('Lisbon trip');
    await form.getByLabel('Currency').selectOption('EUR');
    await form.getByRole('button', { name: 'Create group' }).click();
    await waitForRoute(page, /^#\/groups\/[0-9a-f-]{36}\/members$/);
    gid = groupIdOf(page);
    for (const name of ['Ben', 'Cleo']) {
        await page.locator('#member-name').fill(name);
        await page.getByRole('button', { name: 'Add member' }).click();
        await page.locator('#member-list li', { hasText: name }).waitFor();
    }
    const g = await api('GET', `/api/v1/groups/${gid}`, { token });
    assert.deepEqual(g.json.members.map((m) => m.name), ['Ana', 'Ben', 'Cleo']);
    assert.equal(g.json.currency, 'EUR');
    await screenshot(page, '02-members');
    assert.deepEqual(await a11yProblems(page), []);
    ctx.assertClean();
});

test('add an expense split equally; balances and the balance chart show it', async () => {
    await page.goto(`/#/groups/${gid}`);
    await page.locator('#add-expense').click();
    await page.locator('#expense-form').waitFor();
    await fillExpense({ description: 'Dinner', amount: '90', payers: { Ana: true }, mode: 'equal' });
    await page.locator('#split-preview-1', { hasText: '€30.00' }).waitFor();
    await screenshot(page, '03-add-expense');
    assert.deepEqual(await a11yProblems(page), []);
    await saveExpense();
    await expectBalances({ Ana: 6000, Ben: -3000, Cleo: -3000 });
    await openOverview();
    const list = page.locator('#balance-list');
    await list.locator('li', { hasText: 'Ana' }).filter({ hasText: 'gets back €60.00' }).waitFor();
    await list.locator('li', { hasText: 'Ben' }).filter({ hasText: 'owes €30.00' }).waitFor();
    const chart = page.locator('.chart-balances svg[role="img"]');
    assert.equal(await chart.locator('rect').count(), 3);
    assert.match(await chart.getAttribute('aria-label'), /Ana: is owed €60\.00/);
    await page.locator('#transfer-list li', { hasText: 'Ben pays Ana' }).waitFor();
    await screenshot(page, '04-overview');
    assert.deepEqual(await a11yProblems(page), []);
    ctx.assertClean();
});

test('edit the expense into exact amounts (needs GET /groups/{gid}/expenses)', async () => {
    await page.goto(`/#/groups/${gid}/expenses`);
    await page.locator('#expense-list a', { hasText: 'Dinner' }).click();
    await page.getByRole('heading', { name: 'Edit expense' }).waitFor();
    assert.equal(await page.getByLabel('Description').inputValue(), 'Dinner');
    assert.equal(await page.getByLabel('Amount', { exact: true }).inputValue(), '90.00');
    await page.check('#mode-exact');
    const s = page.locator('#split');
    await s.getByLabel(/^Ana's amount/).fill('30');
    await s.getByLabel(/^Ben's amount/).fill('40');
    await s.getByLabel(/^Cleo's amount/).fill('20.00');
    await page.locator('#split-summary', { hasText: 'Adds up to €90.00' }).waitFor();
    await screenshot(page, '05-edit-expense');
    await saveExpense();
    await expectBalances({ Ana: 6000, Ben: -4000, Cleo: -2000 });
    ctx.assertClean();
});

test('delete the expense (needs GET /groups/{gid}/expenses)', async () => {
    await page.goto(`/#/groups/${gid}/expenses`);
    await page.locator('#expense-list a', { hasText: 'Dinner' }).click();
    await page.locator('#delete-expense').click();
    await page.locator('#confirm-delete').click();
    await waitForRoute(page, OVERVIEW);
    await expectBalances({ Ana: 0, Ben: 0, Cleo: 0 });
    await openOverview();
    await page.locator('#transfer-list', { hasText: 'Everyone is settled up' }).waitFor();
    ctx.assertClean();
});

test('percent and shares modes with two payers', async () => {
    await page.goto(`/#/groups/${gid}/expenses/new`);
    await fillExpense({
        description: 'Hotel', amount: '300', payers: { Ana: '200', Ben: '100.00' },
        mode: 'percent', split: { Ana: '50', Ben: '25', Cleo: '25' },
    });
    await page.locator('#split-summary', { hasText: 'Adds up to 100%' }).waitFor();
    await page.locator('#split-preview-2', { hasText: '€75.00' }).waitFor();
    await saveExpense();
    await expectBalances({ Ana: 5000, Ben: 2500, Cleo: -7500 });

    await page.goto(`/#/groups/${gid}/expenses/new`);
    await fillExpense({
        description: 'Groceries', amount: '60', payers: { Ben: '30', Cleo: '30' },
        mode: 'shares', split: { Ana: '1', Ben: '1', Cleo: '2' },
    });
    await page.locator('#split-preview-2', { hasText: '€30.00' }).waitFor();
    await page.getByLabel('Category').fill('groceries');
    await saveExpense();
    await expectBalances({ Ana: 3500, Ben: 4000, Cleo: -7500 });
    ctx.assertClean();
});

test('an expense in a foreign currency with its exchange rate', async () => {
    await page.goto(`/#/groups/${gid}/expenses/new`);
    const form = page.locator('#expense-form');
    assert.equal(await form.getByLabel('Exchange rate').isVisible(), false, 'no rate for the group currency');
    await fillExpense({ description: 'Taxi', amount: '100', currency: 'USD', rate: '0.9', payers: { Cleo: true }, mode: 'equal' });
    await page.locator('.rate-field', { hasText: '= €90.00' }).waitFor();
    await page.getByLabel('Category').fill('transport');
    await screenshot(page, '06-foreign-currency');
    await saveExpense();
    await expectBalances({ Ana: 500, Ben: 1000, Cleo: -1500 });
    ctx.assertClean();
});

test('record a payment', async () => {
    await page.locator('#record-payment').click();
    await page.getByRole('heading', { name: 'Record a payment' }).waitFor();
    await page.getByLabel('From (who paid)').selectOption({ label: 'Cleo' });
    await page.getByLabel('To (who received)').selectOption({ label: 'Ben' });
    await page.getByLabel('Amount (EUR)').fill('10');
    await page.getByLabel('Note').fill('cash');
    assert.deepEqual(await a11yProblems(page), []);
    await page.locator('#save-payment').click();
    await waitForRoute(page, OVERVIEW);
    await expectBalances({ Ana: 500, Ben: 0, Cleo: -500 });
    ctx.assertClean();
});

test('"mark as paid" on a suggested transfer settles it', async () => {
    await openOverview();
    const row = page.locator('#transfer-list li', { hasText: 'Cleo pays Ana' });
    await row.filter({ hasText: '€5.00' }).waitFor();
    await row.getByRole('button', { name: /Mark as paid/ }).click();
    await expectBalances({ Ana: 0, Ben: 0, Cleo: 0 });
    await page.locator('#transfer-list', { hasText: 'Everyone is settled up' }).waitFor();
    ctx.assertClean();
});

test('spending charts by category and over time (needs GET /groups/{gid}/expenses)', async () => {
    await page.goto(`/#/groups/${gid}/insights`);
    await page.locator('.chart-categories svg').waitFor();
    const label = await page.locator('.chart-categories svg').getAttribute('aria-label');
    assert.match(label, /groceries: €60\.00/);
    assert.match(label, /transport: €90\.00/);
    await page.locator('.chart-time svg').waitFor();
    await screenshot(page, '07-insights');
    assert.deepEqual(await a11yProblems(page), []);
    ctx.assertClean();
});

test('the activity log lists every change (needs GET /groups/{gid}/events)', async () => {
    await page.goto(`/#/groups/${gid}/activity`);
    const list = page.locator('#activity-list');
    await list.waitFor();
    await list.locator('li', { hasText: 'added “Dinner”' }).waitFor();
    await list.locator('li', { hasText: 'edited “Dinner”' }).waitFor();
    await list.locator('li', { hasText: 'deleted “Dinner”' }).waitFor();
    await list.locator('li', { hasText: 'Cleo paid Ben' }).waitFor();
    assert.equal(await list.locator('li').count(), 8); // Dinner x3, Hotel, Groceries, Taxi, 2 payments
    await screenshot(page, '08-activity');
    ctx.assertClean();
});

test('CSV download (needs GET /groups/{gid}/export.csv)', async () => {
    await openOverview();
    const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: 10_000 }),
        page.locator('#export-csv').click(),
    ]);
    assert.match(download.suggestedFilename(), /^splitter-Lisbon-trip-\d{4}-\d\d-\d\d\.csv$/);
    const text = await readFile(await download.path(), 'utf8');
    assert.match(text, /Hotel/);
    assert.match(text, /Taxi/);
    ctx.assertClean();
});

test('an invite link, accepted by a second user in another browser, claims a member', async () => {
    await page.goto(`/#/groups/${gid}/members`);
    await page.getByRole('button', { name: 'Invite Ben' }).click();
    const url = await page.locator('#invite-url').inputValue();
    assert.match(url, /\/#\/invite\/[A-Za-z0-9_-]{43}\?/);
    await screenshot(page, '09-invite');

    const ben = await openPage(browser, { locale: 'en-US' });
    try {
        await ben.page.goto(url);
        await ben.page.getByRole('heading', { name: 'Join a group' }).waitFor();
        await ben.page.getByText('Lisbon trip').first().waitFor();
        await ben.page.getByRole('link', { name: 'Create an account' }).click();
        await ben.page.getByLabel('Your name').fill('Ben B.');
        await ben.page.getByLabel('Email').fill(`ben-${crypto.randomUUID()}@example.test`);
        await ben.page.getByLabel('Password').fill('correct horse battery');
        await ben.page.getByRole('button', { name: 'Create account' }).click();
        await ben.page.locator('#accept-claim').click();
        await waitForRoute(ben.page, OVERVIEW);
        assert.equal(groupIdOf(ben.page), gid);
        await ben.page.locator('#balance-list li', { hasText: 'Ben' }).filter({ hasText: '(you)' }).waitFor();
        await screenshot(ben.page, '10-invite-accepted');
        const g = await api('GET', `/api/v1/groups/${gid}`, { token });
        const benMember = g.json.members.find((m) => m.name === 'Ben');
        assert.ok(benMember.user_id, 'Ben is now claimed by an account');
        assert.equal(g.json.members.length, 3, 'claimed, not added');
        ben.assertClean();
    } finally {
        await ben.context.close();
    }
    ctx.assertClean();
});

test('log out: back to the login page, the token no longer works', async () => {
    await openOverview();
    await page.locator('#logout').click();
    await waitForRoute(page, /^#\/login/);
    assert.equal(await tokenOf(page), null);
    const r = await api('GET', '/api/v1/me', { token });
    assert.equal(r.status, 401);
    // A protected page now sends to the login page and back after logging in.
    await page.goto(`/#/groups/${gid}`);
    await waitForRoute(page, /^#\/login\?next=/);
    ctx.assertClean();
});
