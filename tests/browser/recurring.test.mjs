// Recurring expenses in the client, at desktop and phone sizes: the "Repeats" control of the
// expense form makes a weekly expense started two weeks ago (the workers catch up its
// occurrences), the group page's "Upcoming" list shows its next dates and stops it, the template's
// form shows its rule, and an occurrence's form says it is one occurrence, without a rule.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SIZES, a11yProblems, api, screenshot, createGroup, launch, loggedInAs, openRoute, registerUser, settled, waitFor, waitForRoute } from './lib.mjs';

let browser;
let ana;
let flat;

function day(days) {
    const d = new Date();
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
}

const shortDate = (iso) => new Date(`${iso}T00:00:00`).toLocaleDateString('en-US', { year: 'numeric', month: 'short', day: 'numeric' });

before(async () => {
    browser = await launch();
    ana = await registerUser({ name: 'Ana' });
    flat = await createGroup(ana.token, 'Flat', ['Ben']);
});

after(async () => {
    await browser?.close();
});

async function rules() {
    const r = await api('GET', `/api/v1/groups/${flat.id}/recurrences`, { token: ana.token });
    assert.equal(r.status, 200, r.text);
    return r.json.items;
}

async function expensesNamed(description) {
    const r = await api('GET', `/api/v1/groups/${flat.id}/expenses?limit=100&q=${encodeURIComponent(description)}`, { token: ana.token });
    return r.json.items.filter((x) => x.description === description).sort((a, b) => a.date.localeCompare(b.date));
}

for (const [size, opts] of SIZES) {
    test(`${size}: a weekly expense from the form, its upcoming dates, its occurrences, and Stop`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        const what = `Cleaning ${size}`;
        try {
            await openRoute(page, `#/groups/${flat.id}/expenses/new`);
            // Hidden until the expense repeats.
            assert.equal(await page.locator('#repeat-detail').isHidden(), true);
            await page.getByLabel('Description').fill(what);
            await page.getByLabel('Amount', { exact: true }).fill('30');
            await page.locator('#exp-date').fill(day(-14));
            await page.getByLabel('How often').selectOption('week');
            assert.equal(await page.locator('#repeat-detail').isVisible(), true);
            assert.equal(await page.locator('#exp-repeat-unit').textContent(), 'week');
            await page.getByLabel('Every').fill('2');
            assert.equal(await page.locator('#exp-repeat-unit').textContent(), 'weeks');
            // An end before the start is caught in the form.
            await page.getByLabel('Until').fill(day(-20));
            await page.locator('#save-expense').click();
            await page.locator('#exp-repeat-until-error', { hasText: 'Pick a day on or after the date.' }).waitFor();
            await page.getByLabel('Until').fill('');
            await page.getByLabel('Every').fill('1');
            assert.deepEqual(await a11yProblems(page), []);
            await screenshot(page, `recurring-form-${size}`);
            await page.locator('#save-expense').click();
            await waitForRoute(page, new RegExp(`^#/groups/${flat.id}$`));

            // The workers catch up: the expense itself and two occurrences, a week apart; the
            // next dates are then the ones still to come.
            const items = await waitFor(async () => {
                const got = await expensesNamed(what);
                return got.length === 3 ? got : null;
            }, { timeoutMs: 20_000, intervalMs: 200, what: 'the occurrences' });
            assert.deepEqual(items.map((x) => x.date), [day(-14), day(-7), day(0)]);
            const rule = await waitFor(async () => (await rules()).find((r) => r.description === what && r.next_dates[0] === day(7)), { what: 'the rule caught up' });
            assert.deepEqual(rule.recurrence, { every: 1, unit: 'week', until: null });
            assert.deepEqual(rule.next_dates, [day(7), day(14), day(21)]);

            // The Upcoming list on the group page (drawn again: the save left the page on it,
            // drawn before the workers caught up).
            await page.reload();
            await page.locator('h1').waitFor();
            await settled(page);
            const row = page.locator('#upcoming-list li', { has: page.locator('.desc', { hasText: what }) });
            await row.waitFor();
            assert.equal(await row.locator('.meta').textContent(), 'Every week');
            assert.equal(await row.locator('.next').textContent(), `Next: ${[day(7), day(14), day(21)].map(shortDate).join(', ')}`);
            assert.equal(await row.locator('.amount').textContent(), '€30.00');
            assert.deepEqual(await a11yProblems(page), []);
            await screenshot(page, `recurring-upcoming-${size}`);

            // The template's form shows its rule; an occurrence's says what it is.
            await openRoute(page, `#/groups/${flat.id}/expenses/${rule.expense_id}`);
            assert.equal(await page.locator('#exp-repeat').inputValue(), 'week');
            assert.equal(await page.locator('#exp-repeat-every').inputValue(), '1');
            await openRoute(page, `#/groups/${flat.id}/expenses/${items[1].id}`);
            await page.locator('#occurrence-note').waitFor();
            assert.equal(await page.locator('#exp-repeat').count(), 0);

            // Stop: no more upcoming dates, the occurrences stay.
            await openRoute(page, `#/groups/${flat.id}`);
            await row.locator('.stop-repeat').click();
            await page.locator('.toast', { hasText: `Stopped: no more occurrences of ${what}.` }).waitFor();
            await settled(page);
            await waitFor(async () => !(await rules()).some((r) => r.expense_id === rule.expense_id), { what: 'the rule stopped' });
            await openRoute(page, `#/groups/${flat.id}`);
            assert.equal(await row.count(), 0);
            const template = await api('GET', `/api/v1/groups/${flat.id}/expenses/${rule.expense_id}`, { token: ana.token });
            assert.equal(template.json.recurrence, undefined);
            assert.equal((await expensesNamed(what)).length, 3);
            assertClean();
        } finally {
            await context.close();
        }
    });
}
