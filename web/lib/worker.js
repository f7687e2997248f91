/**
 * The inference worker: boots the runtime once, then decodes and classifies in order.
 *
 * Pyodide (numpy pre/postprocessing) and onnxruntime-web live here, off the main thread.
 * Message shapes are owned by protocol.js; this module supplies the handlers.
 */
import { EdgeInferError, ErrorCode } from './errors.js';
import { decodeToRGBA } from './decode.js';
import { fetchManifest, fetchVerifiedModel, findModel } from './models.js';
import { serveProtocol } from './protocol.js';
import { countFetchedBytes } from './runtime/fetch-progress.js';
import { watchFetchFailures } from './runtime/fetch-watch.js';
import { loadOrt } from './runtime/ort-backend.js';
import { connectOrtWorker } from './runtime/ort-client.js';
import { bootPyodide } from './runtime/pyodide-loader.js';
import { PyArrayView } from './runtime/py-array-view.js';
import { watchWasmMemories } from './runtime/wasm-memory.js';
import { SessionCache } from './session-cache.js';

const progress = createProgressTracker();
let runtime = null; // Promise<Runtime> once init starts
let queue = Promise.resolve(); // classification is strictly in arrival order
let debugEnabled = false;
const memory = { pyodide: null, ort: null, tracing: false }; // for `stats`, set at boot

// A CSP refusal in this worker fires here, never in the page: say it where tests and people look.
self.addEventListener('securitypolicyviolation', (e) => console.error(`edge-infer worker: CSP blocked ${e.blockedURI || 'inline code'} (${e.effectiveDirective})`));

serveProtocol({
  /** Boot (once) and report runtime facts; later calls share the same runtime. */
  async init(options, ctx) {
    const unsubscribe = progress.subscribe(ctx.progress);
    try {
      return (await startRuntime(options)).info;
    } finally {
      unsubscribe();
    }
  },

  /**
   * Memory facts for leak hunting: Pyodide's WASM heap, onnxruntime-web's WASM heap and live
   * PyProxies (both observed only when init had `debug: true`, else null), and this worker's
   * JS heap where the browser exposes it (null in Chrome, whose `performance.memory` is
   * page-only).
   */
  async stats() {
    if (!runtime) throw new EdgeInferError(ErrorCode.INTERNAL, 'stats before init');
    await runtime;
    const mod = memory.pyodide._module;
    return {
      wasm_heap_bytes: mod.HEAP8.length,
      ort_wasm_heap_bytes: await memory.ort.heapBytes(),
      pyproxies: memory.tracing ? mod.pyproxy_alloc_map.size : null,
      js_heap_bytes: performance.memory?.usedJSHeapSize ?? null,
    };
  },

  /**
   * Test hook for crash recovery: die the way a crashing worker does (an uncaught error).
   * `worker: 'onnxruntime'` crashes onnxruntime-web's worker instead (the page then stops
   * this one too). Only honoured when the runtime booted with `debug: true`.
   */
  crash({ worker = 'inference' } = {}) {
    if (!debugEnabled) throw new EdgeInferError(ErrorCode.INPUT, 'crash needs a runtime booted with debug: true');
    if (worker === 'onnxruntime') {
      if (!memory.ort?.simulateCrash) throw new EdgeInferError(ErrorCode.INPUT, "onnxruntime-web has no worker of its own in this runtime");
      memory.ort.simulateCrash();
      return;
    }
    setTimeout(() => {
      throw new Error('edge-infer test hook: simulated worker crash');
    });
  },

  /**
   * Make `model` ready (download with progress, verify, create the session) without
   * classifying. A cached model answers at once with `cached: true`.
   */
  async loadModel({ model }, ctx) {
    if (!runtime) throw new EdgeInferError(ErrorCode.INTERNAL, 'loadModel before init');
    const rt = await runtime;
    const spec = findModel(rt.manifest, model);
    const job = queue.then(async () => {
      const t0 = performance.now();
      const onBytes = (loaded, total) => ctx.progress({ state: 'loading', stages: ['model'], model: spec.id, loaded, total });
      const { cached } = await rt.ensureModel(spec.id, onBytes);
      return { id: spec.id, version: spec.version, name: spec.name, cached, ms: round(performance.now() - t0), cache: rt.cache.stats() };
    });
    queue = job.catch(() => {});
    return job;
  },

  /**
   * Decode one image and classify it. Decoding starts at once (a few images ahead of the
   * engine, so the next image decodes while this one is inferred); classification itself
   * runs strictly in arrival order.
   */
  async classify({ image, name, model, topK = 5, decodeMs = 0, preprocess = 'fast' }, ctx) {
    if (!runtime) throw new EdgeInferError(ErrorCode.INTERNAL, 'classify before init');
    if (preprocess !== 'fast' && preprocess !== 'exact') {
      throw new EdgeInferError(ErrorCode.INPUT, `preprocess must be 'fast' or 'exact', got ${preprocess}`);
    }
    const rt = await runtime;
    const received = performance.now();
    const spec = findModel(rt.manifest, model);
    const decoded = decodeAhead(() => {
      if (ctx.signal.aborted) throw new EdgeInferError(ErrorCode.ABORTED, 'the request was cancelled');
      const resizeShorterSide = preprocess === 'fast' ? spec.preprocess.resize.shorter_side : undefined;
      return timed(() => decodeToRGBA(image, name, { resizeShorterSide }));
    });
    decoded.catch(() => {}); // observed below, in order
    const job = queue.then(async () => {
      if (ctx.signal.aborted) throw new EdgeInferError(ErrorCode.ABORTED, 'the request was cancelled');
      const { value: pixels, ms } = await decoded;
      return rt.classify(pixels, spec.id, topK, decodeMs + ms, received, preprocess);
    });
    queue = job.catch(() => {});
    return job;
  },
});

