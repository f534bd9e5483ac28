// Tiny DOM builders. Text always goes in through textContent / text nodes, never innerHTML, so
// names and descriptions typed by users can never become markup.

import { currentLocale } from './i18n.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs, isSvg) {
    for (const [k, v] of Object.entries(attrs ?? {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on') && typeof v === 'function') {
            el.addEventListener(k.slice(2).toLowerCase(), v);
        } else if (k === 'class') {
            el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
        } else if (k === 'dataset') {
            Object.assign(el.dataset, v);
        } else if (k === 'style') {
            throw new Error('no inline styles (CSP): use a class');
        } else if (!isSvg && (k === 'value' || k === 'checked' || k === 'disabled' || k === 'hidden')) {
            el[k] = v;
        } else {
            el.setAttribute(k === 'htmlFor' ? 'for' : k, v === true ? '' : String(v));
        }
    }
}

function append(el, children) {
    for (const c of children.flat(Infinity)) {
        if (c === undefined || c === null || c === false) continue;
        el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

/** h('button', {class: 'x', onclick}, 'text', child...) */
export function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    apply(el, attrs, false);
    append(el, children);
    return el;
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    apply(el, attrs, true);
    append(el, children);
    return el;
}

let uid = 0;
export const nextId = (prefix = 'f') => `${prefix}-${++uid}`;

/** A labelled form field: label, control, hint and an (initially empty) inline error. */
export function field({ label, control, hint, name, className }) {
    const id = control.id || nextId(name ?? 'f');
    control.id = id;
    if (name) control.name = name;
    const err = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
    const described = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(' ');
    control.setAttribute('aria-describedby', described);
    const wrap = h('div', { class: ['field', className], dataset: { field: name ?? '' } },
        h('label', { for: id }, label),
        control,
        hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
        err);
    return wrap;
}

/** Show (or clear, with null) the inline error of the field wrapping `control`. */
export function setFieldError(control, message) {
    const err = document.getElementById(`${control.id}-error`);
    if (!err) return false;
    err.textContent = message ?? '';
    err.hidden = !message;
    if (message) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
    return true;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The first user-perceived character of `text`, upper-cased ("👩‍👩‍👧 Kids" -> the whole family
 * emoji, never half of a surrogate pair); '' for an empty text. */
export function initial(text) {
    const s = String(text ?? '').trim();
    for (const { segment } of graphemes.segment(s)) return segment.toLocaleUpperCase();
    return '';
}

export function clear(el) {
    while (el.firstChild) el.firstChild.remove();
}

let toastTimer;
let toastPages = 0;
/** A short status message, announced politely to screen readers. It stays for the page it is
 * shown on and the one a form navigates to after it ("Expense added." above the balances), and
 * goes with the navigation after that, so it never lingers onto the next form. */
export function toast(message, kind = 'ok') {
    const t = document.getElementById('toast');
    if (!t) return;
    t.textContent = message;
    t.dataset.kind = kind;
    t.classList.add('show');
    toastPages = 0;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(hideToast, 4000);
}

function hideToast() {
    const t = document.getElementById('toast');
    t?.classList.remove('show');
    if (t) t.textContent = '';
}

/** Called for each navigation (see toast). */
export function toastNavigated() {
    toastPages += 1;
    if (toastPages > 1) {
        clearTimeout(toastTimer);
        hideToast();
    }
}

export function todayISO() {
    const d = new Date();
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

export function formatDate(iso) {
    if (!iso) return '';
    const d = /^\d{4}-\d\d-\d\d$/.test(iso) ? new Date(`${iso}T00:00:00`) : new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return d.toLocaleDateString(currentLocale(), { year: 'numeric', month: 'short', day: 'numeric' });
}

export function formatDateTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso ?? '';
    return d.toLocaleString(currentLocale(), { dateStyle: 'medium', timeStyle: 'short' });
}
