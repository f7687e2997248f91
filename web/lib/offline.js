/**
 * Offline support for the demo page: registers the service worker (web/sw.js, which explains
 * the caching and update rules) and asks it what it serves.
 *
 * Only the app's own page registers it; embedders loading edge-infer.js from their own
 * origin are not affected (a service worker only controls pages of its own origin).
 */

const SW_URL = new URL('../sw.js', import.meta.url);

/**
 * Register the service worker, once `after` has settled (so a first visit downloads the
 * runtime once, for the page, and the worker's install then takes it from the HTTP cache
 * instead of downloading it again alongside the boot).
 *
 * `?sw=off` in the page URL unregisters it instead: handy while editing app files (see
 * sw.js: otherwise run `npm run setup` and reload twice to see the edits).
 * @param {{after?: Promise<unknown>}} [options]
 * @returns {Promise<ServiceWorkerRegistration|null>} null where service workers are unavailable,
 *   switched off, or the registration failed (the app works without it)
 */
export async function registerOffline({ after } = {}) {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return null;
  const container = navigator.serviceWorker;
  if (new URLSearchParams(location.search).get('sw') === 'off') {
    const registration = await container.getRegistration(SW_URL.href);
    await registration?.unregister();
    return null;
  }
  try {
    await after;
  } catch {
    // Register anyway: the worker may be what makes the next visit work.
  }
  try {
    return await container.register(SW_URL.href, { updateViaCache: 'none' });
  } catch (err) {
    console.warn(`edge-infer: offline support unavailable: ${err.message}`);
    return null;
  }
}

/**
 * Ask the service worker about itself: `{version, cache, complete, files, served}` where
 * `served` lists what it answered for this page and its workers (`{url, cache}`, `cache`
 * null for the network). Asks the controlling worker, else the active one.
 * @param {{timeoutMs?: number}} [options]
 * @returns {Promise<object|null>} null when no service worker is active for this page
 */
export async function offlineStatus({ timeoutMs = 5000 } = {}) {
  if (!('serviceWorker' in navigator)) return null;
  const container = navigator.serviceWorker;
  const worker = container.controller ?? (await container.getRegistration(SW_URL.href))?.active;
  if (!worker) return null;
  const channel = new MessageChannel();
  let timer;
  const answer = new Promise((resolve, reject) => {
    channel.port1.onmessage = (event) => resolve(event.data);
    timer = setTimeout(() => reject(new Error('the service worker did not answer')), timeoutMs);
  });
  worker.postMessage({ type: 'edge-infer:status' }, [channel.port2]);
  try {
    return await answer;
  } finally {
    clearTimeout(timer);
    channel.port1.close();
  }
}