const MAX_DECODES_AHEAD = 2; // bounds memory when many large images are dropped at once
let decodesInFlight = 0;
const decodeWaiters = [];

/** Run `decode` when fewer than MAX_DECODES_AHEAD decodes are running. */
async function decodeAhead(decode) {
  while (decodesInFlight >= MAX_DECODES_AHEAD) await new Promise((resolve) => decodeWaiters.push(resolve));
  decodesInFlight += 1;
  try {
    return await decode();
  } finally {
    decodesInFlight -= 1;
    decodeWaiters.shift()?.();
  }
}

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

function startRuntime(options) {
  runtime ??= bootRuntime(options).catch((err) => {
    runtime = null; // a later init may retry (for example after the server comes back)
    progress.fail();
    throw err;
  });
  return runtime;
}

/**
 * Everything starts at once: Pyodide + numpy + our wheel in this worker, onnxruntime-web in
 * its own worker, and the model download. The slowest chain (Pyodide) sets the time to ready.
 */
async function bootRuntime({ baseUrl, model: modelId, threads: requestedThreads, provider = 'wasm', cache, debug = false, ortPort = null, _experiment: experiment = {} }) {
  debugEnabled = debug;
  // Only when ORT loads in this worker (no port): otherwise its own worker watches its heap.
  if (debug && !ortPort) watchWasmMemories(); // before ORT instantiates: stats() sees its heap
  const t0 = performance.now();
  const base = new URL(baseUrl);
  const vendorUrl = new URL('vendor/', base);
  const modelsUrl = new URL('models/', base);
  const timings = {};
  countFetchedBytes((_url, n) => progress.bytes(n), (url) => url.startsWith(base.origin));

  progress.start('config');
  const [vendor, manifest] = await Promise.all([fetchVendor(vendorUrl), fetchManifest(new URL('manifest.json', modelsUrl))]);
  progress.done('config');
  const model = findModel(manifest.data, modelId);
  progress.setTotal(vendorBytes(vendor) + model.bytes);

  const isolated = self.crossOriginIsolated === true;
  const maxThreads = isolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const threads = Math.max(1, Math.min(requestedThreads || maxThreads, maxThreads));

  // A refused or corrupt runtime file fails the boot at once, named (see fetch-watch.js:
  // Pyodide would hang on a missing or corrupt pyodide.asm.wasm, which it never retries;
  // onnxruntime-web would not say which file it lacked).
  const pyodideWasm = new URL(`${vendor.pyodide.index}pyodide.asm.wasm`, vendorUrl).href;
  const missing = watchFetchFailures((url) => url.startsWith(vendorUrl.href), { final: (url) => url === pyodideWasm });
  let markCreated;
  const created = new Promise((resolve) => {
    markCreated = resolve;
  });
  // onnxruntime-web gets a thread of its own: the page started its worker and sent a port to
  // it (`ortPort`). In this worker its session creation is a chain of small async steps
  // (fetches, its thread pool's handshake) that loadPyodide's long synchronous phases starve,
  // so the two took turns. Without a port (`_experiment.ortWorker: false`, the bench's "ORT in
  // this worker" alternatives) ORT loads here, and loadPyodide waits for its session unless
  // `_experiment.parallelBoot`.
  const ortHere = !ortPort;
  let backendRef = null; // to stop ORT's worker if the boot fails
  let bootFailed = false;
  const session = (async () => {
    progress.start('onnxruntime');
    const ortStart = performance.now();
    const ortOpts = { ortUrl: new URL(vendor.onnxruntime_web.dir, vendorUrl), threads, provider };
    const backendP = (ortHere ? loadOrt(ortOpts) : connectOrtWorker({ ...ortOpts, port: ortPort, debug })).then((b) => {
      backendRef = b;
      if (bootFailed) b.close?.();
      timings.ort_import = round(performance.now() - ortStart);
      return b;
    });
    progress.start('model');
    const bytes = await fetchVerifiedModel(modelsUrl, model);
    timings.model_fetch_done_at = round(performance.now() - t0);
    progress.done('model');
    const backend = await backendP;
    progress.start('session');
    const sessionStart = performance.now();
    const s = await backend.createSession(bytes, model, (n) => progress.bytes(n));
    timings.session_create = round(performance.now() - sessionStart);
    markCreated();
    // ORT's first run is several times slower than later ones; take it while Python boots.
    // One run only: a second one (tried) overlapped Python's imports on a revisit and slowed
    // them from 0.4 to 0.8 s, more than it saved on the first classification.
    const warmStart = performance.now();
    await s.run(new Float32Array(model.input.shape.reduce((a, b) => a * b, 1)));
    timings.ort_warmup = round(performance.now() - warmStart);
    progress.done('onnxruntime', 'session');
    return { backend, session: s };
  })();
  session.catch(markCreated); // a failed session fails the boot; never leave Python waiting
  const startAfter = ortHere && !experiment.parallelBoot ? created : null;
  const python = bootPyodide({ vendorUrl, vendor, timings, experiment, startAfter, onStage: (stage) => progress.start(stage) }).then(async ({ pyodide, hostModule }) => {
    progress.done('pyodide', 'numpy', 'package');
    const host = hostModule.BrowserHost(manifest.text); // runtime facts once ORT has booted too
    hostModule.destroy();
    // Warm Python's side too; onnxruntime-web warmed its own first run.
    progress.start('warmup');
    const w0 = performance.now();
    await warmUpPython(host, model);
    timings.warmup = round(performance.now() - w0);
    progress.done('warmup');
    timings.python_done_at = round(performance.now() - t0);
    return { pyodide, host };
  });
  const [{ pyodide, host }, { backend, session: firstSession }] = await Promise.race([
    Promise.all([python, session]),
    missing.failure,
  ])
    .catch((err) => {
      bootFailed = true;
      backendRef?.close?.();
      throw err;
    })
    .finally(missing.stop);
  memory.pyodide = pyodide;
  memory.ort = backend;
  if (debug) {
    pyodide._module.enable_pyproxy_allocation_tracing(); // from here on every PyProxy is counted
    memory.tracing = true;
  }

  const notes = [];
  if (requestedThreads > maxThreads) {
    notes.push(`${requestedThreads} threads requested; ${maxThreads} available (${isolated ? 'hardware' : 'page is not cross-origin isolated'})`);
  }
  if (backend.provider.note) notes.push(backend.provider.note);
  const facts = {
    pyodide: pyodide.version,
    onnxruntime_web: backend.version,
    backend: 'wasm',
    execution_provider: backend.provider.name,
    threads: backend.threads,
    cross_origin_isolated: isolated,
    notes,
  };
  host.set_runtime(JSON.stringify(facts));
  const rt = new Runtime({ host, backend, manifest: manifest.data, modelsUrl, cache });
  rt.addSession(model, firstSession);
  timings.ready = round(performance.now() - t0);
  progress.finish();

  const runtimeFacts = JSON.parse(host.runtime_json());
  rt.info = { runtime: runtimeFacts, model: { id: model.id, version: model.version, name: model.name }, startup_ms: timings };
  return rt;
}

