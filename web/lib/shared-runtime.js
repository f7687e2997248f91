/**
 * The workers shared by every classifier with the same base URL, and the order in which they
 * take work. The page starts both workers (see SharedRuntime).
 */
import { LIMITS } from './config.js';
import { EdgeInferError, ErrorCode } from './errors.js';
import { FairQueue } from './fair-queue.js';
import { INFERENCE_REQUESTS, ORT_CONNECT } from './messages.js';
import { WorkerChannel } from './protocol.js';
import { spawnModuleWorker } from './spawn-worker.js';

/** @type {Map<string, SharedRuntime>} one worker per base URL */
const runtimes = new Map();

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
    const worker = spawnModuleWorker(new URL('lib/worker.js', baseUrl), 'edge-infer');
    this.channel = new WorkerChannel(worker, INFERENCE_REQUESTS, (err) => this.#retire(err));
    this.ortWorker = null; // started by init
    this.queue = new FairQueue(this.channel, LIMITS.inFlight);
  }

  /**
   * Boot both workers once (messages.js InitRequest); every later call shares that boot.
   * @param {object} options resolved classifier options (config.js)
   * @returns {Promise<object>} messages.js InitResult
   */
  init(options) {
    if (options.onProgress) this.progressListeners.add(options.onProgress);
    this.initPromise ??= this.#boot(options, this.#startOrtWorker());
    return this.initPromise;
  }

  /** Start onnxruntime-web's worker; returns the port the inference worker talks to it on. */
  #startOrtWorker() {
    this.ortWorker = spawnModuleWorker(new URL('lib/ort-worker.js', this.baseUrl), 'edge-infer-ort');
    this.ortWorker.addEventListener('error', (event) => this.#retire(ortCrash(event)));
    const { port1, port2 } = new MessageChannel();
    this.ortWorker.postMessage({ type: ORT_CONNECT }, [port2]);
    return port1;
  }

  #boot(options, ortPort) {
    const { model, threads, provider, cache, debug } = options;
    const request = { baseUrl: this.baseUrl, model, threads, provider, cache, debug, ortPort };
    const onProgress = (p) => this.progressListeners.forEach((fn) => fn(p));
    return this.channel.request('init', request, { onProgress, transfer: [ortPort] }).catch((err) => {
      // Never cache a failed boot: once the missing file is back (or the server), the next
      // call must load. It gets a new worker, because a failed boot leaves state that cannot
      // be reset in place (onnxruntime-web refuses a second WASM load in the same worker, and
      // a Pyodide whose wasm never arrived never settles).
      this.#retire(err);
      throw err;
    });
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
 * A lease on the runtime for `options.baseUrl`: a new one if none runs or the last one is
 * down. Release it when the classifier is disposed; the last release stops the workers.
 * @param {{baseUrl: string, onProgress?: Function}} options
 * @returns {{runtime: SharedRuntime, release: () => void}}
 */
export function acquireRuntime(options) {
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
