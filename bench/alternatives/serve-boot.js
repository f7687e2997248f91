/**
 * Worker plumbing shared by the startup alternatives: answer `init` (the only request; the
 * messages of ../plain-js/worker.js, so ../plain-js/client.js drives them) with the runtime
 * facts and startup timings of a boot composed from the product's named stages
 * (web/lib/boot.js, web/lib/runtime/pyodide-loader.js).
 */
import { createBootProgress } from '/lib/boot-progress.js';
import { resolveOptions } from '/lib/config.js';

/**
 * Serve `init` with `boot(request, progress)`, booting once.
 * @param {(request: object, progress: object) => Promise<{info: object}>} boot
 */
export function serveBoot(boot) {
  let booted = null;
  self.addEventListener('message', ({ data: { id, type, payload } }) => {
    const request = () => boot(resolveOptions({ baseUrl: payload.baseUrl, threads: payload.threads }), createBootProgress());
    const job = type === 'init' ? (booted ??= request()) : Promise.reject(new Error(`a startup alternative cannot ${type}`));
    job.then(
      (runtime) => self.postMessage({ id, ok: true, value: runtime.info }),
      (err) => self.postMessage({ id, ok: false, error: String(err?.message ?? err) }),
    );
  });
}
