/**
 * Errors with stable codes, shared by the worker and the client. Codes are the API:
 * messages may change, codes do not.
 */

/** Stable error codes. */
export const ErrorCode = Object.freeze({
  /** The input is not an image the browser can decode (or is empty). */
  DECODE: 'E_DECODE',
  /** The file is an image format this tool refuses on purpose (for example SVG). */
  UNSUPPORTED_FORMAT: 'E_UNSUPPORTED_FORMAT',
  /** The image has more pixels than the decode budget allows. */
  TOO_LARGE: 'E_IMAGE_TOO_LARGE',
  /** The input has the wrong type or shape. */
  INPUT: 'E_INPUT',
  /** The manifest names no such model. */
  MODEL_UNKNOWN: 'E_MODEL_UNKNOWN',
  /** The model file could not be fetched. */
  MODEL_FETCH: 'E_MODEL_FETCH',
  /** The model bytes do not match the sha256 or size of the manifest or of a model spec. */
  MODEL_INTEGRITY: 'E_MODEL_INTEGRITY',
  /** The manifest is malformed, or a model given at run time is not valid (the message names the field). */
  MANIFEST: 'E_MANIFEST',
  /** A runtime file (Pyodide, a wheel, onnxruntime-web) failed to load. */
  RUNTIME_LOAD: 'E_RUNTIME_LOAD',
  /** onnxruntime-web failed while running the model. */
  INFERENCE: 'E_INFERENCE',
  /** The model's own Python hook raised or returned the wrong thing (the message names the file and line). */
  HOOK: 'E_HOOK',
  /** The call was cancelled through its AbortSignal. */
  ABORTED: 'E_ABORTED',
  /** The classifier was disposed. */
  DISPOSED: 'E_DISPOSED',
  /** The worker died; the next call starts a fresh one. */
  WORKER_CRASHED: 'E_WORKER_CRASHED',
  /** Anything else: a bug. The message says what happened. */
  INTERNAL: 'E_INTERNAL',
});

/** An Error carrying a stable `code` from {@link ErrorCode}. */
export class EdgeInferError extends Error {
  /**
   * @param {string} code one of {@link ErrorCode}
   * @param {string} message human-readable explanation
   * @param {object} [details] extra machine-readable facts (file names, hashes)
   */
  constructor(code, message, details = undefined) {
    super(message);
    this.name = 'EdgeInferError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

/**
 * Serialise any thrown value for postMessage, keeping `code` when present.
 * @param {unknown} err
 * @returns {{code: string, message: string, details?: object}}
 */
export function errorToWire(err) {
  if (err instanceof EdgeInferError) {
    return { code: err.code, message: err.message, details: err.details };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: ErrorCode.INTERNAL, message };
}

/**
 * Rebuild an {@link EdgeInferError} from its wire form.
 * @param {{code: string, message: string, details?: object}} wire
 * @returns {EdgeInferError}
 */
export function errorFromWire(wire) {
  return new EdgeInferError(wire.code, wire.message, wire.details);
}

/**
 * The error a cancelled call rejects with; names the signal's reason when it gave one.
 * @param {AbortSignal} [signal]
 * @returns {EdgeInferError} code E_ABORTED
 */
export function abortError(signal) {
  const reason = signal?.reason;
  const why = reason instanceof Error && reason.name !== 'AbortError' ? `: ${reason.message}` : '';
  return new EdgeInferError(ErrorCode.ABORTED, `the request was cancelled${why}`);
}