/** Booted state: the Python host, the ORT backend and one session per loaded model. */
class Runtime {
  constructor({ host, backend, manifest, modelsUrl, cache = {} }) {
    this.host = host;
    this.backend = backend;
    this.manifest = manifest;
    this.modelsUrl = modelsUrl;
    this.cache = new SessionCache({ ...cache, onEvict: (entry) => this.#release(entry) });
    this.sessions = new Map(); // model id -> OrtModelSession, as registered with Python
    this.arrays = new Map(); // model id -> {input, logits}: PyArrayViews of Python's buffers
    // One PyProxy per method, reused for every call.
    this.pyBegin = host.begin;
    this.pyEnd = host.end;
    this.pyAbandon = host.abandon;
  }

  /** Register a session with Python and the cache (used for the boot model). */
  addSession(model, session) {
    this.#register(model, session);
    this.cache.put(model, session);
  }

  /**
   * The model's session, loaded (fetched, verified, created) on first use. A failed load
   * (for example an integrity mismatch) leaves every cached model working.
   * @returns {Promise<{model: object, cached: boolean}>}
   */
  async ensureModel(modelId, onBytes) {
    const model = findModel(this.manifest, modelId);
    const { cached } = await this.cache.acquire(model, async () => {
      const bytes = await fetchVerifiedModel(this.modelsUrl, model, onBytes);
      const session = await this.backend.createSession(bytes, model);
      this.#register(model, session);
      return session;
    });
    return { model, cached };
  }

  #register(model, session) {
    this.host.add_model(model.id);
    this.arrays.set(model.id, modelArrays(this.host, model.id));
    this.sessions.set(model.id, session);
  }

  #release({ id, session }) {
    const arrays = this.arrays.get(id);
    arrays.input.release();
    arrays.logits.release();
    this.arrays.delete(id);
    this.host.remove_model(id);
    this.sessions.delete(id);
    session.release().catch((err) => console.warn(`releasing model ${id} failed: ${err.message}`));
  }

