/**
 * onnxruntime-web's own worker. The page starts it beside the inference worker (client.js)
 * and hands it one end of a MessageChannel in a `connect` message; the inference worker holds
 * the other end (runtime/ort-client.js) and is the only one that sends requests.
 *
 * ORT compiles, creates sessions and runs here, on a thread of its own, so that its startup
 * runs beside Pyodide's boot instead of taking turns with it on one thread. Its requests are
 * declared in messages.js; onnxruntime-web itself is used only by runtime/ort-backend.js.
 */
import { EdgeInferError, ErrorCode } from './errors.js';
import { ORT_CONNECT, ORT_REQUESTS } from './messages.js';
import { serveProtocol } from './protocol.js';
import { countFetchedBytes } from './runtime/fetch-progress.js';
import { watchFetchFailures } from './runtime/fetch-watch.js';
import { loadOrt } from './runtime/ort-backend.js';
import { ORT_WASM_URL, wasmMemoryBytes, watchWasmMemories } from './runtime/wasm-memory.js';

let backend = null;
let missing = null; // fails at the first ORT file that cannot load, until the first session exists
const sessions = new Map(); // session id -> OrtModelSession
let nextSessionId = 1;
let reportBytes = null; // ORT fetches its WASM during the first createSession: that request reports
let debugEnabled = false;

self.addEventListener('securitypolicyviolation', (e) => console.error(`edge-infer ORT worker: CSP blocked ${e.blockedURI || 'inline code'} (${e.effectiveDirective})`));

const handlers = {
  /**
   * Import and configure onnxruntime-web (once).
   * @param {{ortUrl: string, threads: number, provider: string, debug: boolean}} opts
   */
  async load({ ortUrl, threads, provider, debug }) {
    if (backend) throw new EdgeInferError(ErrorCode.INTERNAL, 'onnxruntime-web is already loaded');
    debugEnabled = debug;
    if (debug) watchWasmMemories(); // before ORT instantiates: stats() can then see its heap
    const ours = (url) => url.startsWith(ortUrl);
    countFetchedBytes((_url, n) => reportBytes?.(n), ours);
    missing = watchFetchFailures(ours);
    backend = await loadOrt({ ortUrl: new URL(ortUrl), threads, provider });
    return { version: backend.version, provider: backend.provider };
  },

  /**
   * Create a session from verified model bytes. Progress reports `{bytes}` for ORT's own
   * files fetched meanwhile (the first session loads ORT's WASM).
   * @returns {{sessionId: number, threads: number, io: object}} `io`: the file's inputs and outputs
   */
  async createSession({ bytes, model }, ctx) {
    if (!backend) throw new EdgeInferError(ErrorCode.INTERNAL, 'createSession before load');
    reportBytes = (n) => ctx.progress({ bytes: n });
    try {
      const session = await Promise.race([backend.createSession(bytes, model), missing.failure]);
      missing.stop();
      const sessionId = nextSessionId++;
      sessions.set(sessionId, session);
      return { sessionId, threads: backend.threads, io: session.io };
    } finally {
      reportBytes = null;
    }
  },

  /**
   * Run a session on one input tensor. The input's buffer goes back with the answer, so the
   * caller can fill it again instead of allocating one per run.
   * @returns {{logits: Float32Array, runMs: number, input: Float32Array}} runMs: ORT's `run` alone
   */
  async run({ sessionId, input }, ctx) {
    const { logits, runMs } = await sessionById(sessionId).run(input);
    ctx.transfer.push(input.buffer);
    if (logits.buffer instanceof ArrayBuffer) ctx.transfer.push(logits.buffer); // ORT's own copy
    return { logits, runMs, input };
  },

  /** Free a session's WASM memory. */
  async release({ sessionId }) {
    const session = sessionById(sessionId);
    sessions.delete(sessionId);
    await session.release();
  },

  /** Test hook: die the way a crashing worker does (only when loaded with `debug: true`). */
  crash() {
    if (!debugEnabled) throw new EdgeInferError(ErrorCode.INPUT, 'crash needs debug: true');
    setTimeout(() => {
      throw new Error("edge-infer test hook: simulated crash of onnxruntime-web's worker");
    });
    return new Promise(() => {}); // never answers: the page sees the worker die
  },

  /** onnxruntime-web's WASM heap in bytes (null unless loaded with `debug: true`). */
  stats() {
    return { ort_wasm_heap_bytes: wasmMemoryBytes(ORT_WASM_URL) };
  },
};

self.addEventListener('message', (event) => {
  if (event.data?.type === ORT_CONNECT && event.ports[0]) serveProtocol(handlers, ORT_REQUESTS, event.ports[0]);
});

function sessionById(id) {
  const session = sessions.get(id);
  if (!session) throw new EdgeInferError(ErrorCode.INTERNAL, `no onnxruntime-web session ${id}`);
  return session;
}
