/**
 * Memory harness page script: one classifier booted with `debug: true` (so the worker counts
 * live PyProxies), driven by bench/memory.py and tests/test_memory.py via `window.memoryBench`.
 */
import { createClassifier } from '/edge-infer.js';

const classifier = createClassifier({ debug: true });
classifier.ready.catch(() => {}); // reported when the driver awaits `ready`

/**
 * Classify the images in turn `runs` times, one after the other, and sample the worker's
 * memory before the first run and after every `every` runs.
 * @param {{images: {b64: string, name: string, type: string}[], runs: number, every: number}} plan
 * @returns {Promise<{run: number, label: string|null, wasm_heap_bytes: number, pyproxies: number|null, js_heap_bytes: number|null}[]>}
 */
async function run({ images, runs, every }) {
  const files = images.map((f) => new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
  await classifier.ready;
  const series = [{ run: 0, label: null, ...(await classifier.stats()) }];
  let label = null;
  for (let i = 1; i <= runs; i += 1) {
    label = (await classifier.classify(files[(i - 1) % files.length])).label;
    if (i % every === 0 || i === runs) series.push({ run: i, label, ...(await classifier.stats()) });
  }
  return series;
}

/**
 * The whole page's memory as the browser measures it (needs cross-origin isolation), or why
 * not. Chrome answers at its next garbage collection unless started with
 * `--enable-blink-features=ForceEagerMeasureMemory`.
 */
async function pageMemory() {
  if (!crossOriginIsolated || !performance.measureUserAgentSpecificMemory) return { error: 'not available (needs cross-origin isolation)' };
  const result = await performance.measureUserAgentSpecificMemory();
  return {
    bytes: result.bytes,
    breakdown: result.breakdown
      .filter((b) => b.bytes > 0)
      .map((b) => ({ bytes: b.bytes, types: b.types, scopes: b.attribution.map((a) => `${a.scope} ${a.url}`) })),
  };
}

window.memoryBench = { ready: () => classifier.ready, run, pageMemory };
