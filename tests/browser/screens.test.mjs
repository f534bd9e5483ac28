// The main screens at desktop and phone sizes, with a group as friends would have it ("Lisbon
// trip": five people, expenses in every split mode, two currencies, a payment). Each screen is
// checked (no console error, labels and names, nothing wider than the window) and
// photographed; with DOC_SCREENSHOTS=1 the photographs are the ones docs/WEB.md shows
// (docs/img/web/).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { a11yProblems, addEntry, createGroup, DOC_SCREENSHOT_DIR, launch, loggedInAs, registerUser, screenshot, settled } from './lib.mjs';

const SIZES = [
    ['desktop', { viewport: { width: 1280, height: 900 } }],
    ['phone', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 }],
];

let browser;
let ana;
let gid;

before(async () => {
    browser = await launch();
    ana = await registerUser({ name: 'Ana' });
    const token = ana.token;
    const g = await createGroup(token, 'Lisbon trip', ['Ben', 'Cleo', 'Dário', 'Eva']);
    gid = g.id;
    const id = Object.fromEntries(g.members.map((m) => [m.name, m.id]));
    const all = Object.values(id).map((member_id) => ({ member_id }));
    const expenses = [
        { description: 'Flights', amount: 64500, date: '2026-09-28', category: 'travel', paid_by: [{ member_id: id.Ana, amount: 64500 }], split: { mode: 'equal', members: all } },
        { description: 'Apartment in Alfama', amount: 82000, date: '2026-10-01', category: 'accommodation', paid_by: [{ member_id: id.Ben, amount: 50000 }, { member_id: id.Cleo, amount: 32000 }], split: { mode: 'shares', members: [{ member_id: id.Ana, value: 1 }, { member_id: id.Ben, value: 2 }, { member_id: id.Cleo, value: 2 }, { member_id: id['Dário'], value: 1 }, { member_id: id.Eva, value: 1 }] } },
        { description: 'Pastéis de nata', amount: 1260, date: '2026-10-02', category: 'food', paid_by: [{ member_id: id.Eva, amount: 1260 }], split: { mode: 'equal', members: all } },
        { description: 'Tram 28 tickets', amount: 3000, date: '2026-10-02', category: 'transport', paid_by: [{ member_id: id['Dário'], amount: 3000 }], split: { mode: 'exact', members: [{ member_id: id.Ana, value: 600 }, { member_id: id.Ben, value: 600 }, { member_id: id.Cleo, value: 600 }, { member_id: id['Dário'], value: 600 }, { member_id: id.Eva, value: 600 }] } },
        { description: 'Fado dinner', amount: 18750, date: '2026-10-03', category: 'food', paid_by: [{ member_id: id.Ana, amount: 18750 }], split: { mode: 'percent', members: [{ member_id: id.Ana, value: 20 }, { member_id: id.Ben, value: 20 }, { member_id: id.Cleo, value: 20 }, { member_id: id['Dário'], value: 20 }, { member_id: id.Eva, value: 20 }] } },
        { description: 'Sintra day trip', amount: 9000, currency: 'USD', exchange_rate: '0.92', date: '2026-10-04', category: 'entertainment', paid_by: [{ member_id: id.Cleo, amount: 9000 }], split: { mode: 'equal', members: all } },
    ];
    for (const body of expenses) await addEntry(gid, token, body);
    await addEntry(gid, token, { from_member: id.Eva, to_member: id.Ana, amount: 10000, date: '2026-10-05', note: 'MB Way' }, 'payments');
});

after(async () => {
    await browser?.close();
});

for (const [size, opts] of SIZES) {
    test(`${size}: the main screens`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, { colorScheme: 'light', ...opts });
        try {
            const screens = [
                ['groups', '#/', '#group-list a'],
                ['overview', `#/groups/${gid}`, '#my-standing'],
                ['expenses', `#/groups/${gid}/expenses`, '#expense-list .month-header'],
                ['add-expense', `#/groups/${gid}/expenses/new`, '#expense-form'],
                ['activity', `#/groups/${gid}/activity`, '#activity-list li'],
                ['members', `#/groups/${gid}/members`, '#member-list li'],
                ['friends', '#/friends', '#friend-list li'],
            ];
            for (const [name, hash, ready] of screens) {
                await page.goto(`/${hash}`);
                await page.locator(ready).first().waitFor();
                await settled(page);
                if (name === 'add-expense') {
                    await page.getByLabel('Description').fill('Dinner at Time Out Market');
                    await page.getByLabel('Amount', { exact: true }).fill('96.40');
                    await page.check('#mode-percent');
                    for (const [i, v] of ['30', '20', '20', '15', '15'].entries()) await page.locator(`#split-value-${i}`).fill(v);
                    await page.locator('#split-summary', { hasText: 'Adds up to 100%' }).waitFor();
                    assert.equal(await page.locator('#split-preview-0').textContent(), '€28.92');
                    await page.locator('#split-value-0').focus();
                }
                const wide = await page.evaluate(() => document.documentElement.scrollWidth);
                assert.ok(wide <= opts.viewport.width, `${name}: ${wide}px wide`);
                assert.deepEqual(await a11yProblems(page), [], name);
                // The form's interesting part is the split and its preview.
                if (name === 'add-expense') await page.evaluate(() => document.getElementById('payers').scrollIntoView());
                else await page.evaluate(() => window.scrollTo(0, 0));
                await screenshot(page, `${name}-${size}`, { fullPage: false, dir: DOC_SCREENSHOT_DIR });
            }
            assertClean();
        } finally {
            await context.close();
        }
    });
}
