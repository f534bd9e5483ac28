// Itemised bills (split mode "items"), end to end: a restaurant bill for 6 with 14 items, tax as
// a percentage, a tip as an amount and a service charge as a percentage. Each share must equal an
// independent exact computation (BigInt rationals, below) and the shares must sum to the total;
// bad bills are 422 naming the field; an edit (PUT) recomputes; the audit log carries the bill,
// `splitterctl replay --verify` agrees, and the CSV export and the member filter see it.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { api, registerUser } from './lib.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD = path.resolve(ROOT, process.env.BUILD ?? 'build');

let alice;
let group;
let M; // the six members' ids, Alice first

const G = () => `/api/v1/groups/${group.id}`;
const wait = { Prefer: 'wait=5' };

function write(method, p, { body, headers = {} } = {}) {
    return api(method, p, { body, token: alice.token, headers: { 'Idempotency-Key': randomUUID(), ...headers } });
}

// --- the independent computation: exact rationals with BigInt -------------------------------

// "12.5" or 12.5 -> hundredths as a BigInt (the test's inputs have at most 2 decimals).
function hundredths(v) {
    const [i, f = ''] = String(v).split('.');
    return BigInt(i) * 100n + BigInt((f + '00').slice(0, 2));
}

// n / d rounded half to even (n >= 0, d > 0).
function halfEven(n, d) {
    const q = n / d, r = n % d;
    if (2n * r > d || (2n * r === d && q % 2n === 1n)) return q + 1n;
    return q;
}

// The bill's total: subtotal plus every charge, percentages rounded half to even.
function billTotal(split) {
    const sub = split.items.reduce((s, it) => s + BigInt(it.price) * BigInt(it.quantity ?? 1), 0n);
    let total = sub;
    for (const c of split.charges ?? []) {
        total += c.amount !== undefined ? BigInt(c.amount) : halfEven(sub * hundredths(c.percent), 10000n);
    }
    return total;
}

// Each member's owed share of `converted` (group minor units): member m's exact share is
// converted × Σ_i (line_i / subtotal) × (w_im / W_i), a fraction summed item by item; floors,
// then the leftover units to the largest remainders, ties to the member seen first.
function expectedShares(split, converted) {
    const T = BigInt(converted);
    const sub = split.items.reduce((s, it) => s + BigInt(it.price) * BigInt(it.quantity ?? 1), 0n);
    const order = [];
    const frac = new Map(); // member -> [num, den]
    const gcd = (a, b) => (b === 0n ? a : gcd(b, a % b));
    for (const it of split.items) {
        const line = BigInt(it.price) * BigInt(it.quantity ?? 1);
        const ws = it.split.members.map((m) => (it.split.mode === 'shares' ? hundredths(m.value) : 1n));
        const W = ws.reduce((a, b) => a + b, 0n);
        it.split.members.forEach((m, k) => {
            if (!frac.has(m.member_id)) {
                order.push(m.member_id);
                frac.set(m.member_id, [0n, 1n]);
            }
            const [n, d] = frac.get(m.member_id);
            const n2 = T * line * ws[k], d2 = sub * W;
            let nn = n * d2 + n2 * d, dd = d * d2;
            const g = gcd(nn, dd);
            frac.set(m.member_id, [nn / g, dd / g]);
        });
    }
    const rows = order.map((id, idx) => {
        const [n, d] = frac.get(id);
        return { id, idx, floor: n / d, rem: [n % d, d] };
    });
    let left = T - rows.reduce((s, r) => s + r.floor, 0n);
    const byRem = [...rows].sort((a, b) => {
        const x = a.rem[0] * b.rem[1], y = b.rem[0] * a.rem[1];
        if (x !== y) return x > y ? -1 : 1;
        return a.idx - b.idx;
    });
    for (const r of byRem) {
        if (left === 0n) break;
        r.floor += 1n;
        left -= 1n;
    }
    return rows.map((r) => ({ member_id: r.id, amount: Number(r.floor) }));
}

// --- the bill ---------------------------------------------------------------------------------

function restaurantSplit() {
    const eq = (...idx) => ({ mode: 'equal', members: idx.map((i) => ({ member_id: M[i] })) });
    const sh = (...pairs) => ({ mode: 'shares', members: pairs.map(([i, v]) => ({ member_id: M[i], value: v })) });
    return {
        mode: 'items',
        items: [
            { name: 'Bread basket', price: 450, quantity: 2, split: eq(0, 1, 2, 3, 4, 5) },
            { name: 'Olives', price: 395, split: eq(1, 2, 3) },
            { name: 'Octopus salad', price: 1450, split: eq(0, 4) },
            { name: 'Bacalhau', price: 2290, split: eq(0) },
            { name: 'Steak', price: 2675, split: eq(5) },
            { name: 'Risotto', price: 1890, split: eq(2) },
            { name: 'Sea bass', price: 2450, split: eq(3) },
            { name: 'Vegetable curry', price: 1575, split: eq(1) },
            { name: 'Kids pasta', price: 895, split: sh([4, 2], [0, 1]) },
            { name: 'House wine', price: 2200, quantity: 3, split: sh([0, 1.5], [1, 1], [2, 2.25], [5, 1]) },
            { name: 'Sparkling water', price: 350, quantity: 4, split: eq(0, 1, 2, 3, 4, 5) },
            { name: 'Espresso', price: 180, quantity: 5, split: eq(0, 1, 3, 4, 5) },
            { name: 'Pastel de nata', price: 175, quantity: 6, split: eq(0, 1, 2, 3, 4, 5) },
            { name: 'Port', price: 690, quantity: 3, split: sh([5, 2], [3, 1]) },
        ],
        charges: [
            { kind: 'tax', percent: '12.5' },
            { kind: 'tip', amount: 1500 },
            { kind: 'service', percent: 7.75 },
        ],
    };
}

