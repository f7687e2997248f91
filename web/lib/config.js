/**
 * Defaults and limits: the one place that says what a classifier does when an option is
 * left out, and which values are accepted. The page, `<edge-classifier>`, the client and both
 * workers read from here.
 */
import { EdgeInferError, ErrorCode } from './errors.js';

/** Preprocessing modes: the browser resamples while decoding, or numpy does (Pillow's filter). */
export const PREPROCESS_MODES = Object.freeze(['fast', 'exact']);

/** The options every classifier has when the caller leaves them out. */
export const DEFAULTS = Object.freeze({
  /** classes per result */
  topK: 5,
  /** @type {'fast'|'exact'} */
  preprocess: 'fast',
  /** @type {'wasm'|'webgpu'|'webnn'} */
  provider: 'wasm',
  /** Session cache bounds: three models, or 96 MB of model files, whichever is hit first. */
  cache: Object.freeze({ maxModels: 3, maxBytes: 96 * 1024 * 1024 }),
  debug: false,
});

/**
 * The page's preprocessing choices for a model a user drops (model-choices.js), preset to
 * ImageNet's conventions as add-model's defaults are (edge_infer.add_model): a 224 input, the
 * shorter side resized to 224 / (224 / 256) = 256 then centre-cropped, RGB, NCHW, values
 * scaled by 1/255 then normalised with ImageNet's mean and std, and a softmax.
 */
export const USER_MODEL = Object.freeze({
  size: 224,
  /** crop / shorter side: torchvision's Resize(256) + CenterCrop(224) */
  cropRatio: 224 / 256,
  resize: 'shorter_side',
  channelOrder: 'RGB',
  layout: 'NCHW',
  scale: 1 / 255,
  mean: Object.freeze([0.485, 0.456, 0.406]),
  std: Object.freeze([0.229, 0.224, 0.225]),
  /** mean and std for a grey (L) input */
  greyMean: Object.freeze([0]),
  greyStd: Object.freeze([1]),
  activation: 'softmax',
});

/** The camera readout (page and element): the best class only, so it stays readable live. */
export const CAMERA = Object.freeze({ topK: 1 });

/** Limits of the pipeline, not options: why each value is what it is. */
export const LIMITS = Object.freeze({
  /**
   * Requests the page hands to the inference worker at once. Two lets the worker decode the
   * next image while it runs this one; the order is still decided on the page.
   */
  inFlight: 2,
  /** Decodes the worker runs ahead of the engine: bounds memory when many large images drop. */
  decodesAhead: 2,
  /** Most onnxruntime-web threads: more than 4 gave nothing on the models we ship. */
  maxThreads: 4,
  /**
   * Largest image decoded, in pixels (from its header, before decoding): a 50 MP RGBA image
   * is 200 MB. The CPython host has the same limit (edge_infer.decode.MAX_PIXELS).
   */
  decodePixels: 50_000_000,
});

/**
 * onnxruntime-web threads for a request: the request clamped to what the page can use.
 * Without cross-origin isolation WebAssembly threads cannot start, so the answer is 1.
 * @param {number|undefined} requested the caller's `threads`, or undefined for the default
 * @param {{isolated: boolean, cores: number}} page `crossOriginIsolated` and hardware cores
 * @returns {{threads: number, available: number, note: string|null}} `note` says why a
 *   request was lowered
 */
export function threadPolicy(requested, { isolated, cores }) {
  const available = isolated ? Math.min(LIMITS.maxThreads, cores || 1) : 1;
  const threads = Math.max(1, Math.min(requested || available, available));
  const note = requested > available
    ? `${requested} threads requested; ${available} available (${isolated ? 'hardware' : 'page is not cross-origin isolated'})`
    : null;
  return { threads, available, note };
}

/**
 * A classifier's options with every default filled in and every value checked.
 * @param {object} [options] the caller's ClassifierOptions (see client.js)
 * @returns {object} the same options, complete; unknown keys pass through untouched
 * @throws {EdgeInferError} E_INPUT naming a `topK` or `preprocess` it cannot accept
 */
export function resolveOptions(options = {}) {
  const resolved = { ...DEFAULTS, ...dropUndefined(options) };
  resolved.cache = { ...DEFAULTS.cache, ...dropUndefined(options.cache ?? {}) };
  checkTopK(resolved.topK);
  checkPreprocess(resolved.preprocess);
  // `threads` and `provider` are requests, not demands: the worker lowers them to what the
  // page can do and says so in `runtime.notes` (threadPolicy, the ORT backend's provider).
  return resolved;
}

/** @throws {EdgeInferError} unless `topK` is a positive integer */
function checkTopK(topK) {
  if (!Number.isInteger(topK) || topK < 1) throw new EdgeInferError(ErrorCode.INPUT, `topK must be a positive integer, got ${topK}`);
}

/** @throws {EdgeInferError} unless `mode` is a preprocessing mode */
export function checkPreprocess(mode) {
  if (!PREPROCESS_MODES.includes(mode)) {
    throw new EdgeInferError(ErrorCode.INPUT, `preprocess must be ${PREPROCESS_MODES.map((m) => `'${m}'`).join(' or ')}, got ${mode}`);
  }
}

function dropUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}
