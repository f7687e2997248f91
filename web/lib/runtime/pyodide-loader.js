/**
 * Boots Pyodide with numpy and the edge_infer package. The only module that starts Pyodide.
 *
 * By default the boot restores a memory snapshot (tools/make_snapshot.mjs): Pyodide's heap
 * taken after `import edge_infer.hosts.browser`, so CPython's initialisation and every import
 * are skipped. When the snapshot cannot be used (not served, corrupt, made from other runtime
 * files, or its restore fails), the same boot starts a fresh Pyodide the normal way and says
 * why in `runtime.notes`. A runtime file both ways need (the stdlib, the site bundle,
 * Pyodide's own files) fails the boot with E_RUNTIME_LOAD naming it, as without a snapshot.
 *
 * The boot is a sequence of named stages, each exported, so the benchmark composes its
 * alternatives from the same code (bench/alternatives/):
 * 1. startPythonDownloads: every file starts downloading at once;
 * 2. importPyodide: pyodide.mjs;
 * 3. startInterpreterFromSnapshot: loadPyodide restoring the snapshot (numpy's files and ours
 *    are written first: the file system is not in the heap); or, without a snapshot,
 *    startInterpreter: loadPyodide from the precompiled stdlib (tools/compile_bytecode.mjs);
 * 4. installSitePackages (without a snapshot): numpy's files and ours, from one verified
 *    bundle (tools/setup.py's build_site_bundle), written into site-packages from JS: only
 *    the extension modules `import numpy` needs are compiled, when it imports them, and no
 *    Python unzips anything;
 * 5. importHost: `import edge_infer.hosts.browser` (already done in a restored heap).
 *
 * The boot brings only what the runtime imports: the stdlib modules and numpy's files it
 * needs (tools/compile_bytecode.mjs records them). A model's Python hooks may import anything,
 * so adding one first installs the whole library (installFullLibrary).
 */
import { EdgeInferError, ErrorCode } from '../errors.js';
import { fetchBytes, sha256Hex } from './fetch-progress.js';

/** The module the worker drives; the snapshot is taken once it is imported. */
export const HOST_MODULE = 'edge_infer.hosts.browser';
/** The site bundle's parts, in the order they are written. */
const SITE_PARTS = ['numpy', 'edge_infer'];

/**
 * The product's Python chain: every stage below, in order.
 * @param {object} opts
 * @param {URL} opts.vendorUrl URL of the vendored runtime folder (holds vendor.json's files)
 * @param {object} opts.vendor parsed vendor.json
 * @param {(stage: string) => void} [opts.onStage] called as each progress stage starts
 *   ('pyodide', 'numpy', 'package')
 * @param {Record<string, number>} [opts.timings] filled with per-stage milliseconds:
 *   pyodide_wait, pyodide_boot, python_import, and either snapshot_files and
 *   snapshot_restore (parts of pyodide_boot) or numpy_load and package_install; after a
 *   snapshot that could not be used, snapshot_attempt (the time it cost)
 * @param {string[]} [opts.notes] gets a sentence when the snapshot could not be used
 * @param {boolean} [opts.snapshot] restore the memory snapshot vendor.json names (default)
 * @returns {Promise<{pyodide: object, hostModule: object}>}
 */
export async function bootPyodide({ vendorUrl, vendor, onStage = () => {}, timings = {}, notes = [], snapshot = true }) {
  const mark = stopwatch(timings);
  const downloads = startPythonDownloads(vendorUrl, vendor, { snapshot });
  onStage('pyodide');
  const loadPyodide = await importPyodide(downloads.indexURL);
  mark('pyodide_wait');
  if (downloads.snapshot) {
    try {
      const pyodide = await startInterpreterFromSnapshot(loadPyodide, downloads, { vendor, timings });
      mark('pyodide_boot');
      onStage('numpy');
      onStage('package');
      const hostModule = await importHost(pyodide, downloads, { vendorUrl, vendor });
      mark('python_import');
      return { pyodide, hostModule };
    } catch (err) {
      if (err instanceof EdgeInferError) throw err; // a file the normal boot needs too
      // That Pyodide may hold a half-restored heap: the normal boot below starts a new one.
      notes.push(`Python booted without its memory snapshot, which could not be used: ${err.message}`);
      delete timings.snapshot_files;
      delete timings.snapshot_restore;
      mark('snapshot_attempt');
    }
  }
  const pyodide = await startInterpreter(loadPyodide, downloads, { vendorUrl, vendor });
  mark('pyodide_boot');
  onStage('numpy');
  await installSitePackages(pyodide, downloads, { onPart: (part) => {
    if (part === 'numpy') mark('numpy_load');
    onStage('package');
  } });
  mark('package_install');
  const hostModule = await importHost(pyodide, downloads, { vendorUrl, vendor });
  mark('python_import');
  return { pyodide, hostModule };
}