  /**
   * Classify decoded pixels with a loaded model.
   * @param {{rgba: Uint8ClampedArray, width: number, height: number, sourceWidth: number, sourceHeight: number}} pixels
   * @param {number} decodeMs time spent decoding (and, in fast mode, resizing)
   * @param {number} started when the request arrived (performance.now())
   */
  async classify(pixels, modelId, topK, decodeMs, started, preprocess) {
    const { model } = await this.ensureModel(modelId);
    const session = this.sessions.get(model.id);
    const classifyStart = performance.now();
    // Python preprocesses into its input tensor, onnxruntime-web runs on a view of it, the
    // logits go into Python's logits buffer, Python postprocesses: two synchronous calls, no
    // Python event-loop round trips, no PyProxy per image.
    const arrays = this.arrays.get(model.id);
    let ortMs;
    let inferenceMs;
    try {
      this.#call(() => this.pyBegin(model.id, pixels.rgba, pixels.width, pixels.height, topK, decodeMs));
      const inferStart = performance.now();
      const { logits, runMs } = await session.run(arrays.input.data);
      ortMs = runMs;
      arrays.logits.data.set(logits);
      inferenceMs = performance.now() - inferStart;
    } catch (err) {
      this.pyAbandon(model.id);
      throw toCoded(err);
    }
    const json = this.#call(() => this.pyEnd(model.id, inferenceMs));
    const result = JSON.parse(json);
    const done = performance.now();
    // total = decode + everything after it; time spent waiting in the queue is reported apart.
    result.timings_ms.total = round(decodeMs + (done - classifyStart));
    result.latency_ms = result.timings_ms.total;
    result.timings_detail_ms = {
      ort_run: round(ortMs),
      queue_wait: round(Math.max(0, done - started - (done - classifyStart) - decodeMs)),
    };
    result.image = { width: pixels.sourceWidth, height: pixels.sourceHeight };
    result.preprocess_mode = preprocess;
    return result;
  }

  /** Call into Python; its exceptions become coded errors. */
  #call(fn) {
    try {
      return fn();
    } catch (err) {
      throw toCoded(err);
    }
  }
}

