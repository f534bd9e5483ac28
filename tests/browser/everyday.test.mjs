// Everyday use, at desktop and phone sizes: the percent split that does not add up, initials
// of names that start with an emoji, sentences for people instead of the API's wording, the
// group tabs on a phone, long unbroken names, Back returning to the same place in a long list,
// focus after a server error, and a success message that does not linger onto the next form.
// The groups are prepared through the API; what is checked goes through the web client.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    SIZES, a11yProblems, addCoffees, addEntry, createGroup, launch, loggedInAs, openPage, openRoute, registerUser, waitForRoute,
    watchPosts,
} from './lib.mjs';

const FAMILY = '👩‍👩‍👧';
const LONG = `Bartholomew${'x'.repeat(89)}`;

let browser;
let ana; // {user, token}
let trip; // group: Ana, Ben, Cleo; many expenses
let names; // group: Ana, the family emoji, a long unbroken name

before(async () => {
    browser = await launch();
    ana = await registerUser({ name: 'Ana' });
    const token = ana.token;
    trip = await createGroup(token, 'Lisbon trip', ['Ben', 'Cleo']);
    await addCoffees(trip, token); // a list longer than one page
    names = await createGroup(token, 'Names', [`${FAMILY} Family`, LONG]);
    const [n0, n1, n2] = names.members.map((m) => m.id);
    await addEntry(names.id, token, {
        description: `Dinner with ${LONG}`, amount: 9000, date: '2026-11-20',
        paid_by: [{ member_id: n2, amount: 9000 }],
        split: { mode: 'equal', members: [{ member_id: n0 }, { member_id: n1 }, { member_id: n2 }] },
    });
});

after(async () => {
    await browser?.close();
});

