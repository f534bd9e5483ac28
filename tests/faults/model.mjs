// An independent model of the ledger, written from the REST contract alone (BigInt, no floats), so the
// tests check the server's arithmetic instead of trusting it, plus a seeded workload client.

import { randomUUID } from 'node:crypto';

/** A seeded PRNG (mulberry32): the same seed gives the same workload. */
export function rng(seed) {
    let a = seed >>> 0;
    const next = () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return {
        next,
        int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
        pick: (arr) => arr[Math.floor(next() * arr.length)],
        chance: (p) => next() < p,
    };
}

/** floor of each exact share, leftover units to the largest remainders, ties to the earlier. */
export function apportion(total, weights) {
    const w = weights.map(BigInt);
    const sum = w.reduce((a, b) => a + b, 0n);
    const t = BigInt(total);
    const out = w.map((x) => (t * x) / sum);
    const rem = w.map((x, i) => ({ i, r: (t * x) % sum }));
    let left = t - out.reduce((a, b) => a + b, 0n);
    rem.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
    for (let k = 0; left > 0n; k++, left--) out[rem[k].i] += 1n;
    return out;
}

/** Hundredths from a decimal string with at most two decimals ("33.33" -> 3333n). */
export function hundredths(s) {
    const [i, f = ''] = String(s).split('.');
    return BigInt(i) * 100n + BigInt((f + '00').slice(0, 2));
}

/** Convert with an exact decimal rate, rounding half to even (same exponents here). */
export function convert(amount, rate) {
    const [i, f = ''] = rate.split('.');
    const scale = 10n ** BigInt(f.length);
    const num = BigInt(amount) * (BigInt(i) * scale + BigInt(f || '0'));
    const q = num / scale;
    const r = num % scale;
    if (r * 2n > scale || (r * 2n === scale && q % 2n === 1n)) return q + 1n;
    return q;
}

/** Per-member [paid, owed] of one expense request, in group currency units. */
export function expenseEffect(body) {
    const total = body.exchange_rate && body.currency ? convert(body.amount, body.exchange_rate) : BigInt(body.amount);
    const paid = apportion(total, body.paid_by.map((p) => p.amount));
    const mode = body.split.mode;
    const weights = body.split.members.map((m) =>
        mode === 'equal' ? 1n : mode === 'exact' ? BigInt(m.value) : hundredths(m.value));
    const owed = apportion(total, weights);
    const eff = new Map();
    const add = (id, p, o) => {
        const cur = eff.get(id) ?? [0n, 0n];
        eff.set(id, [cur[0] + p, cur[1] + o]);
    };
    body.paid_by.forEach((p, i) => add(p.member_id, paid[i], 0n));
    body.split.members.forEach((m, i) => add(m.member_id, 0n, owed[i]));
    return { total, eff, owed };
}

/** A random valid expense body over members (several payers, any mode, maybe USD). */
export function randomExpense(r, members) {
    const amount = r.int(1, 100_000);
    const n = r.int(1, members.length);
    const split = [...members].sort(() => r.next() - 0.5).slice(0, n);
    const payers = [...members].sort(() => r.next() - 0.5).slice(0, r.int(1, Math.min(3, members.length)));
    const payerAmounts = apportion(amount, payers.map(() => 1)).map(Number);
    const mode = r.pick(['equal', 'exact', 'percent', 'shares']);
    let values;
    if (mode === 'exact') values = apportion(amount, split.map(() => r.int(1, 9))).map(Number);
    if (mode === 'percent') {
        const parts = apportion(10000, split.map(() => r.int(1, 9)));
        values = parts.map((h) => `${h / 100n}.${String(h % 100n).padStart(2, '0')}`);
    }
    if (mode === 'shares') values = split.map(() => `${r.int(1, 5)}.${r.pick(['0', '5', '25'])}`);
    const body = {
        description: `w${r.int(0, 1e9)}`,
        amount,
        paid_by: payers.map((m, i) => ({ member_id: m, amount: payerAmounts[i] })).filter((p) => p.amount > 0),
        split: {
            mode,
            members: split.map((m, i) => (mode === 'equal' ? { member_id: m } : { member_id: m, value: values[i] })),
        },
    };
    if (mode !== 'exact' && r.chance(0.2)) {
        body.currency = 'USD';
        body.exchange_rate = r.pick(['0.9', '1.0825', '0.5', '1.3333']);
    }
    return body;
}

/** A response body as JSON, or null when it is empty or not JSON. */
export function jsonOf(text) {
    try {
        return text ? JSON.parse(text) : null;
    } catch {
        return null;
    }
}

/** HTTP client bound to a base URL and a token. */
export function client(baseUrl, token) {
    return async function call(method, path, { body, headers = {}, retry503 = true } = {}) {
        for (let attempt = 0; ; attempt++) {
            let res;
            try {
                res = await fetch(baseUrl + path, {
                    method,
                    headers: {
                        ...(token ? { Authorization: `Bearer ${token}` } : {}),
                        ...(body ? { 'Content-Type': 'application/json' } : {}),
                        ...headers,
                    },
                    body: body ? JSON.stringify(body) : undefined,
                });
            } catch (e) {
                if (attempt < 100) {
                    await new Promise((r) => setTimeout(r, 100));
                    continue;
                }
                throw e;
            }
            const text = await res.text();
            // A dependency restarting: retry (with the same Idempotency-Key, if any).
            if ((res.status === 503 || res.status === 502 || res.status === 504) && retry503 && attempt < 200) {
                await new Promise((r) => setTimeout(r, 100));
                continue;
            }
            return { status: res.status, json: jsonOf(text), headers: res.headers };
        }
    };
}

/** Register a user and make a group with `n` members (the user is the first). */
export async function setupGroup(baseUrl, n, currency = 'EUR') {
    const anon = client(baseUrl);
    const reg = await anon('POST', '/api/v1/auth/register', {
        body: { email: `f-${randomUUID()}@example.test`, password: 'correct horse battery', name: 'Owner' },
    });
    if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.json)}`);
    const call = client(baseUrl, reg.json.token);
    const g = await call('POST', '/api/v1/groups', { body: { name: 'load', currency } });
    const members = [g.json.members[0].id];
    for (let i = 1; i < n; i++) {
        const m = await call('POST', `/api/v1/groups/${g.json.id}/members`, { body: { name: `m${i}` } });
        members.push(m.json.id);
    }
    return { call, group: g.json, members };
}

/** Expected balances from final expense bodies and payments. Map member -> BigInt. */
export function expectedBalances(members, expenses, payments) {
    const bal = new Map(members.map((m) => [m, 0n]));
    for (const body of expenses) {
        for (const [m, [p, o]] of expenseEffect(body).eff) bal.set(m, bal.get(m) + p - o);
    }
    for (const p of payments) {
        bal.set(p.from_member, bal.get(p.from_member) + BigInt(p.amount));
        bal.set(p.to_member, bal.get(p.to_member) - BigInt(p.amount));
    }
    return bal;
}

/** Run async tasks with at most `limit` in flight. */
export async function pool(tasks, limit) {
    const results = new Array(tasks.length);
    let next = 0;
    async function worker() {
        while (next < tasks.length) {
            const i = next++;
            results[i] = await tasks[i]();
        }
    }
    await Promise.all(Array.from({ length: limit }, worker));
    return results;
}
