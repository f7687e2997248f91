/**
 * Plain-JS baseline worker, for the benchmark only: onnxruntime-web with the same settings
 * as web/lib/runtime/ort-backend.js and the product's own decoder (web/lib/decode.js, fast
 * mode: the browser resamples to the resize size), so the two pipelines differ only in what
 * Python does: crop, normalisation, softmax and top-k are plain JavaScript here. No Pyodide.
 *
 * Messages: bench/plain-protocol.js.
 */
import { decodeToRGBA } from '/lib/decode.js';
import { servePlainProtocol } from '../plain-protocol.js';
import { cropOffsets, softmaxTopK, toNCHW } from './preprocess.js';

servePlainProtocol(boot, classifyWith);

/** Load onnxruntime-web and the manifest's default model, then warm up once. */
async function boot({ threads: requested, baseUrl }) {
  const t0 = performance.now();
  const timings = {};
  // The same content-addressed URLs as the product (boot.js vendorRoot, models.js modelUrl),
  // so both pipelines get the same HTTP caching.
  const vendorDir = new URL('vendor/', baseUrl);
  const modelsUrl = new URL('models/', baseUrl);
  const vendorP = fetch(new URL('vendor.json', vendorDir)).then((r) => r.json());
  const ortUrl = vendorP.then((vendor) => new URL(`${vendor.root ?? ''}${vendor.onnxruntime_web.dir}`, vendorDir));
  const ortP = ortUrl.then((url) => import(new URL('ort.wasm.min.mjs', url).href)).then((ort) => {
    timings.ort_import = round(performance.now() - t0);
    return ort;
  });
  const manifest = await (await fetch(new URL('manifest.json', modelsUrl))).json();
  const model = manifest.models.find((m) => m.id === manifest.default_model);
  const bytes = new Uint8Array(await (await fetch(new URL(`${model.sha256}/${model.file}`, modelsUrl))).arrayBuffer());
  timings.model_fetch_done_at = round(performance.now() - t0);

  const ort = await ortP;
  const isolated = self.crossOriginIsolated === true;
  const maxThreads = isolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.wasm.wasmPaths = (await ortUrl).href;
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

/**
 * Decode + resize (one createImageBitmap), crop + normalise, run, softmax + top-k; each timed.
 * @returns {Promise<object>} a result shaped like edge-infer's
 */
async function classifyWith(rt, blob, topK) {
  const spec = rt.model.preprocess;
  const crop = spec.crop;
  const t0 = performance.now();
  const pixels = await decodeToRGBA(blob, blob.name ?? 'image', { resize: { shorterSide: spec.resize.shorter_side } });
  const t1 = performance.now();
  toNCHW(cropPixels(rt, pixels, crop), spec, rt.input);
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
    image: { width: pixels.sourceWidth, height: pixels.sourceHeight },
    runtime: rt.runtime,
  };
}

/** The centre crop of the resized RGBA pixels (rows copied into a reused buffer). */
function cropPixels(rt, pixels, crop) {
  const { left, top } = cropOffsets(pixels, crop);
  rt.crop ??= new Uint8ClampedArray(crop.width * crop.height * 4);
  const row = crop.width * 4;
  for (let y = 0; y < crop.height; y += 1) {
    const start = ((top + y) * pixels.width + left) * 4;
    rt.crop.set(pixels.rgba.subarray(start, start + row), y * row);
  }
  return rt.crop;
}

function round(ms) {
  return Math.round(ms * 1000) / 1000;
}
