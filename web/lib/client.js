/**
 * The public client API: createClassifier(). Runs on the main thread and owns nothing heavy:
 * every classifier on a page shares one worker, which boots the runtime once.
 *
 * Calls are queued here, not in the worker: each classifier has its own FIFO and the shared
 * worker takes work from the classifiers in turn (round-robin), so one busy classifier (a
 * camera, a batch drop) cannot starve another on the same page.
 */
import { EdgeInferError, ErrorCode } from './errors.js';
import { WorkerChannel } from './protocol.js';
import { spawnModuleWorker } from './spawn-worker.js';

const DEFAULT_BASE_URL = new URL('../', import.meta.url).href;
const BITMAP_OPTIONS = { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' };
/**
 * Requests handed to the worker at once. Two lets the worker decode the next image while it
 * runs this one, and keeps fairness: the order is still decided here, one slot at a time.
 */
const MAX_IN_FLIGHT = 2;

/** @type {Map<string, SharedRuntime>} one worker per base URL */
const runtimes = new Map();

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
    const topK = options.topK ?? 5;
    if (!Number.isInteger(topK) || topK < 1) throw new EdgeInferError(ErrorCode.INPUT, `topK must be a positive integer, got ${topK}`);
    this.#options = { ...options, topK, baseUrl: new URL(options.baseUrl ?? DEFAULT_BASE_URL, location.href).href };
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
      model: model ?? (isSeedRequest(input) ? input.model_id : undefined) ?? this.#options.model,
      topK: topK ?? this.#options.topK,
      preprocess: preprocess ?? this.#options.preprocess ?? 'fast',
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
    this.#lease.runtime.channel.worker.postMessage({ type: 'crash', payload: { worker } }); // forwarded to ORT's worker if named
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
 * The workers shared by every classifier with the same base URL: the inference worker
 * (Pyodide, the protocol's other end) and onnxruntime-web's worker, which only the inference
 * worker talks to, over a MessageChannel. The page starts both, so that both are controlled by
 * the service worker (Chrome leaves a worker started by a worker uncontrolled, which would
 * break offline use) and both start loading at once.
 */
class SharedRuntime {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
    this.users = 0;
    /** A worker crashed or the runtime failed to load: the next call starts a fresh one. */
    this.down = false;
    this.initPromise = null;
    this.progressListeners = new Set();
    this.channel = new WorkerChannel(spawnModuleWorker(new URL('lib/worker.js', baseUrl), 'edge-infer'), (err) => this.#retire(err));
    this.ortWorker = null; // started by init unless `_experiment.ortWorker` is false
    this.queue = new FairQueue(this.channel, MAX_IN_FLIGHT);
  }

  init(options) {
    if (options.onProgress) this.progressListeners.add(options.onProgress);
    if (!this.initPromise) {
      const transfer = [];
      let ortPort = null;
      if (options._experiment?.ortWorker !== false) {
        this.ortWorker = spawnModuleWorker(new URL('lib/ort-worker.js', this.baseUrl), 'edge-infer-ort');
        this.ortWorker.addEventListener('error', (event) => this.#retire(ortCrash(event)));
        const { port1, port2 } = new MessageChannel();
        this.ortWorker.postMessage({ type: 'connect' }, [port2]);
        ortPort = port1;
        transfer.push(port1);
      }
      this.initPromise = this.#boot(options, ortPort, transfer);
    }
    return this.initPromise;
  }

  #boot(options, ortPort, transfer) {
    return this.channel.request(
      'init',
      {
        baseUrl: this.baseUrl,
        model: options.model,
        threads: options.threads,
        provider: options.provider,
        cache: options.cache,
        debug: options.debug,
        ortPort,
        _experiment: options._experiment,
      },
      { onProgress: (p) => this.progressListeners.forEach((fn) => fn(p)), transfer },
    ).catch((err) => {
      // Never cache a failed boot: once the missing file is back (or the server), the next
      // call must load. It gets a new worker, because a failed boot leaves state that cannot
      // be reset in place (onnxruntime-web refuses a second WASM load in the same worker, and
      // a Pyodide whose wasm never arrived never settles).
      this.#retire(err);
      throw err;
    });
    return this.initPromise;
  }

  /** Take this runtime out of service: fail what waits, forget it, stop its workers. */
  #retire(reason) {
    this.down = true;
    this.queue.failAll(reason);
    if (runtimes.get(this.baseUrl) === this) runtimes.delete(this.baseUrl);
    this.close(reason);
  }

  /** Stop both workers; pending requests reject with `reason`. */
  close(reason) {
    this.channel.close(reason);
    this.ortWorker?.terminate();
  }
}

/** onnxruntime-web's worker died (or never loaded): the runtime is down, as on a crash. */
function ortCrash(event) {
  const detail = event?.message ? `: ${event.message}` : '';
  return new EdgeInferError(ErrorCode.WORKER_CRASHED, `onnxruntime-web's worker stopped${detail}`);
}

/**
 * Per-owner FIFO queues served round-robin, at most `limit` requests in the worker at once.
 *
 * A job waits in its owner's queue until its input is prepared and its owner's turn comes.
 * Map order is the rotation: an owner that was just served moves to the back.
 */
class FairQueue {
  /**
   * @param {WorkerChannel} channel
   * @param {number} limit
   */
  constructor(channel, limit) {
    this.channel = channel;
    this.limit = limit;
    this.inFlight = 0;
    /** @type {Map<object, Job[]>} */
    this.queues = new Map();
    /** @type {Set<Job>} */
    this.running = new Set();
  }

  /**
   * Queue one classification for `owner`.
   * @param {object} owner the classifier
   * @param {Promise<{image: any, name: string, decodeMs: number, transfer: Transferable[]}>} prepared
   * @param {object} payload model, topK, preprocess
   * @param {AbortSignal} [signal]
   * @returns {Promise<object>}
   */
  submit(owner, prepared, payload, signal) {
    return new Promise((resolve, reject) => {
      const job = { owner, payload, prepared: null, controller: new AbortController(), settled: false };
      const settle = (fn, value) => {
        if (job.settled) return;
        job.settled = true;
        signal?.removeEventListener('abort', onAbort);
        fn(value);
      };
      job.resolve = (value) => settle(resolve, value);
      job.reject = (err) => settle(reject, err);
      const onAbort = () => this.#cancel(job, abortError(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) return onAbort();

      if (!this.queues.has(owner)) this.queues.set(owner, []);
      this.queues.get(owner).push(job);
      prepared.then(
        (value) => {
          if (job.settled) return closePrepared(value); // cancelled while preparing
          job.prepared = value;
          this.#pump();
        },
        (err) => this.#cancel(job, signal?.aborted ? abortError(signal) : err),
      );
    });
  }

  /** Reject every unfinished job of `owner` with `reason` (its classifier was disposed). */
  dropOwner(owner, reason) {
    for (const job of [...(this.queues.get(owner) ?? [])]) this.#cancel(job, reason);
    for (const job of [...this.running]) if (job.owner === owner) this.#cancel(job, reason);
  }

  /** The worker died: reject everything still waiting. */
  failAll(reason) {
    for (const jobs of [...this.queues.values()]) for (const job of [...jobs]) this.#cancel(job, reason);
  }

  /** Remove a job wherever it is; a running job's request is cancelled in the worker too. */
  #cancel(job, reason) {
    if (job.settled) return;
    const jobs = this.queues.get(job.owner);
    const at = jobs ? jobs.indexOf(job) : -1;
    if (at >= 0) {
      jobs.splice(at, 1);
      if (!jobs.length) this.queues.delete(job.owner);
      if (job.prepared) closePrepared(job.prepared);
    }
    job.reject(reason);
    if (this.running.has(job)) job.controller.abort(); // settles the channel request: frees the slot
    this.#pump();
  }

  #pump() {
    while (this.inFlight < this.limit) {
      const job = this.#next();
      if (!job) return;
      this.#send(job);
    }
  }

  /** The first owner (in rotation order) whose head job is prepared gives up that job. */
  #next() {
    for (const [owner, jobs] of this.queues) {
      if (!jobs[0].prepared) continue; // FIFO per owner: never skip its head
      const job = jobs.shift();
      this.queues.delete(owner);
      if (jobs.length) this.queues.set(owner, jobs); // to the back of the rotation
      return job;
    }
    return null;
  }

  #send(job) {
    const { image, name, decodeMs, transfer } = job.prepared;
    this.inFlight += 1;
    this.running.add(job);
    this.channel
      .request('classify', { ...job.payload, image, name, decodeMs }, { signal: job.controller.signal, transfer })
      .then(job.resolve, job.reject)
      .finally(() => {
        this.running.delete(job);
        this.inFlight -= 1;
        this.#pump();
      });
  }
}

