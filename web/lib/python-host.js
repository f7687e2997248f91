/**
 * The JavaScript side of `edge_infer.hosts.browser.BrowserHost`: Python's two synchronous
 * calls around the engine for each image, and the views of the arrays Python reuses.
 *
 * Per image: `begin` preprocesses into the model's input tensor, the engine runs on a view of
 * that tensor, the logits go into Python's logits buffer, and `end` builds the whole result
 * from what JavaScript measured. No Python event-loop round trip, no PyProxy per image.
 */
import { EdgeInferError, ErrorCode } from './errors.js';
import { PyArrayView } from './runtime/py-array-view.js';

/** One worker's BrowserHost, driven from JavaScript. */
export class PythonHost {
  /** @param {object} host a PyProxy of a BrowserHost (owned by this object) */
  constructor(host) {
    this.host = host;
    // One PyProxy per method, reused for every call.
    this.begin = host.begin;
    this.end = host.end;
    this.abandon = host.abandon;
    /** @type {Map<string, {input: PyArrayView, logits: PyArrayView}>} per model id */
    this.arrays = new Map();
  }

  /** Add JS-side runtime facts (versions, threads, notes) to every later result. */
  setRuntime(facts) {
    this.host.set_runtime(JSON.stringify(facts));
  }

  /** The runtime facts every result carries, as Python holds them. */
  runtime() {
    return JSON.parse(this.host.runtime_json());
  }

  /**
   * Make `modelId` classifiable (Python validated the manifest entry).
   * @param {string} modelId
   * @param {string | null} [hooks] the model's verified Python hooks file, if it has one
   */
  addModel(modelId, hooks = null) {
    call(() => this.host.add_model(modelId, hooks));
    this.arrays.set(modelId, {
      input: new PyArrayView(this.host.input_tensor(modelId)),
      logits: new PyArrayView(this.host.logits_buffer(modelId)),
    });
  }

  /**
   * Install `modelId`'s hook wheels with micropip, from `folder` in Pyodide's file system
   * (hook-wheels.js wrote them there); Python checks their sha256 again.
   * @param {string} modelId
   * @param {string} folder
   * @returns {Promise<void>}
   */
  async installWheels(modelId, folder) {
    try {
      await this.host.install_wheels(modelId, folder);
    } catch (err) {
      throw toCoded(err);
    }
  }

  /**
   * Have Python validate a model entry given at run time, as a manifest entry, and keep it
   * for addModel (BrowserHost.register_model). Nothing changes if it is refused.
   * @param {object} entry the entry (user-models.js buildEntry)
   * @param {{json: string|null, file: Uint8Array|null, source: string}} labels user-models.js readLabels
   * @param {string|null} hooks the text of its hooks file, if it has one
   * @throws {EdgeInferError} E_MANIFEST naming the field, or E_HOOK
   */
  registerModel(entry, labels, hooks) {
    call(() => this.host.register_model(JSON.stringify(entry), labels.json, labels.file, labels.source, hooks));
  }

  /** The labels of a model, as Python holds them. */
  labels(modelId) {
    return JSON.parse(call(() => this.host.labels_json(modelId)));
  }

  /** Forget `modelId` and release the views of its arrays. */
  removeModel(modelId) {
    const arrays = this.arrays.get(modelId);
    arrays?.input.release();
    arrays?.logits.release();
    this.arrays.delete(modelId);
    this.host.remove_model(modelId);
  }

  /**
   * Classify decoded pixels: Python preprocesses, `infer` runs the engine on the input
   * tensor's view, Python postprocesses and builds the result.
   * @param {string} modelId a model added with addModel
   * @param {{rgba: Uint8ClampedArray, width: number, height: number, sourceWidth: number, sourceHeight: number}} pixels
   * @param {{mode: 'fast'|'exact', topK: number, decodeMs: number, queueWaitMs: number, started: number}} facts
   *   `started`: when this image's turn came (performance.now()), the start of `total`
   * @param {(input: Float32Array) => Promise<{logits: Float32Array, runMs: number}>} infer
   * @returns {Promise<object>} the result (messages.js ClassificationResult)
   */
  async classify(modelId, pixels, facts, infer) {
    const arrays = this.arrays.get(modelId);
    const image = { mode: facts.mode, top_k: facts.topK, decode_ms: facts.decodeMs, source_width: pixels.sourceWidth, source_height: pixels.sourceHeight };
    let measured;
    try {
      const beforeBegin = performance.now() - facts.started;
      call(() => this.begin(modelId, pixels.rgba, pixels.width, pixels.height, JSON.stringify(image)));
      const inferStart = performance.now();
      const { logits, runMs } = await infer(arrays.input.data);
      arrays.logits.data.set(logits);
      measured = { inference: performance.now() - inferStart, ort_run: runMs, queue_wait: facts.queueWaitMs, before_begin: beforeBegin };
    } catch (err) {
      this.abandon(modelId);
      throw toCoded(err);
    }
    return JSON.parse(call(() => this.end(modelId, JSON.stringify(measured))));
  }
}

/** Call into Python; its exceptions become coded errors. */
function call(fn) {
  try {
    return fn();
  } catch (err) {
    throw toCoded(err);
  }
}

/** Python exceptions arrive as PythonError; keep coded errors, label the rest. */
function toCoded(err) {
  if (err instanceof EdgeInferError) return err;
  const text = String(err?.message ?? err);
  const last = text.trim().split('\n').pop();
  if (/PreprocessError|PostprocessError/.test(last)) return new EdgeInferError(ErrorCode.INPUT, last);
  if (/HookError/.test(last)) return new EdgeInferError(ErrorCode.HOOK, last.replace(/^[\w.]*HookError: /, ''));
  if (/ManifestError/.test(last)) return new EdgeInferError(ErrorCode.MANIFEST, last.replace(/^[\w.]*ManifestError: /, ''));
  if (/EdgeInferError/.test(text)) return new EdgeInferError(ErrorCode.INFERENCE, last);
  return new EdgeInferError(ErrorCode.INTERNAL, last);
}
