/**
 * The public client API: createClassifier(). Runs on the main thread and owns nothing heavy:
 * every classifier on a page shares one worker, which boots the runtime once.
 */
import { EdgeInferError, ErrorCode } from './errors.js';
import { WorkerChannel } from './protocol.js';

const DEFAULT_BASE_URL = new URL('../', import.meta.url).href;
const BITMAP_OPTIONS = { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' };

/** @type {Map<string, SharedRuntime>} one worker per base URL */
const runtimes = new Map();

/**
 * @typedef {object} ClassifierOptions
 * @property {string} [model] manifest model id; the manifest's default when omitted
 * @property {number} [topK=5] classes per result
 * @property {number} [threads] onnxruntime-web threads; defaults to min(4, cores) when the page
 *   is cross-origin isolated and 1 otherwise (more cannot work without isolation)
 * @property {string} [baseUrl] where `vendor/`, `models/` and `lib/` live; defaults to the
 *   folder this module was loaded from
 * @property {(progress: {state: string, stages: string[], loaded: number, total: number}) => void} [onProgress]
 *   loading progress: active stages and bytes downloaded
 * @property {'fast'|'exact'} [preprocess='fast'] 'fast' lets the browser resample while decoding
 *   and numpy only crops and normalises; 'exact' sends full-resolution pixels and numpy does
 *   the antialiased resize that matches Pillow/torchvision (slower on large images)
 * @property {'wasm'|'webgpu'|'webnn'} [provider='wasm'] preferred execution provider; anything
 *   unavailable falls back to wasm and says why in `runtime.notes`
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

/** A handle on the shared runtime with its own model and top-k defaults. */
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
   * Classify one image.
   * @param {File|Blob|ImageBitmap|HTMLImageElement|HTMLCanvasElement|OffscreenCanvas|ImageData|string|URL} input
   * @param {{signal?: AbortSignal, topK?: number, model?: string, preprocess?: 'fast'|'exact'}} [opts]
   * @returns {Promise<object>} the result object
   */
  async classify(input, { signal, topK, model, preprocess } = {}) {
    if (this.#disposed) throw new EdgeInferError(ErrorCode.DISPOSED, 'the classifier was disposed');
    if (this.#lease.runtime.crashed) this.ready = this.#reconnect();
    await this.ready;
    if (signal?.aborted) throw new EdgeInferError(ErrorCode.ABORTED, 'the request was cancelled');
    const prepared = await toWorkerInput(input, signal);
    const payload = {
      image: prepared.image,
      name: prepared.name,
      model: model ?? this.#options.model,
      topK: topK ?? this.#options.topK,
      decodeMs: prepared.decodeMs,
      preprocess: preprocess ?? this.#options.preprocess ?? 'fast',
    };
    return this.#lease.runtime.channel.request('classify', payload, { signal, transfer: prepared.transfer });
  }

  #reconnect() {
    this.#lease.release();
    const ready = this.#connect();
    ready.catch(() => {});
    return ready;
  }

  /** Release this classifier; the worker stops when its last classifier is disposed. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#lease.release();
  }
}

/** One worker shared by every classifier with the same base URL. */
class SharedRuntime {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
    this.users = 0;
    this.crashed = false;
    this.initPromise = null;
    this.progressListeners = new Set();
    const worker = new Worker(new URL('lib/worker.js', baseUrl), { type: 'module', name: 'edge-infer' });
    this.channel = new WorkerChannel(worker, () => {
      this.crashed = true;
      if (runtimes.get(baseUrl) === this) runtimes.delete(baseUrl);
    });
  }

  init(options) {
    if (options.onProgress) this.progressListeners.add(options.onProgress);
    this.initPromise ??= this.channel.request(
      'init',
      { baseUrl: this.baseUrl, model: options.model, threads: options.threads, provider: options.provider },
      { onProgress: (p) => this.progressListeners.forEach((fn) => fn(p)) },
    );
    return this.initPromise;
  }
}

function acquireRuntime(options) {
  let runtime = runtimes.get(options.baseUrl);
  if (!runtime || runtime.crashed) {
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
        runtime.channel.close();
        if (runtimes.get(options.baseUrl) === runtime) runtimes.delete(options.baseUrl);
      }
    },
  };
}

/**
 * Turn any accepted input into something the worker decodes: Blobs go as they are (the worker
 * decodes them); pixel sources become a transferred ImageBitmap; URLs are fetched here.
 */
async function toWorkerInput(input, signal) {
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
      if (signal?.aborted) throw new EdgeInferError(ErrorCode.ABORTED, 'the request was cancelled');
      throw new EdgeInferError(ErrorCode.INPUT, `cannot fetch ${url.href}: ${err.message}`);
    }
    return { image: blob, name: url.pathname.split('/').pop() || url.href, decodeMs: 0, transfer: [] };
  }
  if (typeof ImageData !== 'undefined' && input instanceof ImageData) {
    return { image: { data: input.data, width: input.width, height: input.height }, name: 'ImageData', decodeMs: 0, transfer: [] };
  }
  const isSource =
    (typeof ImageBitmap !== 'undefined' && input instanceof ImageBitmap) ||
    (typeof HTMLImageElement !== 'undefined' && input instanceof HTMLImageElement) ||
    (typeof HTMLCanvasElement !== 'undefined' && input instanceof HTMLCanvasElement) ||
    (typeof OffscreenCanvas !== 'undefined' && input instanceof OffscreenCanvas);
  if (!isSource) {
    throw new EdgeInferError(ErrorCode.INPUT, `unsupported input type ${Object.prototype.toString.call(input)}`);
  }
  const t0 = performance.now();
  let bitmap;
  try {
    if (input instanceof HTMLImageElement) await input.decode();
    bitmap = await createImageBitmap(input, BITMAP_OPTIONS); // a copy: the caller keeps theirs
  } catch (err) {
    throw new EdgeInferError(ErrorCode.DECODE, `the ${input.constructor.name} could not be read: ${err.message}`);
  }
  return { image: bitmap, name: input.constructor.name, decodeMs: performance.now() - t0, transfer: [bitmap] };
}