for (const [size, opts] of SIZES) {
    test(`${size}: percentages that do not make 100 show no shares and are not sent`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            const posts = watchPosts(page, /\/expenses$/);
            await openRoute(page, `#/groups/${trip.id}/expenses/new`);
            await page.getByLabel('Description').fill('Museum');
            await page.getByLabel('Amount', { exact: true }).fill('90');
            await page.check('#mode-percent');
            await page.locator('#split').getByLabel(/^Ana's percentage/).fill('50');
            await page.locator('#split').getByLabel(/^Ben's percentage/).fill('30');
            await page.locator('#split').getByLabel(/^Cleo's percentage/).fill('10');
            await page.locator('#split-summary', { hasText: '10% still to assign' }).waitFor();
            const previews = await page.locator('#split output.preview').allTextContents();
            assert.deepEqual(previews.filter(Boolean), [], `no shares while 10% is missing: ${previews}`);
            await page.locator('#save-expense').click();
            const err = page.locator('#split-error');
            await err.waitFor();
            assert.match(await err.textContent(), /add up to 100%/);
            assert.equal(await page.evaluate(() => document.activeElement?.id), 'split-value-0', 'focus on the split');
            assert.equal(posts.length, 0, 'nothing sent');
            // Once they make 100, the preview shows the exact shares the server stores.
            await page.locator('#split').getByLabel(/^Cleo's percentage/).fill('20');
            await page.locator('#split-summary', { hasText: 'Adds up to 100%' }).waitFor();
            assert.deepEqual(await page.locator('#split output.preview').allTextContents(), ['€45.00', '€27.00', '€18.00']);
            assertClean();
        } finally {
            await context.close();
        }
    });

    test(`${size}: an initial is a whole grapheme; long names stay inside the page`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            await openRoute(page, `#/groups/${names.id}/members`);
            const avatars = await page.locator('#member-list .avatar').allTextContents();
            assert.deepEqual(avatars, ['A', FAMILY, 'B']);
            const width = opts.viewport.width;
            for (const tab of ['', '/members', '/expenses', '/activity']) {
                await openRoute(page, `#/groups/${names.id}${tab}`);
                const wide = await page.evaluate(() => document.documentElement.scrollWidth);
                assert.ok(wide <= width, `#/groups/…${tab}: the page is ${wide}px wide in a ${width}px window`);
            }
            await openRoute(page, `#/groups/${names.id}/expenses/new`);
            assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= width, 'expense form');
            await openRoute(page, '#/');
            assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= width, 'groups');
            assertClean();
        } finally {
            await context.close();
        }
    });

    test(`${size}: every group tab, Members too, is on screen`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            await openRoute(page, `#/groups/${trip.id}`);
            for (const t of ['overview', 'expenses', 'insights', 'activity', 'members']) {
                const box = await page.locator(`#tab-link-${t}`).boundingBox();
                assert.ok(box && box.x >= 0 && box.x + box.width <= opts.viewport.width, `${t} tab at ${JSON.stringify(box)}`);
            }
            await page.locator('#tab-link-members').click();
            await page.locator('#invite-anyone').waitFor();
            assertClean();
        } finally {
            await context.close();
        }
    });

    test(`${size}: a server error reads as a sentence and takes the focus`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            await openRoute(page, `#/groups/${trip.id}/payments/new`);
            const ben = trip.members[1].id;
            await page.locator('#pay-from').selectOption(ben);
            await page.locator('#pay-to').selectOption(ben);
            await page.locator('#pay-amount').fill('5');
            const [res] = await Promise.all([
                page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/payments')),
                page.locator('#save-payment').click(),
            ]);
            assert.equal(res.status(), 422);
            const err = page.locator('#pay-to-error');
            await err.waitFor();
            assert.equal(await err.textContent(), 'Pick two different people.');
            assert.equal(await page.evaluate(() => document.activeElement?.id), 'pay-to');
            const text = await page.locator('main').textContent();
            assert.doesNotMatch(text, /from_member|must differ/);
            assert.deepEqual(await a11yProblems(page), []);

            // A problem without a field: the alert says it and has the focus.
            const other = await openPage(browser, { locale: 'en-US', ...opts });
            await other.page.goto('/#/register');
            await other.page.getByLabel('Your name').fill('Ana again');
            await other.page.getByLabel('Email').fill(ana.user.email);
            await other.page.getByLabel('Password').fill('correct horse battery');
            await other.page.getByRole('button', { name: 'Create account' }).click();
            const alert = other.page.locator('.form-alert', { hasText: 'already exists' });
            await alert.waitFor();
            assert.equal((await alert.textContent()).trim(), 'An account with this email already exists. Log in instead.');
            assert.ok(await other.page.evaluate(() => document.activeElement?.classList.contains('form-alert')), 'focus on the alert');
            other.assertClean();
            await other.context.close();
            assertClean();
        } finally {
            await context.close();
        }
    });

    test(`${size}: a success message does not linger onto the next form`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            await openRoute(page, `#/groups/${names.id}/expenses/new`);
            await page.getByLabel('Description').fill(`Taxi ${size}`);
            await page.getByLabel('Amount', { exact: true }).fill('12');
            await page.locator('#save-expense').click();
            await waitForRoute(page, /^#\/groups\/[0-9a-f-]{36}$/);
            await page.locator('#toast.show', { hasText: 'Expense added.' }).waitFor();
            await page.locator('#add-expense').click();
            await waitForRoute(page, /expenses\/new$/);
            await page.locator('#expense-form').waitFor();
            assert.equal(await page.locator('#toast.show').count(), 0, 'the toast went with the navigation');
            assertClean();
        } finally {
            await context.close();
        }
    });

    test(`${size}: Back returns to the same place in a long list`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            await openRoute(page, `#/groups/${trip.id}/expenses`);
            const link = page.locator('#expense-list a', { hasText: 'Coffee 20' });
            await link.scrollIntoViewIfNeeded();
            const y = await page.evaluate(() => window.scrollY);
            assert.ok(y > 300, `scrolled down (${y})`);
            await link.click();
            await page.locator('#expense-form').waitFor();
            await page.goBack();
            await page.locator('#expense-list').waitFor();
            await page.waitForFunction((want) => Math.abs(window.scrollY - want) < 2, y, { timeout: 10_000 });
            assertClean();
        } finally {
            await context.close();
        }
    });
}
