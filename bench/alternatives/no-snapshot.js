/**
 * Startup alternative "no snapshot": the product's boot, but Python boots the normal way
 * (CPython initialises from the precompiled stdlib, numpy's files and ours are written, then
 * imported) instead of restoring the memory snapshot (tools/make_snapshot.mjs). The snapshot
 * is not downloaded. This is also what the product falls back to when its snapshot cannot be
 * used. ORT's worker is started by the inference worker.
 */
import { assembleRuntime, readConfig, settleChains, startOnnxruntimeChain, startPythonChain, watchRuntimeFiles } from '/lib/boot.js';
import { bootPyodide } from '/lib/runtime/pyodide-loader.js';
import { connectOrtWorkerHere } from './ort-port.js';
import { serveBoot } from './serve-boot.js';

serveBoot(async (request, progress) => {
  const config = await readConfig(request, progress);
  const watch = watchRuntimeFiles(config);
  const onnxruntime = startOnnxruntimeChain(config, progress, connectOrtWorkerHere);
  const python = startPythonChain(config, progress, (opts) => bootPyodide({ ...opts, snapshot: false }));
  const [{ pyodide, python: host }, { backend, session }] = await settleChains([python, onnxruntime], watch);
  return assembleRuntime(config, progress, { pyodide, host, backend, session });
});
