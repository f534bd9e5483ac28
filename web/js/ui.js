// Shared page plumbing: navigation, page rendering with focus management, and forms that
// submit once at a time and show RFC 9457 problems inline.

import { ApiError } from './api.js';
import { clear, h, setFieldError, toastNavigated } from './dom.js';
import { fieldSentence, looseFieldSentence, problemSentence } from './problems.js';

const main = () => document.getElementById('main');

let routeSeq = 0;
/** Called by the router for each navigation. */
export function startRoute() {
    routeSeq += 1;
    toastNavigated();
}
/**
 * For a view, before its first await: a function telling whether the view is still the one
 * the reader wants (a slow view must not paint over the page that replaced it).
 */
export function routeAlive() {
    const mine = routeSeq;
    return () => mine === routeSeq;
}

/**
 * Scroll to y, waiting up to 3 s for a list that loads as it scrolls to grow tall enough; stops
 * early once `alive()` says the page was left.
 */
export async function restoreScroll(y, alive = () => true) {
    const until = Date.now() + 3000;
    for (;;) {
        window.scrollTo(0, y);
        if (Math.abs(window.scrollY - y) < 2 || Date.now() > until || !alive()) return;
        await new Promise((r) => setTimeout(r, 100));
    }
}

export function navigate(hash) {
    if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = hash;
}

/** Title, heading focus and the page body for a view. */
export function page(title, ...children) {
    document.title = title ? `${title} · splitter` : 'splitter';
    const m = main();
    clear(m);
    m.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
    const h1 = m.querySelector('h1');
    if (h1) {
        h1.tabIndex = -1;
        // Move focus to the new page's heading, so screen readers announce the navigation
        // and Tab continues from the top of the content.
        if (!document.activeElement || document.activeElement === document.body ||
            !m.contains(document.activeElement)) {
            h1.focus({ preventScroll: true });
        }
    }
}

/** Show a problem's field errors inline, in sentences for people; the rest (or a sentence for
 * the problem) in the form's alert. Focus then goes to the first invalid field, or to the alert
 * when no field can take it, so the reader lands on what needs fixing. */
export function showProblem(form, err, fieldMap = (f) => form.querySelector(`[name="${CSS.escape(f)}"]`)) {
    const alert = form.querySelector('.form-alert');
    for (const el of form.querySelectorAll('[aria-invalid="true"]')) setFieldError(el, null);
    const rest = [];
    if (err instanceof ApiError) {
        for (const e of err.errors) {
            const el = e.field ? fieldMap(e.field) : null;
            if (!(el && setFieldError(el, fieldSentence(e)))) rest.push(looseFieldSentence(e));
        }
    }
    const msg = err instanceof ApiError && err.problem.human ? err.problem.human : problemSentence(err);
    if (alert) {
        clear(alert);
        alert.append(h('p', {}, msg));
        // append(null) would add the text "null".
        if (rest.length) alert.append(h('ul', {}, rest.map((r) => h('li', {}, r))));
        alert.hidden = false;
    }
    focusFirstInvalid(form, alert);
}

/** Focus the first invalid control (the first control inside an invalid fieldset), else the
 * form's alert. */
export function focusFirstInvalid(form, alert = form.querySelector('.form-alert')) {
    const first = form.querySelector('[aria-invalid="true"]');
    let target = first;
    if (first && first.tagName === 'FIELDSET') {
        // A value to type in before a box to tick; neither when hidden or disabled.
        const usable = (sel) => [...first.querySelectorAll(sel)].find((el) => !el.disabled && el.offsetParent !== null);
        target = usable('input[type="text"], select, textarea') ?? usable('input');
    }
    if (target) target.focus();
    else if (alert && !alert.hidden) alert.focus();
}

export function formAlert() {
    return h('div', { class: 'form-alert', role: 'alert', tabindex: '-1', hidden: true });
}

/** Wire a form: one submission at a time, button busy state, errors shown inline. */
export function onSubmit(form, handler, { fieldMap } = {}) {
    let busy = false;
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (busy) return;
        busy = true;
        const btn = form.querySelector('button[type="submit"]');
        if (btn) {
            btn.disabled = true;
            btn.setAttribute('aria-busy', 'true');
        }
        const alert = form.querySelector('.form-alert');
        if (alert) alert.hidden = true;
        try {
            await handler();
        } catch (err) {
            if (!(err instanceof ApiError)) console.warn(err);
            showProblem(form, err, fieldMap);
        } finally {
            busy = false;
            if (btn && btn.isConnected) {
                btn.disabled = false;
                btn.removeAttribute('aria-busy');
            }
        }
    });
}

