// The Pyodide memory snapshot (tools/make_snapshot.mjs, built by setup): it names the exact
// runtime files it was made from, and restoring it with the worker's own code
// (restorePyodide in web/lib/runtime/pyodide-loader.js) gives a runtime that computes what a
// normal boot computes. Runs the vendored Pyodide under Node (the browser's CPython build).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { HOST_MODULE, addFullLibrary, checkSnapshot, importPyodide, readBundle, readSnapshot, restorePyodide, snapshotInputs, writeFiles } from '../../../web/lib/runtime/pyodide-loader.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const VENDOR = `${ROOT}web/vendor/`;
const vendor = JSON.parse(readFileSync(`${VENDOR}vendor.json`, 'utf8'));
const INDEX = VENDOR + vendor.pyodide.index;
const STDLIB = VENDOR + vendor.bytecode.stdlib.file;
const SITE = vendor.pyodide.site_packages;
const manifestText = readFileSync(`${ROOT}models/manifest.json`, 'utf8');
const modelId = JSON.parse(manifestText).default_model;
const bytes = (file) => new Uint8Array(readFileSync(VENDOR + file));
const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const siteParts = () => readBundle(gunzipSync(bytes(vendor.bytecode.site_bundle.file)));
const snapshotFile = () => readSnapshot(gunzipSync(bytes(vendor.bytecode.snapshot.file)));

/** A normal boot, as the worker's startInterpreter and installSitePackages do it. */
async function normalBoot() {
  const loadPyodide = await importPyodide(INDEX);
  const pyodide = await loadPyodide({ indexURL: INDEX, stdLibURL: STDLIB, fullStdLib: false, stdout: () => {} });
  const imported = hostImported(pyodide);
  const parts = siteParts();
  for (const part of ['numpy', 'edge_infer']) writeFiles(pyodide, SITE, parts.get(part));
  return { pyodide, imported };
}

/** A boot from the snapshot, with the worker's restore. */
async function snapshotBoot(snapshot = snapshotFile()) {
  const timings = {};
  const pyodide = await restorePyodide(await importPyodide(INDEX), {
    indexURL: INDEX,
    stdLibURL: STDLIB,
    snapshot,
    sitePackages: SITE,
    siteFiles: async () => siteParts(),
    timings,
  });
  return { pyodide, imported: hostImported(pyodide), timings };
}

function hostImported(pyodide) {
  return pyodide.runPython(`import sys; ${JSON.stringify(HOST_MODULE)} in sys.modules`);
}

/** One classification through the browser host, on fixed pixels and fixed logits. */
function classify(pyodide) {
  const hostModule = pyodide.pyimport(HOST_MODULE);
  const host = hostModule.BrowserHost(manifestText, '{}');
  host.add_model(modelId);
  const [width, height] = [341, 256];
  const rgba = new Uint8ClampedArray(width * height * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 37) % 251));
  const image = { mode: 'fast', top_k: 5, decode_ms: 0, source_width: 1024, source_height: 768 };
  host.begin(modelId, rgba, width, height, JSON.stringify(image));
  const input = host.input_tensor(modelId);
  const view = input.getBuffer();
  const tensor = Float32Array.from(view.data);
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
  return { tensor, top_k: result.top_k };
}

function assertSameResults(actual, expected) {
  assert.equal(actual.tensor.length, expected.tensor.length);
  const worst = actual.tensor.reduce((m, v, i) => Math.max(m, Math.abs(v - expected.tensor[i])), 0);
  assert.ok(worst <= 1e-6, `input tensors differ by ${worst}`);
  assert.equal(actual.top_k.length, 5);
  assert.deepEqual(actual.top_k.map((t) => [t.index, t.label]), expected.top_k.map((t) => [t.index, t.label]));
  actual.top_k.forEach((t, i) => assert.ok(Math.abs(t.probability - expected.top_k[i].probability) <= 1e-6, `top ${i + 1}: ${t.probability} vs ${expected.top_k[i].probability}`));
}

