/**
 * Boots Pyodide with numpy and the edge_infer wheel. The only module that starts Pyodide.
 */
import { EdgeInferError, ErrorCode } from '../errors.js';
import { fetchBytes, sha256Hex } from './fetch-progress.js';

/**
 * Start Pyodide, load numpy (integrity-checked against Pyodide's lock file), install our
 * wheel with micropip after checking its sha256, and import the browser host module.
 *
 * @param {object} opts
 * @param {URL} opts.vendorUrl URL of the vendored runtime folder (holds vendor.json's files)
 * @param {object} opts.vendor parsed vendor.json
 * @param {(stage: string) => void} [opts.onStage] called as each stage starts
 * @param {Record<string, number>} [opts.timings] filled with per-stage milliseconds
 * @returns {Promise<{pyodide: object, hostModule: object}>}
 */
export async function bootPyodide({ vendorUrl, vendor, onStage = () => {}, timings = {}, experiment = {} }) {
  const indexURL = new URL(vendor.pyodide.index, vendorUrl).href;
  const mark = stopwatch(timings);

  onStage('pyodide');
  let loadPyodide;
  try {
    ({ loadPyodide } = await import(`${indexURL}pyodide.mjs`));
  } catch (err) {
    throw runtimeError(`${indexURL}pyodide.mjs`, err);
  }
  let pyodide;
  try {
    pyodide = await loadPyodide({
      indexURL,
      fullStdLib: false,
      packages: experiment.numpyInLoadPyodide ? ['numpy'] : [],
      stdout: () => {},
      stderr: (s) => console.warn(s),
    });
  } catch (err) {
    throw runtimeError(`${indexURL} (pyodide.asm.wasm, python_stdlib.zip, pyodide-lock.json)`, err);
  }
  mark('pyodide_boot');

  // Wheel bytes are fetched while numpy loads; both are verified before use.
  const wheelUrl = new URL(vendor.edge_infer.file, vendorUrl).href;
  const wheelBytes = fetchBytes(wheelUrl).catch((err) => err);

  onStage('numpy');
  const failures = [];
  const packages = experiment.installer === 'micropip' ? ['numpy', 'micropip'] : ['numpy'];
  await pyodide.loadPackage(packages, {
    messageCallback: () => {},
    errorCallback: (msg) => failures.push(msg),
    checkIntegrity: true,
  });
  for (const name of packages) {
    // loadPackage resolves even when the browser blocked a file (sha256 mismatch).
    if (!pyodide.loadedPackages[name]) {
      const lock = vendor.pyodide_packages?.[name];
      const file = lock ? `${indexURL}${lock.file}` : `${name} wheel in ${indexURL}`;
      throw runtimeError(file, new Error(failures.join('; ') || 'the package did not load'));
    }
  }
  mark('numpy_load');

  onStage('package');
  const bytes = await wheelBytes;
  if (bytes instanceof Error) throw runtimeError(wheelUrl, bytes);
  const digest = await sha256Hex(bytes);
  if (digest !== vendor.edge_infer.sha256) {
    throw new EdgeInferError(
      ErrorCode.RUNTIME_LOAD,
      `${wheelUrl} fails its integrity check (sha256 ${digest}, expected ${vendor.edge_infer.sha256})`,
      { file: wheelUrl },
    );
  }
  if (experiment.installer === 'micropip') {
    const wheelPath = `/tmp/${vendor.edge_infer.file.split('/').pop()}`;
    pyodide.FS.writeFile(wheelPath, bytes);
    const micropip = pyodide.pyimport('micropip');
    try {
      await micropip.install.callKwargs(`emfs:${wheelPath}`, { deps: false });
    } finally {
      micropip.destroy();
    }
  } else {
    // Our wheel is pure Python with no dependencies: unpacking it into site-packages is all
    // an installer would do, without loading micropip and packaging first.
    pyodide.unpackArchive(bytes, 'wheel', { extractDir: SITE_PACKAGES });
  }
  mark('package_install');

  const hostModule = pyodide.pyimport('edge_infer.hosts.browser');
  mark('python_import');
  return { pyodide, hostModule };
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