function acquireRuntime(options) {
  let runtime = runtimes.get(options.baseUrl);
  if (!runtime || runtime.down) {
    runtime = new SharedRuntime(options.baseUrl);
    runtimes.set(options.baseUrl, runtime);
  }
  runtime.users += 1;
  let released = false;
  return {
    runtime,
    release() {
      if (released) return;
      released = true;
      if (options.onProgress) runtime.progressListeners.delete(options.onProgress);
      runtime.users -= 1;
      if (runtime.users === 0) {
        runtime.close();
        if (runtimes.get(options.baseUrl) === runtime) runtimes.delete(options.baseUrl);
      }
    },
  };
}

function abortError(signal) {
  const why = signal?.reason instanceof Error && signal.reason.name !== 'AbortError' ? `: ${signal.reason.message}` : '';
  return new EdgeInferError(ErrorCode.ABORTED, `the request was cancelled${why}`);
}

/** Free what a prepared input holds (a bitmap that will never be sent). */
function closePrepared(prepared) {
  if (typeof ImageBitmap !== 'undefined' && prepared?.image instanceof ImageBitmap) prepared.image.close();
}

const isInstance = (value, name) => typeof globalThis[name] === 'function' && value instanceof globalThis[name];
const PIXEL_SOURCES = ['ImageBitmap', 'HTMLImageElement', 'HTMLCanvasElement', 'HTMLVideoElement', 'OffscreenCanvas'];

