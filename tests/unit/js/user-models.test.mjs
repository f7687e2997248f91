// Unit tests (node --test) for models given at run time: the page's file sorting and form
// (web/lib/model-choices.js) and the worker's reading of a spec (web/lib/user-models.js).
// Python's validation of the entry runs in tests/unit/test_browser_host.py.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import { USER_MODEL } from '../../../web/lib/config.js';
import { holdsModel, parseNumbers, specBlocks, splitModelFiles } from '../../../web/lib/model-choices.js';
import { buildEntry, modelIo, readHooks, readLabels, readModelFile } from '../../../web/lib/user-models.js';

const file = (name, text = 'x') => new File([text], name);
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

test('dropped files: the first .onnx is the model, the first other file its labels', () => {
  const files = [file('labels.txt'), file('notes.md'), file('Net.ONNX'), file('b.onnx')];
  const { model, labels } = splitModelFiles(files);
  assert.equal(model.name, 'Net.ONNX');
  assert.equal(labels.name, 'labels.txt');
  assert.equal(splitModelFiles([file('a.txt')]).model, null);
  assert.equal(holdsModel([file('cat.jpg')]), false);
  assert.equal(holdsModel([file('cat.jpg'), file('m.onnx')]), true);
});

test('numbers typed with commas or spaces; anything else stays NaN for Python to refuse', () => {
  assert.deepEqual(parseNumbers('0.485, 0.456,0.406'), [0.485, 0.456, 0.406]);
  assert.deepEqual(parseNumbers(' 0  1 '), [0, 1]);
  assert.ok(Number.isNaN(parseNumbers('0.5, abc')[1]));
});

test('the form defaults make the ImageNet preprocessing add-model writes', () => {
  const { preprocess, output } = specBlocks({ ...USER_MODEL, mean: [...USER_MODEL.mean], std: [...USER_MODEL.std] });
  assert.deepEqual(preprocess, {
    resize: { mode: 'shorter_side', interpolation: 'bilinear', antialias: true, shorter_side: 256 },
    crop: { height: 224, width: 224 },
    scale: 1 / 255,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    layout: 'NCHW',
    channel_order: 'RGB',
  });
  assert.deepEqual(output, { activation: 'softmax' });
  const stretched = specBlocks({ ...USER_MODEL, size: 32, resize: 'stretch', channelOrder: 'L', mean: [0], std: [1] });
  assert.deepEqual(stretched.preprocess.resize, { mode: 'stretch', interpolation: 'bilinear', antialias: true });
  assert.deepEqual(stretched.preprocess.crop, { height: 32, width: 32 });
});

test('local bytes get their sha256 computed; a wrong one given with them is refused', async () => {
  const read = await readModelFile({ bytes: file('m.onnx', 'model bytes') });
  assert.equal(read.sha256, sha256('model bytes'));
  assert.equal(read.size, 11);
  assert.equal(read.name, 'm.onnx');
  await assert.rejects(readModelFile({ bytes: file('m.onnx', 'model bytes'), sha256: '0'.repeat(64) }), { code: 'E_MODEL_INTEGRITY' });
  await assert.rejects(readModelFile({ bytes: new Uint8Array(0) }), { code: 'E_INPUT', message: /is empty/ });
  await assert.rejects(readModelFile({ url: 'http://127.0.0.1:9/m.onnx' }), { code: 'E_INPUT', message: /needs its sha256/ });
  await assert.rejects(readModelFile({ url: 'x', bytes: new Uint8Array(1) }), { code: 'E_INPUT', message: /not both/ });
  await assert.rejects(readModelFile({}), { code: 'E_INPUT' });
});

test('labels pass to Python as JSON or as the file bytes with its name', async () => {
  assert.deepEqual(await readLabels(['a', 'b']), { json: '["a","b"]', file: null, source: 'labels' });
  const fromFile = await readLabels(file('l.txt', 'a\nb\n'));
  assert.deepEqual([...fromFile.file], [...new TextEncoder().encode('a\nb\n')]);
  assert.equal(fromFile.source, 'l.txt');
  await assert.rejects(readLabels(3), { code: 'E_INPUT' });
});

test('hooks given as text get their sha256 (Python checks the text against it)', async () => {
  const source = 'def postprocess(logits, model):\n    return logits\n';
  assert.deepEqual(await readHooks({ source }), { text: source, sha256: sha256(source) });
  assert.equal(await readHooks(undefined), null);
  await assert.rejects(readHooks({ url: 'hooks.py' }), { code: 'E_INPUT' });
});

test('the file must declare one static float32 input and one output', () => {
  const io = (inputs, outputs = [{ name: 'y', type: 'float32', shape: [1, 3] }]) => ({ inputs, outputs });
  const x = { name: 'x', type: 'float32', shape: [1, 3, 8, 8] };
  assert.deepEqual(modelIo(io([x]), 'm.onnx'), { input: x, output: io([x]).outputs[0] });
  assert.throws(() => modelIo(io([x, { ...x, name: 'z' }]), 'm.onnx'), { code: 'E_INPUT', message: /2 inputs \(x, z\)/ });
  assert.throws(() => modelIo(io([x], []), 'm.onnx'), { code: 'E_INPUT', message: /0 outputs/ });
  assert.throws(() => modelIo(io([{ ...x, type: 'uint8' }]), 'm.onnx'), { message: /is uint8; it must be float32/ });
  assert.throws(() => modelIo(io([{ ...x, shape: ['batch', 3, 8, 8] }]), 'm.onnx'), { message: /dynamic shape \[batch,3,8,8\]/ });
});

test('the entry: the spec, the file and what it declares; its labels named by its id', () => {
  const spec = { preprocess: { p: 1 }, output: { activation: 'sigmoid', threshold: 0.7 } };
  const io = { input: { name: 'x', shape: [1, 3, 8, 8] }, output: { name: 'y' } };
  const entry = buildEntry(spec, { sha256: 'ab'.repeat(32), size: 99, name: 'm.onnx' }, io, 3, { sha256: 'cd'.repeat(32) });
  assert.equal(entry.id, `user-${'ab'.repeat(6)}`);
  assert.equal(entry.labels, entry.id);
  assert.equal(entry.file, `${entry.id}.onnx`);
  assert.deepEqual(entry.output, { activation: 'sigmoid', threshold: 0.7, name: 'y', shape: [1, 3], dtype: 'float32' });
  assert.deepEqual(entry.hooks, { file: `${entry.id}.hooks.py`, sha256: 'cd'.repeat(32) });
  assert.equal(buildEntry({ ...spec, id: 'mine', name: 'Mine' }, { sha256: 'ab'.repeat(32), size: 1, name: 'm' }, io, 3, null).hooks, undefined);
});
