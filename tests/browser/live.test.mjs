// Live updates in the web client: two members of one group, each in a browser of their own.
// One adds an expense through the form; the other's open group page (balances, then the
// expense list and the activity log) shows it without a reload.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { addEntry, api, groupIdOf, launch, openPage, registerViaUI, screenshot, tokenOf, waitForRoute } from './lib.mjs';

const OVERVIEW = /^#\/groups\/[0-9a-f-]{36}$/;

let browser;
let ana; // {context, page, ...}
let ben;
let gid;

before(async () => {
    browser = await launch();
    ana = await openPage(browser, { locale: 'en-US' });
    ben = await openPage(browser, { locale: 'en-US' });
    await registerViaUI(ana.page, 'Ana');
    await registerViaUI(ben.page, 'Ben');
    const token = await tokenOf(ana.page);
    const g = await api('POST', '/api/v1/groups', { token, body: { name: 'Live trip', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    gid = g.json.id;
    const inv = await api('POST', `/api/v1/groups/${gid}/invites`, { token });
    assert.equal(inv.status, 201, inv.text);
    const acc = await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { token: await tokenOf(ben.page) });
    assert.equal(acc.status, 200, acc.text);
});

after(async () => {
    await browser?.close();
});

/** Navigate without a reload afterwards: the test's point is that nothing reloads. */
async function openGroup(p, tab = '') {
    await p.goto(`/#/groups/${gid}${tab ? `/${tab}` : ''}`);
    await p.locator('#live-state[data-state="live"]').waitFor();
}

test("another member's expense shows on the open overview, expense list and activity log", async () => {
    await openGroup(ben.page);
    await ben.page.locator('#balance-list li', { hasText: 'Ben' }).getByText('settled').waitFor();
    // Count full page loads from here on: there must be none (hash changes are not loads).
    let loads = 0;
    ben.page.on('load', () => loads++);

    await ana.page.goto(`/#/groups/${gid}/expenses/new`);
    const form = ana.page.locator('#expense-form');
    await form.getByLabel('Description').fill('Ferry tickets');
    await form.getByLabel('Amount', { exact: true }).fill('30.00');
    await ana.page.locator('#save-expense').click();
    await waitForRoute(ana.page, OVERVIEW);
    assert.equal(groupIdOf(ana.page), gid);

    // Ben owes half, without touching his page.
    await ben.page.locator('#balance-list li', { hasText: 'Ben' }).getByText(/owes\s+€15\.00/).waitFor({ timeout: 10_000 });
    await ben.page.locator('#balance-list li', { hasText: 'Ana' }).getByText(/gets back\s+€15\.00/).waitFor();
    await screenshot(ben.page, 'live-01-overview');

    // The expense list and the activity log follow too.
    await openGroup(ben.page, 'expenses');
    await ben.page.getByText('Ferry tickets').waitFor();
    await openGroup(ana.page);
    await openGroup(ben.page, 'activity');
    // Count once the log has drawn what is already there.
    await ben.page.locator('#activity-list li.ev', { hasText: 'Ferry tickets' }).waitFor();
    const before = await ben.page.locator('#activity-list li.ev').count();
    await ana.page.goto(`/#/groups/${gid}/expenses/new`);
    await ana.page.locator('#expense-form').getByLabel('Description').fill('Museum');
    await ana.page.locator('#expense-form').getByLabel('Amount', { exact: true }).fill('12.00');
    await ana.page.locator('#save-expense').click();
    await waitForRoute(ana.page, OVERVIEW);
    await ben.page.locator('#activity-list li.ev', { hasText: 'Museum' }).waitFor({ timeout: 10_000 });
    assert.equal(await ben.page.locator('#activity-list li.ev').count(), before + 1);
    await openGroup(ben.page, 'expenses');
    await ben.page.getByText('Museum').waitFor();
    await screenshot(ben.page, 'live-02-expenses');
    assert.equal(loads, 0, 'the page reloaded');
    ana.assertClean();
    ben.assertClean();
});

test('a live change waits while the reader types in the list\'s search, then shows', async () => {
    await openGroup(ben.page, 'expenses');
    await ben.page.getByText('Museum').waitFor();
    const search = ben.page.getByLabel('Search', { exact: true });
    await search.click();
    await search.pressSequentially('ferr');
    await addEntryAsAna('Late taxi', 800);
    // Ana's expense is applied; Ben's half-typed search and its focus stay as they were.
    await ben.page.waitForTimeout(1500);
    assert.equal(await search.inputValue(), 'ferr');
    assert.equal(await ben.page.evaluate(() => document.activeElement?.id), 'filter-q');
    assert.equal(await ben.page.getByText('Late taxi').count(), 0, 'not repainted under the typing');
    // Leaving the field lets the list catch up.
    await ben.page.locator('#h-expenses').click();
    await ben.page.getByText('Late taxi').waitFor({ timeout: 10_000 });
    ana.assertClean();
    ben.assertClean();
});

/** Ana adds an equal expense of `minor` cents through the API (applied). */
async function addEntryAsAna(description, minor) {
    const token = await tokenOf(ana.page);
    const g = (await api('GET', `/api/v1/groups/${gid}`, { token })).json;
    await addEntry(gid, token, {
        description, amount: minor, paid_by: [{ member_id: g.members[0].id, amount: minor }],
        split: { mode: 'equal', members: g.members.map((m) => ({ member_id: m.id })) },
    });
}

test('the stream ends when the page leaves the group, and no request outlives it', async () => {
    await openGroup(ben.page);
    const streams = [];
    ben.page.on('request', (r) => {
        if (r.url().endsWith('/stream')) streams.push(r);
    });
    await ben.page.goto('/#/');
    await ben.page.locator('#logout').waitFor();
    await openGroup(ben.page);
    // One new stream for the new visit; the old one was aborted (no reconnect loop).
    await ben.page.waitForTimeout(500);
    assert.equal(streams.length, 1);
    ben.assertClean();
});
