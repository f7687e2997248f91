/**
 * The booted runtime of the inference worker: the Python host, onnxruntime-web's backend, one
 * session per loaded model (an LRU cache), the models registered at run time, and the
 * per-image path: decode a few images ahead, classify strictly in arrival order.
 */
import { LIMITS, checkPreprocess } from './config.js';
import { decodeToRGBA, fastResize } from './decode.js';
import { EdgeInferError, ErrorCode } from './errors.js';
import { installHookWheels } from './hook-wheels.js';
import { fetchVerifiedFile, fetchVerifiedHooks, fetchVerifiedModel, findModel } from './models.js';
import { SessionCache } from './session-cache.js';
import { buildEntry, modelIo, readHooks, readLabels, readModelFile } from './user-models.js';

/** Everything the inference worker holds once booted; its handlers call into it. */
export class InferenceRuntime {
  /**
   * @param {object} parts
   * @param {object} parts.pyodide the Pyodide API (for memory facts)
   * @param {import('./python-host.js').PythonHost} parts.python
   * @param {object} parts.backend onnxruntime-web (ort-client.js's OrtWorkerBackend, or
   *   ort-backend.js's OrtBackend in the same worker)
   * @param {object} parts.manifest the parsed manifest
   * @param {URL} parts.modelsUrl where the model files are
   * @param {{maxModels: number, maxBytes: number}} parts.cache session cache bounds
   * @param {boolean} parts.debug PyProxies are counted and the `crash` hook is honoured
   * @param {() => Promise<void>} parts.installLibrary makes the whole stdlib and numpy
   *   importable (the boot brings only what the runtime imports); run before the first model
   *   with Python hooks is added
   */
  constructor({ pyodide, python, backend, manifest, modelsUrl, cache, debug, installLibrary }) {
    this.pyodide = pyodide;
    this.python = python;
    this.backend = backend;
    this.manifest = manifest;
    this.modelsUrl = modelsUrl;
    this.debug = debug;
    this.installLibrary = installLibrary;
    /** @type {Promise<void> | null} the whole library, installed once (installLibrary) */
    this.fullLibrary = null;
    this.cache = new SessionCache({ ...cache, onEvict: (entry) => this.#release(entry) });
    /** @type {Map<string, object>} model id -> session, as registered with Python */
    this.sessions = new Map();
    /**
     * Models registered at run time, by id: the entry, and where its bytes come from again
     * after its session is evicted (the URL, fetched and checked again, or the bytes kept).
     * @type {Map<string, {entry: object, url: string|null, bytes: Uint8Array|null, hooks: string|null}>}
     */
    this.userModels = new Map();
    /** Settles when the last queued job does: classification is strictly in arrival order. */
    this.queue = Promise.resolve();
    this.decodes = new DecodeLimiter(LIMITS.decodesAhead);
    /** `{runtime, model, startup_ms}`, set once the boot is complete (messages.js InitResult). */
    this.info = null;
    if (debug) pyodide._module.enable_pyproxy_allocation_tracing(); // every PyProxy from here on
  }

  /** Register the session created during boot with Python (hooks and wheels too) and the cache. */
  async addSession(model, session) {
    this.#register(model, session, await this.#prepareHooks(model));
    this.cache.put(model, session);
  }

  /**
   * The model's session, loaded (fetched, verified, created) on first use. A failed load
   * (for example an integrity mismatch) leaves every cached model working.
   * @returns {Promise<{model: object, cached: boolean}>}
   */
  async ensureModel(modelId, onBytes) {
    const model = this.#model(modelId);
    const { cached } = await this.cache.acquire(model, async () => {
      const user = this.userModels.get(model.id);
      const hooks = user ? await this.#userHooks(user) : await this.#prepareHooks(model);
      const bytes = user
        ? (user.bytes?.slice() ?? (await fetchVerifiedFile(user.url, model, onBytes)))
        : await fetchVerifiedModel(this.modelsUrl, model, onBytes);
      const session = await this.backend.createSession(bytes, model);
      try {
        this.#register(model, session, hooks);
      } catch (err) {
        session.release().catch(() => {}); // its hooks do not load: the session would leak
        throw err;
      }
      return session;
    });
    return { model, cached };
  }

  /**
   * Make a model ready in queue order (messages.js LoadModelRequest).
   * @param {string} modelId
   * @param {(p: object) => void} onProgress ModelProgress reports
   * @returns {Promise<object>} LoadModelResult
   */
  loadModel(modelId, onProgress) {
    const spec = this.#model(modelId);
    return this.#enqueue(async () => {
      const t0 = performance.now();
      const onBytes = (loaded, total) => onProgress({ state: 'loading', stages: ['model'], model: spec.id, loaded, total });
      const { cached } = await this.ensureModel(spec.id, onBytes);
      return { id: spec.id, version: spec.version, name: spec.name, cached, ms: round(performance.now() - t0), cache: this.cache.stats() };
    });
  }

