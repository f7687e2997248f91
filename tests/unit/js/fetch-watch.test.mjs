// Unit tests (node --test) for the boot's watch on refused or corrupt runtime files.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';

import { watchFetchFailures } from '../../../web/lib/runtime/fetch-watch.js';

const VENDOR = 'https://app.test/vendor/';
const realFetch = globalThis.fetch;
const realInstantiateStreaming = WebAssembly.instantiateStreaming;
let answers; // url -> status, or an Error to throw

beforeEach(() => {
  answers = new Map();
  globalThis.fetch = async (input) => {
    const answer = answers.get(String(input?.url ?? input)) ?? 200;
    if (answer instanceof Error) throw answer;
    return new Response('x', { status: answer });
  };
});

afterEach(() => {
  globalThis.fetch = realFetch;
  WebAssembly.instantiateStreaming = realInstantiateStreaming;
});

/** A served .wasm (HTTP 200) as the runtimes stream it: a Response with its URL. */
function wasmResponse(url, bytes, type = 'application/wasm') {
  const response = new Response(bytes, { headers: { 'content-type': type } });
  Object.defineProperty(response, 'url', { value: url }); // set by fetch() in a browser
  return response;
}
// The smallest valid module: magic word and version.
const EMPTY_MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

const settled = (promise) => Promise.race([promise.then(() => 'resolved', (e) => e), new Promise((r) => setTimeout(() => r('pending'), 20))]);

test('a watched 404 rejects with E_RUNTIME_LOAD naming the file; the fetch still answers', async () => {
  const watch = watchFetchFailures((url) => url.startsWith(VENDOR));
  answers.set(`${VENDOR}pyodide/pyodide.asm.wasm`, 404);
  const response = await fetch(`${VENDOR}pyodide/pyodide.asm.wasm`);
  assert.equal(response.status, 404); // the runtime sees what it would have seen
  const err = await settled(watch.failure);
  assert.equal(err.code, 'E_RUNTIME_LOAD');
  assert.equal(err.details.file, `${VENDOR}pyodide/pyodide.asm.wasm`);
  assert.match(err.message, /pyodide\.asm\.wasm: HTTP 404/);
});

test('a network failure is reported too, and rethrown to the caller', async () => {
  const watch = watchFetchFailures((url) => url.startsWith(VENDOR));
  answers.set(`${VENDOR}ort/ort-wasm-simd-threaded.wasm`, new TypeError('Failed to fetch'));
  await assert.rejects(fetch(new Request(`${VENDOR}ort/ort-wasm-simd-threaded.wasm`)), /Failed to fetch/);
  const err = await settled(watch.failure);
  assert.equal(err.details.file, `${VENDOR}ort/ort-wasm-simd-threaded.wasm`);
});

test('unwatched URLs, successful answers and anything after stop() are ignored', async () => {
  const watch = watchFetchFailures((url) => url.startsWith(VENDOR));
  answers.set('https://app.test/models/missing.onnx', 404); // has its own error code
  await fetch('https://app.test/models/missing.onnx');
  await fetch(`${VENDOR}vendor.json`);
  watch.stop();
  answers.set(`${VENDOR}pyodide/python_stdlib.zip`, 404);
  await fetch(`${VENDOR}pyodide/python_stdlib.zip`);
  assert.equal(await settled(watch.failure), 'pending');
});

test('a served .wasm that does not compile is named; the runtime still sees its CompileError', async () => {
  const watch = watchFetchFailures((url) => url.startsWith(VENDOR));
  const url = `${VENDOR}pyodide/pyodide.asm.wasm`;
  const truncated = EMPTY_MODULE.slice(0, 6);
  await assert.rejects(WebAssembly.instantiateStreaming(Promise.resolve(wasmResponse(url, truncated)), {}), WebAssembly.CompileError);
  const err = await settled(watch.failure);
  assert.equal(err.code, 'E_RUNTIME_LOAD');
  assert.equal(err.details.file, url);
  assert.match(err.message, /pyodide\.asm\.wasm: not valid WebAssembly, so corrupt or truncated \(CompileError: /);
});

test('a good .wasm instantiates as before and reports nothing', async () => {
  const watch = watchFetchFailures((url) => url.startsWith(VENDOR));
  const { instance, module } = await WebAssembly.instantiateStreaming(wasmResponse(`${VENDOR}ort/x.wasm`, EMPTY_MODULE), {});
  assert.ok(instance instanceof WebAssembly.Instance && module instanceof WebAssembly.Module);
  assert.equal(await settled(watch.failure), 'pending');
});

test('other streaming failures count only for a runtime without a fallback (final)', async () => {
  const ortWasm = `${VENDOR}ort/ort-wasm-simd-threaded.wasm`;
  const pyodideWasm = `${VENDOR}pyodide/pyodide.asm.wasm`;
  const watch = watchFetchFailures((url) => url.startsWith(VENDOR), { final: (url) => url === pyodideWasm });
  // A wrong MIME type: onnxruntime-web falls back to compiling the bytes, which may work.
  await assert.rejects(WebAssembly.instantiateStreaming(wasmResponse(ortWasm, EMPTY_MODULE, 'text/html'), {}), TypeError);
  assert.equal(await settled(watch.failure), 'pending');
  // Pyodide has no fallback: the same failure would leave its boot pending forever.
  await assert.rejects(WebAssembly.instantiateStreaming(wasmResponse(pyodideWasm, EMPTY_MODULE, 'text/html'), {}), TypeError);
  const err = await settled(watch.failure);
  assert.equal(err.details.file, pyodideWasm);
  assert.match(err.message, /WebAssembly instantiation failed \(TypeError: /);
});

test('a .wasm outside the watch, or after stop(), is not reported', async () => {
  const watch = watchFetchFailures((url) => url.startsWith(VENDOR));
  await assert.rejects(WebAssembly.instantiateStreaming(wasmResponse('https://app.test/other.wasm', EMPTY_MODULE.slice(0, 6)), {}));
  watch.stop();
  await assert.rejects(WebAssembly.instantiateStreaming(wasmResponse(`${VENDOR}ort/x.wasm`, EMPTY_MODULE.slice(0, 6)), {}));
  assert.equal(await settled(watch.failure), 'pending');
});
