// Inline SVG charts, drawn from exact BigInt amounts. Geometry uses Numbers (a bar's length is
// a proportion, not money); every label is formatted from the exact amount. Colours come from
// CSS classes (the CSP forbids inline styles), so dark mode applies to charts too. Each chart
// is role="img" with a text alternative listing every value.

import { currentLocale, t } from './i18n.js';
import { h, s } from './dom.js';
import { big, formatMoney } from './money.js';

/** Draw at about the size shown, so that 14px text stays 14px on a phone and on a desktop. */
function chartWidth() {
    const main = document.getElementById('main');
    const w = main ? main.clientWidth - 72 : 640;
    return Math.round(Math.max(300, Math.min(760, w)));
}

const ratio = (a, b) => (b === 0n ? 0 : Number((a * 10000n) / b) / 10000);
const abs = (v) => (v < 0n ? -v : v);

function figure(title, svg, summary, className) {
    return h('figure', { class: ['chart', className] },
        h('figcaption', {}, title),
        svg,
        h('p', { class: 'visually-hidden' }, summary));
}

/**
 * Diverging horizontal bars: one per member; right (positive) = is owed, left = owes.
 * @param {{name: string, balance: bigint|number}[]} rows
 */
export function balanceChart(rows, currency) {
    const data = rows.map((r) => ({ name: r.name, v: big(r.balance) }));
    const max = data.reduce((m, d) => (abs(d.v) > m ? abs(d.v) : m), 0n);
    const rowH = 36;
    const W = chartWidth();
    const labelW = Math.min(150, Math.round(W * 0.24));
    const mid = labelW + (W - labelW) / 2;
    const half = (W - labelW) / 2 - 8;
    const H = data.length * rowH + 12;
    const summary = data.map((d) => `${d.name}: ${t(d.v > 0n ? 'is owed {amount}' : d.v < 0n ? 'owes {amount}' : 'settled {amount}', { amount: formatMoney(abs(d.v), currency) })}`).join('; ');
    const svg = s('svg', {
        viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img',
        'aria-label': `${t('Balances')}: ${summary}`, preserveAspectRatio: 'xMinYMin meet',
    });
    svg.append(s('line', { x1: mid, x2: mid, y1: 0, y2: H, class: 'axis' }));
    data.forEach((d, i) => {
        const y = 6 + i * rowH;
        const len = Math.max(d.v === 0n ? 0 : 2, ratio(abs(d.v), max) * half);
        const x = d.v >= 0n ? mid : mid - len;
        const cls = d.v > 0n ? 'bar-pos' : d.v < 0n ? 'bar-neg' : 'bar-zero';
        const label = formatMoney(d.v, currency, { sign: 'exceptZero' });
        const g = s('g', { class: 'bar-row' },
            s('title', {}, `${d.name}: ${label}`),
            s('text', { x: 0, y: y + rowH / 2, class: 'bar-label', 'dominant-baseline': 'middle' }, truncate(d.name, W < 480 ? 10 : 18)),
            s('rect', { x, y: y + 6, width: len, height: rowH - 14, rx: 4, class: cls }));
        const valueOutside = d.v >= 0n ? { x: mid + len + 6, anchor: 'start' } : { x: mid - len - 6, anchor: 'end' };
        // Keep the value text inside the drawing: put it on the other side of the axis if needed.
        let vx = valueOutside.x;
        let anchor = valueOutside.anchor;
        if (d.v > 0n && len > half - 80) { vx = mid - 6; anchor = 'end'; }
        if (d.v < 0n && len > half - 80) { vx = mid + 6; anchor = 'start'; }
        g.append(s('text', { x: vx, y: y + rowH / 2, class: `bar-value ${cls}-text`, 'text-anchor': anchor, 'dominant-baseline': 'middle' }, label));
        svg.append(g);
    });
    return figure(t('Who is owed, who owes'), svg, `${t('Balances')}. ${summary}.`, 'chart-balances');
}