/**
 * Turn any accepted input into something the worker decodes: Blobs go as they are (the worker
 * decodes them); pixel sources become a transferred ImageBitmap; URLs are fetched here.
 */
async function toWorkerInput(input, signal) {
  if (isSeedRequest(input)) return seedToWorkerInput(input);
  if (input instanceof Blob) {
    return { image: input, name: input.name || 'image', decodeMs: 0, transfer: [] };
  }
  if (typeof input === 'string' || input instanceof URL) {
    const url = new URL(input, location.href);
    let blob;
    try {
      const response = await fetch(url, { signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      blob = await response.blob();
    } catch (err) {
      if (signal?.aborted) throw abortError(signal);
      throw new EdgeInferError(ErrorCode.INPUT, `cannot fetch ${url.href} (it must be same-origin or send CORS headers): ${err.message}`);
    }
    return { image: blob, name: url.pathname.split('/').pop() || url.href, decodeMs: 0, transfer: [] };
  }
  if (isInstance(input, 'ImageData')) {
    return { image: { data: input.data, width: input.width, height: input.height }, name: 'ImageData', decodeMs: 0, transfer: [] };
  }
  if (!PIXEL_SOURCES.some((name) => isInstance(input, name))) {
    throw new EdgeInferError(ErrorCode.INPUT, `unsupported input type ${Object.prototype.toString.call(input)}`);
  }
  const kind = input.constructor.name;
  if (isInstance(input, 'HTMLVideoElement') && input.readyState < 2) {
    throw new EdgeInferError(ErrorCode.INPUT, 'the video has no frame to classify yet');
  }
  const t0 = performance.now();
  let bitmap;
  try {
    if (isInstance(input, 'HTMLImageElement')) await input.decode();
    bitmap = await createImageBitmap(input, BITMAP_OPTIONS); // a copy: the caller keeps theirs
  } catch (err) {
    throw new EdgeInferError(ErrorCode.DECODE, `the ${kind} could not be read: ${err.message}`);
  }
  assertReadable(bitmap, kind);
  return { image: bitmap, name: kind, decodeMs: performance.now() - t0, transfer: [bitmap] };
}

let probe = null;

/**
 * Cross-origin pixels without CORS make a "tainted" bitmap that the worker could draw but
 * never read. Read one pixel here to fail early with a message that says what to fix.
 */
function assertReadable(bitmap, kind) {
  probe ??= new OffscreenCanvas(1, 1).getContext('2d', { willReadFrequently: true });
  try {
    probe.drawImage(bitmap, 0, 0, 1, 1, 0, 0, 1, 1);
    probe.getImageData(0, 0, 1, 1);
  } catch (err) {
    bitmap.close();
    if (err?.name !== 'SecurityError') throw err;
    throw new EdgeInferError(
      ErrorCode.INPUT,
      `the ${kind} holds cross-origin pixels without CORS; serve the image with CORS and set crossorigin="anonymous"`,
    );
  }
}

/** The classic request shape `{image_data, width, height, model_id}`. */
function isSeedRequest(input) {
  return input !== null && typeof input === 'object' && 'image_data' in input && !ArrayBuffer.isView(input);
}

/**
 * Validate a classic request (RGB 0..255, row-major, width*height*3 numbers) and turn it into
 * RGBA pixels. Errors match the CPython host's `serve-json`.
 */
function seedToWorkerInput({ image_data: data, width, height }) {
  for (const [name, value] of [['width', width], ['height', height]]) {
    if (!Number.isInteger(value) || value < 1) throw new EdgeInferError(ErrorCode.INPUT, `${name} must be a positive integer, got ${value}`);
  }
  if (!Array.isArray(data) && !ArrayBuffer.isView(data)) {
    throw new EdgeInferError(ErrorCode.INPUT, 'image_data must be a list of RGB values 0..255');
  }
  const expected = width * height * 3;
  if (data.length !== expected) {
    throw new EdgeInferError(ErrorCode.INPUT, `image_data has ${data.length} values; width*height*3 = ${width}*${height}*3 = ${expected}`);
  }
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < expected; i += 3, j += 4) {
    for (let c = 0; c < 3; c += 1) {
      const v = data[i + c];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new EdgeInferError(ErrorCode.INPUT, `image_data[${i + c}] is ${v}, not a finite number`);
      if (v < 0 || v > 255) throw new EdgeInferError(ErrorCode.INPUT, `image_data[${i + c}] is ${v}, outside 0..255`);
      rgba[j + c] = roundHalfEven(v); // as numpy's rint in the CPython host
    }
    rgba[j + 3] = 255;
  }
  return { image: { data: rgba, width, height }, name: 'image_data', decodeMs: 0, transfer: [rgba.buffer] };
}

function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
