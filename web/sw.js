/**
 * edge-infer's service worker: after one visit the app loads and classifies offline, and a
 * deploy never serves a page a mix of two versions.
 *
 * What is cached. `vendor/precache.json`, written by tools/setup.py, lists the app shell
 * (every file under web/ except vendor/, examples/ and this file), the runtime (vendor.json
 * and every file it lists) and the default model with its manifest, each with its sha256.
 * Its `version` is a hash over all of those hashes. This worker reads the same data from
 * `vendor/precache.js` (importScripts). After editing any app file, run `npm run setup`
 * (`npm start` and `npm test` already do), then reload twice (the first reload installs the
 * new version, the second shows it). Until setup runs the list is stale: installs fail their
 * hash check and the last good version keeps being served. `?sw=off` on the page removes the
 * worker while you develop (lib/offline.js).
 *
 * Why no page sees a mix:
 *
 * 1. A version is bound to one worker. The browser stores imported scripts with the worker
 *    and compares them byte for byte on every update check (each navigation), so changed
 *    asset hashes make a new worker, and a worker never changes its list.
 * 2. Install is all-or-nothing. The new worker fetches every listed file (revalidating the
 *    HTTP cache, except for content-addressed URLs), checks its sha256 and stores it in its own cache `edge-infer-<version>`;
 *    a marker entry written last says the cache is complete. Any failure (a file changed
 *    mid-deploy, offline, quota) deletes that cache and fails the install, and the old
 *    worker stays in charge. Only this worker reads its cache, and only once it is active,
 *    which needs a good install.
 * 3. A worker answers only from its own cache, or, for a content-addressed URL (whose bytes
 *    are fixed by its path), from the browser's HTTP cache when that holds it (see serve). A page is controlled by one worker for its
 *    whole life, and its dedicated workers (the inference worker, onnxruntime's threads) by
 *    the same one, so the document, its modules, the runtime and the model all come from one
 *    version. Unlisted files (other models, examples, bench) go to the network untouched;
 *    content-addressed ones (another model with its hooks file and wheels, micropip) are
 *    then answered by the browser's HTTP cache once used, offline too.
 * 4. No clients.claim(): it would hand a page that loaded from the network (maybe a different
 *    version) to this worker's cache mid-life. The first visit stays uncontrolled; every
 *    later load is served entirely by one version.
 * 5. skipWaiting() only when no page of the old version is left. A new worker normally waits
 *    until no page uses the old one (closing every tab updates). But a reload of the only tab
 *    would never update: the page being replaced still counts as a client when its reload is
 *    fetched. So the old worker answers that navigation with an empty "updating" page that
 *    loads nothing, waits until no other client of its own is left (the old document and its
 *    workers are gone), and only then tells the new worker to skip waiting. The new worker
 *    then controls the empty page and tells it to reload, which it serves. A navigation cannot
 *    tell which page it replaces, so a new tab opened next to an old page gets the empty page
 *    too: the old page does not go away, the wait gives up (HAND_OVER_WAIT_MS), and the empty
 *    page reloads into the old version as usual. The empty page waits for a message instead
 *    of refreshing itself at once, because a navigation that reaches the old worker while it
 *    retires can hang in Chrome (the worker is restarted in between, and its clients API may
 *    not answer). For the same reason the "handed over" state is kept on disk, not in memory.
 * 6. Activate deletes every other edge-infer cache. No one can read them any more: the old
 *    worker is redundant, and any page still open is controlled by this worker (none
 *    normally; after a skip, only empty "updating" pages).
 *
 * COOP/COEP (and CSP) survive offline: the cache keeps each response with its headers, so a
 * page served from here is still cross-origin isolated (threads work offline).
 *
 * Message API (for the page, tests and curious people; see lib/offline.js):
 * `{type: 'edge-infer:status'}` on a MessageChannel answers
 * `{version, cache, complete, files, served}` where `served` lists, for the asking page and
 * its workers, every request this worker answered: `{url, cache}` (`cache` null = network,
 * `'http-cache'` = the browser's HTTP cache).
 */
/* global EDGE_INFER_PRECACHE */
importScripts('vendor/precache.js');