/**
 * Stage 1: start the downloads Pyodide does not start itself.
 * @param {URL} vendorUrl
 * @param {object} vendor parsed vendor.json
 * @param {{snapshot?: boolean}} [opts] also download the memory snapshot, if vendor.json has one
 * @returns {{indexURL: string, stdLibURL: string, stdlib: {url: string, sha256: string},
 *   sitePackages: string, siteBundle: Download, snapshot: Download|null}}
 */
export function startPythonDownloads(vendorUrl, vendor, { snapshot = false } = {}) {
  const stdLibURL = new URL(vendor.bytecode.stdlib.file, vendorUrl).href;
  return {
    indexURL: new URL(vendor.pyodide.index, vendorUrl).href,
    stdLibURL,
    stdlib: { url: stdLibURL, sha256: vendor.bytecode.stdlib.sha256 },
    sitePackages: vendor.pyodide.site_packages,
    siteBundle: download(vendorUrl, vendor.bytecode.site_bundle),
    snapshot: snapshot && vendor.bytecode.snapshot ? download(vendorUrl, vendor.bytecode.snapshot) : null,
  };
}

/**
 * The snapshot's URL, or null. Its failures must not fail the boot (the boot then goes on
 * without it), so the runtime-file watch (boot.js watchRuntimeFiles) skips it.
 * @returns {string|null}
 */
export function snapshotUrl(vendorUrl, vendor) {
  const entry = vendor.bytecode?.snapshot;
  return entry ? new URL(entry.file, vendorUrl).href : null;
}

/**
 * Stage 2: import pyodide.mjs.
 * @param {string} indexURL folder of Pyodide's files
 * @returns {Promise<Function>} its loadPyodide
 */
export async function importPyodide(indexURL) {
  try {
    return (await import(`${indexURL}pyodide.mjs`)).loadPyodide;
  } catch (err) {
    throw runtimeError(`${indexURL}pyodide.mjs`, err);
  }
}

/**
 * Stage 3, with the memory snapshot: check it against vendor.json, then restore it (see
 * restorePyodide). Before the restore, the stdlib zip Pyodide mounted is checked against
 * vendor.json (the restored heap holds zipimport's index of that very zip, and imports
 * nothing more from it, so nothing else would notice a bad one), and numpy's files and ours
 * are written from the verified site bundle.
 * @param {Function} loadPyodide from importPyodide
 * @param {ReturnType<typeof startPythonDownloads>} downloads with `snapshot` set
 * @param {{vendor: object, timings?: Record<string, number>}} opts
 * @returns {Promise<object>} the Pyodide API, `edge_infer.hosts.browser` imported
 * @throws {EdgeInferError} a runtime file the normal boot needs too is missing or corrupt
 * @throws {Error} anything else: the snapshot cannot be used, boot without it
 */
export async function startInterpreterFromSnapshot(loadPyodide, downloads, { vendor, timings = {} }) {
  const { indexURL, stdLibURL, stdlib, sitePackages, siteBundle } = downloads;
  const snapshot = readVerifiedSnapshot(downloads.snapshot, vendor);
  snapshot.catch(() => {}); // observed through loadPyodide
  return restorePyodide(loadPyodide, {
    indexURL,
    stdLibURL,
    snapshot,
    sitePackages,
    timings,
    async siteFiles(Module) {
      const mounted = Promise.resolve().then(() => Module.FS.readFile(stdlibPath(Module)));
      await verified({ ...stdlib, bytes: mounted.catch(() => new Error('Pyodide did not mount it')) });
      return readBundle(await gunzip(await verified(siteBundle)));
    },
  });
}

