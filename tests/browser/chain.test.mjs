// The ledger's hash chain in the web client: the activity log shows the group's head hash
// (short, the full one in its title) and checks the chain it loaded with Web Crypto; an event
// changed in PostgreSQL behind the api's back is shown as a broken chain at that event. The
// group is prepared through the API; the head is compared with GET /groups/{gid}.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { psql } from '../e2e/lib.mjs';
import { api, screenshot, signedInBrowser } from './lib.mjs';

let browser;
let ctx;
let page;
let token;
let gid;

before(async () => {
    ({ browser, ctx, page, token } = await signedInBrowser('Ana'));
    const g = await api('POST', '/api/v1/groups', { token, body: { name: 'Ledger', currency: 'EUR' } });
    gid = g.json.id;
    const ana = g.json.members[0].id;
    const ben = (await api('POST', `/api/v1/groups/${gid}/members`, { token, body: { name: 'Ben' } })).json.id;
    const wait = { Prefer: 'wait=10' }; // the most a client may wait: a loaded machine is slow
    for (const [description, amount] of [['Rent', 50000], ['Pizza', 2400]]) {
        const x = await api('POST', `/api/v1/groups/${gid}/expenses`, {
            token,
            headers: wait,
            body: {
                description, amount,
                paid_by: [{ member_id: ana, amount }],
                split: { mode: 'equal', members: [{ member_id: ana }, { member_id: ben }] },
            },
        });
        assert.equal(x.status, 201, x.text);
    }
    const p = await api('POST', `/api/v1/groups/${gid}/payments`, {
        token,
        headers: { ...wait, 'Idempotency-Key': `chain-${gid}` },
        body: { from_member: ben, to_member: ana, amount: 1000 },
    });
    assert.equal(p.status, 201, p.text);
});

after(async () => {
    await browser?.close();
});

async function status() {
    await page.goto(`/#/groups/${gid}`);
    await page.locator('#balance-list').waitFor();
    await page.goto(`/#/groups/${gid}/activity`);
    const box = page.locator('#chain-status');
    await box.waitFor();
    return box;
}

test('the activity log shows the head hash and that the chain verified', async () => {
    const head = (await api('GET', `/api/v1/groups/${gid}`, { token })).json.head_hash;
    assert.match(head, /^[0-9a-f]{64}$/);
    const box = await status();
    assert.equal(await box.getAttribute('data-state'), 'verified', await box.textContent());
    assert.match(await box.textContent(), /hash chain verified over all 3 changes/);
    const code = page.locator('#chain-head');
    assert.equal(await code.getAttribute('title'), head);
    assert.equal(await code.textContent(), `${head.slice(0, 12)}…`);
    await screenshot(page, 'chain-verified');
    ctx.assertClean();
});

test('an event changed in the database shows as a broken chain at that event', async () => {
    const change = (from, to) => psql(`BEGIN; ALTER TABLE events DISABLE TRIGGER events_no_update;
        UPDATE events SET payload = replace(payload::text, '${from}', '${to}')::json
        WHERE group_id = '${gid}' AND seq = 2;
        ALTER TABLE events ENABLE TRIGGER events_no_update; COMMIT`);
    change('"Pizza"', '"Pasta"');
    try {
        const box = await status();
        assert.equal(await box.getAttribute('data-state'), 'broken', await box.textContent());
        assert.match(await box.textContent(), /broken at event #2/);
        ctx.assertClean();
    } finally {
        change('"Pasta"', '"Pizza"');
    }
    const box = await status();
    assert.equal(await box.getAttribute('data-state'), 'verified', await box.textContent());
});