const PRECACHE = self.EDGE_INFER_PRECACHE;
const CACHE = PRECACHE.cache; // `edge-infer-<version>`
const CACHE_PREFIX = 'edge-infer-';
const SCOPE = new URL(self.registration.scope);
const MARKER = new URL('__edge-infer-precache-complete', SCOPE).href;
const LISTED = new Map(PRECACHE.files.map((f) => [new URL(f.url, SCOPE).href, f]));
const PARALLEL = 4;
const HAND_OVER_WAIT_MS = 2000; // how long a reload waits for the old page to go away
const HAND_OVER_GIVE_UP_MS = 10000; // a hand-over that has not happened by then is abandoned
const CLIENTS_TIMEOUT_MS = 1000; // see handOverOrServe
// Written in this version's cache just before this worker tells the new one to take over.
const HANDED_OVER = new URL('__edge-infer-handed-over', SCOPE).href;
const RELOAD = 'edge-infer:reload'; // tells an "updating" page to reload
// The "updating" page's only code: reload when told to, when the controller changes, or at
// the latest after HAND_OVER_GIVE_UP_MS. Allowed by its own CSP through its hash.
const UPDATING_SCRIPT = `const sw = navigator.serviceWorker;
const reload = () => location.reload();
sw.onmessage = (event) => event.data?.type === '${RELOAD}' && reload();
sw.addEventListener('controllerchange', reload);
setTimeout(reload, ${HAND_OVER_GIVE_UP_MS});`;
const updatingScriptHash = crypto.subtle
  .digest('SHA-256', new TextEncoder().encode(UPDATING_SCRIPT))
  .then((d) => btoa(String.fromCharCode(...new Uint8Array(d))));
const updatingPages = new Set(); // client ids of our "updating" pages (they load nothing)
let handOverSince = 0; // when the pending hand-over's first "updating" page was sent
let handOverWatch = null; // the running handOver(), if any
const served = []; // diagnostics for the status message, bounded
const parents = new Map(); // worker client id -> the client that started it
const MAX_SERVED = 2000;
const HTTP_CACHE = 'http-cache'; // `served` entries answered from the browser's HTTP cache

self.addEventListener('install', (event) => {
  event.waitUntil(install());
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
      }
      // After a skip the only pages are "updating" pages of the old worker, now ours: reload
      // them (messages wait in their queue, so none is missed). App pages ignore the message.
      for (const client of await self.clients.matchAll({ type: 'window', includeUncontrolled: true })) {
        client.postMessage({ type: RELOAD });
      }
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const key = cacheKey(request.url);
  if (!key) return; // another origin, or outside our scope
  if (request.destination === 'worker' && event.resultingClientId) parents.set(event.resultingClientId, event.clientId);
  if (request.destination === 'document' && self.registration.waiting && LISTED.has(key)) {
    event.respondWith(handOverOrServe(event, key));
    return;
  }
  if (!LISTED.has(key)) {
    record(event, key, null);
    return; // not ours: the browser fetches it as if we were not here
  }
  event.respondWith(serve(event, key));
});

self.addEventListener('message', (event) => {
  const { type } = event.data ?? {};
  if (type === 'edge-infer:skip-waiting') {
    self.skipWaiting();
  } else if (type === 'edge-infer:status') {
    status(event.source?.id).then((value) => event.ports[0]?.postMessage(value));
  }
});

