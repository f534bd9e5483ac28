// Helpers for the browser tests (node:test + playwright-core driving Debian's chromium).
// scripts/test.sh runs them against the e2e section's private stack (BASE_URL); by hand,
// against `make up`: `cd tests/browser && npm ci && BASE_URL=http://127.0.0.1:8080 node --test`.

import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { api, BASE_URL, registerUser, uniqueEmail, waitFor } from '../e2e/lib.mjs';

export { api, BASE_URL, registerUser, uniqueEmail, waitFor };

const here = dirname(fileURLToPath(import.meta.url));
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? join(here, '..', 'artifacts', 'screenshots');

// The flags known to work here: no sandbox (root), no GPU, and no background connections
// (this machine's network is closed; Chromium would try Google's hosts at every start).
// Playwright gives every launch a fresh, empty profile directory of its own.
const CHROMIUM_ARGS = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions', '--mute-audio',
];

export async function launch() {
    return chromium.launch({
        executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: 60_000,
    });
}

/**
 * A new context and page that record every console error, page error and CSP violation.
 * Failed API answers (4xx the test provoked on purpose) are allowed; a failed static file is not.
 * @returns {Promise<{context, page, problems: string[], assertClean: () => void}>}
 */
export async function openPage(browser, { viewport = { width: 1280, height: 900 }, ...opts } = {}) {
    const context = await browser.newContext({ baseURL: BASE_URL, viewport, acceptDownloads: true, ...opts });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const problems = [];
    const allowed = [];
    page.on('console', (msg) => {
        if (msg.type() !== 'error' && msg.type() !== 'warning') return;
        const text = msg.text();
        const url = msg.location()?.url ?? '';
        if (msg.type() === 'warning' && !/Content Security Policy|Refused/i.test(text)) return;
        if (/^Failed to load resource: the server responded with a status of (4\d\d)/.test(text) && url.includes('/api/')) return;
        if (allowed.some((re) => re.test(text))) return;
        problems.push(`console ${msg.type()}: ${text} ${url}`);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    // Securitypolicyviolation events reach the page; forward them where we can see them.
    await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
            console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
        });
    });
    return {
        context,
        page,
        problems,
        /** Tolerate console errors matching re (a failure the test provokes on purpose). */
        allow(re) {
            allowed.push(re);
        },
        assertClean() {
            if (problems.length) throw new Error(`browser reported problems:\n${problems.join('\n')}`);
        },
    };
}

// DOC_SCREENSHOTS=1: screens.test.mjs writes the screenshots shown in docs/WEB.md to
// docs/img/web/ (committed); otherwise they go with the others to SCREENSHOT_DIR.
export const DOC_SCREENSHOT_DIR = process.env.DOC_SCREENSHOTS === '1' ? join(here, '..', '..', 'docs', 'img', 'web') : SCREENSHOT_DIR;

export async function screenshot(page, name, { fullPage = true, dir = SCREENSHOT_DIR } = {}) {
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, `${name}.png`), fullPage });
}

/** Register through the UI; returns {email, password, name}. */
export async function registerViaUI(page, name, { next } = {}) {
    const email = uniqueEmail(name.toLowerCase());
    const password = 'correct horse battery';
    await page.goto(next ? `/#/register?next=${encodeURIComponent(next)}` : '/#/register');
    await page.getByLabel('Your name').fill(name);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#logout').waitFor();
    return { email, password, name };
}

/** The two window sizes the everyday tests run at. */
export const SIZES = [
    ['desktop', { viewport: { width: 1280, height: 900 } }],
    ['phone', { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }],
];

/**
 * A page (openPage's, English unless opts.locale says otherwise) logged in as `who` ({token,
 * user}, from registerUser): the token put where the client keeps it.
 */
export async function loggedInAs(browser, who, opts = {}) {
    const ctx = await openPage(browser, { locale: 'en-US', ...opts });
    await ctx.context.addInitScript(([token, user]) => {
        if (!localStorage.getItem('splitter.token')) {
            localStorage.setItem('splitter.token', token);
            localStorage.setItem('splitter.user', JSON.stringify(user));
        }
    }, [who.token, who.user]);
    return ctx;
}

/** Go to a hash route and wait until its page is drawn (not the heading of the page before:
 * a change of hash alone keeps the document). The route already shown is loaded again (going
 * to the same URL would draw nothing new). */
export async function openRoute(page, hash) {
    await page.evaluate(() => document.querySelector('h1')?.setAttribute('data-left', '')).catch(() => {});
    if (page.url() === new URL(`/${hash}`, BASE_URL).href) await page.reload();
    else await page.goto(`/${hash}`);
    await page.locator('h1:not([data-left])').waitFor();
    await settled(page);
}

/** POST an expense (or a payment, with kind 'payments') through the API; waits for it applied
 * (past the Prefer: wait bound too, when a loaded machine applies it later). */
export async function addEntry(gid, token, body, kind = 'expenses') {
    const r = await api('POST', `/api/v1/groups/${gid}/${kind}`, { token, headers: { Prefer: 'wait=5' }, body });
    if (r.status === 201) return r.json;
    if (r.status !== 202) throw new Error(`POST ${kind} answered ${r.status}: ${r.text}`);
    const ev = await waitFor(async () => {
        const e = await api('GET', `/api/v1/events/${r.json.event_id}`, { token });
        return e.json?.status !== 'queued' && e.json;
    }, { timeoutMs: 60_000, intervalMs: 100, what: `event ${r.json.event_id} applied` });
    if (ev.status !== 'applied') throw new Error(`POST ${kind}: event ${ev.status}: ${JSON.stringify(ev.problem)}`);
    return r.json;
}

