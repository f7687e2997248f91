/**
 * Fail a boot at the first runtime file that cannot load, and name that file: a file the
 * server refuses, or a `.wasm` it serves whose bytes do not compile.
 *
 * Why not rely on the runtimes' own errors: Pyodide 0.27 instantiates `pyodide.asm.wasm`
 * through its own `instantiateWasm` hook, which catches any failure, only logs it ("wasm
 * instantiation failed!") and never tells Emscripten, so its boot then never settles: a
 * missing wasm (404) and a corrupt one (HTTP 200, wrong bytes) both hang it. onnxruntime-web
 * fetches its `.wasm` only when the first session is created, then reports "no available
 * backend found" without the file. Both fetch through the worker's `fetch` and compile with
 * `WebAssembly.instantiateStreaming`, so watching those two sees every such file, by URL, as
 * soon as it fails, at no cost on a boot that works.
 */
import { EdgeInferError, ErrorCode } from '../errors.js';

/** Errors that say the bytes themselves are wrong, so no fallback can load them either. */
const WASM_FAULTS = globalThis.WebAssembly
  ? [
      [WebAssembly.CompileError, 'not valid WebAssembly, so corrupt or truncated'],
      [WebAssembly.LinkError, "WebAssembly that does not fit the runtime's JavaScript (files from two versions?)"],
    ]
  : [];

/**
 * Wrap the worker's `fetch` and `WebAssembly.instantiateStreaming` so that a watched runtime
 * file rejects `failure` with E_RUNTIME_LOAD and `details.file` set to its URL when:
 * - its fetch answers with an HTTP error or fails on the network;
 * - it is streamed into WebAssembly and does not compile or link (CompileError, LinkError:
 *   the bytes are wrong, and a runtime's ArrayBuffer fallback would fail on the same bytes);
 * - its streaming instantiation fails any other way (a wrong MIME type, a body cut off) and
 *   `final(url)` says its runtime has no fallback for that (Pyodide's wasm).
 * The wrapped calls still return (or throw) as before, so the runtimes see nothing different.
 * @param {(url: string) => boolean} shouldWatch which URLs are runtime files
 * @param {{final?: (url: string) => boolean}} [opts] `final`: watched `.wasm` URLs whose
 *   runtime gives up after a failed streaming instantiation instead of trying again
 * @returns {{failure: Promise<never>, stop: () => void}} race `failure` against the boot;
 *   `stop()` ends the watch (the wrappers then only pass through)
 */
export function watchFetchFailures(shouldWatch, { final = () => false } = {}) {
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

  const instantiateStreaming = globalThis.WebAssembly?.instantiateStreaming;
  if (typeof instantiateStreaming === 'function') {
    WebAssembly.instantiateStreaming = async function watchedInstantiateStreaming(source, imports) {
      try {
        return await instantiateStreaming.call(WebAssembly, source, imports);
      } catch (err) {
        // The source is a Response or a promise of one; its URL names the file. A source
        // that never became a Response was a failed fetch, which the fetch watch reported.
        const url = await Promise.resolve(source).then(
          (response) => response?.url || null,
          () => null,
        );
        const why = WASM_FAULTS.find(([type]) => err instanceof type)?.[1] ?? (url && final(url) ? 'WebAssembly instantiation failed' : null);
        if (url && why) report(url, `${why} (${err?.name}: ${err?.message})`);
        throw err;
      }
    };
  }

  return {
    failure,
    stop() {
      active = false; // not unwrapped: another wrapper (byte counting, memory) may sit on top
    },
  };
}
