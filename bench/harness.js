/**
 * Benchmark harness page script. Loads one pipeline through its public client API and
 * exposes `window.bench` to bench/run.py (Playwright drives it with page.evaluate).
 *
 * Query string: `?pipeline=NAME&threads=N` (threads omitted: the pipeline's default), NAME one
 * of FACTORIES below: the product, the plain-JS baseline, or a startup alternative built from
 * the product's boot stages (bench/alternatives/, bench/python-only/), which can only boot.
 * The classifier is created as soon as this module runs, like the app page does, so
 * `page_ready_ms` is navigation start to the `ready` promise resolving.
 *
 * `&sw=1` registers the app's service worker after ready, as the app page does, so that a
 * revisit is served from its cache (the "service worker" startup alternative).
 *
 * `&first=URL` (the peer section, bench/benchlib/peer.py): an image "dropped" at navigation
 * start. It is fetched at once and classified as soon as the pipeline takes it (`classify`
 * waits for ready); `window.bench.firstResult` resolves with that result and
 * `first_result_ms`, navigation start to the result.
 *
 * The models section (bench/benchlib/models.py) adds `&model=ID&max_models=N` (product only):
 * boot with model ID and keep at most N sessions in the worker's cache, so that `loadModel`
 * of another model really fetches and creates its session.
 */
import { createClassifier } from '/edge-infer.js';
import { registerOffline } from '/lib/offline.js';
import { PlainClassifier, createPlainClassifier } from './plain-js/client.js';

/** A startup alternative: a worker that speaks plain-js's messages and can only boot. */
const bootOnly = (workerUrl, name) => (options) => new PlainClassifier({ ...options, workerUrl: new URL(workerUrl, import.meta.url), name });
const FACTORIES = {
  product: createClassifier,
  'plain-js': createPlainClassifier,
  'python-only': bootOnly('./python-only/worker.js', 'python-only'),
  'ort-in-worker': bootOnly('./alternatives/ort-in-worker.js', 'ort-in-worker'),
  'ort-in-worker-parallel': bootOnly('./alternatives/ort-in-worker.js?parallel=1', 'ort-in-worker-parallel'),
  'no-snapshot': bootOnly('./alternatives/no-snapshot.js', 'no-snapshot'),
  // The peer library (Transformers.js) in its own worker, speaking plain-js's messages.
  'transformers-js': (options) => new PlainClassifier({ ...options, workerUrl: new URL('./transformers-js/worker.js', import.meta.url), name: 'transformers-js' }),
};

const params = new URLSearchParams(location.search);
const pipeline = params.get('pipeline') ?? 'product';
const threads = params.has('threads') ? Number(params.get('threads')) : undefined;
if (!(pipeline in FACTORIES)) throw new Error(`unknown pipeline ${pipeline}`);

const options = { threads };
if (params.has('model')) options.model = params.get('model');
if (params.has('max_models')) options.cache = { maxModels: Number(params.get('max_models')) };
const classifier = FACTORIES[pipeline](options);
const ready = classifier.ready.then((info) => ({ ...info, page_ready_ms: performance.now() }));
ready.catch(() => {}); // reported when bench/run.py awaits it
if (params.get('sw') === '1') registerOffline({ after: classifier.ready });
const firstResult = params.has('first') ? classifyAtStart(params.get('first')) : null;
firstResult?.catch(() => {}); // reported when bench/run.py awaits it

/**
 * The image dropped at navigation start: fetch it, then classify it at once.
 * @param {string} url a same-origin image
 * @returns {Promise<object>} the result's summary, plus `first_result_ms` (navigation start
 *   to the result) and `image_fetched_ms` (navigation start to the File being ready)
 */
