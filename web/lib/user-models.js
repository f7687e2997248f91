/**
 * Models given at run time (client.js `registerModel`): read or fetch the model file and check
 * its sha256, read the labels and the hooks file, check what the file declares, and build the
 * model's entry in the manifest's schema. The entry itself is validated by Python
 * (`edge_infer.manifest.parse_model_entry`, through `BrowserHost.register_model`), exactly as
 * the manifest's entries are: nothing here second-guesses the schema.
 */
import { EdgeInferError, ErrorCode } from './errors.js';
import { fetchVerifiedFile } from './models.js';
import { sha256Hex } from './runtime/fetch-progress.js';

/**
 * The model file of a spec, its sha256 checked: fetched from `url` (the spec's sha256 is
 * required), or read from `bytes` (the sha256 is computed, and compared when given).
 * @param {{id?: string, url?: string, bytes?: Blob|Uint8Array, sha256?: string}} spec
 * @param {(loaded: number, total: number) => void} [onBytes] download progress
 * @returns {Promise<{bytes: Uint8Array, sha256: string, size: number, name: string}>} `name`:
 *   the file's name, for messages and the entry's provenance
 * @throws {EdgeInferError} E_INPUT for a spec without one file, E_MODEL_FETCH, E_MODEL_INTEGRITY
 */
export async function readModelFile(spec, onBytes) {
  if (spec.url != null && spec.bytes != null) throw inputError('give the model as url or as bytes, not both');
  if (spec.url != null) {
    const name = lastSegment(spec.url);
    if (!spec.sha256) throw inputError(`model ${spec.id ?? name}: a model given by URL needs its sha256, so that its bytes can be checked before use`);
    const bytes = await fetchVerifiedFile(spec.url, { id: spec.id ?? name, sha256: spec.sha256 }, onBytes);
    return { bytes, sha256: spec.sha256, size: bytes.byteLength, name };
  }
  if (spec.bytes == null) throw inputError('a model spec needs url (with sha256) or bytes (an ArrayBuffer, a typed array, a Blob or a File)');
  const name = spec.bytes.name || 'model.onnx';
  const bytes = spec.bytes instanceof Blob ? new Uint8Array(await spec.bytes.arrayBuffer()) : spec.bytes;
  if (!bytes.byteLength) throw inputError(`${name} is empty, not an ONNX model`);
  const sha256 = await sha256Hex(bytes);
  if (spec.sha256 && spec.sha256 !== sha256) {
    throw new EdgeInferError(ErrorCode.MODEL_INTEGRITY, `model ${spec.id ?? name} refused: ${name} has sha256 ${sha256}, the model spec says ${spec.sha256}`, { file: name });
  }
  return { bytes, sha256, size: bytes.byteLength, name };
}

/**
 * A spec's labels as Python parses them (BrowserHost.register_model): a list of strings as
 * JSON, or the bytes of a labels file (a Blob, or fetched from a URL) with its name.
 * @param {string[]|string|Blob} labels
 * @returns {Promise<{json: string|null, file: Uint8Array|null, source: string}>}
 */
export async function readLabels(labels) {
  if (Array.isArray(labels)) return { json: JSON.stringify(labels), file: null, source: 'labels' };
  if (labels instanceof Blob) return { json: null, file: new Uint8Array(await labels.arrayBuffer()), source: labels.name || 'labels' };
  if (typeof labels === 'string') {
    let file;
    try {
      const response = await fetch(labels);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      file = new Uint8Array(await response.arrayBuffer());
    } catch (err) {
      throw new EdgeInferError(ErrorCode.MODEL_FETCH, `cannot fetch the labels ${labels}: ${err.message}`, { file: labels });
    }
    return { json: null, file, source: lastSegment(labels) };
  }
  throw inputError('labels must be a list of strings, the URL of a labels file (one label per line, UTF-8) or a File');
}

/**
 * A spec's hooks file (`{url, sha256}` or `{source}`), with its sha256: fetched files are
 * checked against theirs, and Python checks the text against it again.
 * @param {{url?: string, source?: string, sha256?: string}|undefined} hooks
 * @returns {Promise<{text: string, sha256: string}|null>}
 */
