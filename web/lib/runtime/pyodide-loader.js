/**
 * Boots Pyodide with numpy and the edge_infer package. The only module that starts Pyodide.
 *
 * The boot is a sequence of named stages, each exported, so the benchmark composes its
 * alternatives from the same code (bench/alternatives/):
 * 1. startPythonDownloads: every file starts downloading at once;
 * 2. importPyodide: pyodide.mjs;
 * 3. startInterpreter: loadPyodide from the precompiled stdlib (tools/compile_bytecode.mjs),
 *    optionally restoring a memory snapshot of a booted heap;
 * 4. installSitePackages: numpy's files and ours, from one verified bundle
 *    (tools/setup.py's build_site_bundle), written into site-packages from JS: only the
 *    extension modules `import numpy` needs are compiled, when it imports them, and no
 *    Python unzips anything;
 * 5. importHost: `import edge_infer.hosts.browser`.
 */
import { EdgeInferError, ErrorCode } from '../errors.js';
import { fetchBytes, sha256Hex } from './fetch-progress.js';

/**
 * The product's Python chain: every stage below, in order.
 * @param {object} opts
 * @param {URL} opts.vendorUrl URL of the vendored runtime folder (holds vendor.json's files)
 * @param {object} opts.vendor parsed vendor.json
 * @param {(stage: string) => void} [opts.onStage] called as each progress stage starts
 *   ('pyodide', 'numpy', 'package')
 * @param {Record<string, number>} [opts.timings] filled with per-stage milliseconds
 *   (pyodide_wait, pyodide_boot, numpy_load, package_install, python_import)
 * @param {Promise<Uint8Array>} [opts.snapshot] a booted heap to restore (see
 *   startInterpreter); none in the product
 * @returns {Promise<{pyodide: object, hostModule: object}>}
 */
export async function bootPyodide({ vendorUrl, vendor, onStage = () => {}, timings = {}, snapshot }) {
  const mark = stopwatch(timings);
  const downloads = startPythonDownloads(vendorUrl, vendor);
  onStage('pyodide');
  const loadPyodide = await importPyodide(downloads.indexURL);
  mark('pyodide_wait');
  const pyodide = await startInterpreter(loadPyodide, downloads, { vendorUrl, vendor, snapshot });
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
 * @returns {{indexURL: string, stdLibURL: string, sitePackages: string, siteBundle: Download}}
 */
export function startPythonDownloads(vendorUrl, vendor) {
  return {
    indexURL: new URL(vendor.pyodide.index, vendorUrl).href,
    stdLibURL: new URL(vendor.bytecode.stdlib.file, vendorUrl).href,
    sitePackages: vendor.pyodide.site_packages,
    siteBundle: download(vendorUrl, vendor.bytecode.site_bundle),
  };
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
 * Stage 3: start CPython. A failure names the Pyodide file that does not match vendor.json.
 * @param {Function} loadPyodide from importPyodide
 * @param {{indexURL: string, stdLibURL: string}} downloads from startPythonDownloads
 * @param {{vendorUrl: URL, vendor: object, snapshot?: Promise<Uint8Array>}} opts `snapshot`:
 *   a heap made by Pyodide's `makeMemorySnapshot` with this very stdlib zip (its zipimport
 *   index holds file offsets), restored instead of initialising CPython
 * @returns {Promise<object>} the Pyodide API
 */
export async function startInterpreter(loadPyodide, { indexURL, stdLibURL }, { vendorUrl, vendor, snapshot }) {
  try {
    return await loadPyodide({
      indexURL,
      stdLibURL,
      fullStdLib: false,
      packages: [],
      stdout: () => {},
      stderr: (s) => console.warn(s),
      _loadSnapshot: snapshot, // Pyodide 0.27's experimental snapshot API (pinned version)
    });
  } catch (err) {
    if (err instanceof EdgeInferError) throw err; // the snapshot's own download or check
    throw (await findCorruptBootFile(vendorUrl, vendor, stdLibURL)) ?? runtimeError(`${indexURL} (pyodide.asm.js, pyodide.asm.wasm, pyodide-lock.json) or ${stdLibURL}`, err);
  }
}

/**
 * Stage 4: numpy's files and ours (with their bytecode), from the verified site bundle, written
 * into site-packages. Checked and inflated only after loadPyodide: done during it, this work on
 * the same thread delayed Pyodide's boot by more than it took.
 * @param {object} pyodide
 * @param {{siteBundle: Download, sitePackages: string}} downloads from startPythonDownloads
 * @param {{onPart?: (part: string) => void}} [opts] called after each part is written
 */
export async function installSitePackages(pyodide, { siteBundle, sitePackages }, { onPart = () => {} } = {}) {
  const parts = readBundle(await gunzip(await verified(siteBundle)));
  for (const part of ['numpy', 'edge_infer']) {
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
    return pyodide.pyimport('edge_infer.hosts.browser');
  } catch (err) {
    // numpy's files and ours were verified: a standard library that boots but cannot import
    // what we need is the likely culprit, and the error should name it.
    throw (await findCorruptBootFile(vendorUrl, vendor, stdLibURL)) ?? err;
  }
}

/**
 * @typedef {{url: string, sha256: string, bytes: Promise<Uint8Array|Error>}} Download
 * A file being downloaded, checked by {@link verified} when it is needed.
 */

/**
 * Start downloading a vendor.json entry (`{file, sha256}`).
 * @returns {Download}
 */
export function download(vendorUrl, entry) {
  const url = new URL(entry.file, vendorUrl).href;
  return { url, sha256: entry.sha256, bytes: fetchBytes(url).catch((err) => err) };
}

/** The downloaded bytes once their sha256 matches; a coded error naming the file if not. */
export async function verified({ url, sha256, bytes }) {
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

/** Write [path, content] pairs under `sitePackages`; the file system keeps the views. */
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
export async function gunzip(bytes) {
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
    timings[name] = Math.round((now - last) * 100) / 100;
    last = now;
  };
}
