// The precompiled bytecode (tools/compile_bytecode.mjs, built by setup) is valid and used:
// booting the vendored Pyodide the way the worker does, nothing the runtime imports is
// compiled from source. The boot's files are pruned to what the runtime imports: the stdlib
// zip holds only bytecode, and the host runs from the site bundle alone, so a runtime path
// that imports a pruned module fails here. Runs Pyodide under Node (the same CPython build
// as the browser).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { readBundle, writeFiles } from '../../../web/lib/runtime/pyodide-loader.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const VENDOR = `${ROOT}web/vendor/`;

test('the runtime imports everything from precompiled bytecode', { timeout: 240_000 }, async () => {
  const vendor = JSON.parse(readFileSync(`${VENDOR}vendor.json`, 'utf8'));
  const SITE = vendor.pyodide.site_packages;
  assert.ok(vendor.bytecode, 'vendor.json has no bytecode entry (run npm run setup)');
  const bytes = (entry) => new Uint8Array(readFileSync(VENDOR + entry.file));
  const { loadPyodide } = await import(`${VENDOR}pyodide/pyodide.mjs`);
  const pyodide = await loadPyodide({
    indexURL: `${VENDOR}pyodide/`,
    stdLibURL: VENDOR + vendor.bytecode.stdlib.file,
    stdout: () => {},
  });
  // Modules imported while Pyodide booted: each has a valid pyc in the stdlib zip, made from
  // the source in Pyodide's own stdlib zip.
  pyodide.FS.writeFile('/tmp/full-stdlib.zip', bytes({ file: `${vendor.pyodide.index}python_stdlib.zip` }));
  const boot = pyodide.runPython(`
import importlib.util, sys, zipfile
from importlib._bootstrap_external import _classify_pyc
STDLIB_ZIP = f"/lib/python{sys.version_info.major}{sys.version_info.minor}.zip/"
z = zipfile.ZipFile(STDLIB_ZIP.rstrip("/"))
full = zipfile.ZipFile("/tmp/full-stdlib.zip")
names = set(z.namelist())
sources = [n for n in names if not n.endswith(".pyc")]
modules = len([n for n in full.namelist() if n.endswith(".py")])
checked, missing, stale = 0, [], []
for m in list(sys.modules.values()):
    origin = getattr(getattr(m, "__spec__", None), "origin", None)
    if not (isinstance(origin, str) and origin.startswith(STDLIB_ZIP)):
        continue
    if not origin.endswith((".py", ".pyc")):
        continue
    name = origin[len(STDLIB_ZIP):].removesuffix("c")  # zipimport names the .pyc it used
    if name[:-3] + ".pyc" not in names:
        missing.append(name)
        continue
    data = z.read(name[:-3] + ".pyc")
    flags = _classify_pyc(data, name, {})
    if flags != 0b11 or data[8:16] != importlib.util.source_hash(full.read(name)):
        stale.append(name)
    checked += 1
{"checked": checked, "missing": missing, "stale": stale, "sources": sources,
 "pycs": len(names), "modules": modules}
`).toJs({ dict_converter: Object.fromEntries });
  assert.ok(boot.checked > 50, `only ${boot.checked} stdlib modules checked`);
  assert.deepEqual(boot.missing, []);
  assert.deepEqual(boot.stale, []);
  assert.deepEqual(boot.sources, [], 'the runtime\'s stdlib zip should hold bytecode only');
  assert.ok(boot.pycs < boot.modules / 2, `${boot.pycs} of ${boot.modules} stdlib modules kept`);

  // From here, count every compile from source: zipimport's and the path importer's.
  pyodide.runPython(`
import zipimport, importlib._bootstrap_external as ext
compiled = []
_zip_compile = zipimport._compile_source
def _count_zip(pathname, source):
    compiled.append(pathname)
    return _zip_compile(pathname, source)
zipimport._compile_source = _count_zip
_source_to_code = ext.SourceLoader.source_to_code
def _count_source(self, data, path, *a, **k):
    compiled.append(path)
    return _source_to_code(self, data, path, *a, **k)
ext.SourceLoader.source_to_code = _count_source
`);
  // The site bundle, written as the worker writes it (no snapshot): numpy's pruned files and ours.
  const parts = readBundle(new Uint8Array(gunzipSync(bytes(vendor.bytecode.site_bundle))));
  for (const part of ['numpy', 'edge_infer']) writeFiles(pyodide, SITE, parts.get(part));
  const numpyFiles = parts.get('numpy').map(([path]) => path);
  assert.ok(!numpyFiles.some((path) => path.startsWith('numpy/random/')), 'numpy.random is not pruned');
  runHost(pyodide);
  const compiled = pyodide.runPython('compiled').toJs();
  const imported = pyodide.runPython('import sys; len([m for m in sys.modules if m.startswith(("numpy", "edge_infer"))])');
  assert.ok(imported > 40, `only ${imported} numpy/edge_infer modules imported`);
  assert.deepEqual(compiled, [], 'modules compiled from source instead of loaded from bytecode');
});

/**
 * Every runtime path of the browser host on every manifest model: fast and exact
 * preprocessing, postprocessing and results. A pruned module any of them imports fails here.
 */
function runHost(pyodide) {
  const manifestText = readFileSync(`${ROOT}models/manifest.json`, 'utf8');
  const host = pyodide.pyimport('edge_infer.hosts.browser').BrowserHost(manifestText, JSON.stringify({ threads: 1 }));
  for (const model of JSON.parse(manifestText).models) {
    host.add_model(model.id);
    for (const [width, height, mode] of [[256, 256, 'fast'], [300, 200, 'exact']]) {
      const image = { mode, top_k: 5, decode_ms: 0, source_width: width, source_height: height };
      host.begin(model.id, new Uint8ClampedArray(width * height * 4).fill(200), width, height, JSON.stringify(image));
      const result = JSON.parse(host.end(model.id, JSON.stringify({ inference: 1, ort_run: 1, queue_wait: 0, before_begin: 0 })));
      assert.equal(result.top_k.length, 5);
    }
    host.remove_model(model.id);
  }
  host.destroy();
}
