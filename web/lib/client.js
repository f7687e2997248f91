/**
 * The public client API: createClassifier(). Runs on the main thread and owns nothing heavy:
 * every classifier on a page shares the same workers (shared-runtime.js), which boot the
 * runtime once. Calls are queued on the page, not in the worker: each classifier has its own
 * FIFO and the classifiers take turns (fair-queue.js). Defaults and limits: config.js.
 */
import { resolveOptions } from './config.js';
import { EdgeInferError, ErrorCode, abortError } from './errors.js';
import { closePrepared, isRawRgbRequest, toWorkerInput } from './inputs.js';
import { acquireRuntime } from './shared-runtime.js';

const DEFAULT_BASE_URL = new URL('../', import.meta.url).href;

/**
 * @typedef {object} ClassifierOptions
 * @property {string} [model] manifest model id; the manifest's default when omitted
 * @property {number} [topK=5] classes per result
 * @property {number} [threads] onnxruntime-web threads; defaults to min(4, cores) when the page
 *   is cross-origin isolated and 1 otherwise (more cannot work without isolation). The first
 *   classifier on a page boots the shared runtime, so its value wins.
 * @property {string} [baseUrl] where `vendor/`, `models/` and `lib/` live; defaults to the
 *   folder this module was loaded from (which may be another origin: see docs/embedding.md)
 * @property {(progress: {state: string, stages: string[], loaded: number, total: number}) => void} [onProgress]
 *   loading progress: active stages and bytes downloaded
 * @property {'fast'|'exact'} [preprocess='fast'] 'fast' lets the browser resample while decoding
 *   and numpy only crops and normalises; 'exact' sends full-resolution pixels and numpy does
 *   the antialiased resize that matches Pillow/torchvision (slower on large images)
 * @property {'wasm'|'webgpu'|'webnn'} [provider='wasm'] preferred execution provider; anything
 *   unavailable falls back to wasm and says why in `runtime.notes`
 * @property {{maxModels?: number, maxBytes?: number}} [cache] bounds of the worker's LRU cache
 *   of model sessions (default 3 models or 96 MB of model files); an evicted session is
 *   released. The classifier that boots the shared runtime decides.
 * @property {boolean} [debug=false] count live PyProxies and watch onnxruntime-web's WASM heap
 *   for `stats()` (leak hunting; slightly slower). Like `threads`, the classifier that boots
 *   the shared runtime decides.
 */

/**
 * @typedef {File|Blob|ImageBitmap|HTMLImageElement|HTMLCanvasElement|HTMLVideoElement|OffscreenCanvas|ImageData|string|URL} ClassifierInput
 * A URL (string or URL) must be same-origin or CORS-enabled; an element or bitmap must not be
 * tainted by cross-origin pixels. Element and canvas inputs are snapshotted when `classify` is
 * called, so the caller may change them right after.
 */

/**
 * Create a classifier. It starts loading at once; await `classifier.ready` or just call
 * `classify`, which waits for it.
 * @param {ClassifierOptions} [options]
 * @returns {Classifier}
 */
export function createClassifier(options = {}) {
  return new Classifier(options);
}

/** A handle on the shared runtime with its own model and top-k defaults and its own queue. */
export class Classifier {
  #options;
  #lease = null;
  #disposed = false;

  /** @param {ClassifierOptions} options */
  constructor(options) {
    this.#options = resolveOptions({ ...options, baseUrl: new URL(options.baseUrl ?? DEFAULT_BASE_URL, location.href).href });
    /** Runtime facts once ready (versions, threads, isolation). */
    this.runtime = null;
    /** Resolves with `{runtime, model, startup_ms}` when the runtime is ready. */
    this.ready = this.#connect();
    this.ready.catch(() => {}); // callers see the error from classify or ready
  }

