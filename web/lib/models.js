/**
 * The manifest and model files: fetch with byte progress, verify sha256 before use.
 */
import { EdgeInferError, ErrorCode } from './errors.js';
import { sha256Hex } from './runtime/fetch-progress.js';

/**
 * Fetch and minimally check the manifest (Python validates it fully).
 * @param {URL} url
 * @returns {Promise<{text: string, data: object}>}
 */
export async function fetchManifest(url) {
  let text;
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    text = await response.text();
  } catch (err) {
    throw new EdgeInferError(ErrorCode.MANIFEST, `cannot fetch ${url}: ${err.message}`, { file: String(url) });
  }
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new EdgeInferError(ErrorCode.MANIFEST, `${url} is not valid JSON: ${err.message}`);
  }
  if (!Array.isArray(data?.models)) throw new EdgeInferError(ErrorCode.MANIFEST, `${url}: models must be a list`);
  return { text, data };
}

/**
 * Find a model entry by id (the manifest's default when id is empty).
 * @param {object} manifest parsed manifest
 * @param {string} [id]
 */
export function findModel(manifest, id) {
  const key = id || manifest.default_model;
  const model = manifest.models.find((m) => m.id === key);
  if (!model) {
    const known = manifest.models.map((m) => m.id).join(', ');
    throw new EdgeInferError(ErrorCode.MODEL_UNKNOWN, `unknown model "${key}"; known models: ${known}`);
  }
  return model;
}

/**
 * A model file's content-addressed URL, `<sha256>/<file>` under the models folder: its bytes
 * never change, so browsers cache it for good (tools/serve.py, tools/build.py). The same for
 * a model's hooks file and wheels: after one use, a model works offline with all its files.
 * @param {URL} modelsUrl folder of the manifest
 * @param {{file: string, sha256: string}} model manifest entry (or its hooks, or a wheel)
 * @returns {URL}
 */
export function modelUrl(modelsUrl, model) {
  return new URL(`${model.sha256}/${model.file}`, modelsUrl);
}

/**
 * Download a model file with progress and verify its size and sha256 against the manifest.
 * @param {URL} modelsUrl folder of the model files
 * @param {object} model manifest entry
 * @param {(loaded: number, total: number) => void} [onBytes]
 * @returns {Promise<Uint8Array>}
 */
export function fetchVerifiedModel(modelsUrl, model, onBytes = () => {}) {
  return fetchVerifiedFile(modelUrl(modelsUrl, model).href, model, onBytes, 'the manifest');
}

/**
 * Download a model file with progress and verify its sha256 (and its size, when known).
 * @param {string} url
 * @param {{id: string, sha256: string, bytes?: number}} model what the file must be
 * @param {(loaded: number, total: number) => void} [onBytes] total: the known size, else the
 *   response's Content-Length, else 0
 * @param {string} [authority] what vouches for the sha256, in error messages
 * @returns {Promise<Uint8Array>}
 * @throws {EdgeInferError} E_MODEL_FETCH if it cannot be fetched, E_MODEL_INTEGRITY if it is
 *   not the file `model` describes
 */
export async function fetchVerifiedFile(url, model, onBytes = () => {}, authority = 'the model spec') {
  let response;
  try {
    response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (err) {
    throw new EdgeInferError(ErrorCode.MODEL_FETCH, `cannot fetch model ${model.id} (${url}): ${err.message}`, { file: url });
  }
  const expected = model.bytes ?? null;
  const total = expected ?? Number(response.headers.get('content-length') ?? 0);
  const chunks = [];
  let loaded = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (expected !== null && loaded + value.byteLength > expected) throw integrityError(model, url, `is larger than ${authority} says`);
      chunks.push(value);
      loaded += value.byteLength;
      onBytes(loaded, total);
    }
  } catch (err) {
    if (err instanceof EdgeInferError) throw err;
    throw new EdgeInferError(ErrorCode.MODEL_FETCH, `download of model ${model.id} failed: ${err.message}`, { file: url });
  }
  if (expected !== null && loaded !== expected) throw integrityError(model, url, `has ${loaded} bytes, ${authority} says ${expected}`);
  const bytes = concat(chunks, loaded);
  const digest = await sha256Hex(bytes);
  if (digest !== model.sha256) throw integrityError(model, url, `has sha256 ${digest}, ${authority} says ${model.sha256}`);
  return bytes;
}

function concat(chunks, length) {
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * Download a model's Python hooks file (manifest `hooks`) and check its sha256.
 * @param {URL} modelsUrl folder of the manifest and its files
 * @param {{id: string, hooks: {file: string, sha256: string}}} model manifest entry
 * @returns {Promise<string>} the file's text
 * @throws {EdgeInferError} E_MODEL_FETCH if it cannot be fetched, E_MODEL_INTEGRITY if it is not the manifest's
 */
export async function fetchVerifiedHooks(modelsUrl, model) {
  return new TextDecoder().decode(await fetchVerifiedCompanion(modelsUrl, model, model.hooks, 'the hooks'));
}

/**
 * Download one of a model's files other than the model (its hooks, a wheel the hooks import)
 * from its content-addressed URL, like the model, and check its sha256.
 * @param {URL} modelsUrl folder of the manifest and its files
 * @param {{id: string}} model the manifest entry the file belongs to
 * @param {{file: string, sha256: string}} file
 * @param {string} what how errors name the file ("the hooks", "wheel X")
 * @returns {Promise<Uint8Array>}
 * @throws {EdgeInferError} E_MODEL_FETCH if it cannot be fetched, E_MODEL_INTEGRITY if it is not the manifest's
 */
export async function fetchVerifiedCompanion(modelsUrl, model, file, what) {
  const url = modelUrl(modelsUrl, file).href;
  let bytes;
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    throw new EdgeInferError(ErrorCode.MODEL_FETCH, `cannot fetch ${what} of model ${model.id} (${url}): ${err.message}`, { file: url });
  }
  const digest = await sha256Hex(bytes);
  if (digest !== file.sha256) throw integrityError(model, url, `has sha256 ${digest}, the manifest says ${file.sha256}`);
  return bytes;
}

function integrityError(model, url, what) {
  return new EdgeInferError(ErrorCode.MODEL_INTEGRITY, `model ${model.id} refused: ${url} ${what}`, { file: url });
}