  /**
   * Decode one image and classify it (messages.js ClassifyRequest). Decoding starts at once,
   * a few images ahead of the engine; classification runs in arrival order.
   * @param {object} request ClassifyRequest
   * @param {AbortSignal} signal aborts when the page cancels
   * @returns {Promise<object>} ClassificationResult
   */
  classify({ image, name, model: modelId, topK, decodeMs = 0, preprocess }, signal) {
    checkPreprocess(preprocess);
    const received = performance.now();
    const spec = this.#model(modelId);
    const decoded = this.decodes.run(async () => {
      throwIfAborted(signal);
      // A model with Python hooks gets the full pixels: its own code may do the resizing.
      const resize = preprocess === 'fast' && !spec.hooks ? fastResize(spec.preprocess) : undefined;
      const t0 = performance.now();
      const pixels = await decodeToRGBA(image, name, { resize });
      return { pixels, ms: performance.now() - t0 };
    });
    decoded.catch(() => {}); // observed below, in order
    return this.#enqueue(async () => {
      throwIfAborted(signal);
      const { pixels, ms } = await decoded;
      const { model } = await this.ensureModel(spec.id);
      const session = this.sessions.get(model.id);
      const started = performance.now();
      const totalDecodeMs = decodeMs + ms;
      const facts = { mode: spec.hooks ? 'exact' : preprocess, topK, decodeMs: totalDecodeMs, queueWaitMs: Math.max(0, started - received - totalDecodeMs), started };
      return this.python.classify(model.id, pixels, facts, (input) => session.run(input));
    });
  }

  /**
   * Check a model given at run time and make it classifiable under its id (messages.js
   * RegisterModelRequest). The file is fetched or read and its sha256 checked at once; its
   * session is created and run once on zeros (the class count) in queue order; Python then
   * validates the entry built from the spec, as a manifest entry. A refusal changes nothing:
   * every model, including one registered before under the same id, keeps working.
   * @param {object} spec client.js ModelSpec, as the page sent it
   * @param {(p: object) => void} onProgress ModelProgress reports while the file downloads
   * @returns {Promise<object>} RegisterModelResult
   */
  async registerModel(spec, onProgress) {
    const t0 = performance.now();
    const onBytes = (loaded, total) => onProgress({ state: 'loading', stages: ['model'], model: spec.id ?? '', loaded, total });
    const [file, labels, hooks] = await Promise.all([readModelFile(spec, onBytes), readLabels(spec.labels), readHooks(spec.hooks)]);
    // Bytes given by the page are kept, to create the session again after an eviction.
    const kept = spec.url == null ? file.bytes.slice() : null;
    return this.#enqueue(async () => {
      if (hooks) await this.#installFullLibrary(); // Python imports the hooks to validate them
      const session = await this.#sessionFromFile(file);
      let entry;
      try {
        const io = modelIo(session.io, file.name);
        const { logits } = await session.run(new Float32Array(io.input.shape.reduce((a, b) => a * b, 1))).catch((err) => {
          throw new EdgeInferError(ErrorCode.INPUT, `${file.name}: the model does not run on an input of shape [${io.input.shape}]: ${err.message}`);
        });
        entry = buildEntry(spec, file, io, logits.length, hooks);
        this.python.registerModel(entry, labels, hooks?.text ?? null);
      } catch (err) {
        session.release().catch(() => {});
        throw err;
      }
      this.cache.remove(entry.id); // the model registered before under this id, if any
      this.userModels.set(entry.id, { entry, url: spec.url ?? null, bytes: kept, hooks: hooks?.text ?? null });
      this.#register(entry, session, hooks?.text ?? null);
      this.cache.put(entry, session);
      const classes = this.python.labels(entry.id);
      return { id: entry.id, version: entry.version, name: entry.name, sha256: entry.sha256, bytes: entry.bytes, labels: classes, entry, ms: round(performance.now() - t0), cache: this.cache.stats() };
    });
  }

  /** A session for a file given at run time; a file onnxruntime-web cannot load is E_INPUT. */
  async #sessionFromFile(file) {
    try {
      return await this.backend.createSession(file.bytes, { id: file.name });
    } catch (err) {
      if (err.code !== ErrorCode.INFERENCE) throw err; // the runtime itself failed to load
      throw new EdgeInferError(ErrorCode.INPUT, `${file.name} is not an ONNX model onnxruntime-web can load: ${err.message}`);
    }
  }

  /** The entry of a model: registered at run time, or the manifest's. */
  #model(modelId) {
    return this.userModels.get(modelId)?.entry ?? findModel(this.manifest, modelId);
  }

  /** Memory facts for leak hunting (messages.js StatsResult). */
  async stats() {
    const mod = this.pyodide._module;
    return {
      wasm_heap_bytes: mod.HEAP8.length,
      ort_wasm_heap_bytes: await this.backend.heapBytes(),
      pyproxies: this.debug ? mod.pyproxy_alloc_map.size : null,
      js_heap_bytes: performance.memory?.usedJSHeapSize ?? null,
    };
  }

  #enqueue(job) {
    const result = this.queue.then(job);
    this.queue = result.catch(() => {});
    return result;
  }

  /**
   * The model's verified hooks file (null without one). Hooks may import anything: the whole
   * library is installed first, then the hooks' wheels.
   */
  async #prepareHooks(model) {
    if (!model.hooks) return null;
    const hooks = await fetchVerifiedHooks(this.modelsUrl, model);
    await this.#installFullLibrary();
    await installHookWheels(this.pyodide, this.python, this.modelsUrl, model);
    return hooks;
  }

  /** A run-time model's hooks source (null without one), the whole library installed first. */
  async #userHooks(user) {
    if (user.hooks) await this.#installFullLibrary();
    return user.hooks ?? null;
  }

  /** The whole library for Python hooks, installed once; a failed install is tried again. */
  #installFullLibrary() {
    this.fullLibrary ??= this.installLibrary().catch((err) => {
      this.fullLibrary = null;
      throw err;
    });
    return this.fullLibrary;
  }

  #register(model, session, hooks) {
    this.python.addModel(model.id, hooks);
    this.sessions.set(model.id, session);
  }

  #release({ id, session }) {
    this.python.removeModel(id);
    this.sessions.delete(id);
    session.release().catch((err) => console.warn(`releasing model ${id} failed: ${err.message}`));
  }
}

/** Runs at most `limit` decodes at once; the rest wait their turn. */
class DecodeLimiter {
  constructor(limit) {
    this.limit = limit;
    this.running = 0;
    this.waiters = [];
  }

  /** Run `decode` once fewer than `limit` decodes are running. */
  async run(decode) {
    while (this.running >= this.limit) await new Promise((resolve) => this.waiters.push(resolve));
    this.running += 1;
    try {
      return await decode();
    } finally {
      this.running -= 1;
      this.waiters.shift()?.();
    }
  }
}

function throwIfAborted(signal) {
  if (signal.aborted) throw new EdgeInferError(ErrorCode.ABORTED, 'the request was cancelled');
}

function round(ms) {
  return Math.round(ms * 100) / 100;
}
