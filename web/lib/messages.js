/**
 * The messages of both workers, declared: every request a worker serves, its payload, its
 * answer and its progress reports. protocol.js carries them (ids, cancellation, errors as
 * values); each worker's handlers must match its list here, and a client can only send what
 * is listed (both checked at run time).
 *
 * Three parties: the page (client.js), the inference worker (worker.js: Pyodide and the
 * per-image path) and onnxruntime-web's worker (ort-worker.js). The page talks to the
 * inference worker only; the inference worker talks to ORT's worker over a MessagePort that
 * the page connected (see {@link OrtConnectMessage}).
 */

// ---------------------------------------------------------------------------------------
// Page -> inference worker (worker.js)
// ---------------------------------------------------------------------------------------

/**
 * `init`: boot the runtime once; later calls share it. Progress: {@link BootProgress}.
 * @typedef {object} InitRequest
 * @property {string} baseUrl folder holding `vendor/`, `models/` and `lib/`
 * @property {string} [model] the model to load at boot; the manifest's default if omitted
 * @property {number} [threads] requested onnxruntime-web threads (see config.js threadPolicy)
 * @property {string} provider preferred execution provider
 * @property {{maxModels: number, maxBytes: number}} cache session cache bounds
 * @property {boolean} debug count PyProxies, watch WASM heaps, honour `crash`
 * @property {MessagePort} ortPort connected to onnxruntime-web's worker (transferred)
 */

/**
 * @typedef {object} InitResult
 * @property {object} runtime runtime facts, as every result's `runtime` (built by Python)
 * @property {{id: string, version: string, name: string}} model the model loaded at boot
 * @property {Record<string, number>} startup_ms boot stages' durations and end times
 */

/**
 * @typedef {object} BootProgress
 * @property {'loading'|'ready'|'error'} state
 * @property {string[]} stages boot stages running now (see boot.js BOOT_STAGES)
 * @property {number} loaded bytes downloaded so far
 * @property {number} total bytes a default boot downloads
 */

/**
 * `stats`: memory facts for leak hunting.
 * @typedef {object} StatsRequest
 */

/**
 * @typedef {object} StatsResult
 * @property {number} wasm_heap_bytes Pyodide's WASM heap
 * @property {number|null} ort_wasm_heap_bytes onnxruntime-web's WASM heap (null without debug)
 * @property {number|null} pyproxies live PyProxies (null without debug)
 * @property {number|null} js_heap_bytes this worker's JS heap where the browser exposes it
 */

/**
 * `crash`: test hook (debug runtimes only): the named worker dies as a crash would. Never
 * answers: the page sees the worker die (E_WORKER_CRASHED).
 * @typedef {object} CrashRequest
 * @property {'inference'|'onnxruntime'} worker which worker dies
 */

/**
 * `loadModel`: make a model ready without classifying. Progress: {@link ModelProgress}.
 * @typedef {object} LoadModelRequest
 * @property {string} model manifest id, or the id of a model registered at run time
 */

/**
 * @typedef {object} LoadModelResult
 * @property {string} id
 * @property {string} version
 * @property {string} name
 * @property {boolean} cached the session was already loaded
 * @property {number} ms time to make it ready
 * @property {{models: string[], bytes: number}} cache the session cache afterwards
 */

/**
 * @typedef {object} ModelProgress
 * @property {'loading'} state
 * @property {['model']} stages
 * @property {string} model the model id
 * @property {number} loaded bytes of the model file downloaded so far
 * @property {number} total the model file's size
 */

/**
 * `classify`: decode and classify one image.
 * @typedef {object} ClassifyRequest
 * @property {Blob|ImageBitmap|{data: Uint8ClampedArray, width: number, height: number}} image
 *   the input as the page prepared it (inputs.js); bitmaps and pixel buffers are transferred
 * @property {string} name shown in error messages
 * @property {string} [model] manifest id; the boot model if omitted
 * @property {number} topK classes in the result
 * @property {'fast'|'exact'} preprocess see config.js PREPROCESS_MODES
 * @property {number} decodeMs time the page already spent decoding (element inputs)
 */

