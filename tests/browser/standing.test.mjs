// Where do I stand, and long groups, at desktop and phone sizes: the reader's own balance on the
// group page, "you lent / you borrowed" on each expense, the friends view across all groups
// (GET /me/balances), month headers, loading as the reader scrolls (no "Load more"), and the
// search and filters of the expense list. The groups are prepared through the API; amounts
// shown are compared with what the API says.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SIZES, a11yProblems, addCoffees, addEntry, api, createGroup, launch, loggedInAs, openRoute, registerUser } from './lib.mjs';

const euro = (minor) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'EUR' }).format(`${minor / 100n}.${String(minor % 100n).padStart(2, '0')}`);

let browser;
let ana;
let trip; // Ana, Ben, Cleo: 60 coffees over three months
let flat; // Ana, Ben: one expense Ben paid

before(async () => {
    browser = await launch();
    ana = await registerUser({ name: 'Ana' });
    trip = await createGroup(ana.token, 'Lisbon trip', ['Ben', 'Cleo']);
    await addCoffees(trip, ana.token);
    flat = await createGroup(ana.token, 'Flat', ['Ben']);
    await addEntry(flat.id, ana.token, {
        description: 'Rent', amount: 50000, date: '2026-11-01',
        paid_by: [{ member_id: flat.members[1].id, amount: 50000 }],
        split: { mode: 'equal', members: [{ member_id: flat.members[0].id }, { member_id: flat.members[1].id }] },
    });
});

after(async () => {
    await browser?.close();
});

async function myBalance(gid) {
    const r = await api('GET', `/api/v1/groups/${gid}/balances`, { token: ana.token });
    const me = r.json.balances.find((b) => b.name === 'Ana');
    return BigInt(me.balance);
}

