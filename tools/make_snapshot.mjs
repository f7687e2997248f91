#!/usr/bin/env node
/**
 * Make the Pyodide memory snapshot the worker boots from, under Node with the vendored Pyodide.
 *
 *     node tools/make_snapshot.mjs <vendor dir> <pyodide index> <stdlib zip> <site bundle> <out .bin.gz>
 *
 * Every path after the first is relative to the vendor dir, as vendor.json names the files.
 * A snapshot is Pyodide's whole WebAssembly heap after `import edge_infer.hosts.browser`:
 * CPython initialised, numpy and our package imported. Pyodide boots from the stdlib zip
 * given here, and numpy's files and ours are written from the site bundle with the worker's
 * own code (web/lib/runtime/pyodide-loader.js), so the heap's paths and zipimport's index
 * (file offsets) are the browser's.
 *
 * The heap does not hold the side modules `import numpy` linked (its `.so` files: functions
 * in the module's table, symbols in JS linker state). The header records what the worker's
 * restore needs to relink them at the same addresses (see restorePyodide there): each
 * library's dlopen handle and name, in load order, and the table's length before the imports
 * (with the slot a browser's count-args helper takes).
 * It also records the sha256 of every runtime file the heap depends on (snapshotInputs), so
 * a worker never restores it over other files. The Python side holds no JS object after the
 * import (Pyodide refuses to snapshot one it cannot name), so no serializer is needed.
 *
 * Every page booted from it shares its hash seed (nothing secret is hashed in this runtime).
 * The output is not byte-reproducible (the heap holds boot-time randomness), which is why
 * setup rebuilds it only when an input changes. Layout: readSnapshot in pyodide-loader.js,
 * gzipped (the worker inflates it with DecompressionStream). tools/setup.py runs this after
 * it has built the site bundle.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { HOST_MODULE, SNAPSHOT_FORMAT, readBundle, snapshotInputs, writeFiles } from '../web/lib/runtime/pyodide-loader.js';

const args = process.argv.slice(2);
if (args.length !== 5) {
  console.error('usage: node tools/make_snapshot.mjs <vendor dir> <pyodide index> <stdlib zip> <site bundle> <out .bin.gz>');
  process.exit(2);
}
const [vendorDir, index, stdlib, siteBundle, out] = args;
/** The files as vendor.json will name them. */
const layout = { pyodide: { index }, bytecode: { stdlib: { file: stdlib }, site_bundle: { file: siteBundle } } };
const path = (file) => resolve(vendorDir, file);
const bytes = (file) => new Uint8Array(readFileSync(path(file)));
const sha256 = (file) => createHash('sha256').update(bytes(file)).digest('hex');

const { loadPyodide } = await import(`${path(index)}/pyodide.mjs`);
const pyodide = await loadPyodide({
  indexURL: `${path(index)}/`,
  stdLibURL: path(stdlib),
  fullStdLib: false,
  _makeSnapshot: true,
  stdout: () => {},
  stderr: (s) => console.error(s),
});
const { LDSO, wasmTable, _PyEM_CountArgsPtr: countArgs } = pyodide._module;
// Browsers add CPython's count-args helper (WebAssembly GC, which this Node lacks) as the
// last entry of Pyodide's init: keep its slot free (checkFunctionTable in the loader).
const countArgsSlot = countArgs || wasmTable.grow(1);
const tableLength = wasmTable.length;
const sitePackages = pyodide.runPython('import site; site.getsitepackages()[0]');
const parts = readBundle(gunzipSync(bytes(siteBundle)));
for (const part of ['numpy', 'edge_infer']) writeFiles(pyodide, sitePackages, parts.get(part));
pyodide.runPython(`import ${HOST_MODULE}`);

// loadedLibsByName keeps load order (string keys); loadedLibsByHandle has the handles.
const handles = new Map(Object.entries(LDSO.loadedLibsByHandle).map(([handle, dso]) => [dso, Number(handle)]));
const libraries = Object.entries(LDSO.loadedLibsByName)
  .filter(([name]) => name !== '__main__')
  .map(([name, dso]) => ({ handle: handles.get(dso), name }));
const unhandled = libraries.filter(({ handle }) => !handle);
if (unhandled.length) {
  console.error(`make_snapshot: ${unhandled.map((l) => l.name).join(', ')} linked without a dlopen handle; the worker could not relink them`);
  process.exit(1);
}

const meta = {
  format: SNAPSHOT_FORMAT,
  inputs: Object.fromEntries(snapshotInputs(layout).map((file) => [file, sha256(file)])),
  site_packages: sitePackages,
  table_length: tableLength,
  count_args_slot: countArgsSlot,
  libraries,
  imported: HOST_MODULE,
};
const heap = pyodide.makeMemorySnapshot();
const json = new TextEncoder().encode(JSON.stringify(meta));
const header = new Uint8Array(Math.ceil((4 + json.length) / 16) * 16 - 4).fill(0x20); // the heap starts 16-byte aligned
header.set(json);
const raw = new Uint8Array(4 + header.length + heap.length);
new DataView(raw.buffer).setUint32(0, header.length, true);
raw.set(header, 4);
raw.set(heap, 4 + header.length);
const gz = gzipSync(raw, { level: 6 });
const tmp = `${path(out)}.tmp`;
writeFileSync(tmp, gz);
renameSync(tmp, path(out));
console.log(`make_snapshot: ${heap.length} bytes of heap, ${libraries.length} side modules, ${gz.length} gzipped -> ${out}`);
