// The itemised bill in the expense form, at desktop and phone sizes: a 6-person, 14-item
// restaurant bill with tax as a percentage and a tip as an amount, typed in; the amount is the
// bill's total, the preview shows each person's share as it is typed, and after saving the
// server's shares are exactly the preview's. Opening the expense again fills the editor back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    SIZES, a11yProblems, api, createGroup, launch, loggedInAs, openRoute, registerUser, screenshot, waitForRoute,
} from './lib.mjs';

let browser;
let ana;
let group;
const NAMES = ['Ana', 'Ben', 'Cleo', 'Dani', 'Eli', 'Fay'];

// [name, price, qty, who (indexes into NAMES), shares (same order) or null for equal]
const BILL = [
    ['Bread', '4.50', '2', [0, 1, 2, 3, 4, 5], null],
    ['Olives', '3.95', '1', [1, 2, 3], null],
    ['Octopus', '14.50', '1', [0, 4], null],
    ['Bacalhau', '22.90', '1', [0], null],
    ['Steak', '26.75', '1', [5], null],
    ['Risotto', '18.90', '1', [2], null],
    ['Sea bass', '24.50', '1', [3], null],
    ['Curry', '15.75', '1', [1], null],
    ['Kids pasta', '8.95', '1', [4, 0], ['2', '1']],
    ['Wine', '22.00', '3', [0, 1, 2, 5], ['1.5', '1', '2.25', '1']],
    ['Water', '3.50', '4', [0, 1, 2, 3, 4, 5], null],
    ['Espresso', '1.80', '5', [0, 1, 3, 4, 5], null],
    ['Nata', '1.75', '6', [0, 1, 2, 3, 4, 5], null],
    ['Port', '6.90', '3', [5, 3], ['2', '1']],
];

before(async () => {
    browser = await launch();
    ana = await registerUser({ name: 'Ana' });
    group = await createGroup(ana.token, 'Porto dinner', NAMES.slice(1));
});

after(async () => {
    await browser?.close();
});

const cents = (text) => Number(String(text).replace(/[^\d]/g, ''));

async function enterBill(page) {
    await page.getByLabel('Description').fill('Dinner at Ramiro');
    await page.check('#mode-items');
    const rows = page.locator('#item-list > li');
    for (let i = 0; i < BILL.length; i++) {
        const [name, price, qty, who, shares] = BILL[i];
        if (i > 0) await page.locator('#add-item').click();
        const row = rows.nth(i);
        await row.locator('.item-name').fill(name);
        await row.locator('.item-price').fill(price);
        await row.locator('.item-qty').fill(qty);
        // Every chip starts pressed: press off those not sharing.
        for (let m = 0; m < NAMES.length; m++) {
            if (!who.includes(m)) await row.getByRole('button', { name: NAMES[m], exact: true }).click();
        }
        if (shares) {
            await row.locator('.item-by-shares').check();
            for (let k = 0; k < who.length; k++) {
                await row.getByLabel(`${NAMES[who[k]]}’s shares of this item`).fill(shares[k]);
            }
        }
    }
    await page.locator('#charge-tax').fill('12.5');
    await page.locator('#charge-tip').fill('15');
    await page.locator('#charge-tip-unit').selectOption('amount');
}

async function preview(page) {
    const rows = page.locator('#items-preview li');
    const out = {};
    for (let i = 0; i < await rows.count(); i++) {
        const r = rows.nth(i);
        out[await r.getAttribute('data-member')] = cents(await r.locator('output').textContent());
    }
    return out;
}

for (const [size, opts] of SIZES) {
    test(`${size}: an itemised bill's preview is what the server stores`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            await openRoute(page, `#/groups/${group.id}/expenses/new`);
            await enterBill(page);
            // Subtotal 265.40; tax 12.5 % = 33.175 -> 33.18 (half to even); tip 15.00: 313.58.
            assert.equal(await page.locator('#exp-amount').inputValue(), '313.58');
            assert.ok(await page.locator('#exp-amount').evaluate((el) => el.readOnly), 'the amount is computed');
            await page.locator('#split-summary', { hasText: '313.58' }).waitFor();
            const shown = await preview(page);
            assert.equal(Object.keys(shown).length, 6, JSON.stringify(shown));
            assert.equal(Object.values(shown).reduce((a, b) => a + b, 0), 31358);
            // Usable on a phone: nothing wider than the screen, every control labelled.
            const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
            assert.ok(overflow <= 0, `the page is ${overflow}px wider than the window`);
            assert.deepEqual(await a11yProblems(page), []);
            await screenshot(page, `items-${size}`);

            await page.locator('#save-expense').click();
            await waitForRoute(page, /^#\/groups\/[0-9a-f-]{36}$/);
            const list = await api('GET', `/api/v1/groups/${group.id}/expenses?q=Ramiro&limit=10`, { token: ana.token });
            assert.equal(list.status, 200, list.text);
            const x = list.json.items[0];
            assert.equal(x.split.mode, 'items');
            assert.equal(x.split.items.length, 14);
            assert.equal(x.amount, 31358);
            assert.deepEqual(x.split.charges, [{ kind: 'tax', percent: 12.5 }, { kind: 'tip', amount: 1500 }]);
            const server = Object.fromEntries(x.shares.map((s) => [s.member_id, s.amount]));
            assert.deepEqual(shown, server);
            assert.deepEqual(x.shares.map((s) => s.member_id), group.members.map((m) => m.id), 'first-appearance order');

            // Opened again, the editor holds the bill and previews the same shares.
            await openRoute(page, `#/groups/${group.id}/expenses/${x.id}`);
            // Only the hash changes: wait for the edit page itself.
            await page.getByRole('heading', { name: 'Edit expense' }).waitFor();
            await page.locator('#item-list > li').nth(13).waitFor();
            assert.equal(await page.locator('#item-list > li').count(), 14);
            assert.equal(await page.locator('#charge-tax').inputValue(), '12.5');
            assert.equal(await page.locator('#charge-tip').inputValue(), '15.00');
            await page.locator('#split-summary', { hasText: '313.58' }).waitFor();
            assert.deepEqual(await preview(page), server);
            assertClean();
        } finally {
            await context.close();
        }
    });
}

test('an item without a price or anyone to share it is not sent; the problems show on the item', async () => {
    const { context, page, assertClean } = await loggedInAs(browser, ana);
    try {
        const posts = [];
        page.on('request', (r) => {
            if (r.method() === 'POST' && r.url().endsWith('/expenses')) posts.push(r.url());
        });
        await openRoute(page, `#/groups/${group.id}/expenses/new`);
        await page.getByLabel('Description').fill('Snacks');
        await page.check('#mode-items');
        const row = page.locator('#item-list > li').first();
        await row.locator('.item-name').fill('Crisps');
        for (const n of NAMES) await row.getByRole('button', { name: n, exact: true }).click();
        await page.locator('#split-summary', { hasText: 'Give each item a name, a price and who shares it.' }).waitFor();
        await page.locator('#save-expense').click();
        const priceError = page.locator(`#${await row.locator('.item-price').getAttribute('id')}-error`);
        await priceError.waitFor();
        assert.match(await priceError.textContent(), /Enter an amount/);
        assert.match(await row.locator('.item-who + .field-error, .item-errors .field-error').last().textContent(), /Pick who shares this item/);
        assert.equal(await row.locator('.item-price').getAttribute('aria-invalid'), 'true');
        assert.deepEqual(posts, [], 'nothing is sent');
        assertClean();
    } finally {
        await context.close();
    }
});