/**
 * loadPyodide, restoring a memory snapshot made by tools/make_snapshot.mjs with the same
 * Pyodide, stdlib zip and site files (see checkSnapshot). Pyodide 0.27's own restore only
 * copies the heap; the side modules numpy's import linked (its `.so` files) live outside it,
 * in the module's function table and JS linker state. So the restore is wrapped (Emscripten
 * 3.1.58 relinks a library whose C-side handle record says "loaded" at the memory and table
 * bases recorded there):
 * 1. numpy's files and ours are written (the relink and later imports read them);
 * 2. the function table must be as long as when the snapshot was made (checkFunctionTable);
 * 3. Pyodide's restore copies the heap in;
 * 4. each recorded library is relinked by its handle, in load order;
 * 5. the heap is copied in again (relinking re-ran data segments, relocations and
 *    constructors over the restored state), and CPython gets this runtime's count-args
 *    helper.
 * @param {Function} loadPyodide
 * @param {object} opts
 * @param {string} opts.indexURL
 * @param {string} opts.stdLibURL
 * @param {Promise<{meta: object, heap: Uint8Array}>|{meta: object, heap: Uint8Array}} opts.snapshot
 *   from readSnapshot
 * @param {string} opts.sitePackages
 * @param {(Module: object) => Promise<Map<string, Array<[string, Uint8Array]>>>} opts.siteFiles
 *   the site bundle's parts (readBundle), given the Emscripten module once Pyodide has
 *   mounted its stdlib
 * @param {Record<string, number>} [opts.timings] gets snapshot_files and snapshot_restore
 * @returns {Promise<object>} the Pyodide API
 */
export async function restorePyodide(loadPyodide, { indexURL, stdLibURL, snapshot, sitePackages, siteFiles, timings = {} }) {
  await loadModuleFactory(indexURL);
  const restored = Promise.resolve(snapshot);
  return loadPyodide({
    ...pyodideOptions(indexURL, stdLibURL),
    _loadSnapshot: restored.then(({ heap }) => heap), // Pyodide 0.27's experimental API (pinned version)
    async [ON_MODULE](Module) {
      const { meta } = await restored;
      const t0 = performance.now();
      const parts = await siteFiles(Module);
      for (const part of SITE_PARTS) writeFiles(Module, sitePackages, parts.get(part));
      timings.snapshot_files = round(performance.now() - t0);
      wrapRestore(Module, meta, timings);
    },
  });
}

/** loadPyodide's options, the same with or without a snapshot. */
function pyodideOptions(indexURL, stdLibURL) {
  return { indexURL, stdLibURL, fullStdLib: false, packages: [], stdout: () => {}, stderr: (s) => console.warn(s) };
}

/** A loadPyodide option: called with the Emscripten module before Pyodide restores a heap. */
const ON_MODULE = Symbol('edge-infer: before the snapshot restore');

/**
 * Load pyodide.asm.js (loadPyodide reuses a `globalThis._createPyodideModule` that exists)
 * and wrap that factory so that a loadPyodide call with an ON_MODULE option gets the module
 * once it is created, before loadPyodide restores the heap. Wrapped once per worker.
 */
async function loadModuleFactory(indexURL) {
  if (typeof globalThis._createPyodideModule !== 'function') {
    try {
      await import(`${indexURL}pyodide.asm.js`);
    } catch (err) {
      throw runtimeError(`${indexURL}pyodide.asm.js`, err);
    }
  }
  const create = globalThis._createPyodideModule;
  if (create[ON_MODULE]) return;
  const wrapped = async (settings) => {
    const Module = await create(settings);
    await settings.API?.config?.[ON_MODULE]?.(Module); // loadPyodide's options become API.config
    return Module;
  };
  wrapped[ON_MODULE] = true;
  globalThis._createPyodideModule = wrapped;
}

/** Wrap the module's API.restoreSnapshot as restorePyodide describes. */
function wrapRestore(Module, meta, timings) {
  const { API } = Module;
  const restore = API.restoreSnapshot;
  API.restoreSnapshot = (bytes) => {
    const t0 = performance.now();
    checkFunctionTable(Module, meta);
    const config = restore(bytes); // checks Pyodide's build id, copies the heap in
    for (const { handle, name } of meta.libraries) {
      if (!Module.dlopenInternal(handle, { loadAsync: false }) || Module.LDSO.loadedLibsByHandle[handle]?.name !== name) {
        throw new Error(`relinking ${name} failed`);
      }
    }
    const heapStart = new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(4, true); // Pyodide's header
    Module.HEAP8.set(bytes.subarray(heapStart));
    // The heap holds the maker's count-args helper (none under Node); give CPython this one.
    const offset = Module.HEAP32[Module.__PyEM_EMSCRIPTEN_COUNT_ARGS_OFFSET / 4];
    Module.HEAP32[(Module.__PyRuntime + offset) / 4] = Module._PyEM_CountArgsPtr;
    timings.snapshot_restore = round(performance.now() - t0);
    return config;
  };
}

