/**
 * "Python chain alone" client, for the benchmark only: a `ready` promise over ./worker.js,
 * which boots the product's Pyodide chain without onnxruntime-web (a startup floor).
 */
import { PlainClassifier } from '../plain-js/client.js';

/**
 * Start booting Pyodide, numpy and our package in a worker.
 * @param {{baseUrl?: string}} [options] where `vendor/` lives
 * @returns {PlainClassifier} its `ready` resolves with `{runtime, startup_ms}`; it cannot classify
 */
export function createPythonOnly(options = {}) {
  return new PlainClassifier({ ...options, workerUrl: new URL('./worker.js', import.meta.url), name: 'python-only' });
}
