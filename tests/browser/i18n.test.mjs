// Languages: every message the client can show is in each catalogue (with the same
// placeholders); a Portuguese browser (locale pt-PT) gets the interface in Portuguese with
// <html lang>, money, dates and month headers formatted for Portugal, at desktop and phone
// sizes; the switch changes the language and keeps the choice.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIZES, a11yProblems, addEntry, createGroup, launch, loggedInAs, registerUser, settled } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const JS = join(here, '..', '..', 'web', 'js');
const LANGS = ['pt', 'es', 'fr', 'de'];
const placeholders = (text) => (text.match(/\{\w+\}/g) ?? []).sort();

/** Every message passed to t() / tn() as a literal in the client's modules. */
function literalMessages() {
    const found = new Set();
    const lit = String.raw`'((?:[^'\\]|\\.)*)'`;
    for (const f of readdirSync(JS).filter((n) => n.endsWith('.js') && n !== 'i18n.js')) {
        const src = readFileSync(join(JS, f), 'utf8');
        for (const m of src.matchAll(new RegExp(String.raw`(?<![\w.])t\(\s*` + lit, 'g'))) found.add(m[1].replace(/\\'/g, "'"));
        for (const m of src.matchAll(new RegExp(String.raw`(?<![\w.])tn\([^,]+,\s*` + lit + String.raw`,\s*` + lit, 'g'))) {
            found.add(m[1].replace(/\\'/g, "'"));
            found.add(m[2].replace(/\\'/g, "'"));
        }
    }
    return found;
}

test('every message is in every catalogue, with the same placeholders', async () => {
    const messages = literalMessages();
    assert.ok(messages.size > 200, `found ${messages.size} messages`);
    const catalogues = {};
    for (const lang of LANGS) catalogues[lang] = (await import(join(JS, 'locales', `${lang}.js`))).default;
    const keys = Object.keys(catalogues.pt).sort();
    for (const lang of LANGS) {
        const cat = catalogues[lang];
        assert.deepEqual(Object.keys(cat).sort(), keys, `${lang}: the same messages as pt`);
        const missing = [...messages].filter((m) => !Object.hasOwn(cat, m));
        assert.deepEqual(missing, [], `${lang}: messages without a translation`);
        for (const [k, v] of Object.entries(cat)) {
            assert.ok(v.trim(), `${lang}: "${k}" is empty`);
            assert.deepEqual(placeholders(v), placeholders(k), `${lang}: "${k}" -> "${v}"`);
        }
    }
});

let browser;
let ana;
let gid;

before(async () => {
    browser = await launch();
    ana = await registerUser({ name: 'Ana' });
    const g = await createGroup(ana.token, 'Viagem', ['Ben']);
    gid = g.id;
    const [me, ben] = g.members.map((m) => m.id);
    await addEntry(gid, ana.token, {
        description: 'Jantar', amount: 123456, date: '2026-11-20',
        paid_by: [{ member_id: me, amount: 123456 }],
        split: { mode: 'equal', members: [{ member_id: me }, { member_id: ben }] },
    });
});

after(async () => {
    await browser?.close();
});

for (const [size, opts] of SIZES) {
    test(`${size}: a Portuguese browser gets the interface in Portuguese, formatted for Portugal`, async () => {
        const { context, page, assertClean } = await loggedInAs(browser, ana, { ...opts, locale: 'pt-PT' });
        try {
            await page.goto(`/#/groups/${gid}`);
            await page.locator('#my-standing').waitFor();
            await settled(page);
            assert.equal(await page.evaluate(() => document.documentElement.lang), 'pt-PT');
            // 1234.56 € split in two: Ana is owed 617.28 €, written the Portuguese way.
            const want = new Intl.NumberFormat('pt-PT', { style: 'currency', currency: 'EUR' }).format('617.28');
            assert.match(want, /617,28/);
            assert.equal(await page.locator('#my-standing .standing').textContent(), `Devem-te ${want}`);
            assert.equal(await page.locator('#tab-link-members').textContent(), 'Membros');
            assert.equal(await page.locator('#add-expense').textContent(), '+ Adicionar despesa');
            assert.equal(await page.locator('#h-settle').textContent(), 'Quem paga a quem');
            assert.equal(await page.locator('#skip-link').textContent(), 'Saltar para o conteúdo');

            await page.locator('#tab-link-expenses').click();
            await page.locator('#expense-list .month-header').first().waitFor();
            assert.equal(await page.locator('#expense-list .month-header').first().textContent(),
                new Intl.DateTimeFormat('pt-PT', { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(Date.UTC(2026, 10, 1))));
            assert.match(await page.locator('#expense-list .meta').first().textContent(), /20\/11\/2026|20 de nov/);
            assert.match(await page.locator('#expense-list .mine').first().textContent(), /^emprestaste 617,28/);

            await page.goto(`/#/groups/${gid}/expenses/new`);
            await page.locator('#expense-form').waitFor();
            assert.equal(await page.locator('h1').textContent(), 'Adicionar uma despesa');
            await page.locator('#save-expense').click();
            assert.equal(await page.locator('#exp-description-error').textContent(), 'Descreve a despesa');
            assert.deepEqual(await a11yProblems(page), []);
            const width = await page.evaluate(() => document.documentElement.scrollWidth);
            assert.ok(width <= opts.viewport.width, `the page is ${width}px wide`);
            assertClean();
        } finally {
            await context.close();
        }
    });
}

test('the language switch changes the language and keeps the choice', async () => {
    const { context, page, assertClean } = await loggedInAs(browser, ana, { locale: 'pt-PT' });
    try {
        await page.goto('/#/');
        await page.getByRole('heading', { name: 'Os teus grupos' }).waitFor();
        await Promise.all([
            page.waitForEvent('load'),
            page.getByLabel('Idioma').selectOption('de'),
        ]);
        await page.getByRole('heading', { name: 'Deine Gruppen' }).waitFor();
        assert.equal(await page.evaluate(() => document.documentElement.lang), 'de');
        await page.reload();
        await page.getByRole('heading', { name: 'Deine Gruppen' }).waitFor();
        await page.getByLabel('Sprache').selectOption('en');
        await page.getByRole('heading', { name: 'Your groups' }).waitFor();
        assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
        assertClean();
    } finally {
        await context.close();
    }
});
