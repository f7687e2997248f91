// The precompiled bytecode (tools/compile_bytecode.mjs, built by setup) is valid and used:
// booting the vendored Pyodide the way the worker does, nothing the runtime imports is
// compiled from source. Runs Pyodide under Node (the same CPython build as the browser).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

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
  // Modules imported while Pyodide booted: each has a valid pyc in the stdlib zip.
  const boot = pyodide.runPython(`
import importlib.util, sys, zipfile
from importlib._bootstrap_external import _classify_pyc
STDLIB_ZIP = f"/lib/python{sys.version_info.major}{sys.version_info.minor}.zip/"
z = zipfile.ZipFile(STDLIB_ZIP.rstrip("/"))
names = set(z.namelist())
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
    if flags != 0b11 or data[8:16] != importlib.util.source_hash(z.read(name)):
        stale.append(name)
    checked += 1
{"checked": checked, "missing": missing, "stale": stale}
`).toJs({ dict_converter: Object.fromEntries });
  assert.ok(boot.checked > 50, `only ${boot.checked} stdlib modules checked`);
  assert.deepEqual(boot.missing, []);
  assert.deepEqual(boot.stale, []);

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
  pyodide.unpackArchive(bytes(vendor.numpy), 'wheel', { extractDir: SITE });
  pyodide.unpackArchive(bytes(vendor.edge_infer), 'wheel', { extractDir: SITE });
  pyodide.unpackArchive(bytes(vendor.bytecode.site_packages), 'zip', { extractDir: SITE });
  pyodide.runPython('import edge_infer.hosts.browser, numpy; numpy.arange(3).sum()');
  const compiled = pyodide.runPython('compiled').toJs();
  const imported = pyodide.runPython('import sys; len([m for m in sys.modules if m.startswith(("numpy", "edge_infer"))])');
  assert.ok(imported > 40, `only ${imported} numpy/edge_infer modules imported`);
  assert.deepEqual(compiled, [], 'modules compiled from source instead of loaded from bytecode');
});
