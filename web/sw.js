// splitter's service worker (scope /): the app shell and the last answers of each group's
// reads, so a group seen before opens without a connection. See docs/WEB.md, "Offline".
//
// - The shell (index.html, app.css, every module and catalogue, icons, manifest) is fetched
//   into a versioned cache at install. Static files are then read network first, each fresh
//   answer refreshing the cache, and the cache answers when the network cannot: a deploy is
//   picked up at once online, and offline the last version seen keeps working.
// - GET reads of a group (the group, its balances, settlements, expenses pages, payments,
//   members, activity, repeating expenses, invites, webhooks, one expense or payment) and of
//   the caller (/me, the list of groups) are network first too;
//   each 200 is kept by its URL, and offline the last one is answered with the header
//   `X-Splitter-Offline-Copy: <when it was fetched>` so the page can say so.
// - Writes, the event stream, auth and everything else are never touched (no respondWith).
// - The page deletes the data cache on logout and when the token stops working (the cache
//   holds one user's data; see js/offline.js).

const VERSION = 'v1';
const SHELL_CACHE = `splitter-shell-${VERSION}`;
const DATA_CACHE = 'splitter-data';

const SHELL = [
    '/', '/index.html', '/app.css', '/favicon.svg', '/manifest.webmanifest',
    '/icons/icon.svg', '/icons/maskable.svg',
    '/js/api.js', '/js/app.js', '/js/chain.js', '/js/charts.js', '/js/dom.js', '/js/expense.js',
    '/js/group.js', '/js/i18n.js', '/js/items.js', '/js/live.js', '/js/money.js', '/js/offline.js',
    '/js/problems.js', '/js/queue.js', '/js/state.js', '/js/ui.js', '/js/webhooks.js',
    '/js/locales/de.js', '/js/locales/es.js', '/js/locales/fr.js', '/js/locales/pt.js',
];

// The reads kept for offline use: a group and its lists, the caller and their groups.
const DATA_PATHS = [
    /^\/api\/v1\/groups\/[^/]+$/,
    /^\/api\/v1\/groups\/[^/]+\/(balances|settlements|expenses|payments|members|activity|recurrences|invites|webhooks)$/,
    /^\/api\/v1\/groups\/[^/]+\/(expenses|payments)\/[^/]+$/,
    /^\/api\/v1\/groups$/,
    /^\/api\/v1\/me$/,
    /^\/api\/v1\/me\/balances$/,
];

self.addEventListener('install', (event) => {
    event.waitUntil((async () => {
        const cache = await caches.open(SHELL_CACHE);
        await cache.addAll(SHELL.map((p) => new Request(p, { cache: 'reload' })));
        await self.skipWaiting();
    })());
});

self.addEventListener('activate', (event) => {
    event.waitUntil((async () => {
        for (const name of await caches.keys()) {
            if (name.startsWith('splitter-shell-') && name !== SHELL_CACHE) await caches.delete(name);
        }
        await self.clients.claim();
    })());
});

/**
 * Network first; a 200 refreshes the cache (after the answer is handed over: the page does
 * not wait for the cache); the cache answers when the network fails.
 */
async function staticFirst(event) {
    const request = event.request;
    const cache = await caches.open(SHELL_CACHE);
    try {
        const res = await fetch(request);
        if (res.status === 200 && res.type === 'basic') event.waitUntil(cache.put(request, res.clone()));
        return res;
    } catch (err) {
        const hit = await cache.match(request, { ignoreSearch: request.mode === 'navigate' }) ??
            (request.mode === 'navigate' ? await cache.match('/index.html') : undefined);
        if (hit) return hit;
        throw err;
    }
}

/** Network first for a group's reads; offline, the last answer marked as an offline copy. */
async function dataFirst(event) {
    const request = event.request;
    try {
        const res = await fetch(request);
        if (res.status === 200) {
            const fetchedAt = new Date().toISOString();
            const body = res.clone();
            event.waitUntil((async () => {
                const headers = new Headers(body.headers);
                headers.set('X-Splitter-Fetched-At', fetchedAt);
                const copy = new Response(await body.blob(), { status: 200, statusText: body.statusText, headers });
                await (await caches.open(DATA_CACHE)).put(request.url, copy);
            })());
        }
        return res;
    } catch (err) {
        const cache = await caches.open(DATA_CACHE);
        const hit = await cache.match(request.url, { ignoreVary: true });
        if (!hit) throw err;
        const headers = new Headers(hit.headers);
        headers.set('X-Splitter-Offline-Copy', hit.headers.get('X-Splitter-Fetched-At') ?? '');
        return new Response(await hit.blob(), { status: 200, statusText: hit.statusText, headers });
    }
}

self.addEventListener('fetch', (event) => {
    const request = event.request;
    if (request.method !== 'GET') return;
    const url = new URL(request.url);
    if (url.origin !== self.location.origin) return;
    if (url.pathname.startsWith('/api/')) {
        if (DATA_PATHS.some((re) => re.test(url.pathname))) event.respondWith(dataFirst(event));
        return;
    }
    if (url.pathname === '/sw.js') return;
    event.respondWith(staticFirst(event));
});
