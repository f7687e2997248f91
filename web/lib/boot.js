/**
 * The inference worker's boot: a linear sequence of named stages. Two chains run at once
 * after the configuration is read: onnxruntime-web's (its worker, the model, the session, a
 * first run) and Python's (Pyodide, numpy, our package, a warm-up). The slower one, Python's,
 * sets the time to ready.
 *
 * Each stage is exported: the benchmark builds its startup alternatives from them
 * (bench/alternatives/).
 */
import { threadPolicy } from './config.js';
import { EdgeInferError, ErrorCode } from './errors.js';
import { InferenceRuntime } from './inference.js';
import { fetchManifest, fetchVerifiedHooks, fetchVerifiedModel, findModel } from './models.js';
import { PythonHost } from './python-host.js';
import { countFetchedBytes } from './runtime/fetch-progress.js';
import { watchFetchFailures } from './runtime/fetch-watch.js';
import { connectOrtWorker } from './runtime/ort-client.js';
import { bootPyodide, snapshotUrl } from './runtime/pyodide-loader.js';
import { warmUpPython } from './warm-up.js';

/** Progress stages, in the order they start (messages.js BootProgress). */
export const BOOT_STAGES = Object.freeze(['config', 'onnxruntime', 'model', 'session', 'pyodide', 'numpy', 'package', 'warmup']);

/**
 * Boot the runtime for an `init` request.
 * @param {object} request messages.js InitRequest, with every option resolved (config.js)
 * @param {ReturnType<import('./boot-progress.js').createBootProgress>} progress
 * @returns {Promise<InferenceRuntime>} with `info` set (messages.js InitResult)
 */
export async function bootRuntime(request, progress) {
  const config = await readConfig(request, progress);
  const watch = watchRuntimeFiles(config);
  const onnxruntime = startOnnxruntimeChain(config, progress, (opts) => connectOrtWorker({ ...opts, port: request.ortPort, debug: request.debug }));
  const python = startPythonChain(config, progress);
  const [{ pyodide, python: host, hooks }, { backend, session }] = await settleChains([python, onnxruntime], watch);
  return assembleRuntime(config, progress, { pyodide, host, backend, session, hooks });
}

/**
 * Stage 1: vendor.json and the manifest; URLs (`vendorUrl` is the runtime's content-addressed
 * folder, see vendorRoot), the boot model, threads and byte totals.
 * The boot's clock starts here (`t0`, and `timings`: messages.js InitResult.startup_ms), and
 * downloads are counted from here on.
 */
export async function readConfig(request, progress) {
  const t0 = performance.now();
  const base = new URL(request.baseUrl);
  const modelsUrl = new URL('models/', base);
  countFetchedBytes((_url, n) => progress.bytes(n), (url) => url.startsWith(base.origin));
  progress.start('config');
  const [vendor, manifest] = await Promise.all([fetchVendor(new URL('vendor/', base)), fetchManifest(new URL('manifest.json', modelsUrl))]);
  const vendorUrl = vendorRoot(new URL('vendor/', base), vendor);
  progress.done('config');
  const model = findModel(manifest.data, request.model);
  progress.setTotal(vendorBytes(vendor) + model.bytes);
  const isolated = self.crossOriginIsolated === true;
  const threads = threadPolicy(request.threads, { isolated, cores: navigator.hardwareConcurrency });
  return { request, vendorUrl, modelsUrl, vendor, manifest, model, isolated, threads, t0, timings: {}, notes: [] };
}

/**
 * A refused or corrupt runtime file fails the boot at once, named (see fetch-watch.js:
 * Pyodide would hang on a missing or corrupt pyodide.asm.wasm, which it never retries;
 * onnxruntime-web would not say which file it lacked). Not the memory snapshot: without it
 * Python boots the normal way (pyodide-loader.js).
 * @returns {{failure: Promise<never>, stop: () => void}}
 */
export function watchRuntimeFiles({ vendorUrl, vendor }) {
  const pyodideWasm = new URL(`${vendor.pyodide.index}pyodide.asm.wasm`, vendorUrl).href;
  const snapshot = snapshotUrl(vendorUrl, vendor);
  return watchFetchFailures((url) => url.startsWith(vendorUrl.href) && url !== snapshot, { final: (url) => url === pyodideWasm });
}

/**
 * Stage 2 (runs beside stage 3): onnxruntime-web, the model's bytes, its session, and ORT's
 * first run, which is several times slower than later ones and is taken while Python boots.
 * One run only: a second one (tried) overlapped Python's imports on a revisit and slowed them
 * from 0.4 to 0.8 s, more than it saved on the first classification.
 * @param {(opts: {ortUrl: URL, threads: number, provider: string}) => Promise<object>} loadBackend
 *   loads onnxruntime-web: in its own worker (the product) or in this one
 * @returns {Promise<{backend: object, session: object}>} with a `handle` property: its
 *   `backend` is set as soon as it exists, and closed at once if the boot has `failed`
 */
