// The expense form: add and edit (full replacement with If-Match), delete; several payers, the
// four split modes and the itemised bill (items.js), a foreign currency with its rate, and a
// live preview of each member's share computed with the server's own rounding rule.

import { ApiError, get, isMissingRoute, toJSON } from './api.js';
import { writeOrQueue } from './queue.js';
import { clear, field, h, nextId, setFieldError, todayISO, toast } from './dom.js';
import {
    CURRENCIES, RawNumber, apportion, convert, exponent, formatMoney, formatPercent, parseAmount, parseDecimal,
    parseRate, toInput,
} from './money.js';
import { CATEGORIES, expenseCache, loadGroup, myMember, remember } from './state.js';
import { problemSentence } from './problems.js';
import { t, tn } from './i18n.js';
import { focusFirstInvalid, formAlert, navigate, onSubmit, page, routeAlive } from './ui.js';
import { billShares, itemsEditor } from './items.js';

const MODES = [
    ['equal', 'Equally'],
    ['exact', 'Exact amounts'],
    ['percent', 'Percent'],
    ['shares', 'Shares'],
    ['items', 'Itemised'],
];

// How often an expense repeats: never, or every N of a unit (the API's recurrence.unit).
const REPEATS = [
    ['', 'Never'],
    ['day', 'Daily'],
    ['week', 'Weekly'],
    ['month', 'Monthly'],
    ['year', 'Yearly'],
];

/** "days", "week", ...: the unit after "Every n". */
function unitWords(unit, n) {
    if (unit === 'day') return tn(n, 'day', 'days');
    if (unit === 'week') return tn(n, 'week', 'weeks');
    if (unit === 'month') return tn(n, 'month', 'months');
    if (unit === 'year') return tn(n, 'year', 'years');
    return '';
}

async function loadExpense(gid, eid) {
    try {
        const e = await get(`groups/${gid}/expenses/${eid}`);
        remember(e);
        return e;
    } catch (e) {
        // Until the single-expense route exists, the copy seen in the list will do.
        if (isMissingRoute(e) && expenseCache.has(eid)) return expenseCache.get(eid);
        throw e;
    }
}

