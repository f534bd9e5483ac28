// The itemised bill (split mode "items"): an editor of items (name, price, quantity, who shares
// each, equally or by shares) and charges (tax, tip, service, each a percentage or an amount),
// and the server's rule for the bill's total and each member's share, exactly, with BigInt
// (docs/openapi.yaml, "Itemised bills"). The server is authoritative; this is the preview.

import { h, nextId } from './dom.js';
import { RawNumber, apportion, parseAmount, parseDecimal, toInput } from './money.js';
import { t } from './i18n.js';

const KINDS = [
    ['tax', 'Tax'],
    ['tip', 'Tip'],
    ['service', 'Service charge'],
];

/** n / d rounded half to even (n >= 0, d > 0). */
function halfEven(n, d) {
    const q = n / d;
    const r = n % d;
    return 2n * r > d || (2n * r === d && q % 2n === 1n) ? q + 1n : q;
}

const gcd = (a, b) => (b === 0n ? a : gcd(b, a % b));

/**
 * The bill's subtotal and total in minor units of the expense currency: lines [{price, quantity}]
 * and charges [{amount} | {percent: hundredths}] (BigInt). A percent charge is the subtotal ×
 * percent / 100, rounded half to even.
 */
export function billTotal(lines, charges) {
    const subtotal = lines.reduce((s, l) => s + l.price * l.quantity, 0n);
    let total = subtotal;
    for (const c of charges) total += c.amount !== undefined ? c.amount : halfEven(subtotal * c.percent, 10000n);
    return { subtotal, total };
}

/**
 * Each member's owed share of `total` (group minor units) by the lines [{price, quantity,
 * members: [id], weights: [BigInt]}]: member m's exact part is Σ (line / subtotal) × (w / W),
 * then floors and the largest remainders, ties to the member seen first. Returns the members in
 * that order and their shares.
 */
export function billShares(total, lines) {
    let lcm = 1n;
    for (const l of lines) {
        const W = l.weights.reduce((a, b) => a + b, 0n);
        lcm = (lcm / gcd(lcm, W)) * W;
    }
    const order = [];
    const weight = new Map();
    for (const l of lines) {
        const W = l.weights.reduce((a, b) => a + b, 0n);
        l.members.forEach((id, k) => {
            if (!weight.has(id)) {
                order.push(id);
                weight.set(id, 0n);
            }
            weight.set(id, weight.get(id) + l.price * l.quantity * l.weights[k] * (lcm / W));
        });
    }
    return { order, shares: apportion(total, order.map((id) => weight.get(id))) };
}

/**
 * The editor. members: the group's; currency(): the expense currency's code; onChange(): called
 * on every edit. Returns {el, fill(split), read(), build(errs), control(path), focusable()}.
 */
