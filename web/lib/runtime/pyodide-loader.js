/**
 * Boots Pyodide with numpy and the edge_infer wheel. The only module that starts Pyodide.
 */
import { EdgeInferError, ErrorCode } from '../errors.js';
import { fetchBytes, sha256Hex } from './fetch-progress.js';

/**
 * Start Pyodide, install numpy and our wheel (each checked against its sha256 in
 * vendor.json) and import the browser host module.
 *
 * Every download starts at once. By default (see tools/compile_bytecode.mjs):
 * - Pyodide boots from `vendor.bytecode.stdlib`, its stdlib zip plus precompiled bytecode;
 * - numpy's wheel, ours and `vendor.bytecode.site_packages` (bytecode for both) come as one
 *   bundle, `vendor.bytecode.site_bundle` (tools/setup.py's build_site_bundle), written into
 *   site-packages from JS: only the extension modules `import numpy` needs are compiled, when
 *   it imports them (loadPackage compiles all 19 up front), and no Python unzips anything;
 * - opt-in (`experiment.snapshot`), `vendor.bytecode.snapshot`: Pyodide's heap right after
 *   boot (tools/make_snapshot.mjs), whose restore skips CPython's initialisation. It is valid
 *   only with the bytecode stdlib zip it was made from, so it is used only with it, and that
 *   zip's sha256 is checked. Off by default: it made a first visit 0-0.4 s faster, but
 *   imports after a restored heap were slower, and since a first visit that skipped CPython's
 *   initialisation leaves V8's code cache without that code, the next visits booted
 *   0.2-0.3 s slower (interleaved pairs; see the README's startup notes).
 *
 * @param {object} opts
 * @param {URL} opts.vendorUrl URL of the vendored runtime folder (holds vendor.json's files)
 * @param {object} opts.vendor parsed vendor.json
 * @param {(stage: string) => void} [opts.onStage] called as each stage starts
 * @param {Record<string, number>} [opts.timings] filled with per-stage milliseconds
 * @param {Promise<unknown>} [opts.startAfter] loadPyodide waits for it to settle (downloads
 *   start at once): see bootRuntime in worker.js for why
 * @param {{bytecode?: boolean, snapshot?: boolean, numpy?: 'bundle'|'unpack'|'loadPackage',
 *   installer?: 'micropip', numpyInLoadPyodide?: boolean}} [opts.experiment] benchmark switches for the
 *   alternatives measured in `npm run bench`; the defaults are what the numbers supported
 * @returns {Promise<{pyodide: object, hostModule: object}>}
 */