/** Horizontal bars, largest first: [{label, value: bigint}]. */
export function barList(title, items, currency, className) {
    const data = [...items].sort((a, b) => (a.value === b.value ? 0 : a.value > b.value ? -1 : 1));
    const max = data.reduce((m, d) => (d.value > m ? d.value : m), 0n);
    const total = data.reduce((t, d) => t + d.value, 0n);
    const rowH = 34;
    const W = chartWidth();
    const labelW = Math.min(150, Math.round(W * 0.3));
    const barMax = W - labelW - 110;
    const H = Math.max(1, data.length) * rowH + 8;
    const summary = data.map((d) => `${d.label}: ${formatMoney(d.value, currency)}`).join('; ');
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img', 'aria-label': `${title}: ${summary || t('nothing yet')}` });
    data.forEach((d, i) => {
        const y = 4 + i * rowH;
        const len = Math.max(2, ratio(d.value, max) * barMax);
        const pct = total === 0n ? 0 : Number((d.value * 1000n) / total) / 10;
        svg.append(s('g', { class: 'bar-row' },
            s('title', {}, `${d.label}: ${formatMoney(d.value, currency)} (${pct}%)`),
            s('text', { x: 0, y: y + rowH / 2, class: 'bar-label', 'dominant-baseline': 'middle' }, truncate(d.label, 18)),
            s('rect', { x: labelW, y: y + 6, width: len, height: rowH - 12, rx: 4, class: `bar-cat bar-cat-${i % 8}` }),
            s('text', { x: labelW + len + 6, y: y + rowH / 2, class: 'bar-value', 'dominant-baseline': 'middle' }, formatMoney(d.value, currency))));
    });
    return figure(title, svg, `${title}. ${summary}.`, className);
}

/** Vertical columns over time: [{label, value: bigint}] in time order. */
export function columns(title, items, currency, className) {
    const max = items.reduce((m, d) => (d.value > m ? d.value : m), 0n);
    const W = chartWidth();
    const H = 240;
    const top = 24;
    const bottom = 40;
    const plotH = H - top - bottom;
    const n = Math.max(1, items.length);
    const slot = (W - 20) / n;
    const barW = Math.min(56, slot * 0.7);
    const summary = items.map((d) => `${d.label}: ${formatMoney(d.value, currency)}`).join('; ');
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img', 'aria-label': `${title}: ${summary || t('nothing yet')}` });
    svg.append(s('line', { x1: 10, x2: W - 10, y1: H - bottom, y2: H - bottom, class: 'axis' }));
    const every = Math.ceil(items.length / Math.max(3, Math.floor(W / 60)));
    items.forEach((d, i) => {
        const hgt = Math.max(2, ratio(d.value, max) * plotH);
        const cx = 10 + slot * i + slot / 2;
        const g = s('g', { class: 'bar-row' },
            s('title', {}, `${d.label}: ${formatMoney(d.value, currency)}`),
            s('rect', { x: cx - barW / 2, y: H - bottom - hgt, width: barW, height: hgt, rx: 3, class: 'bar-time' }));
        if (i % every === 0) {
            g.append(s('text', { x: cx, y: H - bottom + 18, class: 'bar-label', 'text-anchor': 'middle' }, d.label));
        }
        if (slot >= 70) {
            g.append(s('text', { x: cx, y: H - bottom - hgt - 6, class: 'bar-value', 'text-anchor': 'middle' }, formatMoney(d.value, currency)));
        }
        svg.append(g);
    });
    return figure(title, svg, `${title}. ${summary}.`, className);
}

function truncate(text, n) {
    const t = String(text);
    return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

/** Spending per category and per month (or per day within one month) from expenses. */
export function spendingSeries(expenses) {
    const byCat = new Map();
    const byDay = new Map();
    for (const e of expenses) {
        const v = big(e.amount_in_group_currency ?? e.amount);
        const cat = (e.category || '').trim() || t('uncategorised');
        byCat.set(cat, (byCat.get(cat) ?? 0n) + v);
        const day = String(e.date ?? e.created_at ?? '').slice(0, 10);
        byDay.set(day, (byDay.get(day) ?? 0n) + v);
    }
    const days = [...byDay.keys()].sort();
    const months = new Set(days.map((d) => d.slice(0, 7)));
    let time;
    if (months.size > 1) {
        const byMonth = new Map();
        for (const d of days) byMonth.set(d.slice(0, 7), (byMonth.get(d.slice(0, 7)) ?? 0n) + byDay.get(d));
        time = [...byMonth.entries()].map(([m, value]) => ({
            label: new Date(`${m}-01T00:00:00`).toLocaleDateString(currentLocale(), { month: 'short', year: '2-digit' }),
            value,
        }));
    } else {
        time = days.map((d) => ({
            label: new Date(`${d}T00:00:00`).toLocaleDateString(currentLocale(), { month: 'short', day: 'numeric' }),
            value: byDay.get(d),
        }));
    }
    return {
        categories: [...byCat.entries()].map(([label, value]) => ({ label, value })),
        time,
    };
}