test('the snapshot file is the one vendor.json names', () => {
  const entry = vendor.bytecode?.snapshot;
  assert.ok(entry, 'vendor.json has no bytecode.snapshot entry (run npm run setup)');
  assert.equal(sha256(bytes(entry.file)), entry.sha256);
  assert.equal(vendor.files[entry.file].sha256, entry.sha256);
});

test("the snapshot records the sha256 of the vendored files it was made from", () => {
  const { meta } = snapshotFile();
  const inputs = snapshotInputs(vendor);
  assert.deepEqual(Object.keys(meta.inputs).sort(), [...inputs].sort());
  for (const file of inputs) {
    const actual = sha256(bytes(file));
    assert.equal(meta.inputs[file], actual, `${file} changed since the snapshot was made (run npm run setup)`);
    assert.equal(vendor.files[file].sha256, actual, file);
  }
  assert.equal(meta.site_packages, SITE);
  assert.equal(meta.imported, HOST_MODULE);
  // numpy's extension modules, each with the handle the restore relinks it by.
  assert.ok(meta.libraries.length >= 1);
  for (const { handle, name } of meta.libraries) {
    assert.ok(Number.isInteger(handle) && handle > 0, name);
    assert.match(name, new RegExp(`^${SITE}/numpy/.*\\.so$`));
  }
  assert.ok(Number.isInteger(meta.table_length) && meta.table_length > 0);
  assert.equal(meta.count_args_slot, meta.table_length - 1); // kept for the browser's helper
  checkSnapshot(meta, vendor);
});

test('a snapshot made from other files is refused before anything is restored', () => {
  const { meta } = snapshotFile();
  const stdlib = vendor.bytecode.stdlib.file;
  const otherStdlib = { ...vendor, files: { ...vendor.files, [stdlib]: { ...vendor.files[stdlib], sha256: '0'.repeat(64) } } };
  assert.throws(() => checkSnapshot(meta, otherStdlib), { message: `it was made from another ${stdlib}` });
  assert.throws(() => checkSnapshot({ ...meta, format: 0 }, vendor), /format/);
});

test('a boot from the snapshot computes what a normal boot computes', { timeout: 240_000 }, async () => {
  const normal = await normalBoot();
  const restored = await snapshotBoot();
  // The heap really is the snapshot's: the host module is imported before anything runs.
  assert.equal(normal.imported, false);
  assert.equal(restored.imported, true);
  assert.ok(restored.timings.snapshot_restore >= 0 && restored.timings.snapshot_files >= 0, JSON.stringify(restored.timings));
  assertSameResults(classify(restored.pyodide), classify(normal.pyodide));
  // The relinked extension modules work, and a new one links after them (numpy.random is not
  // in the runtime's pruned files: the whole library comes first, as for a model's hooks;
  // importlib.metadata is a submodule of a package the runtime imported from its own zip).
  for (const { pyodide } of [restored, normal]) {
    addFullLibrary(pyodide, SITE, bytes(`${vendor.pyodide.index}python_stdlib.zip`), bytes(vendor.numpy.file));
  }
  const check = 'import importlib.metadata, numpy as np, numpy.random; (int(np.arange(10).sum()), round(float(np.linalg.det(np.eye(3) * 2)), 6), numpy.random.default_rng(0).integers(0, 100, 3).tolist(), importlib.metadata.version("numpy"))';
  assert.deepEqual(restored.pyodide.runPython(check).toJs(), normal.pyodide.runPython(check).toJs());
});

test('after a restore that failed half-way, a new normal boot in the same process works', { timeout: 240_000 }, async () => {
  const snapshot = snapshotFile();
  const [first, ...rest] = snapshot.meta.libraries;
  const broken = { ...snapshot, meta: { ...snapshot.meta, libraries: [{ ...first, name: `${first.name}.renamed` }, ...rest] } };
  // The heap is copied in and the first library relinked before the name check fails.
  await assert.rejects(snapshotBoot(broken), { message: `relinking ${first.name}.renamed failed` });
  const normal = await normalBoot();
  const restored = await snapshotBoot();
  assertSameResults(classify(normal.pyodide), classify(restored.pyodide));
});
