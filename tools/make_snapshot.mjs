#!/usr/bin/env node
/**
 * Make the Pyodide memory snapshot the worker boots from, under Node with the vendored Pyodide.
 *
 *     node tools/make_snapshot.mjs <pyodide index dir> <bytecode stdlib zip> <out .bin.gz>
 *
 * A snapshot is Pyodide's whole WebAssembly heap right after `loadPyodide` (Python
 * initialised, Pyodide's own modules imported), plus the JS references Python held. Booting
 * from it (`loadPyodide({_loadSnapshot})`, Pyodide 0.27's experimental API) skips CPython's
 * initialisation. What a snapshot cannot hold, and why it stops where it does:
 *
 * - numpy: its extension modules are WebAssembly side modules. Loading one adds functions to
 *   the module's table and symbols to JS-side linker state, none of which is in the heap, so
 *   the snapshot is taken before numpy (and the `check` below fails if anything was linked).
 * - The file system: MEMFS lives in JS, so the stdlib zip is still mounted at every boot. It
 *   must be the exact zip given here (the bytecode one): zipimport's directory cache, with
 *   file offsets, is part of the heap.
 *
 * The stdlib modules numpy and edge_infer import that are pure Python or built in are
 * imported first, so they are in the snapshot too. Every page booted from it shares its hash
 * seed (nothing secret is hashed in this runtime). The output is not byte-reproducible (the
 * heap holds boot-time randomness), which is why setup rebuilds it only when an input
 * changes. It is gzipped (21 MB of heap, mostly empty, is 4.4 MB); the worker inflates it
 * with DecompressionStream. tools/setup.py runs this after compile_bytecode.mjs.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

/** Imported before the snapshot: what `import edge_infer.hosts.browser` adds to the boot set. */
const PREIMPORT = ['__future__', 'ctypes', 'dataclasses', 'datetime', 'json', 'numbers', 'pickle', 'platform'];

const [indexDir, stdlibZip, outFile] = process.argv.slice(2).map((p) => p && resolve(p));
if (!outFile) {
  console.error('usage: node tools/make_snapshot.mjs <pyodide index dir> <bytecode stdlib zip> <out .bin.gz>');
  process.exit(2);
}

const { loadPyodide } = await import(`${indexDir}/pyodide.mjs`);
const pyodide = await loadPyodide({
  indexURL: `${indexDir}/`,
  stdLibURL: stdlibZip,
  fullStdLib: false,
  _makeSnapshot: true,
  stdout: () => {},
  stderr: (s) => console.error(s),
});
pyodide.runPython(`
import importlib
for name in ${JSON.stringify(PREIMPORT)}:
    importlib.import_module(name)
del importlib, name
`);
const linked = Object.keys(pyodide._module.LDSO.loadedLibsByName).filter((name) => name !== '__main__');
if (linked.length) {
  console.error(`make_snapshot: side modules were linked before the snapshot (${linked.join(', ')}); a snapshot cannot hold them`);
  process.exit(1);
}
const snapshot = pyodide.makeMemorySnapshot();
const gz = gzipSync(snapshot, { level: 6 });
const tmp = `${outFile}.tmp`;
writeFileSync(tmp, gz);
renameSync(tmp, outFile);
console.log(`make_snapshot: ${snapshot.length} bytes of heap, ${gz.length} gzipped -> ${outFile}`);
