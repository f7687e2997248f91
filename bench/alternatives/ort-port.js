/**
 * onnxruntime-web in a worker of its own, started from a bench worker (in the product the page
 * starts it: see web/lib/shared-runtime.js). A nested worker, so the alternatives that keep
 * ORT's worker differ from the product only in what they measure.
 */
import { ORT_CONNECT } from '/lib/messages.js';
import { connectOrtWorker } from '/lib/runtime/ort-client.js';

/**
 * Start /lib/ort-worker.js and connect to it (the product's loadBackend stage).
 * @param {{ortUrl: URL, threads: number, provider: string}} opts
 */
export function connectOrtWorkerHere(opts) {
  const worker = new Worker('/lib/ort-worker.js', { type: 'module', name: 'edge-infer-ort' });
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ type: ORT_CONNECT }, [port2]);
  return connectOrtWorker({ ...opts, port: port1 });
}