export async function bootPyodide({ vendorUrl, vendor, onStage = () => {}, timings = {}, experiment = {}, startAfter = null }) {
  const indexURL = new URL(vendor.pyodide.index, vendorUrl).href;
  const mark = stopwatch(timings);
  const bytecode = experiment.bytecode !== false ? vendor.bytecode : null;
  const numpyBy = experiment.numpy ?? (experiment.numpyInLoadPyodide ? 'loadPackage' : bytecode?.site_bundle ? 'bundle' : 'unpack');
  const download = (entry) => {
    const url = new URL(entry.file, vendorUrl).href;
    return { url, sha256: entry.sha256, bytes: fetchBytes(url).catch((err) => err) };
  };
  const bundle = numpyBy === 'bundle' ? download(bytecode.site_bundle) : null;
  const wheel = bundle ? null : download(vendor.edge_infer);
  const numpyWheel = numpyBy === 'unpack' ? download(vendor.numpy) : null;
  const sitePyc = bytecode && !bundle ? download(bytecode.site_packages) : null;
  const stdLibURL = bytecode ? new URL(bytecode.stdlib.file, vendorUrl).href : undefined;
  const snapshot = bytecode?.snapshot && experiment.snapshot === true ? download(bytecode.snapshot) : null;
  timings.snapshot_used = snapshot ? 1 : 0;

  onStage('pyodide');
  let loadPyodide;
  try {
    ({ loadPyodide } = await import(`${indexURL}pyodide.mjs`));
  } catch (err) {
    throw runtimeError(`${indexURL}pyodide.mjs`, err);
  }
  if (startAfter) await startAfter.then(noop, noop);
  mark('pyodide_wait');
  // Inflated while loadPyodide loads pyodide.asm.js; loadPyodide awaits it. The heap holds
  // zipimport's index of the stdlib zip (file offsets), so the zip Pyodide mounts must be the
  // exact one the snapshot was made with: its sha256 is checked too (a fetch the HTTP cache
  // shares with Pyodide's own). Otherwise a stale or cut zip would boot and fail later.
  const stdlibChecked = snapshot ? verified(download(bytecode.stdlib)) : null;
  const heap = snapshot ? Promise.all([verified(snapshot).then(gunzip), stdlibChecked]).then(([h]) => h) : undefined;
  heap?.catch(noop); // observed through loadPyodide
  let pyodide;
  try {
    pyodide = await loadPyodide({
      indexURL,
      stdLibURL,
      fullStdLib: false,
      packages: experiment.numpyInLoadPyodide ? ['numpy'] : [],
      stdout: () => {},
      stderr: (s) => console.warn(s),
      _loadSnapshot: heap, // Pyodide 0.27's experimental snapshot API (pinned version)
    });
  } catch (err) {
    if (err instanceof EdgeInferError) throw err; // the snapshot's own download or check
    const stdlib = stdLibURL ?? `${indexURL}python_stdlib.zip`;
    throw (await findCorruptBootFile(vendorUrl, vendor, stdlib)) ?? runtimeError(`${indexURL} (pyodide.asm.js, pyodide.asm.wasm, pyodide-lock.json) or ${stdlib}`, err);
  }
  mark('pyodide_boot');

  onStage('numpy');
  // Checked and inflated only now: done during loadPyodide, this work on the same thread
  // delayed Pyodide's boot by more than it took (revisits: 0.35-0.5 s later, for ~0.3 s of
  // unpacking saved).
  const parts = bundle ? readBundle(await gunzip(await verified(bundle))) : null;
  if (parts) {
    writeFiles(pyodide, parts.get('numpy'));
  } else if (numpyWheel) {
    pyodide.unpackArchive(await verified(numpyWheel), 'wheel', { extractDir: SITE_PACKAGES });
  } else {
    await loadPackages(pyodide, experiment.installer === 'micropip' ? ['numpy', 'micropip'] : ['numpy'], { indexURL, vendor, vendorUrl });
  }
  mark('numpy_load');

  onStage('package');
  if (parts) {
    writeFiles(pyodide, parts.get('edge_infer')); // our wheel's files and the bytecode
  } else if (experiment.installer === 'micropip') {
    const wheelBytes = await verified(wheel);
    const wheelPath = `/tmp/${vendor.edge_infer.file.split('/').pop()}`;
    pyodide.FS.writeFile(wheelPath, wheelBytes);
    const micropip = pyodide.pyimport('micropip');
    try {
      await micropip.install.callKwargs(`emfs:${wheelPath}`, { deps: false });
    } finally {
      micropip.destroy();
    }
  } else {
    // Our wheel is pure Python with no dependencies: unpacking it into site-packages is all
    // an installer would do, without loading micropip and packaging first.
    pyodide.unpackArchive(await verified(wheel), 'wheel', { extractDir: SITE_PACKAGES });
  }
  if (sitePyc) pyodide.unpackArchive(await verified(sitePyc), 'zip', { extractDir: SITE_PACKAGES });
  mark('package_install');

  let hostModule;
  try {
    hostModule = pyodide.pyimport('edge_infer.hosts.browser');
  } catch (err) {
    // Our wheel and numpy's were verified: a standard library that boots but cannot import
    // what we need is the likely culprit, and the error should name it.
    throw (await findCorruptBootFile(vendorUrl, vendor, stdLibURL ?? `${indexURL}python_stdlib.zip`)) ?? err;
  }
  mark('python_import');
  return { pyodide, hostModule };
}

/** Pyodide's own installer, kept for the bench's comparison (and for micropip). */
async function loadPackages(pyodide, packages, { indexURL, vendor, vendorUrl }) {
  const failures = [];
  await pyodide.loadPackage(packages, {
    messageCallback: () => {},
    errorCallback: (msg) => failures.push(msg),
    checkIntegrity: true,
  });
  for (const name of packages) {
    // loadPackage resolves even when the browser blocked a file (sha256 mismatch).
    if (!pyodide.loadedPackages[name]) {
      // vendor.json names the numpy wheel it vendored; micropip (an experiment) has no entry.
      const file = vendor[name]?.file ? new URL(vendor[name].file, vendorUrl).href : `${name} wheel in ${indexURL}`;
      throw runtimeError(file, new Error(failures.join('; ') || 'the package did not load'));
    }
  }
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

function noop() {}

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

/** Write [path, content] pairs under site-packages; the file system keeps the views. */
export function writeFiles(pyodide, files) {
  const made = new Set();
  for (const [path, content] of files) {
    const file = `${SITE_PACKAGES}/${path}`;
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

const SITE_PACKAGES = '/lib/python3.12/site-packages';

function runtimeError(file, cause) {
  return new EdgeInferError(ErrorCode.RUNTIME_LOAD, `failed to load ${file}: ${cause?.message ?? cause}`, { file });
}

/** Returns mark(name): records ms since the previous mark under timings[name]. */
export function stopwatch(timings) {
  let last = performance.now();
  return (name) => {
    const now = performance.now();
    timings[name] = Math.round((now - last) * 100) / 100;
    last = now;
  };
}
