/**
 * "Python chain alone" worker, for the benchmark only: the product's own Pyodide boot
 * (web/lib/runtime/pyodide-loader.js, same files and defaults) up to `import
 * edge_infer.hosts.browser`, and nothing else: no onnxruntime-web, no model, no warm-up.
 * Its time to ready is the floor for any page whose preprocessing runs in Python.
 *
 * Messages as in ../plain-js/worker.js: `{id, type: 'init', payload}` in, `{id, ok,
 * value|error}` out. It cannot classify.
 */
import { bootPyodide } from '/lib/runtime/pyodide-loader.js';

let booted = null;

self.addEventListener('message', ({ data: { id, type, payload } }) => {
  const job = type === 'init' ? (booted ??= boot(payload)) : Promise.reject(new Error(`python-only cannot ${type}`));
  job.then(
    (value) => self.postMessage({ id, ok: true, value }),
    (err) => self.postMessage({ id, ok: false, error: String(err?.message ?? err) }),
  );
});

async function boot({ baseUrl }) {
  const t0 = performance.now();
  const vendorDir = new URL('vendor/', baseUrl);
  const response = await fetch(new URL('vendor.json', vendorDir));
  if (!response.ok) throw new Error(`vendor.json: HTTP ${response.status}`);
  const vendor = await response.json();
  const timings = {};
  // The runtime's content-addressed folder, as the product's boot reads it (boot.js vendorRoot).
  const { pyodide } = await bootPyodide({ vendorUrl: new URL(vendor.root ?? '', vendorDir), vendor, timings });
  timings.python_done_at = Math.round(performance.now() - t0);
  return { runtime: { host: 'pyodide', pyodide: pyodide.version }, model: null, startup_ms: timings };
}