function expenseBody(split, extra = {}) {
    const amount = Number(billTotal(split));
    return {
        description: 'Dinner at Ramiro',
        amount,
        date: '2026-11-20',
        category: 'food',
        paid_by: [{ member_id: M[0], amount: amount - 5000 }, { member_id: M[3], amount: 5000 }],
        split,
        ...extra,
    };
}

function replayVerify() {
    const r = spawnSync(path.join(BUILD, 'bin', 'splitterctl'), ['replay', '--verify', '--group', group.id], {
        encoding: 'utf8',
        timeout: 60_000,
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /1 groups verified, 0 differ/);
}

function assert422(r, field) {
    assert.equal(r.status, 422, r.text);
    assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
    assert.ok(r.json.errors.some((e) => e.field === field), `${field} not named in ${r.text}`);
}

before(async () => {
    alice = await registerUser({ name: 'Alice' });
    const g = await write('POST', '/api/v1/groups', { body: { name: 'Porto dinner', currency: 'EUR' } });
    assert.equal(g.status, 201, g.text);
    group = g.json;
    M = [group.members[0].id];
    for (const name of ['Bea', 'Cris', 'Duda', 'Edu', 'Fabi']) {
        const m = await write('POST', `${G()}/members`, { body: { name } });
        assert.equal(m.status, 201, m.text);
        M.push(m.json.id);
    }
});

test('a 6-person, 14-item bill: every share is the exact computation, summing to the total', async () => {
    const split = restaurantSplit();
    const body = expenseBody(split);
    const r = await write('POST', `${G()}/expenses`, { body, headers: wait });
    assert.equal(r.status, 201, r.text);
    const x = r.json;
    assert.equal(x.amount_in_group_currency, body.amount);
    const want = expectedShares(split, body.amount);
    assert.deepEqual(x.shares, want);
    assert.equal(x.shares.reduce((s, m) => s + m.amount, 0), body.amount);
    // The first-appearance order: Alice, Bea, Cris, Duda, Edu, Fabi (the bread basket).
    assert.deepEqual(x.shares.map((s) => s.member_id), M);
    // Items and charges come back as given, quantities filled in, percentages as numbers.
    assert.equal(x.split.mode, 'items');
    assert.equal(x.split.items.length, 14);
    assert.equal(x.split.items[1].quantity, 1);
    assert.equal(x.split.items[9].split.members[2].value, 2.25);
    assert.deepEqual(x.split.charges, [
        { kind: 'tax', percent: 12.5 },
        { kind: 'tip', amount: 1500 },
        { kind: 'service', percent: 7.75 },
    ]);
    const got = await api('GET', `${G()}/expenses/${x.id}`, { token: alice.token });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json, x);
    // Balances: paid minus owed per member.
    const b = await api('GET', `${G()}/balances`, { token: alice.token });
    const owed = Object.fromEntries(want.map((s) => [s.member_id, s.amount]));
    for (const row of b.json.balances) {
        const paid = body.paid_by.find((p) => p.member_id === row.member_id)?.amount ?? 0;
        assert.equal(row.owed, owed[row.member_id], row.name);
        assert.equal(row.paid, paid, row.name);
    }
    // The member filter finds it through its items; the CSV export carries its shares.
    const list = await api('GET', `${G()}/expenses?member=${M[5]}`, { token: alice.token });
    assert.ok(list.json.items.some((e) => e.id === x.id), list.text);
    const csv = await api('GET', `${G()}/export.csv`, { token: alice.token });
    assert.equal(csv.status, 200);
    const line = csv.text.split('\r\n').find((l) => l.includes(x.id));
    assert.ok(line, csv.text);
    const cents = (n) => (n / 100).toFixed(2);
    for (const s of want) assert.ok(line.includes(cents(s.amount)), `${cents(s.amount)} in ${line}`);
});

