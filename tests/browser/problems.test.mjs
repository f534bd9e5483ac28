// Every problem the server can send reads as a sentence for people: each problem type of the
// REST contract (docs/openapi.yaml's table) has a sentence of its own, and each field error the
// api and the shared validators write (fields_add in api/ and shared/) becomes a sentence that
// does not repeat the server's wording, starts with a capital and ends with a full stop. Every
// such sentence is in each language's catalogue. Runs web/js/problems.js in node, no browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../../web/js/api.js';
import { fieldSentence, looseFieldSentence, problemSentence } from '../../web/js/problems.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FALLBACK = 'This value is not accepted. Check it and try again.';

/** Every literal message of a fields_add call in the C sources, formats filled in. */
function serverFieldMessages() {
    const out = new Set();
    for (const dir of ['api', 'shared']) {
        for (const f of readdirSync(join(root, dir)).filter((n) => n.endsWith('.c'))) {
            const src = readFileSync(join(root, dir, f), 'utf8');
            for (const m of src.matchAll(/fields_add\([^,]+,\s*[^,]+,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)/g)) {
                const text = [...m[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]).join('').replace(/\\"/g, '"');
                if (text === '%s') continue;
                out.add(text.replace(/%zu to %zu|%d to %d/, '1 to 100').replace(/%zu|%d/g, '100'));
            }
        }
    }
    return [...out];
}

function problemTypes() {
    const yaml = readFileSync(join(root, 'docs', 'openapi.yaml'), 'utf8');
    return [...yaml.matchAll(/^\s*\| `\/problems\/([a-z-]+)` \| (\d{3}) \|/gm)].map((m) => ({ type: m[1], status: Number(m[2]) }));
}

const catalogues = {};
for (const lang of ['pt', 'es', 'fr', 'de']) {
    catalogues[lang] = (await import(join(root, 'web', 'js', 'locales', `${lang}.js`))).default;
}

/** Is this English sentence (placeholders possibly filled with numbers) a message of `cat`? */
function inCatalogue(cat, sentence) {
    if (Object.hasOwn(cat, sentence)) return true;
    return Object.keys(cat).some((k) => k.includes('{') &&
        new RegExp(`^${k.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{\w+\\?\}/g, '\\d+')}$`).test(sentence));
}

test('each problem type has a sentence of its own, in every language', () => {
    const types = problemTypes();
    assert.ok(types.length >= 18, `read ${types.length} problem types`);
    const generic = problemSentence(new ApiError(599, { type: '/problems/unknown' }));
    for (const { type, status } of types) {
        const s = problemSentence(new ApiError(status, { type: `/problems/${type}`, title: 'x', status }));
        assert.notEqual(s, generic, type);
        assert.match(s, /^[A-Za-z].*[.]$/, `${type}: ${s}`);
        for (const [lang, cat] of Object.entries(catalogues)) assert.ok(inCatalogue(cat, s), `${lang}: ${s}`);
    }
    assert.match(problemSentence(new TypeError('Failed to fetch')), /Could not reach splitter|offline/);
});

test('each field error the server writes becomes a sentence for people, in every language', () => {
    const messages = serverFieldMessages();
    assert.ok(messages.length >= 40, `read ${messages.length} messages`);
    let specific = 0;
    for (const message of messages) {
        const s = fieldSentence({ field: 'split.members[2].value', message });
        assert.ok(!s.toLowerCase().startsWith(message.toLowerCase()), `"${message}" shown as is`);
        assert.doesNotMatch(s, /_member|_rate|YYYY|UUID|JSON|NUL|minor units|ISO 4217|\bbytes\b|%[a-z]/, `"${message}" -> "${s}"`);
        assert.match(s, /^[A-Z].*[.]$/, `"${message}" -> "${s}"`);
        for (const [lang, cat] of Object.entries(catalogues)) assert.ok(inCatalogue(cat, s), `${lang}: "${s}"`);
        if (s !== FALLBACK) specific += 1;
    }
    // What people can cause through the forms has its own sentence, never the fallback.
    const cases = [
        ['to_member', 'must differ from from_member', 'Pick two different people.'],
        ['split.members', 'percentages must sum to exactly 100', 'The percentages must add up to 100%.'],
        ['split.members', 'exact values must sum to the expense amount', 'The amounts must add up to the total.'],
        ['paid_by', 'amounts must sum to the expense amount', 'What the payers paid must add up to the total.'],
        ['name', 'must be 1 to 100 characters long', 'Use at most 100 characters.'],
        ['password', 'must be 8 to 1024 bytes long', 'Use 8 to 1024 characters.'],
        ['amount', "is too large for this group's totals", 'That amount is too large.'],
        ['to', 'must not be before from', 'Pick a date on or after the first one.'],
        ['email', 'must be an email address', 'Enter a valid email address.'],
    ];
    for (const [field, message, want] of cases) assert.equal(fieldSentence({ field, message }), want, message);
    assert.equal(fieldSentence({ field: 'x', message: 'something new the server says' }), FALLBACK);
    assert.equal(looseFieldSentence({ field: 'split.members[1].value', message: 'must be positive' }), 'Split: Enter an amount more than zero.');
    assert.ok(specific > messages.length / 2, `${specific} of ${messages.length} have a sentence of their own`);
});
