// The client's promises beyond the happy path: a double click or a retried request saves one
// expense, problems from the server show inline, the phone layout, keyboard-only use, labels
// and accessible names, and the static files (manifest, icons, modules) under the CSP.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    a11yProblems, api, BASE_URL, launch, loggedInAs, openPage, registerUser, screenshot, settled, waitFor, waitForRoute, watchPosts,
} from './lib.mjs';

let browser;
let ana; // {user, token}
let group;
const OVERVIEW = /^#\/groups\/[0-9a-f-]{36}$/;

before(async () => {
    browser = await launch();
    ana = await registerUser({ name: 'Ana' });
    const g = await api('POST', '/api/v1/groups', { token: ana.token, body: { name: 'Flat 3B', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    for (const name of ['Ben', 'Cleo']) {
        const m = await api('POST', `/api/v1/groups/${g.json.id}/members`, { token: ana.token, body: { name } });
        assert.equal(m.status, 201, m.text);
    }
    group = (await api('GET', `/api/v1/groups/${g.json.id}`, { token: ana.token })).json;
});

after(async () => {
    await browser?.close();
});

async function paidTotal() {
    const r = await api('GET', `/api/v1/groups/${group.id}/balances`, { token: ana.token });
    assert.equal(r.status, 200, r.text);
    return r.json.balances.reduce((t, b) => t + b.paid, 0);
}

async function expenseCount(description) {
    const r = await api('GET', `/api/v1/groups/${group.id}/expenses?limit=200`, { token: ana.token });
    if (r.status !== 200) return null; // the list route is not there (yet)
    return r.json.items.filter((e) => e.description === description).length;
}

test('a double click on "save" creates one expense', async () => {
    const { context, page, assertClean } = await loggedInAs(browser, ana);
    try {
        const before = await paidTotal();
        const posts = [];
        page.on('request', (r) => {
            if (r.method() === 'POST' && r.url().endsWith('/expenses')) posts.push(r.headers()['idempotency-key']);
        });
        await page.goto(`/#/groups/${group.id}/expenses/new`);
        await page.getByLabel('Description').fill('Double click');
        await page.getByLabel('Amount', { exact: true }).fill('12.34');
        await page.locator('#save-expense').dblclick();
        await waitForRoute(page, OVERVIEW);
        await page.locator('#balance-list').waitFor();
        await waitFor(async () => (await paidTotal()) === before + 1234, { what: 'the expense applied' });
        await new Promise((r) => setTimeout(r, 500)); // a second write would have landed by now
        assert.equal(await paidTotal(), before + 1234, 'paid once, not twice');
        const n = await expenseCount('Double click');
        if (n !== null) assert.equal(n, 1);
        assert.ok(posts.length >= 1 && new Set(posts).size === 1, `every POST carries the same Idempotency-Key: ${posts}`);
        assertClean();
    } finally {
        await context.close();
    }
});

test('a retry after a lost answer reuses the Idempotency-Key: still one expense', async () => {
    const { context, page, assertClean, allow } = await loggedInAs(browser, ana);
    allow(/^Failed to load resource: net::ERR_CONNECTION_RESET/);
    try {
        const before = await paidTotal();
        const keys = [];
        let first = true;
        // The first POST reaches the server, but its answer is lost on the way back.
        await page.route('**/api/v1/groups/*/expenses', async (route) => {
            if (route.request().method() !== 'POST') return route.continue();
            keys.push(route.request().headers()['idempotency-key']);
            if (first) {
                first = false;
                await route.fetch();
                return route.abort('connectionreset');
            }
            return route.continue();
        });
        await page.goto(`/#/groups/${group.id}/expenses/new`);
        await page.getByLabel('Description').fill('Lost answer');
        await page.getByLabel('Amount', { exact: true }).fill('7');
        await page.locator('#save-expense').click();
        await waitForRoute(page, OVERVIEW);
        assert.equal(keys.length, 2, 'sent twice');
        assert.equal(keys[0], keys[1], 'with the same key');
        await waitFor(async () => (await paidTotal()) === before + 700, { what: 'the expense applied' });
        const n = await expenseCount('Lost answer');
        if (n !== null) assert.equal(n, 1);
        // The aborted request is reported by Chromium as a failed load; nothing else may be.
        assertClean();
    } finally {
        await context.close();
    }
});

test('an invalid form shows the problem body\'s errors next to the fields', async () => {
    const { context, page, assertClean } = await loggedInAs(browser, ana);
    try {
        const before = await paidTotal();
        await page.goto(`/#/groups/${group.id}/expenses/new`);
        // Client-side checks first: nothing is sent without a description and an amount.
        await page.locator('#save-expense').click();
        await page.locator('#exp-description-error', { hasText: 'Describe the expense' }).waitFor();
        assert.equal(await page.getByLabel('Description').getAttribute('aria-invalid'), 'true');
        // Exact amounts that do not add up are caught before anything is sent.
        const posts = watchPosts(page, /\/(expenses|payments)$/);
        await page.getByLabel('Description').fill('Bad split');
        await page.getByLabel('Amount', { exact: true }).fill('90');
        await page.check('#mode-exact');
        await page.locator('#split').getByLabel(/^Ana's amount/).fill('10');
        await page.locator('#split').getByLabel(/^Ben's amount/).fill('10');
        await page.locator('#split').getByLabel(/^Cleo's amount/).fill('10');
        await page.locator('#save-expense').click();
        await page.locator('#split-error', { hasText: 'The amounts must add up to the total.' }).waitFor();
        assert.equal(posts.length, 0, 'nothing sent');
        // Then one only the server knows: a payment from someone to themselves (422), its
        // field error in a sentence next to the field.
        await page.goto(`/#/groups/${group.id}/payments/new`);
        await page.locator('#pay-to').selectOption(await page.locator('#pay-from').inputValue());
        await page.locator('#pay-amount').fill('5');
        const [res] = await Promise.all([
            page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/payments')),
            page.locator('#save-payment').click(),
        ]);
        assert.equal(res.status(), 422);
        const problem = await res.json();
        assert.ok(problem.errors.some((e) => e.field === 'to_member'), JSON.stringify(problem));
        const inline = page.locator('#pay-to-error');
        await inline.waitFor();
        assert.equal(await inline.textContent(), 'Pick two different people.');
        const formAlert = page.locator('.form-alert[role="alert"]', { hasText: 'check the highlighted fields' });
        await formAlert.waitFor();
        assert.equal((await formAlert.textContent()).trim(), 'Please check the highlighted fields.');
        assert.match(page.url(), /payments\/new$/, 'stays on the form');
        await screenshot(page, '11-inline-error');
        assert.deepEqual(await a11yProblems(page), []);
        assert.equal(await paidTotal(), before);

        // A wrong password on the login page: one clear message.
        const other = await openPage(browser, { locale: 'en-US' });
        await other.page.goto('/#/login');
        await other.page.getByLabel('Email').fill(ana.email);
        await other.page.getByLabel('Password').fill('not the password');
        await other.page.getByRole('button', { name: 'Log in' }).click();
        const loginAlert = other.page.locator('.form-alert', { hasText: 'Wrong email or password' });
        await loginAlert.waitFor();
        assert.equal((await loginAlert.textContent()).trim(), 'Wrong email or password.');
        assert.deepEqual(await a11yProblems(other.page), []);
        other.assertClean();
        await other.context.close();
        assertClean();
    } finally {
        await context.close();
    }
});

test('keyboard only: Tab walks the add-expense form in order, Enter submits', async () => {
    const { context, page, assertClean } = await loggedInAs(browser, ana);
    try {
        const before = await paidTotal();
        await page.goto(`/#/groups/${group.id}/expenses/new`);
        await page.locator('#expense-form').waitFor();
        assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1', 'focus starts on the page heading');
        // (A date input takes one Tab per part: day, month, year; count it once.)
        const order = [];
        for (let i = 0; i < 14 && order.length < 7; i++) {
            await page.keyboard.press('Tab');
            const id = await page.evaluate(() => document.activeElement.id);
            if (order.at(-1) !== id) order.push(id);
        }
        assert.deepEqual(order, ['exp-description', 'exp-amount', 'exp-currency', 'exp-date', 'exp-category', 'payer-0', 'payer-1']);
        // Every focused control is visibly focused (the outline is not removed).
        const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
        assert.notEqual(outline, 'none');
        // Back to the top with Shift+Tab, type, and submit with Enter from the amount field.
        for (let i = 0; i < 14; i++) {
            if (await page.evaluate(() => document.activeElement.id) === 'exp-description') break;
            await page.keyboard.press('Shift+Tab');
        }
        assert.equal(await page.evaluate(() => document.activeElement.id), 'exp-description');
        await page.keyboard.type('Coffee');
        await page.keyboard.press('Tab');
        await page.keyboard.type('4.50');
        await page.keyboard.press('Enter');
        await waitForRoute(page, OVERVIEW);
        // The overview drawn: until then the submitted form is still on the page.
        await page.locator('#live-state').waitFor();
        await waitFor(async () => (await paidTotal()) === before + 450, { what: 'the expense applied' });
        // The split mode radios are reachable and switchable with arrow keys.
        await page.goto(`/#/groups/${group.id}/expenses/new`);
        await page.locator('#expense-form').waitFor();
        await page.locator('#mode-equal').focus();
        await page.keyboard.press('ArrowRight');
        assert.equal(await page.locator('#mode-exact').isChecked(), true);
        assertClean();
    } finally {
        await context.close();
    }
});

test('phone: 375×812, nothing wider than the screen, touch-sized controls', async () => {
    const { context, page, assertClean } = await loggedInAs(browser, ana, { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    try {
        for (const [hash, name] of [
            [`#/groups/${group.id}`, '12-phone-overview'],
            [`#/groups/${group.id}/expenses/new`, '13-phone-add-expense'],
            ['#/', '14-phone-groups'],
        ]) {
            await page.goto(`/${hash}`);
            await page.locator('h1').waitFor();
            await settled(page);
            const width = await page.evaluate(() => document.documentElement.scrollWidth);
            assert.ok(width <= 375, `${hash}: page is ${width}px wide`);
            const small = await page.evaluate(() => [...document.querySelectorAll('button, a.btn, input, select')]
                .filter((el) => el.offsetParent !== null && el.type !== 'checkbox' && el.type !== 'radio')
                .filter((el) => el.getBoundingClientRect().height < 40)
                .map((el) => el.id || el.textContent.trim() || el.outerHTML.slice(0, 60)));
            assert.deepEqual(small, [], `${hash}: controls under 40px high`);
            await screenshot(page, name, { fullPage: true });
            assert.deepEqual(await a11yProblems(page), []);
        }
        assertClean();
    } finally {
        await context.close();
    }
});

test('static files under the CSP: manifest, icons, module scripts; no errors on any page', async () => {
    const index = await fetch(`${BASE_URL}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await index.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /\sstyle=/, 'no inline style');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');

    const { context, page, assertClean } = await loggedInAs(browser, ana);
    try {
        await page.goto('/#/');
        await page.getByRole('heading', { name: 'Your groups' }).waitFor();
        const manifest = await page.evaluate(async () => {
            const link = document.querySelector('link[rel="manifest"]');
            const r = await fetch(link.href);
            const m = await r.json();
            const icons = await Promise.all(m.icons.map(async (i) => {
                const ir = await fetch(new URL(i.src, link.href));
                return { src: i.src, status: ir.status, type: ir.headers.get('content-type') };
            }));
            return { status: r.status, name: m.name, start: m.start_url, display: m.display, icons };
        });
        assert.equal(manifest.status, 200);
        assert.equal(manifest.name, 'splitter');
        assert.equal(manifest.display, 'standalone');
        assert.ok(manifest.icons.length >= 1);
        for (const i of manifest.icons) {
            assert.equal(i.status, 200, i.src);
            assert.match(i.type, /^image\/svg\+xml/, i.src);
        }
        // Every tab of a group, opened in turn: no console error, no CSP violation.
        for (const tab of ['', '/expenses', '/insights', '/activity', '/members', '/payments/new', '/expenses/new']) {
            await page.goto(`/#/groups/${group.id}${tab}`);
            await page.locator('h1').waitFor();
            await settled(page);
            assert.deepEqual(await a11yProblems(page), [], `#/groups/<id>${tab}`);
        }
        await page.goto('/#/no/such/page');
        await page.getByRole('heading', { name: 'Page not found' }).waitFor();
        assertClean();
    } finally {
        await context.close();
    }
});
