// Webhooks in the web client (members tab): adding one shows its signing secret once, with a
// copy button; the list shows the URL and its last delivery (delivered to a receiver here, on
// loopback: the e2e stack allows it); a refused URL is explained at the field; deleting
// removes it. In English and, for the labels, in Portuguese.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { a11yProblems, addEntry, api, createGroup, launch, loggedInAs, openRoute, registerUser, settled, waitFor } from './lib.mjs';

let browser;
let ana;
let group;
let receiver;
const got = [];

before(async () => {
    browser = await launch();
    ana = await registerUser({ name: 'Ana' });
    group = await createGroup(ana.token, 'Hooks', ['Ben']);
    receiver = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
            got.push(req.headers);
            res.writeHead(204).end();
        });
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});

after(async () => {
    await browser?.close();
    receiver?.close();
});

test('add a webhook, see its secret once and its deliveries, delete it', async () => {
    const { page, context } = await loggedInAs(browser, ana);
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await openRoute(page, `#/groups/${group.id}/members`);
    const card = page.locator('#webhooks');
    await card.getByText('No webhooks yet.').waitFor();

    // A private address is refused by the server, at the field.
    await card.getByLabel('URL').fill('https://10.1.2.3/hook');
    await card.getByRole('button', { name: 'Add webhook' }).click();
    await card.locator('.field-error:not([hidden])').waitFor();
    assert.match(await card.locator('.field-error:not([hidden])').innerText(), /private network/);

    const url = `http://127.0.0.1:${receiver.address().port}/hook`;
    await card.getByLabel('URL').fill(url);
    await card.getByRole('button', { name: 'Add webhook' }).click();
    const secret = card.getByLabel('Signing secret');
    await secret.waitFor();
    const value = await secret.inputValue();
    assert.match(value, /^whsec_[0-9a-f]{64}$/);
    await card.getByRole('button', { name: 'Copy secret' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), value);
    await card.locator('.webhook-url', { hasText: url }).waitFor();
    await card.getByText('No deliveries yet').waitFor();
    assert.deepEqual(await a11yProblems(page), []);

    // An expense is delivered; the list shows it after a reload, and never the secret again.
    const me = group.members[0].id;
    await addEntry(group.id, ana.token, {
        description: 'Taxi', amount: 900, paid_by: [{ member_id: me, amount: 900 }],
        split: { mode: 'equal', members: [{ member_id: me }] },
    });
    await waitFor(async () => got.length === 1, { what: 'the delivery' });
    await waitFor(async () => {
        const r = await api('GET', `/api/v1/groups/${group.id}/webhooks`, { token: ana.token });
        return r.json.items[0]?.last_delivery?.status === 'delivered';
    }, { what: 'the delivery recorded' });
    await page.reload();
    await settled(page);
    await card.locator('.webhook-status[data-status="delivered"]').waitFor();
    assert.match(await card.locator('.webhook-status').innerText(), /Last delivery: delivered \(204\)/);
    assert.equal(await card.getByLabel('Signing secret').count(), 0);
    assert.ok(!(await page.content()).includes(value), 'the secret is not on the page any more');

    await card.getByRole('button', { name: `Delete webhook ${url}` }).click();
    await card.getByText('No webhooks yet.').waitFor();
    const r = await api('GET', `/api/v1/groups/${group.id}/webhooks`, { token: ana.token });
    assert.deepEqual(r.json.items, []);
    await context.close();
});

test('the webhooks card speaks Portuguese', async () => {
    const { page, context } = await loggedInAs(browser, ana, { locale: 'pt-PT' });
    await openRoute(page, `#/groups/${group.id}/members`);
    const card = page.locator('#webhooks');
    await card.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await card.getByText('Ainda sem webhooks.').waitFor();
    await card.getByRole('button', { name: 'Adicionar webhook' }).waitFor();
    await context.close();
});
