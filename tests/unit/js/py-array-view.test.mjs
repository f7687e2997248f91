// PyArrayView (web/lib/runtime/py-array-view.js) keeps one view of a numpy array across
// calls, and takes it again after Pyodide's heap grew (growth detaches every old view).
// Runs the vendored Pyodide under Node.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PyArrayView } from '../../../web/lib/runtime/py-array-view.js';

const VENDOR = new URL('../../../web/vendor/', import.meta.url).pathname;

test('a view follows its array through heap growth and writes reach Python', { timeout: 120_000 }, async () => {
  const { loadPyodide } = await import(`${VENDOR}pyodide/pyodide.mjs`);
  const pyodide = await loadPyodide({ indexURL: `${VENDOR}pyodide/`, stdout: () => {} });
  await pyodide.loadPackage('numpy', { messageCallback: () => {} });
  pyodide.runPython('import numpy as np; kept = np.zeros(1000, dtype=np.float32)');
  const view = new PyArrayView(pyodide.globals.get('kept'));
  const first = view.data;
  assert.ok(first instanceof Float32Array && first.length === 1000);
  assert.equal(view.data, first, 'the same view while the heap keeps its size');

  const heapBefore = pyodide._module.HEAP8.length;
  pyodide.runPython('big = np.ones(64 * 1024 * 1024, dtype=np.uint8)'); // grows the heap
  assert.ok(pyodide._module.HEAP8.length > heapBefore, 'the heap did not grow');
  assert.equal(first.length, 0, 'growth detaches the old view');

  const again = view.data;
  assert.equal(again.length, 1000);
  again.set(new Float32Array(1000).fill(2.5));
  assert.equal(pyodide.runPython('float(kept.sum())'), 2500);

  view.release();
  assert.equal(pyodide.runPython('import sys; sys.getrefcount(kept)'), 2, 'the view still holds the array');
});