/** Fill this version's cache: every file fetched, hash-checked, stored; then the marker. */
async function install() {
  const cache = await caches.open(CACHE);
  if (await cache.match(MARKER)) return; // complete already (the same version, registered again)
  try {
    const queue = [...LISTED.entries()];
    const worker = async () => {
      while (queue.length) {
        const [url, file] = queue.shift();
        // A content-addressed URL (vendor/<root>/..., models/<sha256>/...) never changes its
        // bytes, so the HTTP cache's copy is as good as the server's: no revalidation.
        const response = await fetch(url, { cache: file.immutable ? 'default' : 'no-cache' });
        if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
        const digest = await sha256Hex(await response.clone().arrayBuffer());
        if (digest !== file.sha256) throw new Error(`${url} has sha256 ${digest}, the list says ${file.sha256} (run npm run setup?)`);
        await cache.put(url, response);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    await cache.put(MARKER, new Response(JSON.stringify({ version: PRECACHE.version, files: LISTED.size })));
  } catch (err) {
    await caches.delete(CACHE); // all or nothing: no half-filled cache survives
    console.error(`edge-infer service worker: version ${PRECACHE.version} not installed: ${err.message}`);
    throw err;
  }
}

/**
 * Answer a listed URL from this version's cache (the network only if the entry is gone).
 * A content-addressed file (its bytes are its URL's) comes from the browser's HTTP cache
 * when it is there: V8 keeps the compiled WebAssembly of a response from the HTTP cache,
 * and a revisit then reuses it, while a response from Cache Storage got its compiled code
 * one visit later (bench/trace_cache.py --sw). This cache is the fallback, offline included.
 */
async function serve(event, key) {
  if (LISTED.get(key).immutable) {
    const hit = await fetch(key, { cache: 'only-if-cached', mode: 'same-origin' }).catch(() => null);
    if (hit?.ok) {
      record(event, key, HTTP_CACHE);
      return hit;
    }
  }
  const cached = await caches.match(key, { cacheName: CACHE });
  record(event, key, cached ? CACHE : null);
  return cached ?? fetch(event.request);
}

/**
 * A navigation while a new version waits (point 5 above). Once the take-over was requested,
 * this worker must never serve a page again (it would be taken over mid-life): every
 * navigation gets an "updating" page. No await here may hang a navigation.
 */
async function handOverOrServe(event, key) {
  if (await within(CLIENTS_TIMEOUT_MS, handedOver(), true)) return updatingPage(event);
  const windows = await within(CLIENTS_TIMEOUT_MS, self.clients.matchAll({ type: 'window' }), null);
  if (!windows) return updatingPage(event);
  const pages = windows.filter((c) => !updatingPages.has(c.id)).length;
  const reloading = windows.length > pages; // an "updating" page reloads: it replaces itself
  const stuck = handOverSince && Date.now() - handOverSince > HAND_OVER_GIVE_UP_MS;
  if (stuck || pages > (reloading ? 0 : 1)) {
    handOverSince = 0;
    return serve(event, key);
  }
  handOverSince ||= Date.now();
  // One watcher at a time: Chrome delays a skip until the old worker has no event in flight.
  if (!handOverWatch) {
    handOverWatch = handOver().finally(() => {
      handOverWatch = null;
    });
    event.waitUntil(handOverWatch);
  }
  return updatingPage(event);
}

/** An empty page that loads nothing and reloads when told to (see UPDATING_SCRIPT). */
async function updatingPage(event) {
  updatingPages.add(event.resultingClientId);
  const headers = {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Content-Security-Policy': `default-src 'none'; script-src 'sha256-${await updatingScriptHash}'`,
  };
  const html = `<!doctype html><meta charset="utf-8"><title>Updating edge-infer…</title><script>${UPDATING_SCRIPT}</script>\n`;
  return new Response(html, { headers });
}

/**
 * Tell the new worker to take over once only "updating" pages are left (no old page, none of
 * its workers). If an old page stays (another tab), give up: the "updating" pages reload and
 * get the old version.
 */
async function handOver() {
  const deadline = Date.now() + HAND_OVER_WAIT_MS;
  while (Date.now() < deadline) {
    const clients = await self.clients.matchAll({ type: 'all' });
    const waiting = self.registration.waiting;
    if (!waiting) return;
    if (clients.every((c) => updatingPages.has(c.id))) {
      const cache = await caches.open(CACHE);
      await cache.put(HANDED_OVER, new Response(String(Date.now())));
      waiting.postMessage({ type: 'edge-infer:skip-waiting' });
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  handOverSince = 0;
  for (const client of await self.clients.matchAll({ type: 'window' })) {
    if (updatingPages.has(client.id)) client.postMessage({ type: RELOAD });
  }
}

/** Whether this worker recently told a new one to take over (the new one then deletes our cache). */
async function handedOver() {
  const flag = await caches.match(HANDED_OVER, { cacheName: CACHE });
  return Boolean(flag) && Date.now() - Number(await flag.text()) < HAND_OVER_GIVE_UP_MS;
}

/** `promise`, or `fallback` if it has not settled within `ms`. */
function within(ms, promise, fallback) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(fallback), ms))]);
}

function record(event, key, cacheName) {
  const client = event.resultingClientId || event.clientId;
  served.push({ url: key.slice(SCOPE.href.length), cache: cacheName, client });
  if (served.length > MAX_SERVED) served.splice(0, served.length - MAX_SERVED);
}

async function status(clientId) {
  const cache = await caches.open(CACHE);
  const complete = Boolean(await cache.match(MARKER));
  const mine = (id) => {
    for (let hops = 0; id && hops < 8; hops += 1) {
      if (id === clientId) return true;
      id = parents.get(id);
    }
    return false;
  };
  return {
    version: PRECACHE.version,
    cache: CACHE,
    complete,
    files: LISTED.size,
    served: served.filter((s) => mine(s.client)).map(({ url, cache: c }) => ({ url, cache: c })),
  };
}

/** The URL a request is cached under (no query, `/` -> `index.html`), or null if not ours. */
function cacheKey(href) {
  const url = new URL(href);
  if (url.origin !== SCOPE.origin || !url.pathname.startsWith(SCOPE.pathname)) return null;
  url.search = '';
  url.hash = '';
  if (url.pathname.endsWith('/')) url.pathname += 'index.html';
  return url.href;
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