/**
 * The side modules must relink at the table slots they had, just past what Pyodide's own
 * init added. The last thing it adds, where WebAssembly GC exists (browsers, not the Node 20
 * that makes the snapshot), is CPython's count-args helper (its fast path for calling C
 * functions); the snapshot keeps that slot (`count_args_slot`), and where the helper is
 * missing the slot is added empty.
 */
function checkFunctionTable(Module, meta) {
  const { wasmTable } = Module;
  const helper = Module._PyEM_CountArgsPtr;
  const expected = helper ? meta.table_length : meta.table_length - 1;
  if (wasmTable.length !== expected || (helper && helper !== meta.count_args_slot)) {
    throw new Error(`the function table has ${wasmTable.length} entries (count-args helper at ${helper}), the snapshot expects ${expected} (helper at ${meta.count_args_slot})`);
  }
  if (!helper) wasmTable.grow(1);
}

/** Where Pyodide mounts its stdlib zip (its installStdlib). */
function stdlibPath(Module) {
  return `/lib/python${Module._py_version_major()}${Module._py_version_minor()}.zip`;
}

/** Version of the snapshot file's layout (tools/make_snapshot.mjs writes it). */
export const SNAPSHOT_FORMAT = 1;

/**
 * Parse an inflated snapshot file: a 4-byte little-endian header length, the JSON header
 * (padded so the heap starts 16-byte aligned), then the bytes of Pyodide's
 * `makeMemorySnapshot`. The header: `format`, `inputs` (vendor.json path -> sha256 of each
 * runtime file the heap depends on), `site_packages`, `table_length` (the function table
 * before the imports) and `count_args_slot` (see checkFunctionTable), `libraries`
 * (`{handle, name}` of each side module, in load order) and `imported` (the module imported
 * before the snapshot).
 * @param {Uint8Array} raw
 * @returns {{meta: object, heap: Uint8Array}}
 */
export function readSnapshot(raw) {
  const length = new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, true);
  const meta = JSON.parse(new TextDecoder().decode(raw.subarray(4, 4 + length)));
  return { meta, heap: raw.subarray(4 + length) };
}

/**
 * The runtime files a snapshot's heap depends on, as vendor.json names them: Pyodide's
 * loader, JS and wasm, the stdlib zip (zipimport's index, with offsets, is in the heap) and
 * the site bundle (numpy and our modules are in the heap, their files are not).
 * @returns {string[]}
 */
export function snapshotInputs(vendor) {
  const index = vendor.pyodide.index;
  return [`${index}pyodide.mjs`, `${index}pyodide.asm.js`, `${index}pyodide.asm.wasm`, vendor.bytecode.stdlib.file, vendor.bytecode.site_bundle.file];
}

/**
 * Throw unless the snapshot was made from exactly the runtime files vendor.json lists (by
 * sha256), for this site-packages folder and host module.
 * @param {object} meta readSnapshot's `meta`
 * @param {object} vendor parsed vendor.json
 */
export function checkSnapshot(meta, vendor) {
  if (meta.format !== SNAPSHOT_FORMAT) throw new Error(`its format is ${meta.format}, this boot reads ${SNAPSHOT_FORMAT}`);
  for (const file of snapshotInputs(vendor)) {
    const sha256 = vendor.files?.[file]?.sha256;
    if (!sha256 || meta.inputs?.[file] !== sha256) throw new Error(`it was made from another ${file}`);
  }
  if (meta.site_packages !== vendor.pyodide.site_packages) throw new Error(`it was made for ${meta.site_packages}`);
  if (meta.imported !== HOST_MODULE) throw new Error(`it imported ${meta.imported}, not ${HOST_MODULE}`);
}

/**
 * The downloaded snapshot, verified, inflated and checked. Rejects with a plain Error (the
 * boot goes on without the snapshot), never an EdgeInferError.
 * @param {Download} snapshot
 * @param {object} vendor
 * @returns {Promise<{meta: object, heap: Uint8Array}>}
 */
async function readVerifiedSnapshot(snapshot, vendor) {
  let parsed;
  try {
    parsed = readSnapshot(await gunzip(await verified(snapshot)));
  } catch (err) {
    throw new Error(err.message);
  }
  checkSnapshot(parsed.meta, vendor);
  return parsed;
}

/**
 * Stage 3, without a snapshot: start CPython. A failure names the Pyodide file that does not
 * match vendor.json.
 * @param {Function} loadPyodide from importPyodide
 * @param {{indexURL: string, stdLibURL: string}} downloads from startPythonDownloads
 * @param {{vendorUrl: URL, vendor: object}} opts
 * @returns {Promise<object>} the Pyodide API
 */