test('random itemised bills against the exact computation, in a foreign currency too', async () => {
    let seed = 17;
    const rnd = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    for (let round = 0; round < 4; round++) {
        const items = [];
        for (let i = 0; i < 3 + rnd(6); i++) {
            const who = M.filter(() => rnd(2)).slice(0, 4);
            if (who.length === 0) who.push(M[rnd(6)]);
            const shares = rnd(2) === 1;
            items.push({
                name: `item ${i}`,
                price: 1 + rnd(5000),
                quantity: 1 + rnd(3),
                split: {
                    mode: shares ? 'shares' : 'equal',
                    members: who.map((id) => (shares ? { member_id: id, value: `${1 + rnd(3)}.${rnd(10)}` } : { member_id: id })),
                },
            });
        }
        const split = { mode: 'items', items, charges: [{ kind: 'tax', percent: `${rnd(25)}.${rnd(100)}`.replace(/\.(\d)$/, '.0$1') }] };
        if (split.charges[0].percent.startsWith('0.0')) split.charges[0].percent = '5';
        const foreign = round % 2 === 1;
        const total = Number(billTotal(split));
        const body = {
            description: `random ${round}`,
            amount: total,
            paid_by: [{ member_id: M[1], amount: total }],
            split,
            ...(foreign ? { currency: 'USD', exchange_rate: '0.9137' } : {}),
        };
        const r = await write('POST', `${G()}/expenses`, { body, headers: wait });
        assert.equal(r.status, 201, r.text);
        const converted = foreign ? Number(halfEven(BigInt(total) * 9137n, 10000n)) : total;
        assert.equal(r.json.amount_in_group_currency, converted);
        assert.deepEqual(r.json.shares, expectedShares(split, converted), JSON.stringify(body));
    }
});

test('bad bills: 422 naming the field', async () => {
    const split = restaurantSplit();
    const ok = expenseBody(split);
    const clone = () => structuredClone(ok);
    const cases = [];
    let b = clone();
    b.amount += 1;
    b.paid_by[0].amount += 1;
    cases.push([b, 'amount']);
    b = clone();
    b.split.items[0].price = 0;
    cases.push([b, 'split.items[0].price']);
    b = clone();
    b.split.items[2].split.members[1].member_id = randomUUID();
    cases.push([b, 'split.items[2].split.members[1].member_id']);
    b = clone();
    b.split.charges[0].percent = '12.345';
    cases.push([b, 'split.charges[0].percent']);
    b = clone();
    b.split.charges[1] = { kind: 'tip', amount: 100, percent: 5 };
    cases.push([b, 'split.charges[1]']);
    b = clone();
    b.split.charges[1].kind = 'bribe';
    cases.push([b, 'split.charges[1].kind']);
    b = clone();
    b.split.items[3].quantity = 0;
    cases.push([b, 'split.items[3].quantity']);
    b = clone();
    b.split.items[8].split.members[0].value = 0;
    cases.push([b, 'split.items[8].split.members[0].value']);
    b = clone();
    b.split.members = [{ member_id: M[0] }];
    cases.push([b, 'split.members']);
    b = clone();
    b.split.items = [];
    cases.push([b, 'split.items']);
    b = clone();
    b.split.items[0].split.members.push({ member_id: M[0] });
    cases.push([b, 'split.items[0].split.members[6]']);
    b = clone();
    b.split.items[5].colour = 'red';
    cases.push([b, 'split.items[5].colour']);
    b = clone();
    b.split = { mode: 'equal', members: [{ member_id: M[0] }], items: [] };
    cases.push([b, 'split.items']);
    for (const [body, field] of cases) assert422(await write('POST', `${G()}/expenses`, { body }), field);
});

test('an edit (PUT) recomputes the shares; the audit log and replay agree', async () => {
    const split = restaurantSplit();
    const created = await write('POST', `${G()}/expenses`, { body: expenseBody(split), headers: wait });
    assert.equal(created.status, 201, created.text);
    const url = `${G()}/expenses/${created.json.id}`;
    // Bea skips the wine; the service charge goes; the tip becomes 10 %.
    const next = structuredClone(split);
    next.items[9].split.members.splice(1, 1);
    next.charges = [{ kind: 'tax', percent: '12.5' }, { kind: 'tip', percent: 10 }];
    const body = expenseBody(next);
    const put = await write('PUT', url, { body, headers: { 'If-Match': '"1"', ...wait } });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.version, 2);
    assert.deepEqual(put.json.shares, expectedShares(next, body.amount));
    assert.equal(put.json.shares.reduce((s, m) => s + m.amount, 0), body.amount);
    // The audit log holds the replacement with the whole bill.
    const log = await api('GET', `${G()}/events?limit=200`, { token: alice.token });
    assert.equal(log.status, 200, log.text);
    const entry = log.json.items.find((e) => e.type === 'expense.replaced' && e.payload.expense_id === created.json.id);
    assert.ok(entry, log.text);
    assert.equal(entry.payload.data.split.mode, 'items');
    assert.equal(entry.payload.data.split.items.length, 14);
    assert.deepEqual(entry.payload.data.split.charges.map((c) => c.kind), ['tax', 'tip']);
    assert.deepEqual(entry.before.shares, created.json.shares);
    assert.deepEqual(entry.after.shares, put.json.shares);
    replayVerify();
});
