/**
 * Transformers.js worker, for the benchmark only: the peer library a user would pick instead
 * of edge-infer, running our mobilenet_v2-fp32 file fully offline. It speaks plain-js's
 * messages (`{id, type: 'init'|'classify', payload}` in, `{id, ok, value|error}` out), so the
 * harness drives it through PlainClassifier like the other bench pipelines.
 *
 * It does what Transformers.js's documentation tells a user to do: `pipeline('image-
 * classification', id, {device: 'wasm', dtype: 'fp32'})`, then `classifier(image, {top_k})`
 * on `RawImage.fromBlob(file)`. Only the settings that keep it on this origin are changed (no
 * remote models, local model folder, local onnxruntime-web files), plus the thread count. Its
 * bundled onnxruntime-web runs in this worker (Transformers.js turns ORT's proxy worker off).
 *
 * Served files (bench/run.py mounts them; see bench/README.md):
 * - `/transformers-js/transformers.min.js`: the library's browser bundle (npm package dist/);
 * - `/transformers-js-ort/`: the onnxruntime-web build it bundles (its own dependency's dist/);
 * - `/transformers-js-models/<id>/`: the model folder from bench/benchlib/peer_model.py.
 */
import { servePlainProtocol } from '../plain-protocol.js';

const MODEL_ID = 'mobilenet_v2-fp32';

servePlainProtocol(boot, classifyWith);

/** Import Transformers.js and create the pipeline (no warm-up: the library does none). */
async function boot({ threads: requested, baseUrl }) {
  const t0 = performance.now();
  const timings = {};
  const lib = await import(new URL('transformers-js/transformers.min.js', baseUrl).href);
  timings.library_import = round(performance.now() - t0);
  const { env } = lib;
  const isolated = self.crossOriginIsolated === true;
  const maxThreads = isolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  env.allowRemoteModels = false;
  env.allowLocalModels = true; // off by default in browsers
  // A path, not a URL: with a full URL its file-existence checks skip the local folder, and
  // the pipeline silently gets no image processor.
  env.localModelPath = new URL('transformers-js-models/', baseUrl).pathname;
  const wasm = env.backends.onnx.wasm;
  wasm.wasmPaths = new URL('transformers-js-ort/', baseUrl).href; // a prefix: ORT picks its build
  wasm.numThreads = Math.max(1, Math.min(requested || maxThreads, maxThreads));
  const p0 = performance.now();
  const classifier = await lib.pipeline('image-classification', MODEL_ID, { device: 'wasm', dtype: 'fp32' });
  timings.pipeline = round(performance.now() - p0);
  timings.ready = round(performance.now() - t0);

  // Time the ORT run inside the pipeline's call, as the product reports `ort_run`; the
  // session's own method is wrapped, nothing else changes.
  const session = classifier.model.sessions.model;
  const run = session.run.bind(session);
  const marks = {};
  session.run = async (...args) => {
    marks.runStart = performance.now();
    try {
      return await run(...args);
    } finally {
      marks.runEnd = performance.now();
    }
  };
  const id2label = classifier.model.config.id2label;
  const rt = {
    lib,
    classifier,
    marks,
    // Label -> first class index, for the bench's top_k indices (two ImageNet labels name two
    // classes each; the bench compares pipelines by label).
    indexOf: new Map(Object.entries(id2label).reverse().map(([i, label]) => [label, Number(i)])),
    runtime: {
      host: 'transformers-js',
      transformers_js: lib.env.version,
      onnxruntime_web: env.backends.onnx.versions?.web ?? 'unknown',
      threads: wasm.numThreads,
      cross_origin_isolated: isolated,
    },
  };
  rt.info = { runtime: rt.runtime, model: { id: MODEL_ID }, startup_ms: timings };
  return rt;
}

/**
 * Decode with RawImage.fromBlob, then one pipeline call; stages split at the ORT run.
 * @returns {Promise<object>} a result shaped like edge-infer's
 */
async function classifyWith(rt, blob, topK) {
  const t0 = performance.now();
  const image = await rt.lib.RawImage.fromBlob(blob);
  const t1 = performance.now();
  const output = await rt.classifier(image, { top_k: topK });
  const t2 = performance.now();
  const { runStart, runEnd } = rt.marks;
  const ranked = output.map(({ label, score }) => ({ index: rt.indexOf.get(label) ?? null, label, probability: score }));
  return {
    label: ranked[0].label,
    confidence: ranked[0].probability,
    top_k: ranked,
    timings_ms: {
      decode: round(t1 - t0),
      preprocess: round(runStart - t1), // RGB conversion, canvas resize and crop, normalisation
      inference: round(runEnd - runStart),
      postprocess: round(t2 - runEnd), // softmax, top-k, labels
      total: round(t2 - t0),
    },
    timings_detail_ms: { ort_run: round(runEnd - runStart) },
    image: { width: image.width, height: image.height },
    runtime: rt.runtime,
  };
}

function round(ms) {
  return Math.round(ms * 1000) / 1000;
}
