/**
 * Startup alternative "snapshot": the product's boot, with Pyodide's booted heap restored
 * from a memory snapshot (tools/make_snapshot.mjs) instead of initialising CPython. The heap
 * holds zipimport's index of the stdlib zip (file offsets), so that zip's sha256 is checked
 * too: a stale zip would boot and fail later.
 */
import { assembleRuntime, readConfig, settleChains, startOnnxruntimeChain, startPythonChain, watchRuntimeFiles } from '/lib/boot.js';
import { connectOrtWorkerHere } from './ort-port.js';
import { bootPyodide, download, gunzip, verified } from '/lib/runtime/pyodide-loader.js';
import { serveBoot } from './serve-boot.js';

serveBoot(async (request, progress) => {
  const config = await readConfig(request, progress);
  const { vendorUrl, vendor } = config;
  const heap = Promise.all([
    verified(download(vendorUrl, vendor.bytecode.snapshot)).then(gunzip),
    verified(download(vendorUrl, vendor.bytecode.stdlib)),
  ]).then(([bytes]) => bytes);
  heap.catch(() => {}); // observed through loadPyodide
  const watch = watchRuntimeFiles(config);
  const onnxruntime = startOnnxruntimeChain(config, progress, connectOrtWorkerHere);
  const python = startPythonChain(config, progress, (opts) => bootPyodide({ ...opts, snapshot: heap }));
  const [{ pyodide, python: host }, { backend, session }] = await settleChains([python, onnxruntime], watch);
  return assembleRuntime(config, progress, { pyodide, host, backend, session });
});
