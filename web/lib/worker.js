/**
 * The inference worker: Pyodide (numpy pre/postprocessing) and the per-image path, off the
 * main thread. This module only answers the requests declared in messages.js; the boot is
 * boot.js, the booted runtime inference.js.
 */
import { createBootProgress } from './boot-progress.js';
import { bootRuntime } from './boot.js';
import { EdgeInferError, ErrorCode } from './errors.js';
import { INFERENCE_REQUESTS } from './messages.js';
import { serveProtocol } from './protocol.js';

const progress = createBootProgress();
/** @type {Promise<import('./inference.js').InferenceRuntime>|null} once init starts */
let runtime = null;

// A CSP refusal in this worker fires here, never in the page: say it where tests and people look.
self.addEventListener('securitypolicyviolation', (e) => console.error(`edge-infer worker: CSP blocked ${e.blockedURI || 'inline code'} (${e.effectiveDirective})`));

serveProtocol(
  {
    /** Boot (once) and report runtime facts; later calls share the same runtime. */
    async init(request, ctx) {
      const unsubscribe = progress.subscribe(ctx.progress);
      try {
        return (await start(request)).info;
      } finally {
        unsubscribe();
      }
    },

    /** Memory facts for leak hunting. */
    async stats() {
      return (await booted('stats')).stats();
    },

    /**
     * Test hook for crash recovery: die the way a crashing worker does (an uncaught error),
     * or make onnxruntime-web's worker die (the page then stops this one too). Only honoured
     * when the runtime booted with `debug: true`.
     */
    async crash({ worker }) {
      const rt = await booted('crash');
      if (!rt.debug) throw new EdgeInferError(ErrorCode.INPUT, 'crash needs a runtime booted with debug: true');
      if (worker === 'onnxruntime') return rt.backend.simulateCrash();
      setTimeout(() => {
        throw new Error('edge-infer test hook: simulated worker crash');
      });
      return new Promise(() => {}); // never answers: the page sees the worker die
    },

    /** Make a model ready without classifying; a cached model answers at once. */
    async loadModel({ model }, ctx) {
      return (await booted('loadModel')).loadModel(model, ctx.progress);
    },

    /** Check a model given at run time and make it classifiable under its id. */
    async registerModel({ spec }, ctx) {
      return (await booted('registerModel')).registerModel(spec, ctx.progress);
    },

    /** Decode one image and classify it, in arrival order. */
    async classify(request, ctx) {
      return (await booted('classify')).classify(request, ctx.signal);
    },
  },
  INFERENCE_REQUESTS,
);

function start(request) {
  runtime ??= bootRuntime(request, progress).catch((err) => {
    runtime = null; // a later init may retry (for example after the server comes back)
    progress.fail();
    throw err;
  });
  return runtime;
}

/** The runtime, once `init` has started it. */
function booted(what) {
  if (!runtime) throw new EdgeInferError(ErrorCode.INTERNAL, `${what} before init`);
  return runtime;
}
