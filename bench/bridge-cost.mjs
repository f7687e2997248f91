#!/usr/bin/env node
/**
 * What Python's two calls per image cost, with warm and with cold CPU caches.
 *
 *     node bench/bridge-cost.mjs [runs]
 *
 * Boots the vendored Pyodide under Node the way the worker does (snapshot, bytecode, site
 * bundle from web/vendor, so run `npm run setup` first) and times BrowserHost.begin
 * (preprocess a 341x256 RGBA image, the size the browser hands over for a 1024x768 photo) and
 * BrowserHost.end (softmax, top-5, the result as JSON) with the JSON the worker sends and
 * parses, as web/lib/python-host.js calls them:
 *
 * - warm: back to back, so Python's code and data stay in the CPU caches;
 * - cold: after touching 64 MB, as onnxruntime-web's run does between begin and end in the
 *   browser (its weights and activations evict Pyodide's interpreter and numpy from cache).
 *
 * Prints medians and p95 in ms. In the browser the same calls sit between ORT runs, so the
 * cold numbers are the ones that compare with the bench's "overhead" column.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { readBundle, writeFiles } from '../web/lib/runtime/pyodide-loader.js';

const runs = Number(process.argv[2] ?? 300);
const ROOT = new URL('../', import.meta.url).pathname;
const VENDOR = `${ROOT}web/vendor/`;
const vendor = JSON.parse(readFileSync(`${VENDOR}vendor.json`, 'utf8'));
const read = (entry) => new Uint8Array(readFileSync(VENDOR + entry.file));

const { loadPyodide } = await import(`${VENDOR}pyodide/pyodide.mjs`);
const pyodide = await loadPyodide({
  indexURL: `${VENDOR}pyodide/`,
  stdLibURL: VENDOR + vendor.bytecode.stdlib.file,
  _loadSnapshot: gunzipSync(read(vendor.bytecode.snapshot)),
  stdout: () => {},
});
const parts = readBundle(gunzipSync(read(vendor.bytecode.site_bundle)));
for (const files of parts.values()) writeFiles(pyodide, vendor.pyodide.site_packages, files);

const manifestText = readFileSync(`${ROOT}models/manifest.json`, 'utf8');
const modelId = JSON.parse(manifestText).default_model;
const hostModule = pyodide.pyimport('edge_infer.hosts.browser');
const host = hostModule.BrowserHost(manifestText, '{}');
host.add_model(modelId);
const begin = host.begin;
const end = host.end;
const input = host.input_tensor(modelId).getBuffer();
const logitsView = host.logits_buffer(modelId).getBuffer();
const logits = new Float32Array(logitsView.data.length).map((_, i) => Math.sin(i * 0.37) * 4);
const [width, height] = [341, 256];
const rgba = new Uint8ClampedArray(width * height * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 37) % 251));
const evict = new Float64Array(8 * 1024 * 1024); // 64 MB

function measure(cold) {
  const beginMs = [];
  const endMs = [];
  for (let run = 0; run < runs; run += 1) {
    if (cold) for (let i = 0; i < evict.length; i += 8) evict[i] += 1; // one write per 64-byte line
    const t0 = performance.now();
    begin(modelId, rgba, width, height, JSON.stringify({ mode: 'fast', top_k: 5, decode_ms: 0, source_width: 1024, source_height: 768 }));
    const t1 = performance.now();
    void input.data[0];
    logitsView.data.set(logits);
    const t2 = performance.now();
    JSON.parse(end(modelId, JSON.stringify({ inference: 1, ort_run: 1, queue_wait: 0, before_begin: 0 })));
    const t3 = performance.now();
    beginMs.push(t1 - t0);
    endMs.push(t3 - t2);
  }
  return { begin: stats(beginMs), end: stats(endMs), total: stats(beginMs.map((b, i) => b + endMs[i])) };
}

function stats(values) {
  const sorted = values.slice(Math.floor(values.length / 10)).sort((a, b) => a - b); // skip warm-up
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return `${at(0.5).toFixed(3)} / ${at(0.95).toFixed(3)}`;
}

console.log(`BrowserHost.begin + end, ${runs} runs each, median / p95 ms (Node ${process.version})`);
for (const [name, cold] of [['warm caches', false], ['cold caches (64 MB touched before each)', true]]) {
  const r = measure(cold);
  console.log(`${name.padEnd(42)} begin ${r.begin}   end ${r.end}   total ${r.total}`);
}