export async function startInterpreter(loadPyodide, { indexURL, stdLibURL }, { vendorUrl, vendor }) {
  try {
    return await loadPyodide(pyodideOptions(indexURL, stdLibURL));
  } catch (err) {
    throw (await findCorruptBootFile(vendorUrl, vendor, stdLibURL)) ?? runtimeError(`${indexURL} (pyodide.asm.js, pyodide.asm.wasm, pyodide-lock.json) or ${stdLibURL}`, err);
  }
}

/**
 * Stage 4 (without a snapshot): numpy's files and ours (with their bytecode), from the
 * verified site bundle, written into site-packages. Checked and inflated only after
 * loadPyodide: done during it, this work on the same thread delayed Pyodide's boot by more
 * than it took.
 * @param {object} pyodide
 * @param {{siteBundle: Download, sitePackages: string}} downloads from startPythonDownloads
 * @param {{onPart?: (part: string) => void}} [opts] called after each part is written
 */
export async function installSitePackages(pyodide, { siteBundle, sitePackages }, { onPart = () => {} } = {}) {
  const parts = readBundle(await gunzip(await verified(siteBundle)));
  for (const part of SITE_PARTS) {
    writeFiles(pyodide, sitePackages, parts.get(part));
    onPart(part);
  }
}

/**
 * Stage 5: import the browser host module.
 * @returns {Promise<object>} `edge_infer.hosts.browser` as a PyProxy
 */
export async function importHost(pyodide, { stdLibURL }, { vendorUrl, vendor }) {
  try {
    return pyodide.pyimport(HOST_MODULE);
  } catch (err) {
    // numpy's files and ours were verified: a standard library that boots but cannot import
    // what we need is the likely culprit, and the error should name it.
    throw (await findCorruptBootFile(vendorUrl, vendor, stdLibURL)) ?? err;
  }
}

/** Where installFullLibrary puts Pyodide's whole stdlib zip. */
const FULL_STDLIB = '/lib/python3-full-stdlib.zip';

/**
 * Make the whole standard library and all of numpy importable, for a model's Python hooks:
 * Pyodide's stdlib zip goes on `sys.path` before the runtime's pruned one, and numpy's wheel
 * is unpacked over site-packages. Both are verified against vendor.json first. Run once per
 * worker (the caller keeps the promise); the default boot never needs it.
 * @param {object} pyodide
 * @param {{vendorUrl: URL, vendor: object}} runtime files
 * @returns {Promise<void>}
 */
export async function installFullLibrary(pyodide, { vendorUrl, vendor }) {
  const stdlibFile = `${vendor.pyodide.index}python_stdlib.zip`;
  const stdlib = download(vendorUrl, { file: stdlibFile, sha256: vendor.files[stdlibFile].sha256 });
  const numpy = download(vendorUrl, vendor.numpy);
  const [stdlibZip, numpyWheel] = await Promise.all([verified(stdlib), verified(numpy)]);
  addFullLibrary(pyodide, vendor.pyodide.site_packages, stdlibZip, numpyWheel);
}

/**
 * The file system part of installFullLibrary, given the verified bytes.
 * @param {object} pyodide
 * @param {string} sitePackages
 * @param {Uint8Array} stdlibZip Pyodide's whole stdlib zip
 * @param {Uint8Array} numpyWheel numpy's wheel
 */
export function addFullLibrary(pyodide, sitePackages, stdlibZip, numpyWheel) {
  pyodide.FS.writeFile(FULL_STDLIB, stdlibZip, { canOwn: true });
  pyodide.unpackArchive(numpyWheel, 'wheel', { extractDir: sitePackages });
  // The whole zip goes first on sys.path, so a package imported from now on comes whole
  // from it. A package already imported from the runtime's zip (importlib, ...) looks for
  // its submodules on its own __path__ only: each gets its folder in the whole zip too.
  pyodide.runPython(`import importlib, sys
full = ${JSON.stringify(FULL_STDLIB)}
pruned = f"/lib/python{sys.version_info.major}{sys.version_info.minor}.zip"
if full not in sys.path:
    sys.path.insert(sys.path.index(pruned) if pruned in sys.path else 0, full)
for module in list(sys.modules.values()):
    path = getattr(module, "__path__", None)
    if isinstance(path, list):
        for entry in list(path):
            if entry.startswith(pruned + "/") and full + entry[len(pruned):] not in path:
                path.append(full + entry[len(pruned):])
importlib.invalidate_caches()`);
}