/**
 * The result of `classify`, built by Python (edge_infer.pipeline.make_result and
 * edge_infer.hosts.browser). Every host returns the same fields.
 * @typedef {object} ClassificationResult
 * @property {string} label
 * @property {number} confidence
 * @property {{index: number, label: string, probability: number}[]} top_k
 * @property {{decode: number, preprocess: number, inference: number, postprocess: number, total: number}} timings_ms
 * @property {{ort_run: number, queue_wait: number}} timings_detail_ms
 * @property {{width: number, height: number}} image the source size
 * @property {'fast'|'exact'} preprocess_mode
 * @property {number} latency_ms
 * @property {string} model_version
 * @property {{id: string, version: string}} model
 * @property {object} runtime
 */

/**
 * `registerModel`: check a model given at run time and make it classifiable under its id (see
 * client.js ModelSpec). The worker fetches or reads the file, checks its sha256, creates its
 * session and runs it once; Python validates the entry it builds, as a manifest entry.
 * Registering an id again replaces that model. Progress: {@link ModelProgress}.
 * @typedef {object} RegisterModelRequest
 * @property {object} spec client.js ModelSpec, with URLs made absolute and `bytes` a Blob or
 *   a Uint8Array (a copy: the caller's buffer is left alone)
 */

/**
 * @typedef {object} RegisterModelResult
 * @property {string} id
 * @property {string} version
 * @property {string} name
 * @property {string} sha256 of the model file
 * @property {number} bytes the model file's size
 * @property {string[]} labels
 * @property {object} entry the whole entry, in the manifest's schema
 * @property {number} ms time to register it
 * @property {{models: string[], bytes: number}} cache the session cache afterwards
 */

/** Requests the inference worker serves. */
export const INFERENCE_REQUESTS = Object.freeze(['init', 'stats', 'crash', 'loadModel', 'registerModel', 'classify']);

// ---------------------------------------------------------------------------------------
// Page -> onnxruntime-web's worker (ort-worker.js), once, outside the request protocol
// ---------------------------------------------------------------------------------------

/**
 * Posted by the page to ORT's worker with one end of a MessageChannel; the inference worker
 * gets the other end in {@link InitRequest}.ortPort and sends every request below over it.
 * @typedef {{type: 'connect'}} OrtConnectMessage
 */
export const ORT_CONNECT = 'connect';

// ---------------------------------------------------------------------------------------
// Inference worker -> onnxruntime-web's worker, over the connected port
// ---------------------------------------------------------------------------------------

/**
 * `load`: import and configure onnxruntime-web (once).
 * @typedef {object} OrtLoadRequest
 * @property {string} ortUrl folder of onnxruntime-web's files
 * @property {number} threads intra-op threads
 * @property {string} provider preferred execution provider
 * @property {boolean} debug watch ORT's WASM heap, honour `crash`
 */

/**
 * @typedef {object} OrtLoadResult
 * @property {string} version onnxruntime-web's version
 * @property {{name: string, note: string|null}} provider the provider in use, and why it
 *   differs from the request
 */

/**
 * `createSession`: a session from verified model bytes (transferred). Progress: `{bytes}`,
 * bytes of ORT's own files fetched meanwhile (the first session loads ORT's WASM).
 * @typedef {object} OrtCreateSessionRequest
 * @property {Uint8Array} bytes the .onnx file
 * @property {{id: string, input?: {name: string, shape: number[]}, output?: {name: string}}} model
 *   its manifest entry; only `id` for a model registered at run time (its first input and
 *   output are used, see OrtCreateSessionResult.io)
 */

/**
 * @typedef {object} OrtCreateSessionResult
 * @property {number} sessionId
 * @property {number} threads
 * @property {{inputs: {name: string, type: string|null, shape: (number|string)[]|null}[], outputs: object[]}} io
 *   the file's inputs and outputs as declared (what a model registered at run time is checked against)
 */

/**
 * `run`: one inference. The input's buffer comes back with the answer, for the next run.
 * @typedef {{sessionId: number, input: Float32Array}} OrtRunRequest
 */

/** @typedef {{logits: Float32Array, runMs: number, input: Float32Array}} OrtRunResult */

/** `release`: free a session's WASM memory. @typedef {{sessionId: number}} OrtReleaseRequest */

/** `stats`: @typedef {{ort_wasm_heap_bytes: number|null}} OrtStatsResult */

/** `crash`: test hook (debug only); never answers. @typedef {object} OrtCrashRequest */

/** Requests onnxruntime-web's worker serves. */
export const ORT_REQUESTS = Object.freeze(['load', 'createSession', 'run', 'release', 'crash', 'stats']);
