/**
 * Debug-only sight of the WebAssembly memories this worker instantiates, for `stats()`.
 *
 * onnxruntime-web has no API for its heap and keeps its Emscripten module private. But every
 * WASM module's linear memory is either imported or exported, so wrapping the instantiation
 * entry point and reading the module's memory descriptor finds that memory exactly, and the
 * URL the module was streamed from says whose it is. Both Emscripten builds here (Pyodide's
 * and ORT's) stream their main module with `WebAssembly.instantiateStreaming`. Their
 * ArrayBuffer fallback (`WebAssembly.instantiate(bytes)`, taken when streaming compilation
 * fails) carries no URL, so it is not watched and that memory then stays unknown.
 */

/** onnxruntime-web's binaries (ort-wasm-simd-threaded.wasm and its variants), by URL. */
export const ORT_WASM_URL = /\/ort-wasm[^/?]*\.wasm(\?|$)/;

/** Source URL → the memory of the module last instantiated from it. */
const memories = new Map();
let watching = false;

/**
 * Wrap `WebAssembly.instantiateStreaming` (once) to remember the memory of every module
 * streamed from a URL. Call before the runtimes instantiate (only with `debug: true`).
 * Instantiation behaves exactly as before; a failure to inspect a module is ignored rather
 * than breaking the runtime.
 */
export function watchWasmMemories() {
  const { instantiateStreaming } = WebAssembly;
  if (watching || !instantiateStreaming) return;
  watching = true;
  WebAssembly.instantiateStreaming = async function watchedInstantiateStreaming(source, imports) {
    const result = await instantiateStreaming.call(WebAssembly, source, imports);
    const response = await source; // a Response or a promise of one; its URL names the module
    remember(response?.url, result.module, result.instance, imports);
    return result;
  };
}

function remember(url, module, instance, imports) {
  if (!url) return;
  try {
    const memory = memoryOf(module, instance, imports);
    if (memory) memories.set(url, memory);
  } catch {
    // An unexpected module shape only costs the statistic, never the instantiation.
  }
}

/** The module's linear memory: the one it imports, else the one it exports, else null. */
function memoryOf(module, instance, imports) {
  const imported = WebAssembly.Module.imports(module).find((d) => d.kind === 'memory');
  if (imported) return imports?.[imported.module]?.[imported.name] ?? null;
  const exported = WebAssembly.Module.exports(module).find((d) => d.kind === 'memory');
  return exported ? instance.exports[exported.name] : null;
}

/**
 * Current size of the linear memory of the module streamed from a URL matching `pattern`.
 * WASM memory never shrinks, so this is the size the heap has grown to (a high-water mark),
 * not the allocator's live bytes.
 * @param {RegExp} pattern tested against the module's URL
 * @returns {number|null} null when not watching, or when no such module was streamed (for
 *   example after Emscripten's ArrayBuffer fallback, which has no URL)
 */
export function wasmMemoryBytes(pattern) {
  let found = null;
  for (const [url, memory] of memories) if (pattern.test(url)) found = memory;
  return found ? found.buffer.byteLength : null;
}