export async function readHooks(hooks) {
  if (hooks == null) return null;
  if (typeof hooks.source === 'string') {
    const sha256 = await sha256Hex(new TextEncoder().encode(hooks.source));
    return { text: hooks.source, sha256: hooks.sha256 ?? sha256 };
  }
  if (typeof hooks.url !== 'string' || !hooks.sha256) throw inputError('hooks must be {url, sha256} or {source}');
  let bytes;
  try {
    const response = await fetch(hooks.url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    throw new EdgeInferError(ErrorCode.MODEL_FETCH, `cannot fetch the hooks ${hooks.url}: ${err.message}`, { file: hooks.url });
  }
  const digest = await sha256Hex(bytes);
  if (digest !== hooks.sha256) {
    throw new EdgeInferError(ErrorCode.MODEL_INTEGRITY, `hooks ${hooks.url} refused: it has sha256 ${digest}, the model spec says ${hooks.sha256}`, { file: hooks.url });
  }
  return { text: new TextDecoder().decode(bytes), sha256: digest };
}

/**
 * The one image input and the one score output a classifier file must declare (as add-model
 * checks with native onnxruntime), from its session's `io` (ort-backend.js).
 * @param {{inputs: object[], outputs: object[]}} io
 * @param {string} name the file's name, for messages
 * @returns {{input: {name: string, shape: number[], type: string|null}, output: {name: string}}}
 * @throws {EdgeInferError} E_INPUT
 */
export function modelIo(io, name) {
  const names = (list) => list.map((v) => v.name).join(', ');
  if (io.inputs.length !== 1) throw inputError(`${name}: the model has ${io.inputs.length} inputs (${names(io.inputs)}); edge-infer feeds exactly one image tensor`);
  if (io.outputs.length !== 1) throw inputError(`${name}: the model has ${io.outputs.length} outputs (${names(io.outputs)}); edge-infer reads exactly one class-score tensor`);
  const [input] = io.inputs;
  if (input.type && input.type !== 'float32') throw inputError(`${name}: input ${input.name} is ${input.type}; it must be float32`);
  if (!input.shape || !input.shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw inputError(`${name}: input ${input.name} has the dynamic shape [${input.shape ?? '?'}]; edge-infer needs a static shape such as [1, 3, 224, 224] (export the model with fixed sizes)`);
  }
  return { input, output: io.outputs[0] };
}

/**
 * The manifest entry of a model given at run time. Python validates it; `labels` names the
 * label set the spec's labels make, under the model's id.
 * @param {object} spec client.js ModelSpec
 * @param {{sha256: string, size: number, name: string}} file from readModelFile
 * @param {{input: {name: string, shape: number[]}, output: {name: string}}} io from modelIo
 * @param {number} classes length of the output on a probe run
 * @param {{sha256: string}|null} hooks from readHooks
 * @returns {object} the entry
 */
export function buildEntry(spec, file, io, classes, hooks) {
  const id = spec.id ?? `user-${file.sha256.slice(0, 12)}`;
  const entry = {
    id,
    version: spec.version ?? '1.0.0',
    name: spec.name ?? id,
    task: 'image-classification',
    file: `${id}.onnx`,
    sha256: file.sha256,
    bytes: file.size,
    license: spec.license ?? 'unspecified',
    provenance: { registered_at_runtime: file.name },
    input: { name: io.input.name, shape: io.input.shape, dtype: 'float32' },
    output: { ...spec.output, name: io.output.name, shape: [1, classes], dtype: 'float32' },
    preprocess: spec.preprocess,
    labels: id,
  };
  if (hooks) entry.hooks = { file: `${id}.hooks.py`, sha256: hooks.sha256 };
  return entry;
}

function lastSegment(url) {
  return String(url).split(/[?#]/)[0].split('/').filter(Boolean).pop() ?? String(url);
}

function inputError(message) {
  return new EdgeInferError(ErrorCode.INPUT, message);
}
