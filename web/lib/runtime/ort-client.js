/**
 * The inference worker's handle on onnxruntime-web's own worker (ort-worker.js), over the
 * MessagePort the page connected it with (client.js starts both workers).
 *
 * Same interface as ort-backend.js's OrtBackend and OrtModelSession, so the inference worker
 * uses either: createSession(bytes, model) gives a session whose run(view) resolves to
 * `{logits, runMs}`. Each run copies the input tensor out of Pyodide's heap into a buffer that
 * goes to ORT's worker and comes back with the logits (transferred both ways, so no run
 * allocates 600 KB): transferring the view itself would detach Pyodide's memory.
 */
import { EdgeInferError, ErrorCode } from '../errors.js';
import { ORT_REQUESTS } from '../messages.js';
import { WorkerChannel } from '../protocol.js';

/**
 * Load onnxruntime-web in ORT's worker. If that worker dies, the page sees it and stops the
 * runtime (client.js); this end cannot tell.
 * @param {object} opts
 * @param {MessagePort} opts.port connected to ORT's worker
 * @param {URL} opts.ortUrl folder of onnxruntime-web's files
 * @param {number} opts.threads requested intra-op threads
 * @param {string} opts.provider preferred execution provider
 * @param {boolean} [opts.debug] watch ORT's WASM heap for heapBytes()
 * @returns {Promise<OrtWorkerBackend>}
 */
export async function connectOrtWorker({ port, ortUrl, threads, provider, debug = false }) {
  const channel = new WorkerChannel(port, ORT_REQUESTS);
  try {
    const facts = await channel.request('load', { ortUrl: ortUrl.href, threads, provider, debug });
    return new OrtWorkerBackend(channel, facts, threads);
  } catch (err) {
    channel.close();
    throw err;
  }
}

/** onnxruntime-web loaded in its own worker. */
export class OrtWorkerBackend {
  constructor(channel, { version, provider }, threads) {
    this.channel = channel;
    this.version = version;
    /** `{name, note}`: the execution provider in use, and why it differs from the request */
    this.provider = provider;
    /** Threads in use; ORT lowers the request to 1 without cross-origin isolation. */
    this.threads = threads;
  }

  /**
   * Create a session; the bytes are transferred (the caller's copy is emptied).
   * @param {Uint8Array} bytes the verified .onnx file
   * @param {object} model its manifest entry
   * @param {(n: number) => void} [onBytes] bytes of ORT's own files fetched meanwhile
   * @returns {Promise<OrtWorkerSession>}
   */
  async createSession(bytes, model, onBytes) {
    const onProgress = onBytes && ((p) => onBytes(p.bytes));
    const { sessionId, threads, io } = await this.channel.request('createSession', { bytes, model }, { onProgress, transfer: [bytes.buffer] });
    this.threads = threads;
    return new OrtWorkerSession(this.channel, sessionId, io);
  }

  /** Test hook: ORT's worker dies as a crash would (it honours this only with `debug`). */
  simulateCrash() {
    this.channel.request('crash', {}).catch(() => {}); // never answers: the page sees it die
  }

  /** Close the port to ORT's worker (pending calls reject); the page stops the worker. */
  close() {
    this.channel.close(new EdgeInferError(ErrorCode.DISPOSED, "onnxruntime-web's worker was disconnected"));
  }

  /** onnxruntime-web's WASM heap in bytes, or null (see ort-worker.js `stats`). */
  async heapBytes() {
    return (await this.channel.request('stats', {})).ort_wasm_heap_bytes;
  }
}

/** One session in ORT's worker. */
class OrtWorkerSession {
  constructor(channel, sessionId, io) {
    this.channel = channel;
    this.sessionId = sessionId;
    /** The file's inputs and outputs (ort-backend.js OrtModelSession#io). */
    this.io = io;
    this.spare = null; // the input buffer back from the last run, refilled by the next
  }

  /**
   * Run on a float32 view (copied here, so the view stays usable).
   * @param {Float32Array} view
   * @returns {Promise<{logits: Float32Array, runMs: number}>} runMs: ORT's `run` alone
   */
  async run(view) {
    const reuse = this.spare?.length === view.length;
    const input = reuse ? this.spare : new Float32Array(view.length);
    this.spare = null;
    input.set(view);
    const out = await this.channel.request('run', { sessionId: this.sessionId, input }, { transfer: [input.buffer] });
    this.spare = out.input;
    return { logits: out.logits, runMs: out.runMs };
  }

  /** Free the session's WASM memory. */
  async release() {
    await this.channel.request('release', { sessionId: this.sessionId });
  }
}
