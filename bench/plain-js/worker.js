/**
 * Plain-JS baseline worker, for the benchmark only: onnxruntime-web with the same settings
 * as web/lib/runtime/ort-backend.js, decoding and preprocessing in plain JavaScript with the
 * browser-resize fast path, softmax and top-k in plain JavaScript. No Pyodide.
 *
 * Messages: `{id, type: 'init'|'classify', payload}` in, `{id, ok, value|error}` out.
 * Classifications run one at a time, in arrival order (like the product's worker).
 */
import { imageSize } from './image-size.js';
import { cropOffsets, resizedSize, softmaxTopK, toNCHW } from './preprocess.js';

const BITMAP_OPTIONS = { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' };

let runtime = null; // Promise<Runtime>
let queue = Promise.resolve();

self.addEventListener('message', ({ data: { id, type, payload } }) => {
  const job = type === 'init' ? init(payload) : enqueue(() => classify(payload));
  job.then(
    (value) => self.postMessage({ id, ok: true, value }),
    (err) => self.postMessage({ id, ok: false, error: String(err?.message ?? err) }),
  );
});

function enqueue(task) {
  const job = queue.then(task);
  queue = job.catch(() => {});
  return job;
}

/** Load onnxruntime-web and the manifest's default model, then warm up once. */
function init(options) {
  runtime ??= boot(options);
  return runtime.then((rt) => rt.info);
}

async function boot({ threads: requested, baseUrl }) {
  const t0 = performance.now();
  const timings = {};
  const ortUrl = new URL('vendor/ort/', baseUrl);
  const modelsUrl = new URL('models/', baseUrl);
  const ortP = import(new URL('ort.wasm.min.mjs', ortUrl).href).then((ort) => {
    timings.ort_import = round(performance.now() - t0);
    return ort;
  });
  const manifest = await (await fetch(new URL('manifest.json', modelsUrl))).json();
  const model = manifest.models.find((m) => m.id === manifest.default_model);
  const bytes = new Uint8Array(await (await fetch(new URL(model.file, modelsUrl))).arrayBuffer());
  timings.model_fetch_done_at = round(performance.now() - t0);

  const ort = await ortP;
  const isolated = self.crossOriginIsolated === true;
  const maxThreads = isolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.wasm.wasmPaths = ortUrl.href;
  ort.env.wasm.numThreads = Math.max(1, Math.min(requested || maxThreads, maxThreads));
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  const s0 = performance.now();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  timings.session_create = round(performance.now() - s0);

  const rt = {
    ort,
    session,
    model,
    labels: manifest.label_sets[model.labels].labels,
    input: new Float32Array(model.input.shape.reduce((a, b) => a * b, 1)),
    canvas: null,
    runtime: {
      host: 'plain-js',
      onnxruntime_web: ort.env.versions?.web ?? 'unknown',
      threads: ort.env.wasm.numThreads,
      cross_origin_isolated: isolated,
    },
  };
  const w0 = performance.now();
  await classifyWith(rt, await warmUpImage(), 5);
  timings.warmup = round(performance.now() - w0);
  timings.ready = round(performance.now() - t0);
  rt.info = { runtime: rt.runtime, model: { id: model.id, version: model.version, name: model.name }, startup_ms: timings };
  return rt;
}

/** A 320x240 synthetic PNG, so the warm-up runs the same decode path as real images. */
async function warmUpImage() {
  const canvas = new OffscreenCanvas(320, 240);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#808080';
  ctx.fillRect(0, 0, 320, 240);
  ctx.fillStyle = '#c04020';
  ctx.fillRect(40, 30, 200, 150);
  return canvas.convertToBlob({ type: 'image/png' });
}

async function classify({ blob, topK }) {
  if (!runtime) throw new Error('classify before init');
  return classifyWith(await runtime, blob, topK);
}

/**
 * Decode + resize (one createImageBitmap), crop + normalise, run, softmax + top-k; each timed.
 * @returns {Promise<object>} a result shaped like edge-infer's
 */
async function classifyWith(rt, blob, topK) {
  const spec = rt.model.preprocess;
  const crop = spec.crop;
  const t0 = performance.now();
  const { bitmap, width, height } = await decodeResized(blob, spec.resize.shorter_side);
  const t1 = performance.now();
  const rgba = cropPixels(rt, bitmap, crop);
  toNCHW(rgba, spec, rt.input);
  const t2 = performance.now();
  const tensor = new rt.ort.Tensor('float32', rt.input, rt.model.input.shape);
  const r0 = performance.now();
  const outputs = await rt.session.run({ [rt.model.input.name]: tensor });
  const r1 = performance.now();
  const out = outputs[rt.model.output.name];
  const logits = out.data;
  out.dispose?.();
  const t3 = performance.now();
  const ranked = softmaxTopK(logits, rt.labels, topK);
  const t4 = performance.now();
  return {
    label: ranked[0].label,
    confidence: ranked[0].probability,
    top_k: ranked,
    timings_ms: {
      decode: round(t1 - t0),
      preprocess: round(t2 - t1),
      inference: round(t3 - t2),
      postprocess: round(t4 - t3),
      total: round(t4 - t0),
    },
    timings_detail_ms: { ort_run: round(r1 - r0) }, // session.run alone, inside inference
    image: { width, height },
    runtime: rt.runtime,
  };
}

/** Decode straight to the resize size (shorter side -> `shorter`), reading the size from the header. */
async function decodeResized(blob, shorter) {
  let size = await imageSize(blob);
  let source = blob;
  if (!size) {
    source = await createImageBitmap(blob, BITMAP_OPTIONS); // unknown header: decode to learn the size
    size = { width: source.width, height: source.height };
  }
  const target = resizedSize(size.width, size.height, shorter);
  const bitmap = await createImageBitmap(source, {
    ...BITMAP_OPTIONS,
    resizeWidth: target.width,
    resizeHeight: target.height,
    resizeQuality: 'high',
  });
  if (source !== blob) source.close();
  return { bitmap, ...size };
}

/** The centre crop of the resized bitmap, as RGBA bytes (closes the bitmap). */
function cropPixels(rt, bitmap, crop) {
  const { left, top } = cropOffsets(bitmap, crop);
  if (!rt.canvas) {
    rt.canvas = new OffscreenCanvas(crop.width, crop.height);
    rt.context = rt.canvas.getContext('2d', { willReadFrequently: true });
  }
  rt.context.clearRect(0, 0, crop.width, crop.height);
  rt.context.drawImage(bitmap, left, top, crop.width, crop.height, 0, 0, crop.width, crop.height);
  bitmap.close();
  return rt.context.getImageData(0, 0, crop.width, crop.height).data;
}

function round(ms) {
  return Math.round(ms * 1000) / 1000;
}