/**
 * @typedef {{url: string, sha256: string, bytes: Promise<Uint8Array|Error>}} Download
 * A file being downloaded, checked by {@link verified} when it is needed.
 */

/**
 * Start downloading a vendor.json entry (`{file, sha256}`).
 * @returns {Download}
 */
function download(vendorUrl, entry) {
  const url = new URL(entry.file, vendorUrl).href;
  return { url, sha256: entry.sha256, bytes: fetchBytes(url).catch((err) => err) };
}

/** The downloaded bytes once their sha256 matches; a coded error naming the file if not. */
async function verified({ url, sha256, bytes }) {
  const data = await bytes;
  if (data instanceof Error) throw runtimeError(url, data);
  const digest = await sha256Hex(data);
  if (digest !== sha256) {
    throw new EdgeInferError(
      ErrorCode.RUNTIME_LOAD,
      `${url} fails its integrity check (sha256 ${digest}, expected ${sha256})`,
      { file: url },
    );
  }
  return data;
}

/**
 * After Pyodide failed to boot: which of its own files (not checked on the way in, to keep
 * the boot fast) does not match vendor.json? Pyodide's errors say what went wrong inside
 * Python ("Failed to import _pyodide_core", "exit(1)"), never which file caused it. Runs only
 * on failure, smallest files first, and re-reads them through the HTTP cache (revalidated, so
 * not downloaded again). A wasm that does not compile never gets here: fetch-watch.js names it.
 * @returns {Promise<EdgeInferError|null>} an integrity error naming the first bad file, or null
 */
async function findCorruptBootFile(vendorUrl, vendor, stdlibUrl) {
  const index = new URL(vendor.pyodide.index, vendorUrl);
  const suspects = [
    new URL('pyodide-lock.json', index),
    new URL('pyodide.asm.js', index),
    new URL(stdlibUrl),
    new URL('pyodide.asm.wasm', index),
  ];
  for (const url of suspects) {
    const relative = url.href.startsWith(vendorUrl.href) ? url.href.slice(vendorUrl.href.length) : null;
    const sha256 = vendor.files?.[relative]?.sha256;
    if (!sha256) continue;
    try {
      await verified({ url: url.href, sha256, bytes: fetchBytes(url.href).catch((err) => err) });
    } catch (err) {
      return err;
    }
  }
  return null;
}

/**
 * Parse a site bundle (see build_site_bundle in tools/setup.py): a 4-byte little-endian
 * index length, the JSON index, then the files' bytes.
 * @returns {Map<string, Array<[string, Uint8Array]>>} part name -> [path, content] in order
 */
export function readBundle(raw) {
  const length = new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0, true);
  const index = JSON.parse(new TextDecoder().decode(raw.subarray(4, 4 + length)));
  if (index.format !== 1) throw new Error(`site bundle format ${index.format}, expected 1`);
  const data = raw.subarray(4 + length);
  return new Map(index.parts.map(({ name, files }) => [name, files.map(([path, offset, bytes]) => [path, data.subarray(offset, offset + bytes)])]));
}

/**
 * Write [path, content] pairs under `sitePackages`; the file system keeps the views.
 * @param {{FS: object}} pyodide the Pyodide API, or its Emscripten module
 * @param {string} sitePackages
 * @param {Array<[string, Uint8Array]>} files a part of readBundle's result
 */
export function writeFiles(pyodide, sitePackages, files) {
  const made = new Set();
  for (const [path, content] of files) {
    const file = `${sitePackages}/${path}`;
    const dir = file.slice(0, file.lastIndexOf('/'));
    if (!made.has(dir)) {
      pyodide.FS.mkdirTree(dir);
      made.add(dir);
    }
    pyodide.FS.writeFile(file, content, { canOwn: true });
  }
}

/** Inflate gzip bytes with the browser's own decompressor. */
async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function runtimeError(file, cause) {
  return new EdgeInferError(ErrorCode.RUNTIME_LOAD, `failed to load ${file}: ${cause?.message ?? cause}`, { file });
}

/** Returns mark(name): records ms since the previous mark under timings[name]. */
function stopwatch(timings) {
  let last = performance.now();
  return (name) => {
    const now = performance.now();
    timings[name] = round(now - last);
    last = now;
  };
}

function round(ms) {
  return Math.round(ms * 100) / 100;
}
