// Joining with just a name, at desktop and phone sizes: a member creates an invite link; a
// fresh browser (nobody logged in) opens it and joins without registering (claiming the member
// the link names, or under a typed name), is warned before logging out, adds an expense, then
// adds an email and password, with which another browser logs in to the same account.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    SIZES, a11yProblems, api, createGroup, groupIdOf, launch, loggedInAs, openPage, openRoute, registerUser,
    screenshot, settled, tokenOf, uniqueEmail, waitForRoute,
} from './lib.mjs';

const OVERVIEW = /^#\/groups\/[0-9a-f-]{36}$/;

let browser;
let ana;

before(async () => {
    browser = await launch();
    ana = await registerUser({ name: 'Ana' });
});

after(async () => {
    await browser?.close();
});

for (const [size, opts] of SIZES) {
    // Desktop claims the member the link names; the phone joins under a typed name.
    const claim = size === 'desktop';
    test(`${size}: a guest joins by an invite link, adds an expense, then keeps the account with an email`, async () => {
        const group = await createGroup(ana.token, `Cabin ${size}`, ['Ben']);
        const inviter = await loggedInAs(browser, ana, { ...opts });
        const guest = await openPage(browser, { locale: 'en-US', ...opts });
        const other = await openPage(browser, { locale: 'en-US', ...opts });
        try {
            // Ana makes the link on the members page.
            await openRoute(inviter.page, `#/groups/${group.id}/members`);
            await (claim ? inviter.page.getByRole('button', { name: 'Invite Ben' }) : inviter.page.locator('#invite-anyone')).click();
            const url = await inviter.page.locator('#invite-url').inputValue();
            assert.match(url, /\/#\/invite\/[A-Za-z0-9_-]{43}\?/);

            // A fresh browser opens it: joining needs no account.
            const { page } = guest;
            await page.goto(url);
            await page.getByRole('heading', { name: 'Join a group' }).waitFor();
            await page.locator('#guest-join-card').waitFor();
            assert.equal(await page.getByRole('link', { name: 'Create an account' }).count(), 1, 'registering is still offered');
            assert.equal(await page.getByRole('link', { name: 'Log in' }).count() >= 1, true, 'logging in is still offered');
            assert.deepEqual(await a11yProblems(page), []);
            await screenshot(page, `guest-invite-${size}`);
            const name = claim ? 'Ben' : `Pat ${size}`;
            if (claim) {
                await page.locator('#guest-claim').click();
            } else {
                await page.locator('#guest-join').click(); // empty: refused before anything is sent
                await page.locator('#guest-name-form [aria-invalid="true"]').waitFor();
                await page.locator('#guest-name-form').getByLabel('Your name').fill(name);
                await page.locator('#guest-join').click();
            }
            await waitForRoute(page, OVERVIEW);
            assert.equal(groupIdOf(page), group.id);
            const token = await tokenOf(page);
            assert.match(token ?? '', /^[A-Za-z0-9_-]{43}$/, 'the token is kept like any other');
            const me = await api('GET', '/api/v1/me', { token });
            assert.equal(me.json.guest, true);
            assert.equal(me.json.name, name);
            await page.locator('#guest-banner', { hasText: 'Keep this account on other devices' }).waitFor();
            await settled(page);
            await screenshot(page, `guest-joined-${size}`);

            // Logging out warns first: dismissing keeps the guest logged in.
            let warned = '';
            page.once('dialog', (d) => {
                warned = d.message();
                d.dismiss();
            });
            await page.locator('#logout').click();
            assert.match(warned, /cannot get back into this account/);
            assert.equal(await tokenOf(page), token, 'still logged in');

            // The guest writes to the group like any member.
            await openRoute(page, `#/groups/${group.id}/expenses/new`);
            await page.getByLabel('Description').fill(`Firewood ${size}`);
            await page.getByLabel('Amount', { exact: true }).fill('30');
            await page.locator('#save-expense').click();
            await waitForRoute(page, OVERVIEW);
            await page.locator('#toast.show', { hasText: 'Expense added.' }).waitFor();
            const list = await api('GET', `/api/v1/groups/${group.id}/expenses`, { token: ana.token });
            const added = list.json.items.find((e) => e.description === `Firewood ${size}`);
            assert.ok(added, 'Ana sees the guest\'s expense');
            assert.equal(added.created_by, me.json.id);

            // Keep the account: an email and password from the banner's link.
            await page.locator('#guest-banner a').click();
            await waitForRoute(page, /^#\/account$/);
            const form = page.locator('#credentials-form');
            await form.getByLabel('Email').fill(ana.email);
            await form.getByLabel('Password').fill('guest password');
            await form.getByRole('button', { name: 'Save email and password' }).click();
            await form.locator('.form-alert', { hasText: 'already exists' }).waitFor(); // taken: 409 shown
            const email = uniqueEmail('guest');
            await form.getByLabel('Email').fill(email);
            await form.getByRole('button', { name: 'Save email and password' }).click();
            await page.locator('#toast.show', { hasText: 'log in with this email' }).waitFor();
            await page.locator('#guest-banner').waitFor({ state: 'detached' });
            assert.equal((await api('GET', '/api/v1/me', { token })).json.guest, false, 'the same token, now a full account');

            // Another browser logs in with them and finds the group.
            await other.page.goto('/#/login');
            await other.page.getByLabel('Email').fill(email);
            await other.page.getByLabel('Password').fill('guest password');
            await other.page.getByRole('button', { name: 'Log in' }).click();
            await other.page.getByRole('heading', { name: 'Your groups' }).waitFor();
            await other.page.locator('#group-list a', { hasText: `Cabin ${size}` }).waitFor();
            assert.equal(await other.page.locator('#guest-banner').count(), 0);

            inviter.assertClean();
            guest.assertClean();
            other.assertClean();
        } finally {
            await inviter.context.close();
            await guest.context.close();
            await other.context.close();
        }
    });
}
