// The Pyodide memory snapshot (tools/make_snapshot.mjs, built by setup) boots the runtime the
// way the worker does, and the runtime then classifies exactly as after a full boot. Runs
// the vendored Pyodide under Node (the same CPython build as the browser).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';

const ROOT = new URL('../../../', import.meta.url).pathname;
const VENDOR = `${ROOT}web/vendor/`;
const vendor = JSON.parse(readFileSync(`${VENDOR}vendor.json`, 'utf8'));
const SITE = vendor.pyodide.site_packages;
const manifestText = readFileSync(`${ROOT}models/manifest.json`, 'utf8');
const modelId = JSON.parse(manifestText).default_model;
const bytes = (entry) => new Uint8Array(readFileSync(VENDOR + entry.file));

/** Boot like bootPyodide (web/lib/runtime/pyodide-loader.js), with or without the snapshot. */
async function boot(withSnapshot) {
  const { loadPyodide } = await import(`${VENDOR}pyodide/pyodide.mjs`);
  const options = { indexURL: `${VENDOR}pyodide/`, stdLibURL: VENDOR + vendor.bytecode.stdlib.file, fullStdLib: false, stdout: () => {} };
  if (withSnapshot) options._loadSnapshot = gunzipSync(bytes(vendor.bytecode.snapshot));
  const pyodide = await loadPyodide(options);
  const preimported = pyodide.runPython('import sys; all(m in sys.modules for m in ("json", "dataclasses", "pickle"))');
  pyodide.unpackArchive(bytes(vendor.numpy), 'wheel', { extractDir: SITE });
  pyodide.unpackArchive(bytes(vendor.edge_infer), 'wheel', { extractDir: SITE });
  pyodide.unpackArchive(bytes(vendor.bytecode.site_packages), 'zip', { extractDir: SITE });
  return { pyodide, preimported };
}

/** One classification through the browser host, on fixed pixels and fixed logits. */
function classify(pyodide) {
  const hostModule = pyodide.pyimport('edge_infer.hosts.browser');
  const host = hostModule.BrowserHost(manifestText, '{}');
  host.add_model(modelId);
  const [width, height] = [341, 256];
  const rgba = new Uint8ClampedArray(width * height * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 37) % 251));
  const image = { mode: 'fast', top_k: 5, decode_ms: 0, source_width: 1024, source_height: 768 };
  host.begin(modelId, rgba, width, height, JSON.stringify(image));
  const input = host.input_tensor(modelId);
  const view = input.getBuffer();
  const tensorSum = view.data.reduce((a, b) => a + b, 0);
  view.release();
  input.destroy();
  const logits = host.logits_buffer(modelId);
  const logitsView = logits.getBuffer();
  logitsView.data.set(new Float32Array(logitsView.data.length).map((_, i) => Math.sin(i * 0.37) * 4));
  logitsView.release();
  logits.destroy();
  const result = JSON.parse(host.end(modelId, JSON.stringify({ inference: 1, ort_run: 1, queue_wait: 0, before_begin: 0 })));
  host.destroy();
  hostModule.destroy();
  return { tensorSum, top_k: result.top_k };
}

test('the snapshot file is the one vendor.json names', () => {
  const entry = vendor.bytecode?.snapshot;
  assert.ok(entry, 'vendor.json has no bytecode.snapshot entry (run npm run setup)');
  assert.equal(createHash('sha256').update(bytes(entry)).digest('hex'), entry.sha256);
});

test('booting from the snapshot classifies exactly as a full boot', { timeout: 240_000 }, async () => {
  const full = await boot(false);
  const fromSnapshot = await boot(true);
  // The snapshot's heap is really used: the modules imported before it was taken are there.
  assert.equal(full.preimported, false);
  assert.equal(fromSnapshot.preimported, true);
  const expected = classify(full.pyodide);
  const actual = classify(fromSnapshot.pyodide);
  assert.equal(actual.top_k.length, 5);
  assert.deepEqual(actual, expected);
  // numpy's side modules were linked after the restore, in this instance only.
  assert.ok(fromSnapshot.pyodide.runPython('import numpy; int(numpy.arange(10).sum())') === 45);
});
