// Payments as entries of the expense list (opened, edited: a partial payment, deleted) and
// "Undo" on the activity log (a deletion undone brings the payment back; an edit undone rolls
// it back), as Ana would use them. The group is prepared through the API; everything the test
// checks goes through the web client, and the balances are read back from the API.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { a11yProblems, api, screenshot, signedInBrowser, waitFor, waitForRoute } from './lib.mjs';

let browser;
let ctx;
let page;
let token;
let gid;
let ana, ben, cleo;

before(async () => {
    ({ browser, ctx, page, token } = await signedInBrowser('Ana'));
    const g = await api('POST', '/api/v1/groups', { token, body: { name: 'Porto', currency: 'EUR' } });
    gid = g.json.id;
    ana = g.json.members[0].id;
    ben = (await api('POST', `/api/v1/groups/${gid}/members`, { token, body: { name: 'Ben' } })).json.id;
    cleo = (await api('POST', `/api/v1/groups/${gid}/members`, { token, body: { name: 'Cleo' } })).json.id;
    const wait = { Prefer: 'wait=10' }; // the most a client may wait: a loaded machine is slow
    const x = await api('POST', `/api/v1/groups/${gid}/expenses`, {
        token,
        headers: wait,
        body: {
            description: 'Hostel', amount: 9000, date: '2026-11-10',
            paid_by: [{ member_id: ana, amount: 9000 }],
            split: { mode: 'equal', members: [{ member_id: ana }, { member_id: ben }, { member_id: cleo }] },
        },
    });
    assert.equal(x.status, 201, x.text);
    const p = await api('POST', `/api/v1/groups/${gid}/payments`, {
        token,
        headers: wait,
        body: { from_member: ben, to_member: ana, amount: 3000, date: '2026-11-12', note: 'cash' },
    });
    assert.equal(p.status, 201, p.text);
});

after(async () => {
    await browser?.close();
});

async function balances() {
    const r = await api('GET', `/api/v1/groups/${gid}/balances`, { token });
    return Object.fromEntries(r.json.balances.map((b) => [b.name, b.balance]));
}

async function expectBalances(want) {
    await waitFor(async () => JSON.stringify(await balances()) === JSON.stringify(want), {
        what: `balances ${JSON.stringify(want)}`,
        timeoutMs: 8000,
    }).catch(async (e) => assert.deepEqual(await balances(), want, e.message));
}

test('a balance row shows the payments sent and received, so it adds up', async () => {
    await page.goto(`/#/groups/${gid}`);
    const list = page.locator('#balance-list');
    // Ben: paid 0, share 30.00, sent 30.00 -> settled; Ana: paid 90.00, share 30.00, received 30.00.
    await list.locator('li', { hasText: 'Ben' }).filter({ hasText: 'paid €0.00 · share €30.00 · sent €30.00' }).waitFor();
    await list.locator('li', { hasText: 'Ben' }).filter({ hasText: 'settled' }).waitFor();
    await list.locator('li', { hasText: 'Ana' }).filter({ hasText: 'share €30.00 · received €30.00' }).waitFor();
    assert.equal(await list.locator('li', { hasText: 'Cleo' }).filter({ hasText: /sent|received/ }).count(), 0);
    ctx.assertClean();
});

test('a payment is listed with the expenses, by date, and opens for editing', async () => {
    await page.goto(`/#/groups/${gid}/expenses`);
    const list = page.locator('#expense-list');
    await list.locator('li.payment-entry', { hasText: 'Ben paid Ana' }).waitFor();
    const rows = await list.locator('li:not(.month-header)').allTextContents();
    assert.match(rows[0], /Ben paid Ana/); // 12 Nov, before the 10 Nov hostel
    assert.match(rows[1], /Hostel/);
    await screenshot(page, '20-expenses-with-payments');
    assert.deepEqual(await a11yProblems(page), []);
    ctx.assertClean();
});

test('edit the payment into a partial one, then delete it', async () => {
    await expectBalances({ Ana: 3000, Ben: 0, Cleo: -3000 });
    await page.locator('#expense-list li.payment-entry a').click();
    await page.getByRole('heading', { name: 'Edit payment' }).waitFor();
    assert.equal(await page.getByLabel('Amount (EUR)').inputValue(), '30.00');
    await page.getByLabel('Amount (EUR)').fill('20');
    assert.deepEqual(await a11yProblems(page), []);
    await page.locator('#save-payment').click();
    await waitForRoute(page, /\/expenses$/);
    await expectBalances({ Ana: 4000, Ben: -1000, Cleo: -3000 });
    await page.locator('#expense-list li.payment-entry', { hasText: '€20.00' }).waitFor();

    await page.locator('#expense-list li.payment-entry a').click();
    await page.getByRole('heading', { name: 'Edit payment' }).waitFor();
    await page.locator('#delete-payment').click();
    await page.locator('#confirm-delete').click();
    await waitForRoute(page, /\/expenses$/);
    await expectBalances({ Ana: 6000, Ben: -3000, Cleo: -3000 });
    await page.locator('#expense-list li', { hasText: 'Hostel' }).waitFor();
    assert.equal(await page.locator('#expense-list li.payment-entry').count(), 0);
    ctx.assertClean();
});

test('Undo in the activity log brings the deleted payment back, then rolls the edit back', async () => {
    await page.goto(`/#/groups/${gid}/activity`);
    const list = page.locator('#activity-list');
    await list.locator('li', { hasText: 'deleted the payment' }).waitFor();
    // Only the last change of each entry can be undone.
    assert.equal(await list.locator('li', { hasText: 'changed a payment' }).getByRole('button', { name: /^Undo/ }).count(), 0);
    await screenshot(page, '21-activity-undo');
    assert.deepEqual(await a11yProblems(page), []);
    await list.locator('li', { hasText: 'deleted the payment' }).getByRole('button', { name: /^Undo/ }).click();
    await list.locator('li', { hasText: 'undid a change: Ben paid Ana (€20.00)' }).waitFor();
    await expectBalances({ Ana: 4000, Ben: -1000, Cleo: -3000 });
    // Undo the undo: deleted again; then undo that, and roll the edit back the same way.
    await list.locator('li', { hasText: 'undid a change: Ben paid Ana (€20.00)' }).getByRole('button', { name: /^Undo/ }).click();
    await list.locator('li', { hasText: 'undid a change: a payment removed' }).waitFor();
    await expectBalances({ Ana: 6000, Ben: -3000, Cleo: -3000 });
    const events = (await api('GET', `/api/v1/groups/${gid}/events`, { token })).json.items;
    assert.deepEqual(events.map((e) => e.type), [
        'expense.created', 'payment.created', 'payment.replaced', 'payment.deleted', 'payment.reverted', 'payment.reverted',
    ]);
    ctx.assertClean();
});
