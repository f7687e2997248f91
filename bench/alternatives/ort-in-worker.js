/**
 * Startup alternatives "ORT in this worker": the product's stages, but onnxruntime-web loads
 * in the inference worker itself (no worker of its own), and Python's chain starts once ORT's
 * session exists (the shipped boot before ORT got its own worker); with `?parallel=1` on this
 * module's URL, both chains start at once. In one worker, loadPyodide's long synchronous
 * phases starve ORT's many small async steps, so the two chains take turns.
 */
import { assembleRuntime, readConfig, settleChains, startOnnxruntimeChain, startPythonChain, watchRuntimeFiles } from '/lib/boot.js';
import { loadOrt } from '/lib/runtime/ort-backend.js';
import { serveBoot } from './serve-boot.js';

const PARALLEL = new URL(import.meta.url).searchParams.get('parallel') === '1';

serveBoot(async (request, progress) => {
  const config = await readConfig(request, progress);
  const watch = watchRuntimeFiles(config);
  const onnxruntime = startOnnxruntimeChain(config, progress, loadOrt);
  const python = PARALLEL ? startPythonChain(config, progress) : onnxruntime.then(() => startPythonChain(config, progress));
  const [{ pyodide, python: host }, { backend, session }] = await settleChains([python, onnxruntime], watch);
  return assembleRuntime(config, progress, { pyodide, host, backend, session });
});