export function startOnnxruntimeChain({ request, vendorUrl, modelsUrl, vendor, model, threads, t0, timings }, progress, loadBackend) {
  const handle = { backend: null, failed: false };
  const chain = (async () => {
    progress.start('onnxruntime');
    const ortStart = performance.now();
    const backendLoaded = loadBackend({ ortUrl: new URL(vendor.onnxruntime_web.dir, vendorUrl), threads: threads.threads, provider: request.provider }).then((backend) => {
      handle.backend = backend;
      if (handle.failed) backend.close?.();
      timings.ort_import = round(performance.now() - ortStart);
      return backend;
    });
    backendLoaded.catch(() => {}); // observed below, after the model's download
    progress.start('model');
    const bytes = await fetchVerifiedModel(modelsUrl, model);
    timings.model_fetch_done_at = round(performance.now() - t0);
    progress.done('model');
    const backend = await backendLoaded;
    progress.start('session');
    const sessionStart = performance.now();
    const session = await backend.createSession(bytes, model, (n) => progress.bytes(n));
    timings.session_create = round(performance.now() - sessionStart);
    const warmStart = performance.now();
    await session.run(new Float32Array(model.input.shape.reduce((a, b) => a * b, 1)));
    timings.ort_warmup = round(performance.now() - warmStart);
    progress.done('onnxruntime', 'session');
    return { backend, session };
  })();
  chain.handle = handle;
  return chain;
}

/**
 * Stage 3 (runs beside stage 2): Pyodide, numpy and our package, the Python host, and a
 * warm-up of Python's side of the image path. A boot model with Python hooks has its hooks
 * file fetched (and verified) meanwhile. A boot without the memory snapshot adds why to the
 * config's `notes`.
 * @param {typeof bootPyodide} [startPython] the Python chain's own stages (pyodide-loader.js)
 * @returns {Promise<{pyodide: object, python: PythonHost, hooks: string | null}>}
 */
export async function startPythonChain({ vendorUrl, modelsUrl, vendor, manifest, model, t0, timings, notes }, progress, startPython = bootPyodide) {
  const hooksLoaded = model.hooks ? fetchVerifiedHooks(modelsUrl, model) : Promise.resolve(null);
  hooksLoaded.catch(() => {}); // observed below, once Python is up
  const { pyodide, hostModule } = await startPython({ vendorUrl, vendor, timings, notes, onStage: (stage) => progress.start(stage) });
  progress.done('pyodide', 'numpy', 'package');
  const python = new PythonHost(hostModule.BrowserHost(manifest.text));
  hostModule.destroy();
  const hooks = await hooksLoaded;
  progress.start('warmup');
  const w0 = performance.now();
  await warmUpPython(python, model, hooks);
  timings.warmup = round(performance.now() - w0);
  progress.done('warmup');
  timings.python_done_at = round(performance.now() - t0);
  return { pyodide, python, hooks };
}

/**
 * Wait for both chains; the first failure (a chain's, or a runtime file's) fails the boot and
 * closes onnxruntime-web's backend if it exists.
 * @param {[Promise<object>, Promise<object>]} chains the Python and onnxruntime-web chains
 * @param {{failure: Promise<never>, stop: () => void}} watch from watchRuntimeFiles
 */
export async function settleChains([python, onnxruntime], watch) {
  try {
    return await Promise.race([Promise.all([python, onnxruntime]), watch.failure]);
  } catch (err) {
    const { handle } = onnxruntime;
    handle.failed = true;
    handle.backend?.close?.();
    throw err;
  } finally {
    watch.stop();
  }
}

/**
 * Stage 4: the runtime facts (Python holds them; every result carries them), the runtime
 * with the boot model's session, and the boot's timings.
 * @returns {InferenceRuntime} with `info` set
 */
export function assembleRuntime(config, progress, { pyodide, host, backend, session, hooks = null }) {
  const { request, model, isolated, threads, t0, timings } = config;
  const notes = [threads.note, backend.provider.note, ...config.notes].filter(Boolean);
  host.setRuntime({
    pyodide: pyodide.version,
    onnxruntime_web: backend.version,
    backend: 'wasm',
    execution_provider: backend.provider.name,
    threads: backend.threads,
    cross_origin_isolated: isolated,
    notes,
  });
  const runtime = new InferenceRuntime({ pyodide, python: host, backend, manifest: config.manifest.data, modelsUrl: config.modelsUrl, cache: request.cache, debug: request.debug });
  runtime.addSession(model, session, hooks);
  timings.ready = round(performance.now() - t0);
  progress.finish();
  runtime.info = { runtime: host.runtime(), model: { id: model.id, version: model.version, name: model.name }, startup_ms: timings };
  return runtime;
}

/**
 * The folder the runtime's files are served from: vendor.json's content-addressed `root`
 * under the folder that holds vendor.json (tools/setup.py). Its URLs never change their
 * bytes, so browsers cache them for good; vendor.json itself is revalidated.
 * @param {URL} vendorDir the folder of vendor.json
 * @param {object} vendor parsed vendor.json
 * @returns {URL}
 */
export function vendorRoot(vendorDir, vendor) {
  return new URL(vendor.root ?? '', vendorDir);
}

async function fetchVendor(vendorUrl) {
  const url = new URL('vendor.json', vendorUrl);
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return await response.json();
  } catch (err) {
    throw new EdgeInferError(ErrorCode.RUNTIME_LOAD, `failed to load ${url} (run npm run setup): ${err.message}`, { file: String(url) });
  }
}

/**
 * Bytes of the vendored files a default boot fetches: not ES modules (imported, not
 * fetched), and not what vendor.json lists as `not_fetched_by_default` (setup's
 * unused_by_default_boot).
 */
function vendorBytes(vendor) {
  const notFetched = new Set(vendor.not_fetched_by_default ?? []);
  return Object.entries(vendor.files ?? {})
    .filter(([path]) => !/\.m?js$/.test(path) && !notFetched.has(path))
    .reduce((sum, [, f]) => sum + (f.bytes ?? 0), 0);
}

function round(ms) {
  return Math.round(ms * 100) / 100;
}
