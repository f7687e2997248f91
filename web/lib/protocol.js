/**
 * The worker protocol, both ends: how requests travel. What each request carries is declared
 * in messages.js.
 *
 * Client -> worker: `{id, type, payload}`; `{type: 'cancel', id}` cancels request `id`.
 * Worker -> client: `{id, type: 'progress', progress}`, `{id, type: 'result', value}`,
 * or `{id, type: 'error', error: {code, message, details}}`. Errors are values: a request
 * always settles, with a result or a coded error, never by silence.
 */
import { EdgeInferError, ErrorCode, abortError, errorFromWire, errorToWire } from './errors.js';

/** Client end: numbered requests over one Worker (or MessagePort), settled by its replies. */
export class WorkerChannel {
  /**
   * @param {Worker|MessagePort} worker the worker, or a port whose other end it serves
   * @param {readonly string[]} requests the request types it serves (messages.js)
   * @param {(reason: EdgeInferError) => void} [onCrash] called once if the worker dies (a
   *   port cannot tell: whoever owns its worker watches it)
   */
  constructor(worker, requests, onCrash) {
    this.worker = worker;
    this.requests = requests;
    this.nextId = 1;
    /** @type {Map<number, {resolve: Function, reject: Function, onProgress?: Function}>} */
    this.pending = new Map();
    this.closed = null;
    worker.addEventListener('message', (event) => this.#onMessage(event.data));
    worker.start?.(); // a MessagePort delivers only once started
    const crash = (event) => {
      const detail = event?.message ? `: ${event.message}` : '';
      const err = new EdgeInferError(ErrorCode.WORKER_CRASHED, `the inference worker stopped${detail}`);
      this.close(err);
      onCrash?.(err);
    };
    worker.addEventListener('error', crash);
    worker.addEventListener('messageerror', crash);
  }

  /**
   * Send a request and resolve with the worker's answer.
   * @param {string} type handler name in the worker
   * @param {object} payload structured-cloneable request data
   * @param {{signal?: AbortSignal, onProgress?: (p: object) => void, transfer?: Transferable[]}} [opts]
   * @returns {Promise<any>}
   */
  request(type, payload, { signal, onProgress, transfer = [] } = {}) {
    if (!this.requests.includes(type)) return Promise.reject(new EdgeInferError(ErrorCode.INTERNAL, `undeclared request type ${type}`));
    if (this.closed) return Promise.reject(this.closed);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        this.worker.postMessage({ type: 'cancel', id });
        reject(abortError(signal));
      };
      const done = (fn) => (value) => {
        signal?.removeEventListener('abort', onAbort);
        fn(value);
      };
      this.pending.set(id, { resolve: done(resolve), reject: done(reject), onProgress });
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.worker.postMessage({ id, type, payload }, transfer);
      } catch (err) {
        this.pending.delete(id);
        done(reject)(new EdgeInferError(ErrorCode.INPUT, `cannot send the input to the worker: ${err.message}`));
      }
    });
  }

  /** Reject every pending request with `reason` and stop the worker (or close the port). */
  close(reason = new EdgeInferError(ErrorCode.DISPOSED, 'the classifier was disposed')) {
    if (this.closed) return;
    this.closed = reason;
    for (const { reject } of this.pending.values()) reject(reason);
    this.pending.clear();
    if (this.worker.terminate) this.worker.terminate();
    else this.worker.close();
  }

  #onMessage(msg) {
    const entry = this.pending.get(msg.id);
    if (!entry) return; // cancelled or unknown: drop
    if (msg.type === 'progress') {
      entry.onProgress?.(msg.progress);
    } else if (msg.type === 'result') {
      this.pending.delete(msg.id);
      entry.resolve(msg.value);
    } else if (msg.type === 'error') {
      this.pending.delete(msg.id);
      entry.reject(errorFromWire(msg.error));
    }
  }
}

/**
 * Worker end: dispatch requests to handlers and always answer.
 *
 * Each handler gets `(payload, ctx)` where `ctx.progress(p)` reports progress,
 * `ctx.signal` aborts when the client cancels, and buffers pushed onto `ctx.transfer` are
 * transferred with the result instead of copied. Handlers run concurrently; a handler that
 * needs ordering awaits its own queue.
 * @param {Record<string, (payload: any, ctx: {id: number, progress: Function, signal: AbortSignal, transfer: Transferable[]}) => any>} handlers
 *   one per declared request type
 * @param {readonly string[]} requests the request types this worker serves (messages.js)
 * @param {DedicatedWorkerGlobalScope|MessagePort} [scope] where requests arrive (a port is started here)
 * @throws {Error} when the handlers do not match the declared requests
 */
export function serveProtocol(handlers, requests, scope = self) {
  const served = Object.keys(handlers).sort().join();
  if (served !== [...requests].sort().join()) throw new Error(`handlers (${served}) do not match the declared requests (${requests})`);
  const controllers = new Map();
  scope.addEventListener('message', async (event) => {
    const { id, type, payload } = event.data ?? {};
    if (type === 'cancel') {
      controllers.get(id)?.abort();
      return;
    }
    const controller = new AbortController();
    controllers.set(id, controller);
    const ctx = {
      id,
      signal: controller.signal,
      progress: (progress) => scope.postMessage({ id, type: 'progress', progress }),
      transfer: [],
    };
    try {
      const handler = handlers[type];
      if (!handler) throw new EdgeInferError(ErrorCode.INTERNAL, `unknown request type ${type}`);
      const value = await handler(payload, ctx);
      if (!controller.signal.aborted) scope.postMessage({ id, type: 'result', value }, ctx.transfer);
    } catch (err) {
      if (!controller.signal.aborted) scope.postMessage({ id, type: 'error', error: errorToWire(err) });
    } finally {
      controllers.delete(id);
    }
  });
  scope.start?.(); // a MessagePort delivers only once started
}
