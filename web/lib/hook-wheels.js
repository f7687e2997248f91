/**
 * The pure-Python wheels a model's hooks import (manifest `hooks.wheels`), installed with
 * micropip: each is fetched from this site's content-addressed URL and its sha256 checked like
 * the model's, then written into Pyodide's file system and installed from there (`emfs:`),
 * with `deps=False`, so micropip looks nothing up and fetches nothing. micropip itself (and
 * packaging) is loaded from the vendored runtime on first need: the default boot never does.
 */
import { fetchVerifiedCompanion } from './models.js';

/** Pyodide file-system folder the verified wheels are written to before micropip installs them. */
const WHEEL_DIR = '/tmp/edge-infer-wheels';

/**
 * Install `model`'s hook wheels (a no-op for a model without any).
 * @param {object} pyodide the Pyodide API
 * @param {import('./python-host.js').PythonHost} python
 * @param {URL} modelsUrl folder of the manifest and its files
 * @param {{id: string, hooks?: {wheels?: {file: string, sha256: string}[]}}} model manifest entry
 * @throws {EdgeInferError} E_MODEL_FETCH / E_MODEL_INTEGRITY for a wheel, E_HOOK if it does not install
 */
export async function installHookWheels(pyodide, python, modelsUrl, model) {
  const wheels = model.hooks?.wheels ?? [];
  if (!wheels.length) return;
  const files = await Promise.all(wheels.map((w) => fetchVerifiedCompanion(modelsUrl, model, w, `wheel ${w.file}`)));
  await loadMicropip(pyodide);
  pyodide.FS.mkdirTree(WHEEL_DIR);
  wheels.forEach((w, i) => pyodide.FS.writeFile(`${WHEEL_DIR}/${w.file}`, files[i]));
  await python.installWheels(model.id, WHEEL_DIR);
}

let micropipLoaded = null;

/** Load micropip and packaging from the vendored runtime's lock file, once per worker. */
function loadMicropip(pyodide) {
  micropipLoaded ??= pyodide.loadPackage('micropip', { messageCallback: () => {}, errorCallback: (msg) => console.warn(msg) }).catch((err) => {
    micropipLoaded = null; // a later model may try again
    throw err;
  });
  return micropipLoaded;
}
