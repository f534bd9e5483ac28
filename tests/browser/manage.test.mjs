// Managing a group in the web client, at desktop and phone sizes: rename the group and a
// member, remove a member nothing names (and no "Remove" for one an expense names), list and
// revoke invites, archive (read-only banner, disabled add buttons, no add-member form) and
// unarchive, leave with a confirmation (the refusal sentence while the balance is not zero,
// then gone from the groups), and the activity log describing each change. Each result is
// checked against the API.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SIZES, a11yProblems, addEntry, api, createGroup, launch, loggedInAs, openRoute, registerUser, waitFor } from './lib.mjs';

let browser;

before(async () => {
    browser = await launch();
});

after(async () => {
    await browser?.close();
});

const getGroup = async (gid, token) => (await api('GET', `/api/v1/groups/${gid}`, { token })).json;

/** Ben joins group gid through an invite; returns his member id. */
async function join(gid, owner, ben) {
    const inv = await api('POST', `/api/v1/groups/${gid}/invites`, { token: owner.token });
    const r = await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { token: ben.token });
    assert.equal(r.status, 200, r.text);
    return r.json.members.find((m) => m.user_id === ben.user.id).id;
}

for (const [size, opts] of SIZES) {
    test(`${size}: rename the group and a member, remove a member, revoke an invite`, async () => {
        const ana = await registerUser({ name: 'Ana' });
        const g = await createGroup(ana.token, 'Flat', ['Ben', 'Cleo', 'Dora']);
        const [me, ben, cleo, dora] = g.members.map((m) => m.id);
        await addEntry(g.id, ana.token, {
            description: 'Rent', amount: 3000,
            paid_by: [{ member_id: me, amount: 3000 }],
            split: { mode: 'equal', members: [{ member_id: me }, { member_id: ben }, { member_id: cleo }] },
        });
        const inv = await api('POST', `/api/v1/groups/${g.id}/invites`, { token: ana.token });
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            await openRoute(page, `#/groups/${g.id}/members`);
            await page.locator('#group-settings').waitFor();

            // Rename the group.
            await page.locator('#rename-group').click();
            await page.locator('#group-rename-name').fill('Flat 2027');
            await page.locator('#group-rename').getByRole('button', { name: 'Save' }).click();
            await page.locator('h1', { hasText: 'Flat 2027' }).waitFor();
            assert.equal((await getGroup(g.id, ana.token)).name, 'Flat 2027');

            // Rename Ben.
            await page.getByRole('button', { name: 'Rename Ben' }).click();
            await page.locator('#member-rename-name').fill('Benjamin');
            await page.locator('#member-rename').getByRole('button', { name: 'Save' }).click();
            await page.locator('#member-list li', { hasText: 'Benjamin' }).waitFor();
            assert.equal((await getGroup(g.id, ana.token)).members.find((m) => m.id === ben).name, 'Benjamin');

            // Remove is offered only for Dora (no account, nothing names her).
            assert.equal(await page.getByRole('button', { name: 'Remove Benjamin' }).count(), 0);
            assert.equal(await page.getByRole('button', { name: 'Remove Cleo' }).count(), 0);
            assert.equal(await page.getByRole('button', { name: 'Remove Ana' }).count(), 0);
            await page.getByRole('button', { name: 'Remove Dora' }).click();
            await page.locator(`#member-list li[data-member="${dora}"]`).waitFor({ state: 'detached' });
            assert.ok(!(await getGroup(g.id, ana.token)).members.some((m) => m.id === dora));

            // The open invite is listed; revoking it makes its token useless.
            const row = page.locator(`#invite-list li[data-invite="${inv.json.id}"]`);
            await row.waitFor();
            await row.getByRole('button', { name: /^Revoke/ }).click();
            await row.waitFor({ state: 'detached' });
            const other = await registerUser({ name: 'Eve' });
            assert.equal((await api('POST', `/api/v1/invites/${inv.json.token}/accept`, { token: other.token })).status, 404);

            // The activity log tells each change.
            await openRoute(page, `#/groups/${g.id}/activity`);
            await page.locator('#activity-list .ev-text').first().waitFor();
            const texts = await page.locator('#activity-list .ev-text').allTextContents();
            assert.deepEqual(texts.slice(0, 4), [
                'Ana revoked an invite',
                'Ana removed Dora from the group',
                'Ana renamed a member “Benjamin”',
                'Ana renamed the group “Flat 2027”',
            ]);
            const width = await page.evaluate(() => document.documentElement.scrollWidth);
            assert.ok(width <= opts.viewport.width, `the page is ${width}px wide`);
            assert.deepEqual(await a11yProblems(page), []);
            assertClean();
        } finally {
            await context.close();
        }
    });

    test(`${size}: archive makes the group read-only; unarchive brings it back`, async () => {
        const ana = await registerUser({ name: 'Ana' });
        const g = await createGroup(ana.token, 'Trip', ['Ben']);
        const { context, page, assertClean } = await loggedInAs(browser, ana, opts);
        try {
            await openRoute(page, `#/groups/${g.id}/members`);
            await page.locator('#archive-group').click();
            await page.locator('#archived-banner').waitFor();
            assert.equal((await getGroup(g.id, ana.token)).archived, true);
            assert.match(await page.locator('#archived-banner').textContent(), /archived: it is read-only/);
            assert.ok(await page.locator('#add-expense').isDisabled());
            assert.ok(await page.locator('#record-payment').isDisabled());
            assert.equal(await page.locator('#add-member').count(), 0);
            assert.equal(await page.locator('#invite-anyone').count(), 0);
            assert.ok(await page.locator('#rename-group').isDisabled());
            assert.ok(await page.locator('#leave-group').isDisabled());
            // The list of groups says so.
            await openRoute(page, '#/');
            await page.locator('.group-link', { hasText: 'Trip' }).locator('.archived-badge').waitFor();
            // The overview offers no "Mark as paid" either.
            await openRoute(page, `#/groups/${g.id}`);
            await page.locator('#archived-banner').waitFor();
            assert.equal(await page.locator('.mark-paid').count(), 0);
            assert.deepEqual(await a11yProblems(page), []);

            await openRoute(page, `#/groups/${g.id}/members`);
            await page.locator('#unarchive-group').click();
            await page.locator('#archive-group').waitFor();
            assert.equal(await page.locator('#archived-banner').count(), 0);
            assert.equal((await getGroup(g.id, ana.token)).archived, false);
            assert.ok(!(await page.locator('#add-expense').isDisabled()));
            await page.locator('#add-member').waitFor();
            await openRoute(page, `#/groups/${g.id}/activity`);
            await page.locator('#activity-list .ev-text').first().waitFor();
            const texts = await page.locator('#activity-list .ev-text').allTextContents();
            assert.deepEqual(texts.slice(0, 2), ['Ana unarchived the group', 'Ana archived the group']);
            assertClean();
        } finally {
            await context.close();
        }
    });

    test(`${size}: leaving asks first, says why it is refused, then the group is gone`, async () => {
        const ana = await registerUser({ name: 'Ana' });
        const ben = await registerUser({ name: 'Ben' });
        const g = await createGroup(ana.token, 'Dinner club');
        const me = g.members[0].id;
        const bm = await join(g.id, ana, ben);
        await addEntry(g.id, ana.token, {
            description: 'Pizza', amount: 2000,
            paid_by: [{ member_id: me, amount: 2000 }],
            split: { mode: 'equal', members: [{ member_id: me }, { member_id: bm }] },
        });
        const { context, page, assertClean } = await loggedInAs(browser, ben, opts);
        try {
            await openRoute(page, `#/groups/${g.id}/members`);
            await page.locator('#leave-group').click();
            await page.locator('#leave-confirm').waitFor();
            assert.match(await page.locator('#leave-confirm').textContent(), /Leave Dinner club\?/);
            await page.locator('#confirm-leave').click();
            await page.locator('#leave-refusal').waitFor();
            assert.equal(await page.locator('#leave-refusal').textContent(),
                'You cannot leave yet: your balance in this group is not zero. Settle up first.');
            assert.ok((await getGroup(g.id, ben.token)).members.some((m) => m.user_id === ben.user.id));

            // Ben settles up; now he can leave.
            await addEntry(g.id, ben.token, { from_member: bm, to_member: me, amount: 1000 }, 'payments');
            await page.locator('#leave-group').click();
            await page.locator('#confirm-leave').click();
            await page.waitForFunction(() => location.hash === '#/');
            await page.getByRole('heading', { name: 'Your groups' }).waitFor();
            await waitFor(async () => (await page.locator('.group-link', { hasText: 'Dinner club' }).count()) === 0, { what: 'the group gone from the list' });
            assert.equal((await api('GET', `/api/v1/groups/${g.id}`, { token: ben.token })).status, 404);
            assertClean();
        } finally {
            await context.close();
        }
    });
}