/**
 * One pass of the image path without inference: decode (the browser's resampling) and
 * Python's begin/end on a generated JPEG. The first call of each numpy path is several times
 * slower than later ones; this takes that cost before ready, while onnxruntime-web warms up
 * its own first run in parallel (see bootRuntime). The model is removed again: the runtime
 * registers it with its session.
 */
async function warmUpPython(host, model) {
  // The fast path only: it is what the first image takes (exact mode warms on first use).
  const pixels = await decodeToRGBA(await warmUpJpeg(), 'warm-up', { resizeShorterSide: model.preprocess.resize.shorter_side });
  host.add_model(model.id);
  try {
    const { input, logits } = modelArrays(host, model.id);
    try {
      host.begin(model.id, pixels.rgba, pixels.width, pixels.height, 5, 0);
      input.data.fill(0, 0, 1); // touch the view as a classification does
      logits.data.fill(0);
      host.end(model.id, 0);
    } finally {
      input.release();
      logits.release();
    }
  } finally {
    host.remove_model(model.id);
  }
}

/** A 320x240 JPEG made here, so the warm-up takes a photo's path: header check, decode, resize. */
async function warmUpJpeg() {
  const canvas = new OffscreenCanvas(320, 240);
  const ctx = canvas.getContext('2d');
  const gradient = ctx.createLinearGradient(0, 0, 320, 240);
  gradient.addColorStop(0, '#203040');
  gradient.addColorStop(1, '#c08060');
  ctx.fillStyle = gradient;
  ctx.fillRect(0, 0, 320, 240);
  return canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
}

/** Views of the two arrays Python reuses for `modelId`: its input tensor and its logits. */
function modelArrays(host, modelId) {
  return { input: new PyArrayView(host.input_tensor(modelId)), logits: new PyArrayView(host.logits_buffer(modelId)) };
}

/** Python exceptions arrive as PythonError; keep coded errors, label the rest. */
function toCoded(err) {
  if (err instanceof EdgeInferError) return err;
  const text = String(err?.message ?? err);
  const last = text.trim().split('\n').pop();
  if (/PreprocessError|PostprocessError/.test(last)) return new EdgeInferError(ErrorCode.INPUT, last);
  if (/EdgeInferError/.test(text)) return new EdgeInferError(ErrorCode.INFERENCE, last);
  return new EdgeInferError(ErrorCode.INTERNAL, last);
}

async function fetchVendor(vendorUrl) {
  const url = new URL('vendor.json', vendorUrl);
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.json();
  } catch (err) {
    throw new EdgeInferError(ErrorCode.RUNTIME_LOAD, `failed to load ${url} (run npm run setup): ${err.message}`, { file: String(url) });
  }
}

/**
 * Bytes of the vendored files a default boot fetches: not ES modules (imported, not
 * fetched), and not what vendor.json lists as `not_fetched_by_default` (setup's
 * unused_by_default_boot: the installers' wheels, files the bytecode and the site bundle
 * replace, the opt-in Pyodide snapshot).
 */
function vendorBytes(vendor) {
  const notFetched = new Set(vendor.not_fetched_by_default ?? []);
  return Object.entries(vendor.files ?? {})
    .filter(([path]) => !/\.m?js$/.test(path) && !notFetched.has(path))
    .reduce((sum, [, f]) => sum + (f.bytes ?? 0), 0);
}

function round(ms) {
  return Math.round(ms * 100) / 100;
}

/** Aggregates boot progress (active stages + bytes) for every init caller. */
function createProgressTracker() {
  const listeners = new Set();
  const active = new Set();
  let loaded = 0;
  let total = 0;
  let state = 'loading';
  const emit = () => {
    const p = { state, stages: [...active], loaded, total: Math.max(total, loaded) };
    for (const fn of listeners) fn(p);
  };
  let lastEmit = 0;
  return {
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    start(stage) {
      active.add(stage);
      emit();
    },
    done(...stages) {
      for (const s of stages) active.delete(s);
      emit();
    },
    bytes(n) {
      loaded += n;
      const now = performance.now();
      if (now - lastEmit > 50) {
        lastEmit = now;
        emit();
      }
    },
    setTotal(n) {
      total = n;
      emit();
    },
    finish() {
      active.clear();
      state = 'ready';
      emit();
    },
    fail() {
      active.clear();
      state = 'error';
      emit();
    },
  };
}
