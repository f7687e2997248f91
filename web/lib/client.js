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
 * @property {string|ModelSpec} [model] manifest model id, or a model of your own given at run
 *   time (see {@link ModelSpec}: the runtime boots with the manifest's default model, then
 *   registers yours, and `ready` resolves once it can classify); the manifest's default when
 *   omitted
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
 * A model given at run time (`registerModel`, or the `model` option). It is checked as the
 * manifest's models are: the file's sha256 before use, and the entry it makes by Python's own
 * manifest validation (a refusal names the field). The file never leaves the page.
 * @typedef {object} ModelSpec
 * @property {string} [id] the id to classify with (1-64 letters, digits, `_`, `.`, `-`);
 *   default `user-` and the first 12 hex digits of the file's sha256. Registering an id again
 *   replaces that model; a manifest id cannot be taken.
 * @property {string|URL} [url] where the `.onnx` file is (same-origin or CORS-enabled)
 * @property {ArrayBuffer|ArrayBufferView|Blob|File} [bytes] the `.onnx` file itself, for
 *   example a dropped File; give `url` or `bytes`
 * @property {string} [sha256] the file's sha256 (64 lowercase hex digits): required with
 *   `url`; computed for `bytes` (and compared, when given)
 * @property {string[]|string|URL|Blob|File} labels one per class, in the output's order: a
 *   list, or a labels file (one label per line, UTF-8; or a `.json` list) by URL or as a File
 * @property {object} preprocess how pixels become the input tensor: a manifest entry's
 *   `preprocess` block (`resize` {mode `shorter_side`|`stretch`, shorter_side, interpolation
 *   `bilinear`, antialias}, `crop` {height, width}, `channel_order` `RGB`|`BGR`|`L`, `layout`
 *   `NCHW`|`NHWC`, `scale` with `mean` and `std` or `offset`; see models/README.md)
 * @property {{activation?: 'softmax'|'sigmoid'|'none', threshold?: number}} [output] what makes
 *   the output probabilities (default softmax; sigmoid results add `multi_label`)
 * @property {{url: string|URL, sha256: string}|{source: string}} [hooks] the model's Python
 *   hooks file (`preprocess(pixels, model)` and/or `postprocess(logits, model)`, see
 *   docs/architecture.md), by URL with its sha256, or as text
 * @property {string} [name] shown to people; default the id
 * @property {string} [version='1.0.0'] results carry it as `model_version`
 * @property {string} [license='unspecified']
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
  /** @type {Map<string, ModelSpec>} models this classifier registered, again after a restart */
  #registered = new Map();
  /** The `model` option's spec, registered by every (re)connection before `ready`. */
  #bootSpec = null;

  /** @param {ClassifierOptions} options */
  constructor(options) {
    const spec = typeof options.model === 'object' && options.model !== null ? options.model : null;
    this.#bootSpec = spec && toWireSpec(spec);
    const model = spec ? undefined : options.model;
    this.#options = resolveOptions({ ...options, model, baseUrl: new URL(options.baseUrl ?? DEFAULT_BASE_URL, location.href).href });
    /** Runtime facts once ready (versions, threads, isolation). */
    this.runtime = null;
    /** Resolves with `{runtime, model, startup_ms}` when the runtime is ready. */
    this.ready = this.#connect();
    this.ready.catch(() => {}); // callers see the error from classify or ready
  }

  #connect() {
    this.#lease = acquireRuntime(this.#options);
    return this.#lease.runtime.init(this.#options).then(async (info) => {
      // A restarted runtime knows none of the models registered before: register them again.
      for (const spec of this.#registered.values()) await this.#send(spec);
      if (this.#bootSpec) {
        const model = await this.#send(this.#bootSpec);
        this.#options.model = model.id;
        info = { ...info, model: { id: model.id, version: model.version, name: model.name } };
      }
      this.runtime = info.runtime;
      return info;
    });
  }

  #send(wireSpec, opts = {}) {
    return this.#lease.runtime.channel.request('registerModel', { spec: wireSpec }, opts);
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
   * @param {string} modelId manifest id, or the id of a model registered with registerModel
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
   * Register a model of your own at run time, then classify with it by id:
   * `const { id } = await classifier.registerModel({ bytes: file, labels, preprocess })` and
   * `classifier.classify(image, { model: id })`. Every classifier on the page sharing this
   * runtime (same `baseUrl`) can use it; the manifest's models keep working.
   * @param {ModelSpec} spec
   * @param {{onProgress?: (p: {model: string, loaded: number, total: number}) => void, signal?: AbortSignal}} [opts]
   *   `onProgress`: bytes of a model given by URL downloaded so far
   * @returns {Promise<{id: string, version: string, name: string, sha256: string, bytes: number, labels: string[], entry: object, ms: number}>}
   *   `entry`: the model's entry in the manifest's schema, as Python validated it
   * @throws {EdgeInferError} E_MODEL_INTEGRITY (the file is not the sha256 given),
   *   E_MODEL_FETCH, E_MANIFEST (the spec is not valid, or the labels do not fit the model's
   *   output; the message names the field), E_INPUT (not an ONNX image classifier
   *   onnxruntime-web can run), E_HOOK; nothing changes then, and every model keeps working
   */
  async registerModel(spec, { onProgress, signal } = {}) {
    if (this.#disposed) throw new EdgeInferError(ErrorCode.DISPOSED, 'the classifier was disposed');
    const wireSpec = toWireSpec(spec);
    this.#restartIfDown();
    await this.ready;
    const model = await this.#send(wireSpec, { onProgress, signal });
    this.#registered.set(model.id, wireSpec);
    return model;
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

/**
 * A ModelSpec as the worker takes it: URLs absolute (the worker's base is not the page's),
 * bytes as a Blob or a copied Uint8Array (the caller's buffer is not transferred away).
 * @param {ModelSpec} spec
 * @returns {object}
 */
function toWireSpec(spec) {
  if (typeof spec !== 'object' || spec === null) throw new EdgeInferError(ErrorCode.INPUT, 'a model spec must be an object');
  const absolute = (url) => new URL(url, location.href).href;
  const wire = { ...spec };
  if (spec.url != null) wire.url = absolute(spec.url);
  if (ArrayBuffer.isView(spec.bytes)) wire.bytes = new Uint8Array(spec.bytes.buffer.slice(spec.bytes.byteOffset, spec.bytes.byteOffset + spec.bytes.byteLength));
  else if (spec.bytes instanceof ArrayBuffer) wire.bytes = new Uint8Array(spec.bytes.slice(0));
  if (typeof spec.labels === 'string' || spec.labels instanceof URL) wire.labels = absolute(spec.labels);
  if (spec.hooks?.url != null) wire.hooks = { ...spec.hooks, url: absolute(spec.hooks.url) };
  return wire;
}
