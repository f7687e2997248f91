/**
 * onnxruntime-web, WASM SIMD backend. The only module that talks to onnxruntime-web.
 *
 * Runs in ORT's own worker (ort-worker.js; ORT's built-in proxy worker only works from a
 * page), or, as a benchmark alternative, in the inference worker beside Pyodide.
 */
import { EdgeInferError, ErrorCode } from '../errors.js';
import { ORT_WASM_URL, wasmMemoryBytes } from './wasm-memory.js';

/** Execution providers this build ships. Others are detected and reported, then skipped. */
const SHIPPED_PROVIDERS = ['wasm'];

/** The WebAssembly binary onnxruntime-web fetches when the first session is created. */
const WASM_FILE = 'ort-wasm-simd-threaded.wasm';

/**
 * Load onnxruntime-web and configure its WASM backend.
 * @param {object} opts
 * @param {URL} opts.ortUrl folder holding ort.wasm.min.mjs and ort-wasm-simd-threaded.{mjs,wasm}
 * @param {number} opts.threads requested intra-op threads (1 without cross-origin isolation)
 * @param {string} [opts.provider] preferred execution provider ('wasm', 'webgpu', 'webnn')
 * @returns {Promise<OrtBackend>}
 */
export async function loadOrt({ ortUrl, threads, provider = 'wasm' }) {
  const entry = new URL('ort.wasm.min.mjs', ortUrl).href;
  let ort;
  try {
    ort = await import(entry);
  } catch (err) {
    throw new EdgeInferError(ErrorCode.RUNTIME_LOAD, `failed to load ${entry}: ${err.message}`, { file: entry });
  }
  ort.env.wasm.wasmPaths = new URL('./', ortUrl).href;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  return new OrtBackend(ort, await chooseProvider(provider), new URL(WASM_FILE, ortUrl).href);
}

async function chooseProvider(requested) {
  if (SHIPPED_PROVIDERS.includes(requested)) return { name: requested, note: null };
  let available = false;
  try {
    if (requested === 'webgpu') available = !!(await navigator.gpu?.requestAdapter());
    if (requested === 'webnn') available = !!navigator.ml;
  } catch {
    available = false;
  }
  const why = available
    ? `${requested} is available in this browser, but this build ships the WASM backend only`
    : `${requested} is not available in this browser`;
  return { name: 'wasm', note: `${why}; using wasm` };
}

/** A loaded onnxruntime-web with the settings it really uses. */
export class OrtBackend {
  constructor(ort, provider, wasmUrl) {
    this.ort = ort;
    this.provider = provider;
    this.wasmUrl = wasmUrl;
    this.started = false; // true once a session exists, i.e. ORT's WASM has loaded
  }

  /** onnxruntime-web's version string. */
  get version() {
    return this.ort.env.versions?.web ?? this.ort.env.versions?.common ?? 'unknown';
  }

  /** Threads in use; ORT lowers the request to 1 without cross-origin isolation. */
  get threads() {
    return this.ort.env.wasm.numThreads;
  }

  /** onnxruntime-web's WASM heap in bytes, or null unless watchWasmMemories() ran first. */
  async heapBytes() {
    return wasmMemoryBytes(ORT_WASM_URL);
  }

  /**
   * Create a session from verified model bytes.
   * @param {Uint8Array} bytes the .onnx file
   * @param {{id: string, input?: {name: string, shape: number[]}, output?: {name: string}}} model
   *   manifest entry; without `input` and `output` (a model registered at run time, whose
   *   entry is not built yet) the session runs the model's first input and output as the
   *   file declares them (see {@link OrtModelSession#io})
   * @returns {Promise<OrtModelSession>}
   */
  async createSession(bytes, model) {
    try {
      const session = await this.ort.InferenceSession.create(bytes, {
        executionProviders: [this.provider.name],
        graphOptimizationLevel: 'all',
      });
      this.started = true;
      return new OrtModelSession(this.ort, session, model);
    } catch (err) {
      // ORT loads its WASM lazily, here, and reports a binary it could not load (served but
      // corrupt, wrong type) as "no available backend": that is the runtime, not the model.
      if (!this.started && /no available backend/i.test(err.message)) {
        throw new EdgeInferError(ErrorCode.RUNTIME_LOAD, `failed to load ${this.wasmUrl}: ${err.message}`, { file: this.wasmUrl });
      }
      throw new EdgeInferError(ErrorCode.INFERENCE, `cannot create a session for model ${model.id}: ${err.message}`);
    }
  }
}

/** One model's session, run on float32 views without copying them first. */
export class OrtModelSession {
  constructor(ort, session, model) {
    this.ort = ort;
    this.session = session;
    /** The file's inputs and outputs: `{inputs, outputs}`, each `[{name, type, shape}]`. */
    this.io = describeIo(session);
    this.inputName = model.input?.name ?? this.io.inputs[0]?.name;
    this.outputName = model.output?.name ?? this.io.outputs[0]?.name;
    this.dims = model.input?.shape ?? this.io.inputs[0]?.shape;
  }

  /**
   * Run on a float32 view. ORT copies the view into its own heap during the call, so the
   * caller may release the view once the promise settles.
   * @param {Float32Array} view
   * @returns {Promise<{logits: Float32Array, runMs: number}>} runMs: ORT's `run` alone
   */
  async run(view) {
    try {
      const t0 = performance.now();
      const input = new this.ort.Tensor('float32', view, this.dims);
      const outputs = await this.session.run({ [this.inputName]: input });
      const runMs = performance.now() - t0;
      const out = outputs[this.outputName];
      const logits = out.data;
      out.dispose?.();
      return { logits, runMs };
    } catch (err) {
      throw new EdgeInferError(ErrorCode.INFERENCE, `onnxruntime-web failed: ${err.message}`);
    }
  }

  /** Free the session's WASM memory. */
  async release() {
    await this.session.release();
  }
}

/**
 * A session's inputs and outputs as the model file declares them. A shape holds numbers, and
 * names (strings) or -1 for dynamic dimensions; it is null when onnxruntime-web does not say.
 * @returns {{inputs: {name: string, type: string|null, shape: (number|string)[]|null}[], outputs: {name: string, type: string|null, shape: (number|string)[]|null}[]}}
 */
function describeIo(session) {
  const describe = (names, metadata = []) =>
    names.map((name) => {
      const meta = metadata.find((m) => m.name === name);
      return { name, type: meta?.isTensor ? meta.type : null, shape: meta?.isTensor ? [...meta.shape] : null };
    });
  return { inputs: describe(session.inputNames, session.inputMetadata), outputs: describe(session.outputNames, session.outputMetadata) };
}