/** A group made by `token`'s user with members (without accounts) of these names; returns
 * the group resource, its creator first among the members. */
export async function createGroup(token, name, memberNames = [], currency = 'EUR') {
    const g = await api('POST', '/api/v1/groups', { token, body: { name, currency } });
    if (g.status !== 201) throw new Error(`POST groups answered ${g.status}: ${g.text}`);
    for (const m of memberNames) {
        const r = await api('POST', `/api/v1/groups/${g.json.id}/members`, { token, body: { name: m } });
        if (r.status !== 201) throw new Error(`POST members answered ${r.status}: ${r.text}`);
    }
    return (await api('GET', `/api/v1/groups/${g.json.id}`, { token })).json;
}

/**
 * `n` coffees in a group of three or more, 20 a month from September 2026: "Coffee i" costs
 * 3.00 + (i - 1) cents, paid by the first member when i is odd and the second when even,
 * split equally between the first three; every third (i = 1, 4, 7…) is "transport", the
 * rest "food".
 */
export async function addCoffees(group, token, n = 60) {
    const [a, b, c] = group.members.map((m) => m.id);
    for (let i = 0; i < n; i++) {
        const month = String(9 + Math.floor(i / 20)).padStart(2, '0');
        const day = String(1 + (i % 20)).padStart(2, '0');
        await addEntry(group.id, token, {
            description: `Coffee ${i + 1}`, amount: 300 + i, date: `2026-${month}-${day}`,
            category: i % 3 ? 'food' : 'transport',
            paid_by: [{ member_id: i % 2 ? b : a, amount: 300 + i }],
            split: { mode: 'equal', members: [{ member_id: a }, { member_id: b }, { member_id: c }] },
        });
    }
}

/** The URLs of the POSTs the page sends to URLs matching `re`, as they go. */
export function watchPosts(page, re) {
    const posts = [];
    page.on('request', (r) => {
        if (r.method() === 'POST' && re.test(r.url())) posts.push(r.url());
    });
    return posts;
}

export async function tokenOf(page) {
    return page.evaluate(() => localStorage.getItem('splitter.token'));
}

/**
 * A browser with one page, registered through the UI as name and landed on its groups.
 * @returns {Promise<{browser, ctx, page, token: string}>}
 */
export async function signedInBrowser(name, opts = { locale: 'en-US' }) {
    const browser = await launch();
    const ctx = await openPage(browser, opts);
    const page = ctx.page;
    await page.goto('/');
    await waitForRoute(page, /^#\/login/);
    await registerViaUI(page, name);
    await page.getByRole('heading', { name: 'Your groups' }).waitFor();
    return { browser, ctx, page, token: await tokenOf(page) };
}

/** The group id from the current #/groups/<id>... URL. */
export function groupIdOf(page) {
    const m = /#\/groups\/([0-9a-f-]{36})/.exec(page.url());
    if (!m) throw new Error(`not on a group page: ${page.url()}`);
    return m[1];
}

/**
 * The page is drawn: loaded, and no section still says "Loading…". (Not "networkidle": a group
 * page keeps its live-update stream open for as long as it is shown.)
 */
export async function settled(page) {
    await page.waitForLoadState('load');
    await page.waitForFunction(() => !document.querySelector('.loading'));
}

/** Wait until the hash route matches. */
export async function waitForRoute(page, re) {
    await page.waitForFunction((src) => new RegExp(src).test(location.hash), re.source);
}

/** Checks a screen reader relies on, by querying the DOM: labels and accessible names. */
export async function a11yProblems(page) {
    return page.evaluate(() => {
        const out = [];
        const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) && getComputedStyle(el).visibility !== 'hidden';
        const name = (el) => (el.getAttribute('aria-label') || '').trim() ||
            (el.getAttribute('aria-labelledby') || '').split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? '').join(' ').trim() ||
            [...(el.labels ?? [])].map((l) => l.textContent).join(' ').trim() ||
            (el.textContent ?? '').trim() || (el.getAttribute('title') || '').trim();
        for (const el of document.querySelectorAll('input, select, textarea')) {
            if (el.type === 'hidden') continue;
            const labelled = (el.labels && el.labels.length > 0 && [...el.labels].some((l) => l.textContent.trim())) ||
                el.hasAttribute('aria-label') || el.hasAttribute('aria-labelledby');
            if (!labelled) out.push(`input without a label: ${el.outerHTML.slice(0, 120)}`);
        }
        for (const el of document.querySelectorAll('button, a[href], [role="button"]')) {
            if (!visible(el)) continue;
            if (!name(el)) out.push(`control without an accessible name: ${el.outerHTML.slice(0, 120)}`);
        }
        for (const img of document.querySelectorAll('img')) {
            if (!img.hasAttribute('alt')) out.push(`img without alt: ${img.outerHTML.slice(0, 120)}`);
        }
        for (const svg of document.querySelectorAll('svg[role="img"]')) {
            if (!svg.getAttribute('aria-label') && !svg.querySelector('title')) out.push('chart without a text alternative');
        }
        if (!document.documentElement.lang) out.push('html without lang');
        if (document.querySelectorAll('h1').length !== 1) out.push(`expected one h1, found ${document.querySelectorAll('h1').length}`);
        const ids = new Map();
        for (const el of document.querySelectorAll('[id]')) ids.set(el.id, (ids.get(el.id) ?? 0) + 1);
        for (const [id, n] of ids) if (n > 1) out.push(`duplicate id ${id}`);
        return out;
    });
}