export async function expenseView({ gid, eid }) {
    const alive = routeAlive();
    const group = await loadGroup(gid);
    const existing = eid ? await loadExpense(gid, eid) : null;
    if (!alive()) return;
    const gcur = group.currency;
    const members = group.members;
    const me = myMember(group);
    const back = `#/groups/${gid}`;

    // --- the basic fields ---------------------------------------------------------------
    const desc = h('input', { type: 'text', id: 'exp-description', required: true, maxlength: 200, autocomplete: 'off', placeholder: t('Dinner, taxi, tickets…') });
    const amount = h('input', { type: 'text', id: 'exp-amount', inputmode: 'decimal', autocomplete: 'off', required: true, placeholder: '0.00' });
    const currencies = [gcur, ...CURRENCIES.filter((c) => c !== gcur)];
    if (existing && !currencies.includes(existing.currency)) currencies.push(existing.currency);
    const currency = h('select', { id: 'exp-currency' }, currencies.map((c) => h('option', { value: c }, c)));
    const rate = h('input', { type: 'text', id: 'exp-rate', inputmode: 'decimal', autocomplete: 'off', placeholder: '1.00' });
    const rateHint = h('span', {});
    const date = h('input', { type: 'date', id: 'exp-date', required: true, value: todayISO() });
    const category = h('input', { type: 'text', id: 'exp-category', list: 'exp-categories', autocomplete: 'off', maxlength: 50, placeholder: 'food' });
    const catList = h('datalist', { id: 'exp-categories' }, CATEGORIES.map((c) => h('option', { value: c })));

    // --- repeats (a recurring expense: the workers add its later occurrences on their dates) ---
    // An occurrence is edited on its own: it has no rule of its own to change.
    const occurrence = Boolean(existing?.recurrence_of);
    const repeat = h('select', { id: 'exp-repeat' }, REPEATS.map(([value, label]) => h('option', { value }, t(label))));
    const every = h('input', { type: 'number', id: 'exp-repeat-every', min: 1, max: 366, step: 1, value: '1', inputmode: 'numeric' });
    const everyUnit = h('span', { class: 'unit', id: 'exp-repeat-unit' });
    const until = h('input', { type: 'date', id: 'exp-repeat-until' });
    const repeatDetail = h('div', { class: 'row', id: 'repeat-detail' },
        field({ label: t('Every'), control: every, name: 'recurrence.every', className: 'grow', hint: everyUnit }),
        field({ label: t('Until'), control: until, name: 'recurrence.until', className: 'grow', hint: t('Optional: the last day it may repeat') }));
    const repeats = occurrence
        ? h('p', { class: 'notice', id: 'occurrence-note' }, t('One occurrence of a repeating expense: changes apply to this one only.'))
        : h('fieldset', { class: 'group-box', id: 'repeats' },
            h('legend', {}, t('Repeats')),
            field({ label: t('How often'), control: repeat, name: 'recurrence', hint: existing?.recurrence ? t('Changes apply to the occurrences still to come.') : null }),
            repeatDetail);
    function refreshRepeat() {
        repeatDetail.hidden = !repeat.value;
        everyUnit.textContent = unitWords(repeat.value, Number(every.value) || 1);
    }
    repeat.addEventListener('change', refreshRepeat);
    every.addEventListener('input', refreshRepeat);

    const rateField = field({ label: t('Exchange rate'), control: rate, name: 'exchange_rate', hint: rateHint });
    rateField.classList.add('rate-field');

    // --- paid by ------------------------------------------------------------------------
    const payerRows = members.map((m, i) => {
        const check = h('input', { type: 'checkbox', id: `payer-${i}`, class: 'payer-check', dataset: { member: m.id } });
        const amt = h('input', { type: 'text', id: `payer-amount-${i}`, class: 'payer-amount', inputmode: 'decimal', autocomplete: 'off', placeholder: '0.00' });
        const amtWrap = h('span', { class: 'row-amount' },
            h('label', { for: amt.id, class: 'visually-hidden' }, t('Amount paid by {name}', { name: m.name })),
            amt,
            h('span', { class: 'unit', 'aria-hidden': 'true' }, ''));
        const err = h('p', { class: 'field-error', id: `${amt.id}-error`, hidden: true });
        amt.setAttribute('aria-describedby', err.id);
        const row = h('li', { class: 'member-row' },
            h('span', { class: 'check' }, check, h('label', { for: check.id }, m.name)),
            amtWrap, err);
        return { m, check, amt, amtWrap, row };
    });
    const payersError = h('p', { class: 'field-error', id: 'payers-error', hidden: true });
    const payers = h('fieldset', { class: 'group-box', id: 'payers', 'aria-describedby': 'payers-error' },
        h('legend', {}, t('Paid by')),
        h('p', { class: 'hint', id: 'payers-hint' }, t('Tick everyone who paid; with several payers, say how much each paid.')),
        h('ul', { class: 'member-rows' }, payerRows.map((r) => r.row)),
        payersError);

    // --- split --------------------------------------------------------------------------
    const modeName = nextId('mode');
    const modeRadios = MODES.map(([value, label]) => {
        const r = h('input', { type: 'radio', name: modeName, value, id: `mode-${value}` });
        return { value, r, el: h('span', { class: 'seg' }, r, h('label', { for: r.id }, t(label))) };
    });
    const splitRows = members.map((m, i) => {
        const check = h('input', { type: 'checkbox', id: `split-${i}`, class: 'split-check', checked: true, dataset: { member: m.id } });
        const val = h('input', { type: 'text', id: `split-value-${i}`, class: 'split-value', inputmode: 'decimal', autocomplete: 'off' });
        const valLabel = h('label', { for: val.id, class: 'visually-hidden' }, t('{name}’s part', { name: m.name }));
        const unit = h('span', { class: 'unit', 'aria-hidden': 'true' });
        const preview = h('output', { class: 'preview', id: `split-preview-${i}`, for: val.id });
        const err = h('p', { class: 'field-error', id: `${val.id}-error`, hidden: true });
        val.setAttribute('aria-describedby', `${err.id} ${preview.id}`);
        const valWrap = h('span', { class: 'row-amount' }, valLabel, val, unit);
        const row = h('li', { class: 'member-row' },
            h('span', { class: 'check' }, check, h('label', { for: check.id }, m.name)),
            valWrap, preview, err);
        return { m, check, val, valLabel, unit, valWrap, preview, row };
    });
    const splitError = h('p', { class: 'field-error', id: 'split-error', hidden: true });
    const summary = h('p', { class: 'split-summary', id: 'split-summary', 'aria-live': 'polite' });
    const splitList = h('ul', { class: 'member-rows' }, splitRows.map((r) => r.row));
    // The itemised bill: its editor, and each person's share of it as it is typed.
    const items = itemsEditor({ members, currency: () => currency.value, onChange: () => refresh() });
    const itemsPreview = h('ul', { class: 'items-preview', id: 'items-preview', hidden: true, 'aria-label': t('Each person’s share') });
    const split = h('fieldset', { class: 'group-box', id: 'split', 'aria-describedby': 'split-error split-summary' },
        h('legend', {}, t('Split')),
        h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': t('Split mode') }, modeRadios.map((x) => x.el)),
        splitList,
        items.el,
        itemsPreview,
        summary,
        splitError);

    // --- fill in ------------------------------------------------------------------------
    let mode = 'equal';
    let itemsInit = null;
    if (existing) {
        const ecur = existing.currency ?? gcur;
        desc.value = existing.description ?? '';
        amount.value = toInput(existing.amount, ecur);
        currency.value = ecur;
        rate.value = existing.exchange_rate && ecur !== gcur ? String(existing.exchange_rate) : '';
        date.value = existing.date ?? todayISO();
        category.value = existing.category ?? '';
        const paid = new Map((existing.paid_by ?? []).map((p) => [p.member_id, p.amount]));
        for (const r of payerRows) {
            r.check.checked = paid.has(r.m.id);
            r.amt.value = paid.has(r.m.id) ? toInput(paid.get(r.m.id), ecur) : '';
        }
        if (existing.recurrence) {
            repeat.value = existing.recurrence.unit;
            every.value = String(existing.recurrence.every);
            until.value = existing.recurrence.until ?? '';
        }
        mode = existing.split?.mode ?? 'equal';
        if (mode === 'items') itemsInit = { split: existing.split, cur: ecur };
        const inSplit = new Map((existing.split?.members ?? []).map((x) => [x.member_id, x.value]));
        for (const r of splitRows) {
            r.check.checked = inSplit.has(r.m.id);
            const v = inSplit.get(r.m.id);
            r.val.value = v === undefined || v === null ? '' : mode === 'exact' ? toInput(v, ecur) : String(v);
        }
    } else {
        const mine = payerRows.find((r) => me && r.m.id === me.id) ?? payerRows[0];
        if (mine) mine.check.checked = true;
    }
    for (const x of modeRadios) x.r.checked = x.value === mode;

    const cur = () => currency.value;
    const payersChecked = () => payerRows.filter((r) => r.check.checked);
    const included = () => splitRows.filter((r) => r.check.checked);

    function refresh() {
        const c = cur();
        const foreign = c !== gcur;
        rateField.hidden = !foreign;
        rate.required = foreign;
        clear(rateHint);
        const a = parseAmount(amount.value, c);
        const rt = foreign ? parseRate(rate.value) : { text: '1' };
        rateHint.append(foreign ? t('{group} per 1 {currency}', { group: gcur, currency: c }) : '');
        // An itemised bill's total is the amount: computed, not typed.
        const itemised = mode === 'items';
        const bill = itemised ? items.read(c) : null;
        amount.readOnly = itemised;
        if (bill?.bill) {
            amount.value = toInput(bill.bill.total, c);
            a.minor = bill.bill.total;
            delete a.error;
        }
        let total = null; // in group currency
        if (a.minor !== undefined && rt.text) {
            total = foreign ? convert(a.minor, c, rt.text, gcur) : a.minor;
            if (foreign) rateHint.append(` · ${formatMoney(a.minor, c)} = ${formatMoney(total, gcur)}`);
        }
        // payers
        const several = payersChecked().length > 1;
        for (const r of payerRows) {
            r.amtWrap.hidden = !several || !r.check.checked;
            r.amtWrap.querySelector('.unit').textContent = c;
        }
        // split
        splitList.hidden = itemised;
        items.el.hidden = !itemised;
        itemsPreview.hidden = !itemised;
        if (itemised) {
            refreshItems(bill, total, c);
            return;
        }
        for (const r of splitRows) {
            r.valWrap.hidden = mode === 'equal';
            r.val.disabled = !r.check.checked;
            r.unit.textContent = mode === 'exact' ? c : mode === 'percent' ? '%' : mode === 'shares' ? t('shares') : '';
            r.valLabel.textContent = mode === 'exact' ? t('{name}\'s amount in {currency}', { name: r.m.name, currency: c })
                : mode === 'percent' ? t('{name}\'s percentage', { name: r.m.name }) : t('{name}\'s shares', { name: r.m.name });
            r.val.placeholder = mode === 'exact' ? '0.00' : mode === 'percent' ? '0' : '1';
            r.row.classList.toggle('excluded', !r.check.checked);
        }
        // preview of each share, with the server's rule: convert, then largest remainders
        const inc = included();
        let weights = null;
        if (mode === 'equal') weights = inc.map(() => 1n);
        else {
            weights = inc.map((r) => {
                if (mode === 'exact') return parseAmount(r.val.value, c, { allowZero: true }).minor ?? null;
                return parseDecimal(r.val.value, { allowZero: mode === 'percent' }).hundredths ?? null;
            });
            if (weights.some((w) => w === null)) weights = null;
            // Shares of a split that does not add up would not be what the server stores (it
            // refuses the split): no preview until the percentages make 100 (the amounts, the
            // total).
            const sum = weights?.reduce((x, y) => x + y, 0n);
            if (mode === 'percent' && sum !== 10000n) weights = null;
            if (mode === 'exact' && (a.minor === undefined || sum !== a.minor)) weights = null;
        }
        const shares = total !== null && weights && weights.length ? apportion(total, weights) : null;
        for (const r of splitRows) r.preview.textContent = '';
        if (shares) inc.forEach((r, i) => { r.preview.textContent = formatMoney(shares[i], gcur); });
        // the summary line
        let text = '';
        if (!inc.length) text = t('Pick at least one person to split with.');
        else if (mode === 'equal') text = total !== null ? tn(inc.length, 'Split equally between {n} person.', 'Split equally between {n} people.') : '';
        else if (mode === 'exact' && a.minor !== undefined) {
            const sum = inc.reduce((acc, r) => acc + (parseAmount(r.val.value, c, { allowZero: true }).minor ?? 0n), 0n);
            const left = a.minor - sum;
            const whole = formatMoney(a.minor, c);
            text = left === 0n ? t('Adds up to {total}.', { total: whole })
                : left > 0n ? t('{left} of {total} still to assign.', { left: formatMoney(left, c), total: whole })
                    : t('{over} more than {total}.', { over: formatMoney(-left, c), total: whole });
        } else if (mode === 'percent') {
            const sum = inc.reduce((acc, r) => acc + (parseDecimal(r.val.value, { allowZero: true }).hundredths ?? 0n), 0n);
            const left = 10000n - sum;
                        text = left === 0n ? t('Adds up to 100%.') : left > 0n ? t('{pct} still to assign.', { pct: formatPercent(left) }) : t('{pct} over 100%.', { pct: formatPercent(-left) });
        } else if (mode === 'shares') {
            text = shares ? t('Each pays in proportion to their shares.') : t('Give everyone a number of shares (1, 2, 0.5…).');
        }
        summary.textContent = text;
    }

    // The preview of an itemised bill: each person's share of the converted total, in the order
    // they first appear across the items (the order the server lists them in).
    function refreshItems(bill, total, c) {
        items.subtotalOut.textContent = bill.bill ? formatMoney(bill.bill.subtotal, c) : '–';
        itemsPreview.replaceChildren();
        const ok = bill.bill && total !== null && bill.lines.length;
        const { order, shares } = ok ? billShares(total, bill.lines) : { order: [], shares: [] };
        order.forEach((id, i) => {
            const m = members.find((x) => x.id === id);
            itemsPreview.append(h('li', { class: 'items-preview-row', dataset: { member: id } },
                h('span', { class: 'who' }, m?.name ?? id),
                h('output', { class: 'preview' }, formatMoney(shares[i], gcur))));
        });
        summary.textContent = ok
            ? t('Items {subtotal}, with tax, tip and service {total}.', { subtotal: formatMoney(bill.bill.subtotal, c), total: formatMoney(bill.bill.total, c) })
            : t('Give each item a name, a price and who shares it.');
    }

    for (const x of modeRadios) {
        x.r.addEventListener('change', () => {
            if (!x.r.checked) return;
            mode = x.value;
            if (mode === 'shares') for (const r of splitRows) if (!r.val.value) r.val.value = '1';
            refresh();
        });
    }
    for (const el of [amount, currency, rate]) el.addEventListener('input', refresh);
    for (const r of payerRows) r.check.addEventListener('change', refresh);
    for (const r of splitRows) {
        r.check.addEventListener('change', refresh);
        r.val.addEventListener('input', refresh);
    }
    currency.addEventListener('change', refresh);

    // --- build the request ----------------------------------------------------------------
    let sentPayers = [];
    let sentSplit = [];
    let sentItems = null;
    function build() {
        const errs = [];
        const c = cur();
        const body = {};
        const d = desc.value.trim();
        if (!d) errs.push([desc, t('Describe the expense')]);
        body.description = d;
        const a = parseAmount(amount.value, c);
        const bill = mode === 'items' ? items.read(c) : null;
        if (bill) {
            // The amount is the bill's total; what is wrong is in the items.
            errs.push(...bill.problems);
            a.minor = bill.bill?.total;
        } else if (a.error) errs.push([amount, a.error]);
        body.amount = a.minor;
        body.currency = c;
        if (c !== gcur) {
            const rt = parseRate(rate.value);
            if (rt.error) errs.push([rate, rt.error]);
            body.exchange_rate = rt.text;
        }
        if (!date.value) errs.push([date, t('Pick a date')]);
        body.date = date.value;
        if (category.value.trim()) body.category = category.value.trim();
        if (!occurrence && (repeat.value || existing?.recurrence)) {
            if (!repeat.value) body.recurrence = null; // stops the rule
            else {
                const n = Number(every.value);
                if (!Number.isInteger(n) || n < 1 || n > 366) errs.push([every, t('Enter a number from 1 to 366.')]);
                body.recurrence = { every: n, unit: repeat.value };
                if (until.value) {
                    if (until.value < date.value) errs.push([until, t('Pick a day on or after the date.')]);
                    body.recurrence.until = until.value;
                }
            }
        }
        const ps = payersChecked();
        sentPayers = ps;
        if (!ps.length) errs.push([payers, t('Tick who paid')]);
        if (ps.length === 1) body.paid_by = [{ member_id: ps[0].m.id, amount: a.minor }];
        else {
            body.paid_by = ps.map((r) => {
                const p = parseAmount(r.amt.value, c);
                if (p.error) errs.push([r.amt, p.error]);
                return { member_id: r.m.id, amount: p.minor };
            });
        }
        if (bill) {
            body.split = bill.split;
            sentItems = bill.split;
            return { body, errs };
        }
        const inc = included();
        sentSplit = inc;
        if (!inc.length) errs.push([split, t('Pick at least one person to split with')]);
        body.split = {
            mode,
            members: inc.map((r) => {
                if (mode === 'equal') return { member_id: r.m.id };
                if (mode === 'exact') {
                    const p = parseAmount(r.val.value, c, { allowZero: true });
                    if (p.error) errs.push([r.val, p.error]);
                    return { member_id: r.m.id, value: p.minor };
                }
                const p = parseDecimal(r.val.value, { allowZero: mode === 'percent' });
                if (p.error) errs.push([r.val, p.error]);
                return { member_id: r.m.id, value: p.text === undefined ? undefined : new RawNumber(p.text) };
            }),
        };
        if (!errs.length && mode === 'percent') {
            const sum = inc.reduce((acc, r) => acc + parseDecimal(r.val.value, { allowZero: true }).hundredths, 0n);
            if (sum !== 10000n) errs.push([split, summary.textContent ? `${summary.textContent} ${t('The percentages must add up to 100%.')}` : t('The percentages must add up to 100%.')]);
        }
        if (!errs.length && mode === 'exact') {
            const sum = inc.reduce((acc, r) => acc + parseAmount(r.val.value, c, { allowZero: true }).minor, 0n);
            if (sum !== a.minor) errs.push([split, `${summary.textContent} ${t('The amounts must add up to the total.')}`]);
        }
        return { body, errs };
    }

    const controls = {
        description: desc, amount, currency, exchange_rate: rate, date, category,
        recurrence: repeat, 'recurrence.unit': repeat, 'recurrence.every': every, 'recurrence.until': until,
    };
    function fieldMap(f) {
        if (controls[f]) return controls[f];
        let m = /^paid_by\[(\d+)\]/.exec(f);
        if (m) {
            const r = sentPayers[Number(m[1])];
            return r && !r.amtWrap.hidden ? r.amt : payers;
        }
        if (f.startsWith('paid_by')) return payers;
        if (mode === 'items') {
            const el = items.control(f, sentItems);
            if (el) return el;
        }
        m = /^split\.members\[(\d+)\]/.exec(f);
        if (m) {
            const r = sentSplit[Number(m[1])];
            return r && mode !== 'equal' ? r.val : split;
        }
        if (f.startsWith('split')) return split;
        return null;
    }

    // One Idempotency-Key per submission: a double click or a retry of the same body reuses it
    // (the server answers the first result again); a changed form gets a new one.
    let pending = { text: null, key: null };
    const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-expense' }, existing ? t('Save changes') : t('Add expense'));
    const form = h('form', { class: 'card form expense-form', id: 'expense-form', novalidate: true },
        formAlert(),
        field({ label: t('Description'), control: desc, name: 'description' }),
        h('div', { class: 'row' },
            field({ label: t('Amount'), control: amount, name: 'amount', className: 'grow' }),
            field({ label: t('Currency'), control: currency, name: 'currency' })),
        rateField,
        h('div', { class: 'row' },
            field({ label: t('Date'), control: date, name: 'date', className: 'grow' }),
            field({ label: t('Category'), control: category, name: 'category', className: 'grow', hint: t('Optional') })),
        catList,
        payers,
        split,
        repeats,
        h('div', { class: 'actions' },
            save,
            h('a', { href: back, class: 'btn btn-ghost' }, t('Cancel'))));

    onSubmit(form, async () => {
        for (const el of form.querySelectorAll('[aria-invalid="true"]')) setFieldError(el, null);
        const { body, errs } = build();
        if (errs.length) {
            for (const [el, msg] of errs) setFieldError(el, msg);
            focusFirstInvalid(form);
            return;
        }
        const text = toJSON(body);
        if (text !== pending.text) pending = { text, key: crypto.randomUUID() };
        let r;
        const what = {
            group: gid, kind: 'expense', action: existing ? 'update' : 'create',
            preview: { description: body.description, amount: String(body.amount), currency: body.currency ?? gcur, date: body.date, category: body.category },
        };
        try {
            r = existing
                ? await writeOrQueue('PUT', `groups/${gid}/expenses/${existing.id}`, body, { key: pending.key, ifMatch: existing.version }, what)
                : await writeOrQueue('POST', `groups/${gid}/expenses`, body, { key: pending.key }, what);
        } catch (e) {
            if (e instanceof ApiError && e.status === 409 && existing) {
                throw new ApiError(409, { ...e.problem, human: t('Someone changed this expense meanwhile. Reload the page to edit the latest version.'), errors: [] });
            }
            throw e;
        }
        if (r.data && r.data.id && r.data.description !== undefined) remember(r.data);
        toast(r.status === 'waiting' ? t('Saved on this device; it is sent when the connection returns.') : r.status === 'queued' ? t('Saved. It will show in a moment.') : existing ? t('Expense updated.') : t('Expense added.'));
        navigate(back);
    }, { fieldMap });

    // --- delete ----------------------------------------------------------------------------
    let del = null;
    if (existing) {
        const delKey = crypto.randomUUID();
        const confirmBox = h('div', { class: 'confirm', hidden: true, role: 'group', 'aria-labelledby': 'confirm-delete-text' },
            h('p', { id: 'confirm-delete-text' }, t('Delete “{what}”? It disappears from the balances; the activity log keeps it.', { what: existing.description })),
            h('div', { class: 'actions' },
                h('button', {
                    type: 'button', class: 'btn btn-danger', id: 'confirm-delete',
                    onclick: async (ev) => {
                        ev.currentTarget.disabled = true;
                        try {
                            const r = await writeOrQueue('DELETE', `groups/${gid}/expenses/${existing.id}`, undefined, { key: delKey }, {
                                group: gid, kind: 'expense', action: 'delete',
                                preview: { description: existing.description, amount: String(existing.amount), currency: existing.currency ?? gcur, date: existing.date },
                            });
                            expenseCache.delete(existing.id);
                            toast(r.status === 'waiting' ? t('Saved on this device; it is sent when the connection returns.') : t('Expense deleted.'));
                            navigate(back);
                        } catch (e) {
                            ev.target.disabled = false;
                            toast(`${t('Could not delete.')} ${problemSentence(e)}`, 'error');
                        }
                    },
                }, t('Yes, delete it')),
                h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => { confirmBox.hidden = true; delBtn.focus(); } }, t('Keep it'))));
        const delBtn = h('button', {
            type: 'button', class: 'btn btn-danger-ghost', id: 'delete-expense',
            onclick: () => { confirmBox.hidden = false; confirmBox.querySelector('#confirm-delete').focus(); },
        }, t('Delete expense'));
        del = h('section', { class: 'danger-zone', 'aria-label': t('Delete this expense') }, delBtn, confirmBox);
    }

    const title = existing ? t('Edit “{what}”', { what: existing.description }) : t('Add an expense');
    page(title,
        h('nav', { class: 'crumbs', 'aria-label': t('Breadcrumb') }, h('a', { href: back }, `← ${group.name}`)),
        h('h1', {}, existing ? t('Edit expense') : t('Add an expense')),
        existing ? h('p', { class: 'muted' }, t(exponent(existing.currency ?? gcur) === 0 ? 'Amounts in whole units of {currency}. Saved changes replace the expense for everyone.' : 'Amounts in decimals of {currency}. Saved changes replace the expense for everyone.', { currency: existing.currency ?? gcur })) : null,
        form, del);
    if (itemsInit) items.fill(itemsInit.split, itemsInit.cur);
    refresh();
    refreshRepeat();
}