async function classifyAtStart(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status}`);
  const blob = await response.blob();
  const file = new File([blob], url.split('/').pop(), { type: blob.type || 'image/jpeg' });
  const fetched = performance.now();
  const result = await classifier.classify(file);
  const done = performance.now();
  return { ...summarize(result, done - fetched), first_result_ms: done, image_fetched_ms: fetched };
}

/** @type {Map<string, File>} benchmark images by name, fetched once before timing */
const inputs = new Map();

/**
 * Fetch benchmark images into Files (outside any timed section).
 * @param {Record<string, string>} urls name -> URL
 * @returns {Promise<Record<string, number>>} name -> size in bytes
 */
export async function loadInputs(urls) {
  const sizes = {};
  for (const [name, url] of Object.entries(urls)) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status}`);
    const blob = await response.blob();
    inputs.set(name, new File([blob], url.split('/').pop(), { type: blob.type || 'image/jpeg' }));
    sizes[name] = blob.size;
  }
  return sizes;
}

/** The fields of a result the bench keeps (timings, answer, client-side wall time). */
function summarize(result, wallMs) {
  return {
    label: result.label,
    confidence: result.confidence,
    timings_ms: result.timings_ms,
    timings_detail_ms: result.timings_detail_ms ?? null, // e.g. ort_run, queue_wait
    preprocess_mode: result.preprocess_mode ?? null,
    model: result.model?.id ?? null,
    top_k: result.top_k ? result.top_k.map((t) => t.index) : null, // class indices, best first
    top_labels: result.top_k ? result.top_k.map((t) => t.label) : null, // the peer compares labels
    wall_ms: wallMs,
  };
}

/**
 * Classify one image `count` times, one after the other, awaiting each result.
 * @param {string} name an image given to loadInputs
 * @param {number} count
 * @param {{model?: string, preprocess?: 'fast'|'exact'}} [options] passed to `classify`
 * @returns {Promise<object[]>} one summary per run, with `wall_ms` measured on this thread
 */
export async function run(name, count, options = {}) {
  const file = requireInput(name);
  const out = [];
  for (let i = 0; i < count; i += 1) {
    const t0 = performance.now();
    const result = await classifier.classify(file, options);
    out.push(summarize(result, performance.now() - t0));
  }
  return out;
}

/**
 * Drop `count` images at once: call classify `count` times without awaiting in between,
 * then wait for all of them.
 * @param {string} name an image given to loadInputs
 * @param {number} count
 * @returns {Promise<{wall_ms: number, results: object[]}>} `wall_ms` from the first call to
 *   the last result; each result's `wall_ms` is when it settled, from the first call
 */
export async function drop(name, count) {
  const file = requireInput(name);
  const t0 = performance.now();
  const pending = Array.from({ length: count }, () =>
    classifier.classify(file).then((result) => summarize(result, performance.now() - t0)),
  );
  const results = await Promise.all(pending);
  return { wall_ms: performance.now() - t0, results };
}

/**
 * Make a model ready through the public API (`classifier.loadModel`), timed on this thread.
 * @param {string} id manifest model id
 * @returns {Promise<object>} loadModel's answer (`{id, cached, ms, cache, ...}`) plus `wall_ms`
 */
export async function loadModel(id) {
  const t0 = performance.now();
  const info = await classifier.loadModel(id);
  return { ...info, wall_ms: performance.now() - t0 };
}

/**
 * Main-thread long tasks recorded by init-longtasks.js, each with the scripts of the long
 * animation frames it overlaps (which script ran, how long, and how much of that was compile).
 * @param {number} [since=0] keep tasks that started at or after this performance.now() time
 * @param {number} [until=Infinity] and before this one
 * @returns {{start: number, duration: number, scripts: object[]}[]}
 */
export function longTasks(since = 0, until = Infinity) {
  const all = globalThis.__benchLongTasks ?? [];
  const frames = globalThis.__benchLongFrames ?? [];
  return all
    .filter((t) => t.start >= since && t.start < until)
    .map(({ start, duration }) => {
      const overlapping = frames.filter((f) => f.start < start + duration && f.end > start);
      return { start, duration, scripts: overlapping.flatMap((f) => f.scripts) };
    });
}

function requireInput(name) {
  const file = inputs.get(name);
  if (!file) throw new Error(`no input named ${name}; call loadInputs first`);
  return file;
}

window.bench = {
  pipeline,
  threads,
  ready,
  firstResult,
  loadInputs,
  run,
  drop,
  loadModel,
  longTasks,
  now: () => performance.now(),
  isolated: globalThis.crossOriginIsolated === true,
};
