/**
 * Plain-JS baseline client, for the benchmark only. Same surface as edge-infer's
 * `createClassifier` (a `ready` promise and `classify(blob)`), backed by ./worker.js: no
 * Pyodide, preprocessing and softmax in plain JavaScript, the same onnxruntime-web build.
 */

/**
 * Create a plain-JS classifier; its worker starts loading at once.
 * @param {{threads?: number, baseUrl?: string}} [options] onnxruntime-web threads (default:
 *   min(4, cores) when cross-origin isolated, else 1); where `vendor/` and `models/` live
 * @returns {PlainClassifier}
 */
export function createPlainClassifier(options = {}) {
  return new PlainClassifier(options);
}

/** A handle on one plain-JS worker. */
export class PlainClassifier {
  #worker;
  #nextId = 1;
  #pending = new Map();
  #failure = null;

  /**
   * @param {{threads?: number, baseUrl?: string, workerUrl?: URL, name?: string}} options
   *   `workerUrl` and `name`: another worker speaking the same messages (../python-only/)
   */
  constructor({ threads, baseUrl = new URL('/', location.href).href, workerUrl = new URL('./worker.js', import.meta.url), name = 'plain-js' } = {}) {
    this.#worker = new Worker(workerUrl, { type: 'module', name });
    this.#worker.addEventListener('message', ({ data }) => this.#settle(data));
    this.#worker.addEventListener('error', (event) => this.#crash(new Error(`${name} worker failed: ${event.message}`)));
    /** Resolves with `{runtime, model, startup_ms}` once the session is ready. */
    this.ready = this.#request('init', { threads, baseUrl });
    this.ready.catch(() => {});
  }

  /**
   * Classify one image.
   * @param {Blob} blob an encoded image (File or Blob)
   * @param {{topK?: number}} [opts]
   * @returns {Promise<object>} `{label, confidence, top_k, timings_ms, image, runtime}`
   */
  async classify(blob, { topK = 5 } = {}) {
    await this.ready;
    return this.#request('classify', { blob, topK });
  }

  /** Stop the worker. */
  dispose() {
    this.#crash(new Error('disposed'));
  }

  #request(type, payload) {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, type, payload });
    });
  }

  #settle({ id, ok, value, error }) {
    const entry = this.#pending.get(id);
    if (!entry) return;
    this.#pending.delete(id);
    if (ok) entry.resolve(value);
    else entry.reject(new Error(error));
  }

  #crash(err) {
    this.#failure ??= err;
    for (const { reject } of this.#pending.values()) reject(err);
    this.#pending.clear();
    this.#worker.terminate();
  }
}
