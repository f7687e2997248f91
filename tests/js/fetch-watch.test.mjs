// Unit tests (node --test) for the boot's watch on refused runtime files.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';

import { watchFetchFailures } from '../../web/lib/runtime/fetch-watch.js';

const VENDOR = 'https://app.test/vendor/';
const realFetch = globalThis.fetch;
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
});

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
