/**
 * edge-infer's public ES module: `import { createClassifier } from './edge-infer.js'`.
 *
 * Everything runs in a Web Worker on this machine: Pyodide (numpy preprocessing and softmax)
 * and onnxruntime-web (WASM SIMD). No pixel leaves the page.
 */
export { createClassifier, Classifier } from './lib/client.js';
export { EdgeInferError, ErrorCode } from './lib/errors.js';
