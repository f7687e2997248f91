#!/usr/bin/env node
/**
 * Precompile the Python modules the browser runtime imports, with Pyodide's own CPython.
 *
 *     node tools/compile_bytecode.mjs <pyodide index dir> <edge_infer wheel> <manifest.json> <out dir>
 *
 * Pyodide's stdlib zip and numpy's wheel ship only .py sources, so every page load compiled
 * them again: most of Pyodide's boot and of `import numpy` was the bytecode compiler. This
 * boots the vendored Pyodide under Node, loads numpy, unpacks our wheel, runs the browser
 * host once (boot, fast and exact preprocessing, postprocessing) and writes the bytecode of
 * every module that pulled in:
 *
 *   <out>/python_stdlib.zip   only `<module>.pyc` of each imported stdlib module, without
 *                             sources (zipimport imports them sourceless). The worker passes
 *                             it to loadPyodide as `stdLibURL`; a model with Python hooks
 *                             adds Pyodide's whole stdlib zip beside it (installFullLibrary).
 *   <out>/site-packages.zip   `__pycache__/*.pyc` for numpy and edge_infer, unpacked into
 *                             site-packages before the first import.
 *   <out>/site-imports.json   `{"files": [...]}`: every imported site-packages file (sources
 *                             and numpy's linked `.so`), relative to site-packages; setup
 *                             keeps only these of numpy's wheel in the site bundle.
 *
 * The site-packages .pyc files are *checked* hash-based pycs (PEP 552): Python hashes the
 * source and compiles it instead when they differ, so a stale file costs speed, never
 * correctness. Output is byte-reproducible (sorted entries, fixed timestamps).
 * tools/setup.py runs this when any input changes.
 */
import { readFileSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';

const [indexDir, wheelPath, manifestPath, outDir] = process.argv.slice(2).map((p) => p && resolve(p));
if (!outDir) {
  console.error('usage: node tools/compile_bytecode.mjs <pyodide index dir> <wheel> <manifest.json> <out dir>');
  process.exit(2);
}

const { loadPyodide } = await import(`${indexDir}/pyodide.mjs`);
const pyodide = await loadPyodide({ indexURL: `${indexDir}/`, stdout: () => {}, stderr: (s) => console.error(s) });
await pyodide.loadPackage(['numpy'], { messageCallback: () => {}, errorCallback: (s) => console.error(s) });
const sitePackages = pyodide.runPython('import site; site.getsitepackages()[0]');
pyodide.unpackArchive(new Uint8Array(readFileSync(wheelPath)), 'wheel', { extractDir: sitePackages });

// Exercise the browser host as web/lib/python-host.js does (both preprocessing modes), so
// lazily imported modules count.
const manifestText = readFileSync(manifestPath, 'utf8');
const modelId = JSON.parse(manifestText).default_model;
const hostModule = pyodide.pyimport('edge_infer.hosts.browser');
const host = hostModule.BrowserHost(manifestText, JSON.stringify({ threads: 1 }));
host.add_model(modelId);
for (const [width, height, mode] of [[256, 256, 'fast'], [300, 200, 'exact']]) {
  const image = { mode, top_k: 5, decode_ms: 0, source_width: width, source_height: height };
  host.begin(modelId, new Uint8ClampedArray(width * height * 4).fill(200), width, height, JSON.stringify(image));
  const logits = host.logits_buffer(modelId);
  const view = logits.getBuffer();
  view.data.set(new Float32Array(1000).map((_, i) => Math.sin(i)));
  view.release();
  logits.destroy();
  JSON.parse(host.end(modelId, JSON.stringify({ inference: 1, ort_run: 1, queue_wait: 0, before_begin: 0 })));
}
host.destroy();
hostModule.destroy();

pyodide.runPython(String.raw`
import importlib.util, io, json, site, sys, zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

STDLIB_ZIP = f"/lib/python{sys.version_info.major}{sys.version_info.minor}.zip"
STDLIB = STDLIB_ZIP + "/"
SITE = site.getsitepackages()[0] + "/"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)

def pyc(source: bytes, path: str) -> bytes:
    code = compile(source, path, "exec", dont_inherit=True, optimize=0)
    return bytes(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=True))

def entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info

all_origins = sorted({
    m.__spec__.origin for m in list(sys.modules.values())
    if getattr(m, "__spec__", None) and isinstance(m.__spec__.origin, str)
})
origins = [o for o in all_origins if o.endswith(".py")]

stdlib_in = zipfile.ZipFile(STDLIB_ZIP)
stdlib_members = set(stdlib_in.namelist())
stdlib_pyc = {o[len(STDLIB):] for o in origins if o.startswith(STDLIB)} & stdlib_members
out = io.BytesIO()
with zipfile.ZipFile(out, "w") as z:
    for name in sorted(stdlib_pyc):
        z.writestr(entry(name + "c"), pyc(stdlib_in.read(name), STDLIB + name))
stdlib_zip = out.getvalue()
site_imports = json.dumps(
    {"files": [o[len(SITE):] for o in all_origins if o.startswith(SITE)]}, indent=0
).encode()

out = io.BytesIO()
site_origins = [o for o in origins if o.startswith(SITE)]
with zipfile.ZipFile(out, "w") as z:
    for origin in site_origins:
        with open(origin, "rb") as f:
            z.writestr(entry(importlib.util.cache_from_source(origin)[len(SITE):]), pyc(f.read(), origin))
site_zip = out.getvalue()
counts = (len(stdlib_pyc), len(site_origins))
`);

mkdirSync(outDir, { recursive: true });
for (const [name, key] of [['python_stdlib.zip', 'stdlib_zip'], ['site-packages.zip', 'site_zip'], ['site-imports.json', 'site_imports']]) {
  const tmp = `${outDir}/.${name}.tmp`;
  writeFileSync(tmp, pyodide.globals.get(key).toJs());
  renameSync(tmp, `${outDir}/${name}`);
}
const [stdlibCount, siteCount] = pyodide.globals.get('counts').toJs();
console.log(`compiled ${stdlibCount} stdlib and ${siteCount} site-packages modules`);
