/**
 * Fail a boot at the first runtime file the server refuses, and name that file.
 *
 * Why not rely on the runtimes' own errors: Pyodide 0.27 only logs a failed
 * `pyodide.asm.wasm` ("wasm instantiation failed!") and its boot then never settles, and
 * onnxruntime-web fetches its `.wasm` only when the first session is created, then reports
 * "no available backend found" without the file. Both fetch through the worker's `fetch`, so
 * watching it sees every refused file, by URL, as soon as its response arrives.
 */
import { EdgeInferError, ErrorCode } from '../errors.js';

/**
 * Wrap the worker's `fetch` so that a watched URL answered with an HTTP error (or a network
 * failure) rejects `failure` with E_RUNTIME_LOAD and `details.file` set to that URL. The fetch
 * itself still returns (or throws) as before, so the runtimes see nothing different.
 * @param {(url: string) => boolean} shouldWatch which URLs are runtime files
 * @returns {{failure: Promise<never>, stop: () => void}} race `failure` against the boot;
 *   `stop()` ends the watch (the wrapper then only passes through)
 */
export function watchFetchFailures(shouldWatch) {
  const original = globalThis.fetch;
  let active = true;
  let fail;
  const failure = new Promise((_resolve, reject) => {
    fail = reject;
  });
  failure.catch(() => {}); // whoever races it sees it; after stop() nobody needs to
  const report = (url, why) => {
    if (active && shouldWatch(url)) fail(new EdgeInferError(ErrorCode.RUNTIME_LOAD, `failed to load ${url}: ${why}`, { file: url }));
  };
  globalThis.fetch = async function watchedFetch(input, init) {
    const url = new URL(input?.url ?? input, globalThis.location?.href).href;
    let response;
    try {
      response = await original.call(globalThis, input, init);
    } catch (err) {
      if (err?.name !== 'AbortError') report(url, err?.message ?? String(err));
      throw err;
    }
    if (!response.ok) report(url, `HTTP ${response.status}`);
    return response;
  };
  return {
    failure,
    stop() {
      active = false; // not unwrapped: another wrapper (byte counting) may sit on top of ours
    },
  };
}
