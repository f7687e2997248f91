// Unit tests (node --test) for the debug-only WASM memory watcher behind stats().ort_wasm_heap_bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';

// A module that imports its memory (as ORT's threaded build does) and one that exports it.
const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const IMPORTS_MEMORY = new Uint8Array([...HEADER, 0x02, 0x08, 0x01, 0x01, 0x61, 0x01, 0x6d, 0x02, 0x00, 0x01]); // (import "a" "m" (memory 1))
const EXPORTS_MEMORY = new Uint8Array([...HEADER, 0x05, 0x03, 0x01, 0x00, 0x02, 0x07, 0x07, 0x01, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00]); // (memory (export "mem") 2)
const PAGE = 65536;

// node has no server here: stand in for streaming with {url, bytes} "responses" (the watcher only reads `url`).
WebAssembly.instantiateStreaming = async (source, imports) => WebAssembly.instantiate((await source).bytes, imports);
const { ORT_WASM_URL, wasmMemoryBytes, watchWasmMemories } = await import('../../../web/lib/runtime/wasm-memory.js');

const ORT = 'http://127.0.0.1:8000/vendor/ort/ort-wasm-simd-threaded.wasm';
const PYODIDE = 'http://127.0.0.1:8000/vendor/pyodide/pyodide.asm.wasm';

test('ORT_WASM_URL matches ORT binaries only', () => {
  assert.ok(ORT_WASM_URL.test(ORT));
  assert.ok(ORT_WASM_URL.test('https://cdn.example/ort-wasm-simd-threaded.jsep.wasm?v=1'));
  assert.ok(!ORT_WASM_URL.test(PYODIDE));
  assert.ok(!ORT_WASM_URL.test('http://h/vendor/ort/ort-wasm-simd-threaded.mjs'));
});

test('nothing is known before watching', async () => {
  await WebAssembly.instantiateStreaming({ url: ORT, bytes: IMPORTS_MEMORY }, { a: { m: new WebAssembly.Memory({ initial: 1 }) } });
  assert.equal(wasmMemoryBytes(ORT_WASM_URL), null);
});

test('an imported memory is found by URL and followed as it grows', async () => {
  watchWasmMemories();
  watchWasmMemories(); // idempotent: wrapping twice would record twice
  const memory = new WebAssembly.Memory({ initial: 1 });
  const result = await WebAssembly.instantiateStreaming(Promise.resolve({ url: ORT, bytes: IMPORTS_MEMORY }), { a: { m: memory } });
  assert.ok(result.instance instanceof WebAssembly.Instance, 'instantiation result is unchanged');
  assert.equal(wasmMemoryBytes(ORT_WASM_URL), PAGE);
  memory.grow(3);
  assert.equal(wasmMemoryBytes(ORT_WASM_URL), 4 * PAGE);
});

test("another module's exported memory does not count as ORT's", async () => {
  const { instance } = await WebAssembly.instantiateStreaming({ url: PYODIDE, bytes: EXPORTS_MEMORY }, {});
  assert.equal(wasmMemoryBytes(/pyodide\.asm\.wasm$/), 2 * PAGE);
  assert.equal(instance.exports.mem.buffer.byteLength, 2 * PAGE);
  assert.equal(wasmMemoryBytes(ORT_WASM_URL), 4 * PAGE);
});

test('a module without a URL (ArrayBuffer fallback) is not attributed', async () => {
  await WebAssembly.instantiateStreaming({ url: '', bytes: EXPORTS_MEMORY }, {});
  assert.equal(wasmMemoryBytes(/^$/), null);
});

test('a failed instantiation still rejects as before', async () => {
  await assert.rejects(WebAssembly.instantiateStreaming({ url: ORT, bytes: IMPORTS_MEMORY }, {}), TypeError);
  assert.equal(wasmMemoryBytes(ORT_WASM_URL), 4 * PAGE);
});