  #connect() {
    this.#lease = acquireRuntime(this.#options);
    return this.#lease.runtime.init(this.#options).then((info) => {
      this.runtime = info.runtime;
      return info;
    });
  }

  /**
   * Classify one image. Calls on one classifier run in call order; calls from several
   * classifiers on the page take turns.
   * @param {ClassifierInput} input
   * @param {{signal?: AbortSignal, topK?: number, model?: string, preprocess?: 'fast'|'exact'}} [opts]
   *   `signal` cancels the call: a queued call leaves the queue at once (freeing its slot), a
   *   running one is dropped; either way the promise rejects with E_ABORTED.
   * @returns {Promise<object>} the result object
   */
  async classify(input, { signal, topK, model, preprocess } = {}) {
    if (this.#disposed) throw new EdgeInferError(ErrorCode.DISPOSED, 'the classifier was disposed');
    if (signal?.aborted) throw abortError(signal);
    this.#restartIfDown();
    // Snapshot the input now (an element or canvas may change before our turn comes).
    const prepared = toWorkerInput(input, signal);
    prepared.catch(() => {});
    try {
      await this.ready;
    } catch (err) {
      prepared.then(closePrepared, () => {});
      throw err;
    }
    if (this.#disposed) throw new EdgeInferError(ErrorCode.DISPOSED, 'the classifier was disposed');
    const payload = {
      model: model ?? (isRawRgbRequest(input) ? input.model_id : undefined) ?? this.#options.model,
      topK: topK ?? this.#options.topK,
      preprocess: preprocess ?? this.#options.preprocess,
    };
    return this.#lease.runtime.queue.submit(this, prepared, payload, signal);
  }

  /**
   * Start the runtime again if it failed to load (a file was missing or refused, the server
   * was down) or its worker crashed; otherwise keep the current one. `classify`, `loadModel`
   * and `stats` do this themselves; call it to retry without classifying (a "Retry" button).
   * @returns {Promise<object>} the new `ready` (also stored in `ready`)
   */
  retry() {
    if (this.#disposed) return Promise.reject(new EdgeInferError(ErrorCode.DISPOSED, 'the classifier was disposed'));
    this.#restartIfDown();
    return this.ready;
  }

  #restartIfDown() {
    if (!this.#lease.runtime.down) return;
    this.#lease.release();
    this.ready = this.#connect();
    this.ready.catch(() => {});
  }

  /**
   * Make a model ready ahead of use (download with progress, sha256 check, session): for a
   * model picker. Cached models answer at once with `cached: true`.
   * @param {string} modelId manifest id
   * @param {{onProgress?: (p: {model: string, loaded: number, total: number}) => void, signal?: AbortSignal}} [opts]
   * @returns {Promise<{id: string, version: string, name: string, cached: boolean, ms: number}>}
   */
  async loadModel(modelId, { onProgress, signal } = {}) {
    if (this.#disposed) throw new EdgeInferError(ErrorCode.DISPOSED, 'the classifier was disposed');
    this.#restartIfDown();
    await this.ready;
    return this.#lease.runtime.channel.request('loadModel', { model: modelId }, { onProgress, signal });
  }

  /**
   * Test hook (only with `debug: true`): make the shared worker die as a crash would. Pending
   * calls reject with E_WORKER_CRASHED; the next call starts a fresh runtime.
   * @param {'inference'|'onnxruntime'} [worker] which worker crashes: the inference worker,
   *   or onnxruntime-web's own worker (the inference worker then stops too)
   */
  _simulateCrash(worker = 'inference') {
    if (!this.#options.debug) throw new EdgeInferError(ErrorCode.INPUT, '_simulateCrash needs debug: true');
    // The inference worker dies (this request never answers), or makes ORT's worker die.
    this.#lease.runtime.channel.request('crash', { worker }).catch(() => {});
  }

  /**
   * Memory of the shared worker, for leak hunting (sizes in bytes):
   * - `wasm_heap_bytes`: Pyodide's WASM heap;
   * - `ort_wasm_heap_bytes`: onnxruntime-web's WASM heap. ORT has no API for it, so a runtime
   *   booted with `debug: true` watches WebAssembly instantiation for it; null otherwise, or
   *   if ORT's binary was not compiled by streaming;
   * - `pyproxies`: live PyProxy objects (null unless the runtime booted with `debug: true`);
   * - `js_heap_bytes`: the worker's JS heap, null where the browser does not expose it (Chrome
   *   does not in workers; `npm run bench` reads it over the DevTools protocol instead).
   * Both WASM heaps are linear-memory sizes, which never shrink: a leak shows as growth.
   * @returns {Promise<{wasm_heap_bytes: number, ort_wasm_heap_bytes: number|null, pyproxies: number|null, js_heap_bytes: number|null}>}
   */
  async stats() {
    if (this.#disposed) throw new EdgeInferError(ErrorCode.DISPOSED, 'the classifier was disposed');
    this.#restartIfDown();
    await this.ready;
    return this.#lease.runtime.channel.request('stats', {});
  }

  /**
   * Release this classifier: its unfinished calls reject with E_DISPOSED, and the worker
   * stops when the last classifier using it is disposed.
   */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#lease.runtime.queue.dropOwner(this, new EdgeInferError(ErrorCode.DISPOSED, 'the classifier was disposed'));
    this.#lease.release();
  }
}

