/**
 * Memory harness page script: one classifier booted with `debug: true` (so the worker counts
 * live PyProxies and sees onnxruntime-web's WASM heap), driven through `window.memoryBench`
 * by bench/benchlib/memory.py (for bench/run.py, bench/memory.py and tests/e2e/test_memory.py).
 * The driver alternates `classify(n)` and `stats()`, and measures the worker's JS heap over
 * the DevTools protocol in between.
 */
import { createClassifier } from '/edge-infer.js';

const classifier = createClassifier({ debug: true });
classifier.ready.catch(() => {}); // reported when the driver awaits `ready`

let files = [];
let done = 0; // classifications so far: the images alternate across calls

/**
 * Turn the driver's images into Files (once, before classifying).
 * @param {{b64: string, name: string, type: string}[]} images
 */
function load(images) {
  files = images.map((f) => new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
}

/**
 * Classify the loaded images in turn `n` times, one after the other.
 * @param {number} n
 * @returns {Promise<string>} the last top-1 label
 */
async function classify(n) {
  let label = null;
  for (let i = 0; i < n; i += 1) {
    label = (await classifier.classify(files[done % files.length])).label;
    done += 1;
  }
  return label;
}

window.memoryBench = {
  ready: () => classifier.ready,
  load,
  classify,
  /** `classifier.stats()`: the worker's WASM heaps, PyProxy count and (null in Chrome) JS heap. */
  stats: () => classifier.stats(),
};
