// Importing and exporting a group in the client: "Import a group" on the groups page sends a
// Splitwise CSV file as it is and opens the new group with the balances worked out by hand; "Export
// JSON" on a group page downloads the document that imports back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { api, launch, loggedInAs, openRoute, registerUser } from './lib.mjs';

const SAMPLE = fileURLToPath(new URL('../e2e/fixtures/imports/splitwise.csv', import.meta.url));

let browser;
let ana;

before(async () => {
    browser = await launch();
    ana = await registerUser({ name: 'Ana' });
});

after(async () => {
    await browser?.close();
});

test('a Splitwise CSV imported from the groups page, then exported as JSON', async () => {
    const { page, assertClean } = await loggedInAs(browser, ana);
    await openRoute(page, '#/');
    const form = page.locator('#import-group');
    await form.locator('input[type=file]').setInputFiles(SAMPLE);
    await form.locator('select').first().selectOption('splitwise');
    await form.locator('select').nth(1).selectOption('EUR');
    await form.getByRole('button', { name: 'Import' }).click();
    await page.waitForURL(/#\/groups\/[0-9a-f-]{36}$/);
    const gid = page.url().match(/groups\/([0-9a-f-]{36})/)[1];

    // Ana is the file's Ana: the caller's member. Her balance once the worker applied the rows.
    let mine;
    for (let i = 0; i < 100; i++) {
        const b = await api('GET', `/api/v1/groups/${gid}/balances`, { token: ana.token });
        mine = b.json.balances?.find((x) => x.name === 'Ana');
        if (mine?.balance === 3667) break;
        await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(mine.balance, 3667);
    const g = await api('GET', `/api/v1/groups/${gid}`, { token: ana.token });
    assert.deepEqual(g.json.members.map((m) => m.name).sort(), ['Ana', 'Ben', 'Caro']);

    await openRoute(page, `#/groups/${gid}`);
    const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: 10_000 }),
        page.locator('#export-json').click(),
    ]);
    assert.match(download.suggestedFilename(), /^splitter-.+-\d{4}-\d\d-\d\d\.json$/);
    const doc = JSON.parse(await readFile(await download.path(), 'utf8'));
    assert.equal(doc.format, 'splitter');
    assert.equal(doc.expenses.length, 2);
    assert.equal(doc.payments.length, 1);
    assertClean();
});
