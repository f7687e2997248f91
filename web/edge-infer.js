/**
 * edge-infer's public ES module. Importing it exports `createClassifier` and defines the
 * `<edge-classifier>` custom element:
 *
 *   import { createClassifier } from 'https://your.host/edge-infer.js';
 *   <edge-classifier model="mobilenet_v2-fp32"></edge-classifier>
 *
 * Everything runs in a Web Worker on this machine: Pyodide (numpy preprocessing and softmax)
 * and onnxruntime-web (WASM SIMD). No pixel leaves the page. The runtime and the models are
 * loaded from the folder this module comes from, which may be another origin.
 */
import { defineEdgeClassifier } from './lib/element.js';

export { createClassifier, Classifier } from './lib/client.js';
export { EdgeInferError, ErrorCode } from './lib/errors.js';
export { startCamera, CameraSession, CAMERA_ERROR } from './lib/camera.js';
export { EdgeClassifierElement, defineEdgeClassifier } from './lib/element.js';

// Outside a window (a worker, a test runner) there is no element registry: just skip it.
if (typeof customElements !== 'undefined') defineEdgeClassifier();