export function itemsEditor({ members, currency, onChange }) {
    const rows = [];
    const list = h('ol', { class: 'item-list', id: 'item-list' });
    const subtotalOut = h('output', { id: 'items-subtotal' });

    function addRow(init = {}) {
        const n = nextId('item');
        const name = h('input', { type: 'text', id: `${n}-name`, class: 'item-name', maxlength: 100, autocomplete: 'off', placeholder: t('Item') });
        const price = h('input', { type: 'text', id: `${n}-price`, class: 'item-price', inputmode: 'decimal', autocomplete: 'off', placeholder: '0.00' });
        const qty = h('input', { type: 'text', id: `${n}-qty`, class: 'item-qty', inputmode: 'numeric', autocomplete: 'off', value: '1' });
        const byShares = h('input', { type: 'checkbox', id: `${n}-by-shares`, class: 'item-by-shares' });
        const errOf = (el) => {
            const e = h('p', { class: 'field-error', id: `${el.id}-error`, hidden: true });
            el.setAttribute('aria-describedby', e.id);
            return e;
        };
        const chips = members.map((m) => {
            const chip = h('button', { type: 'button', class: 'chip', 'aria-pressed': 'false', dataset: { member: m.id } }, m.name);
            const val = h('input', { type: 'text', class: 'item-share-value', inputmode: 'decimal', autocomplete: 'off', value: '1', 'aria-label': t('{name}’s shares of this item', { name: m.name }) });
            const valWrap = h('span', { class: 'chip-shares', hidden: true }, val);
            const wrap = h('span', { class: 'chip-wrap' }, chip, valWrap);
            chip.addEventListener('click', () => {
                chip.setAttribute('aria-pressed', chip.getAttribute('aria-pressed') === 'true' ? 'false' : 'true');
                changed();
            });
            val.addEventListener('input', changed);
            return { m, chip, val, valWrap, wrap };
        });
        const remove = h('button', { type: 'button', class: 'btn btn-ghost btn-small item-remove', 'aria-label': t('Remove this item') }, '×');
        const who = h('div', { class: 'item-who', id: `${n}-who`, role: 'group', 'aria-label': t('Who shares it') },
            h('span', { class: 'item-who-label muted small' }, t('Shared by')),
            chips.map((c) => c.wrap),
            h('span', { class: 'item-shares-toggle' }, byShares, h('label', { for: byShares.id }, t('by shares'))));
        const errs = h('div', { class: 'item-errors' }, errOf(name), errOf(price), errOf(qty), errOf(who));
        const li = h('li', { class: 'item-row' },
            h('span', { class: 'item-field item-name-field' }, h('label', { for: name.id }, t('Item')), name),
            h('span', { class: 'item-field' }, h('label', { for: price.id }, t('Price')), price),
            h('span', { class: 'item-field item-qty-field' }, h('label', { for: qty.id }, t('Qty')), qty),
            remove,
            who,
            errs);
        const row = { li, name, price, qty, byShares, chips, who, remove };
        name.value = init.name ?? '';
        price.value = init.price ?? '';
        qty.value = init.quantity ?? '1';
        byShares.checked = init.mode === 'shares';
        const given = new Map((init.members ?? []).map((x) => [x.member_id, x.value]));
        for (const c of chips) {
            const on = init.members ? given.has(c.m.id) : true;
            c.chip.setAttribute('aria-pressed', String(on));
            const v = given.get(c.m.id);
            if (v !== undefined && v !== null) c.val.value = String(v);
        }
        for (const el of [name, price, qty]) el.addEventListener('input', changed);
        byShares.addEventListener('change', changed);
        remove.addEventListener('click', () => {
            rows.splice(rows.indexOf(row), 1);
            li.remove();
            if (!rows.length) addRow();
            changed();
            (rows.at(-1)?.name ?? addBtn).focus();
        });
        rows.push(row);
        list.append(li);
        return row;
    }

    const addBtn = h('button', { type: 'button', class: 'btn btn-ghost', id: 'add-item' }, t('+ Add item'));
    addBtn.addEventListener('click', () => {
        addRow().name.focus();
        changed();
    });

    const charges = KINDS.map(([kind, label]) => {
        const val = h('input', { type: 'text', id: `charge-${kind}`, class: 'charge-value', inputmode: 'decimal', autocomplete: 'off', placeholder: '0' });
        const unit = h('select', { id: `charge-${kind}-unit`, class: 'charge-unit', 'aria-label': t('{charge} as', { charge: t(label) }) },
            h('option', { value: 'percent' }, '%'),
            h('option', { value: 'amount' }, ''));
        const err = h('p', { class: 'field-error', id: `${val.id}-error`, hidden: true });
        val.setAttribute('aria-describedby', err.id);
        val.addEventListener('input', changed);
        unit.addEventListener('change', changed);
        const el = h('li', { class: 'charge-row' }, h('label', { for: val.id }, t(label)), val, unit, err);
        return { kind, val, unit, el };
    });

    const el = h('div', { class: 'items-editor', id: 'items-editor', hidden: true },
        list,
        addBtn,
        h('p', { class: 'items-subtotal muted' }, t('Items: '), subtotalOut),
        h('ul', { class: 'charge-rows', 'aria-label': t('Tax, tip and service') }, charges.map((c) => c.el)));

    function changed() {
        for (const r of rows) {
            const shares = r.byShares.checked;
            for (const c of r.chips) c.valWrap.hidden = !shares || c.chip.getAttribute('aria-pressed') !== 'true';
        }
        onChange();
    }

    /**
     * What the form holds now, for the preview and the request: {lines, charges} with BigInt
     * values, and problems [[control, message]] for whatever cannot be read.
     */
    function read(cur = currency()) {
        const problems = [];
        const lines = [];
        const body = [];
        for (const r of rows) {
            const p = parseAmount(r.price.value, cur);
            if (p.error) problems.push([r.price, p.error]);
            const qtext = r.qty.value.trim() || '1';
            const q = /^\d{1,7}$/.test(qtext) && Number(qtext) >= 1 ? BigInt(qtext) : null;
            if (q === null) problems.push([r.qty, t('A whole number, 1 or more')]);
            if (!r.name.value.trim()) problems.push([r.name, t('Name the item')]);
            const on = r.chips.filter((c) => c.chip.getAttribute('aria-pressed') === 'true');
            if (!on.length) problems.push([r.who, t('Pick who shares this item')]);
            const shares = r.byShares.checked;
            const weights = on.map((c) => {
                if (!shares) return 1n;
                const d = parseDecimal(c.val.value);
                if (d.error) problems.push([r.who, `${c.m.name}: ${d.error}`]);
                return d.hundredths ?? null;
            });
            const members = on.map((c) => c.m.id);
            if (p.minor !== undefined && q !== null && on.length && weights.every((w) => w !== null)) {
                lines.push({ price: p.minor, quantity: q, members, weights });
            }
            body.push({
                name: r.name.value.trim(),
                price: p.minor,
                quantity: q === null ? undefined : Number(q),
                split: {
                    mode: shares ? 'shares' : 'equal',
                    members: on.map((c) => (shares ? { member_id: c.m.id, value: new RawNumber(parseDecimal(c.val.value).text ?? c.val.value) } : { member_id: c.m.id })),
                },
            });
        }
        const ch = [];
        const chBody = [];
        for (const c of charges) {
            c.unit.options[1].textContent = cur;
            if (!c.val.value.trim()) continue;
            if (c.unit.value === 'percent') {
                const d = parseDecimal(c.val.value);
                if (d.error) problems.push([c.val, d.error]);
                else {
                    ch.push({ percent: d.hundredths });
                    chBody.push({ kind: c.kind, percent: new RawNumber(d.text) });
                }
            } else {
                const a = parseAmount(c.val.value, cur);
                if (a.error) problems.push([c.val, a.error]);
                else {
                    ch.push({ amount: a.minor });
                    chBody.push({ kind: c.kind, amount: a.minor });
                }
            }
        }
        const complete = !problems.length && lines.length === rows.length;
        const bill = complete ? billTotal(lines, ch) : null;
        return { lines, bill, problems, split: { mode: 'items', items: body, charges: chBody } };
    }

    function fill(split, cur) {
        list.replaceChildren();
        rows.length = 0;
        for (const it of split?.items ?? []) {
            addRow({
                name: it.name,
                price: toInput(it.price, cur),
                quantity: String(it.quantity ?? 1),
                mode: it.split?.mode,
                members: it.split?.members ?? [],
            });
        }
        if (!rows.length) addRow();
        for (const c of charges) {
            const x = (split?.charges ?? []).find((y) => y.kind === c.kind);
            c.val.value = '';
            if (!x) continue;
            c.unit.value = x.percent !== undefined ? 'percent' : 'amount';
            c.val.value = x.percent !== undefined ? String(x.percent) : toInput(x.amount, cur);
        }
        changed();
    }

    /** The control a problem's field path names (split.items[3].price, split.charges[1]...). */
    function control(path, sent) {
        let m = /^split\.items\[(\d+)\](?:\.(\w+))?(?:\.split\.members\[(\d+)\])?/.exec(path);
        if (m) {
            const r = rows[Number(m[1])];
            if (!r) return el;
            if (m[2] === 'price') return r.price;
            if (m[2] === 'quantity') return r.qty;
            if (m[2] === 'name') return r.name;
            if (m[3] !== undefined || m[2] === 'split') return r.who;
            return r.name;
        }
        m = /^split\.charges\[(\d+)\]/.exec(path);
        if (m) {
            const kind = sent?.charges?.[Number(m[1])]?.kind;
            return charges.find((c) => c.kind === kind)?.val ?? el;
        }
        return null;
    }

    addRow();
    return { el, fill, read, control, subtotalOut };
}