for (const [size, opts] of SIZES) {
    test(`${size}: the group page says where I stand; each expense what it means for me`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            const mine = await myBalance(trip.id);
            assert.ok(mine > 0n, 'Ana paid more coffees than her share');
            await openRoute(page, `#/groups/${trip.id}`);
            assert.equal(await page.locator('#my-standing .standing').textContent(), `You are owed ${euro(mine)}`);
            // The transfers that settle it, as who pays me.
            const set = await api('GET', `/api/v1/groups/${trip.id}/settlements`, { token: ana.token });
            const name = (mid) => trip.members.find((m) => m.id === mid).name;
            assert.deepEqual(await page.locator('#my-standing .standing-lines li').allTextContents(),
                set.json.transfers.filter((x) => x.to === trip.members[0].id).map((x) => `${name(x.from)} pays you ${euro(BigInt(x.amount))}`));
            await openRoute(page, `#/groups/${flat.id}`);
            assert.deepEqual(await page.locator('#my-standing .standing-lines li').allTextContents(), [`You pay Ben ${euro(25000n)}`]);
            assert.equal(await page.locator('#my-standing .standing').textContent(), `You owe ${euro(25000n)}`);

            await openRoute(page, `#/groups/${trip.id}/expenses`);
            // Coffee 1: Ana paid 3.00, her share 1.00. Coffee 2: Ben paid 3.01, split 1.01 /
            // 1.00 / 1.00 (the leftover cent to the first member): Ana borrowed 1.01.
            const row = (d) => page.locator('#expense-list li', { has: page.locator('.desc', { hasText: new RegExp(`^${d}$`) }) });
            await page.locator('#expense-list a', { hasText: 'Coffee 60' }).waitFor();
            assert.equal(await row('Coffee 60').locator('.mine').textContent(), 'you borrowed €1.20');
            assert.equal(await row('Coffee 59').locator('.mine').textContent(), 'you lent €2.38');
            assert.deepEqual(await a11yProblems(page), []);
            assertClean();
        } finally {
            await context.close();
        }
    });

    test(`${size}: the friends view shows what each person and I owe each other`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            const me = await api('GET', '/api/v1/me/balances', { token: ana.token });
            assert.equal(me.status, 200, me.text);
            await openRoute(page, '#/');
            await page.locator('#friends-link').click();
            await page.locator('#friend-list').waitFor();
            assert.equal(await page.locator('#friend-list > li').count(), me.json.people.length);
            for (const [i, p] of me.json.people.entries()) {
                const li = page.locator('#friend-list > li').nth(i);
                assert.equal(await li.locator('.friend-name').textContent(), p.name);
                const total = BigInt(p.totals[0]?.amount ?? 0);
                const want = total === 0n ? 'settled up' : total > 0n ? `owes you ${euro(total)}` : `you owe ${euro(-total)}`;
                assert.equal(await li.locator('.friend-head .amount').first().textContent(), want, p.name);
                assert.equal(await li.locator('.friend-groups li').count(), p.groups.length);
            }
            // The flat's Ben: Ana owes him the rent's half.
            const ben = me.json.people.findIndex((p) => p.groups.some((g) => g.group_id === flat.id));
            assert.ok(ben >= 0);
            const benRow = page.locator('#friend-list > li').nth(ben);
            assert.equal(await benRow.locator('.friend-groups li', { hasText: 'Flat' }).locator('.amount').textContent(), `you owe ${euro(25000n)}`);
            const width = await page.evaluate(() => document.documentElement.scrollWidth);
            assert.ok(width <= opts.viewport.width, `the page is ${width}px wide`);
            assert.deepEqual(await a11yProblems(page), []);
            assertClean();
        } finally {
            await context.close();
        }
    });

    test(`${size}: month headers, and the list loads as I scroll (no "Load more")`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            const pages = [];
            page.on('request', (r) => {
                if (r.method() === 'GET' && /\/expenses\?/.test(r.url())) pages.push(r.url());
            });
            await openRoute(page, `#/groups/${trip.id}/expenses`);
            await page.locator('#expense-list a', { hasText: 'Coffee 60' }).waitFor();
            assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0);
            assert.equal(await page.locator('#expense-list a', { hasText: /^Coffee 1\b/ }).count(), 0, 'the first page is 50 long');
            // Scroll to the end, as a reader would, until the oldest coffee is there.
            for (let i = 0; i < 40 && !(await page.locator('#expense-list .desc', { hasText: /^Coffee 1$/ }).count()); i++) {
                await page.mouse.wheel(0, 2000);
                await page.waitForTimeout(150);
            }
            await page.locator('#expense-list .desc', { hasText: /^Coffee 1$/ }).waitFor();
            assert.equal(pages.length, 2, `two pages read: ${pages}`);
            assert.deepEqual(await page.locator('#expense-list .month-header').allTextContents(),
                ['November 2026', 'October 2026', 'September 2026']);
            assert.equal(await page.locator('#expense-list a.expense-link').count(), 60);
            assertClean();
        } finally {
            await context.close();
        }
    });

    test(`${size}: search and filters narrow the list`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            await openRoute(page, `#/groups/${trip.id}/expenses`);
            await page.getByLabel('Search', { exact: true }).fill('coffee 1');
            await page.getByRole('button', { name: 'Search', exact: true }).click();
            await page.waitForFunction(() => location.hash.includes('q=coffee'));
            await page.locator('#clear-filters').waitFor();
            const descs = async () => (await page.locator('#expense-list .desc').allTextContents()).sort();
            // "coffee 1" is in Coffee 1 and Coffee 10 to 19.
            assert.deepEqual(await descs(), ['Coffee 1', ...Array.from({ length: 10 }, (_, i) => `Coffee ${10 + i}`)].sort());
            await page.locator('#clear-filters').click();
            await page.locator('#expense-filter summary').click();
            await page.getByLabel('Paid by').selectOption(trip.members[1].id);
            await page.getByLabel('Category').fill('transport');
            await page.getByLabel('From').fill('2026-10-01');
            await page.getByLabel('To').fill('2026-10-31');
            await page.getByRole('button', { name: 'Search', exact: true }).click();
            await page.waitForFunction(() => location.hash.includes('category=transport'));
            await page.locator('#clear-filters').waitFor();
            // October holds Coffee 21..40; Ben paid the even ones; transport is every third (i % 3 == 0).
            const want = [];
            for (let i = 20; i < 40; i++) if (i % 2 && i % 3 === 0) want.push(`Coffee ${i + 1}`);
            assert.deepEqual(await descs(), want.sort());
            assert.equal(await page.locator('#expense-list li.payment-entry').count(), 0);
            // Back to the unfiltered list: the browser's history holds the filters.
            await page.goBack();
            await page.waitForFunction(() => !location.hash.includes('?'));
            await page.locator('#expense-list a', { hasText: 'Coffee 60' }).waitFor();
            assert.deepEqual(await a11yProblems(page), []);
            assertClean();
        } finally {
            await context.close();
        }
    });
}
