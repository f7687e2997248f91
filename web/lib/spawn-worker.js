/**
 * Start a module worker from any origin. `new Worker()` only accepts same-origin URLs, so a
 * page on another origin than the script starts a same-origin `blob:` stub that
 * imports the real script (module imports may cross origins; the server answers them with
 * CORS and CORP headers). The script's own relative imports and fetches still resolve against
 * its real URL.
 * @param {URL} url the worker script
 * @param {string} name the worker's name (shown in DevTools)
 * @returns {Worker}
 */
export function spawnModuleWorker(url, name) {
  const options = { type: 'module', name };
  if (url.origin === location.origin) return new Worker(url, options);
  const stub = URL.createObjectURL(new Blob([`import ${JSON.stringify(url.href)};\n`], { type: 'text/javascript' }));
  const worker = new Worker(stub, options);
  const revoke = () => URL.revokeObjectURL(stub); // after the worker has loaded (or failed)
  worker.addEventListener('message', revoke, { once: true });
  worker.addEventListener('error', revoke, { once: true });
  return worker;
}
