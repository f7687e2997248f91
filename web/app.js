/**
 * The demo page: drop, pick or paste images; show top-5 and per-stage timings for each; try a
 * model of your own (an .onnx file and its labels, read in this tab, never uploaded).
 * All work goes through the public client API, exactly as an embedder would use it.
 */
import { createClassifier } from './edge-infer.js';
import { bindCameraButton } from './lib/camera.js';
import { CAMERA, DEFAULTS, PREPROCESS_MODES, USER_MODEL } from './lib/config.js';
import { holdsModel, parseNumbers, specBlocks, splitModelFiles } from './lib/model-choices.js';
import { registerOffline } from './lib/offline.js';
import { acceptDroppedAndPastedFiles, fileName, inputName, loadingText, megabytes as mb, percent as pct } from './lib/ui.js';

const $ = (selector) => document.querySelector(selector);
const params = new URLSearchParams(location.search);
const threads = params.has('threads') ? Number(params.get('threads')) : undefined;
const pending = new Set(); // result cards not yet settled
let lastError = null;
let runtimeDown = false; // the runtime failed to load: the next drop or Retry loads it again
let currentModel = params.get('model') || undefined;
let batch = new AbortController(); // "Cancel remaining" aborts every unfinished card
const ownFiles = { model: null, labels: null }; // the user's model and labels, once picked
const ownModelIds = new Set(); // models the user registered: in the picker, never in ?model=

// A mistyped ?preprocess= falls back to the default, said on the page, rather than stopping it.
const preprocessParam = params.get('preprocess');
const preprocess = PREPROCESS_MODES.includes(preprocessParam) ? preprocessParam : undefined;

const classifier = createClassifier({ model: currentModel, threads, preprocess, onProgress: showProgress });
if (preprocessParam && !preprocess) showMessage(`?preprocess=${preprocessParam} is not one of ${PREPROCESS_MODES.join(', ')}; using ${DEFAULTS.preprocess}`);
registerOffline({ after: classifier.ready }); // offline after one visit (sw.js); once loaded, so nothing downloads twice
watchLoad(classifier.ready);

/**
 * Show how a (re)start of the runtime ends: ready, or the error naming the file that failed
 * with a Retry button. The page stays usable either way: a drop after a failure retries too.
 * @param {Promise<object>} ready the classifier's `ready` for this attempt
 */
function watchLoad(ready) {
  runtimeDown = false;
  $('#retry-load').hidden = true;
  $('#status-text').textContent = 'Loading…';
  $('#load-progress').value = 0;
  document.body.dataset.state = 'loading';
  ready.then(onLoaded, onLoadFailed);
}

function onLoaded(info) {
  currentModel = info.model.id;
  $('#status-text').textContent = `Ready (loaded in ${(info.startup_ms.ready / 1000).toFixed(2)} s)`;
  $('#status-bytes').textContent = '';
  showRuntime(info);
  fillModelPicker(info.model.id); // once: a load that succeeded is never retried
  lastError = null; // cards that failed before this were load failures, now fixed
  updateState();
}

function onLoadFailed(err) {
  runtimeDown = true;
  const file = err.details?.file ? ` (${fileName(err.details.file)})` : '';
  $('#status-text').textContent = `The runtime failed to load${file}.`;
  $('#status-bytes').textContent = '';
  showMessage(`${err.message} [${err.code}]`);
  document.body.dataset.state = 'error';
  if (err.code === 'E_MODEL_UNKNOWN') {
    // A bad ?model= link should not leave a dead page: go to the default model.
    showMessage(`${err.message}. Loading the default model instead…`);
    setTimeout(() => location.replace(location.pathname), 1500);
    return;
  }
  $('#retry-load').hidden = false;
}

/** Load the runtime again (after a failure), without reloading the page. */
function retryLoad() {
  hideMessage();
  watchLoad(classifier.retry());
}

/** Fill the model picker from the manifest; switching downloads (with progress) on demand. */
async function fillModelPicker(activeId) {
  const select = $('#model-select');
  let manifest;
  try {
    manifest = await (await fetch('models/manifest.json')).json();
  } catch (err) {
    $('#model-status').textContent = `model list unavailable: ${err.message}`;
    return;
  }
  select.replaceChildren(
    ...manifest.models.map((m) => {
      const option = el('option', `${m.name} · ${mb(m.bytes)} MB`);
      option.value = m.id;
      option.selected = m.id === activeId;
      return option;
    }),
  );
  select.disabled = false;
  select.addEventListener('change', () => switchModel(select.value));
}

async function switchModel(id) {
  const select = $('#model-select');
  const previous = currentModel;
  select.disabled = true;
  $('#model-status').textContent = 'Loading…';
  try {
    const info = await classifier.loadModel(id, {
      onProgress: ({ loaded, total }) => {
        $('#model-status').textContent = `Downloading ${mb(loaded)} / ${mb(total)} MB…`;
      },
    });
    currentModel = info.id;
    $('#model-status').textContent = info.cached ? 'Ready (cached, no download)' : `Ready (loaded in ${(info.ms / 1000).toFixed(2)} s)`;
    if (!ownModelIds.has(info.id)) {
      const url = new URL(location.href);
      url.searchParams.set('model', info.id);
      history.replaceState(null, '', url);
    }
  } catch (err) {
    select.value = previous; // the previous model keeps working
    $('#model-status').textContent = '';
    showMessage(`${err.message} [${err.code}]`);
  } finally {
    select.disabled = false;
  }
}

/**
 * Take the files for "try your own model"; once both are there, use them.
 * @param {{model?: File|null, labels?: File|null}} files as splitModelFiles sorts a drop
 */
function takeModelFiles({ model, labels }) {
  if (model) ownFiles.model = model;
  if (labels) ownFiles.labels = labels;
  $('#own-model-use').disabled = !(ownFiles.model && ownFiles.labels);
  if (ownFiles.model && ownFiles.labels) return useOwnModel();
  ownStatus(ownFiles.model ? `${ownFiles.model.name}: now add its labels file.` : `${ownFiles.labels.name}: now add the .onnx model file.`);
}

/**
 * Register the user's model with the form's preprocessing and switch to it. A refusal says
 * why, and the model in use stays in use.
 */
async function useOwnModel() {
  const { model, labels } = ownFiles;
  const button = $('#own-model-use');
  button.disabled = true;
  ownStatus(`Checking ${model.name}…`);
  try {
    const info = await classifier.registerModel({ bytes: model, labels, name: model.name, ...specBlocks(ownChoices()) });
    ownModelIds.add(info.id);
    currentModel = info.id;
    addOwnPickerOption(info);
    const some = info.labels.slice(0, 3).join(', ') + (info.labels.length > 3 ? ', …' : '');
    ownStatus(`Using ${model.name}: ${info.labels.length} classes (${some}). Drop images to classify them with it.`, 'ready');
  } catch (err) {
    const inUse = $('#model-select').selectedOptions[0]?.textContent ?? currentModel;
    ownStatus(`${model.name} was not loaded: ${err.message} [${err.code}]. Still using ${inUse}.`, 'error', err.code);
  } finally {
    button.disabled = false;
  }
}

/** The preprocessing form's values (ImageNet's defaults until changed). */
function ownChoices() {
  return {
    size: Number($('#own-size').value),
    resize: $('#own-resize').value,
    channelOrder: $('#own-channels').value,
    layout: $('#own-layout').value,
    mean: parseNumbers($('#own-mean').value),
    std: parseNumbers($('#own-std').value),
    activation: $('#own-activation').value,
  };
}

function fillOwnChoices() {
  $('#own-size').value = USER_MODEL.size;
  $('#own-resize').value = USER_MODEL.resize;
  $('#own-channels').value = USER_MODEL.channelOrder;
  $('#own-layout').value = USER_MODEL.layout;
  $('#own-mean').value = USER_MODEL.mean.join(', ');
  $('#own-std').value = USER_MODEL.std.join(', ');
  $('#own-activation').value = USER_MODEL.activation;
}

/** Grey input: one mean and std; back to colour: ImageNet's three. */
function onChannelsChange() {
  const grey = $('#own-channels').value === 'L';
  $('#own-mean').value = (grey ? USER_MODEL.greyMean : USER_MODEL.mean).join(', ');
  $('#own-std').value = (grey ? USER_MODEL.greyStd : USER_MODEL.std).join(', ');
}

function ownStatus(text, state = '', code = '') {
  const section = $('#own-model');
  section.dataset.state = state;
  section.dataset.errorCode = code;
  const status = $('#own-model-status');
  status.textContent = text;
  status.setAttribute('role', state === 'error' ? 'alert' : 'status');
}

/** The user's model in the picker, under "Your models", selected. */
function addOwnPickerOption(info) {
  const select = $('#model-select');
  let group = select.querySelector('optgroup');
  if (!group) {
    group = document.createElement('optgroup');
    group.label = 'Your models (this tab only)';
    select.append(group);
  }
  let option = [...group.children].find((o) => o.value === info.id);
  if (!option) {
    option = el('option');
    option.value = info.id;
    group.append(option);
  }
  option.textContent = `${info.name} · ${mb(info.bytes)} MB`;
  select.value = info.id;
}

function showProgress({ state, stages, loaded, total }) {
  if (state !== 'loading') return;
  $('#status-text').textContent = loadingText(stages);
  $('#status-bytes').textContent = total ? `${mb(loaded)} / ${mb(total)} MB` : '';
  const bar = $('#load-progress');
  bar.max = total || 1;
  bar.value = Math.min(loaded, total || 0);
}

function showRuntime({ runtime, model }) {
  const facts = [
    ['Model', `${model.id} v${model.version}`],
    ['Pyodide', `${runtime.pyodide} (Python ${runtime.python})`],
    ['numpy', runtime.numpy],
    ['onnxruntime-web', `${runtime.onnxruntime_web} (${runtime.execution_provider}, SIMD)`],
    ['Threads', String(runtime.threads)],
    ['Cross-origin isolated', runtime.cross_origin_isolated ? 'yes' : 'no (threads limited to 1)'],
    ...runtime.notes.map((note) => ['Note', note]),
  ];
  const dl = $('#runtime-facts');
  dl.replaceChildren(...facts.flatMap(([k, v]) => [el('dt', k), el('dd', v)]));
  dl.hidden = false;
}

/** Classify files one after another, each with its own card, in the order given. */
function classifyFiles(files) {
  const list = [...files];
  if (!list.length) return;
  if (runtimeDown) retryLoad(); // classify would restart it anyway; this shows the attempt
  hideMessage();
  for (const file of list) {
    const card = addCard(file);
    pending.add(card);
    updateState();
    classifier
      .classify(file, { model: currentModel, signal: batch.signal })
      .then((result) => showResult(card, result))
      .catch((err) => showCardError(card, err))
      .finally(() => {
        pending.delete(card);
        updateState();
      });
  }
}

function addCard(file) {
  const card = $('#result-template').content.firstElementChild.cloneNode(true);
  card.dataset.state = 'pending';
  card.querySelector('.file-name').textContent = inputName(file, 'pasted image');
  const img = card.querySelector('.preview');
  if (file.type.startsWith('image/')) {
    img.src = URL.createObjectURL(file);
    img.alt = `Preview of ${file.name || 'the pasted image'}`;
    img.addEventListener('error', () => img.removeAttribute('src'), { once: true });
  }
  $('#results').append(card);
  $('.results-head').hidden = false;
  return card;
}

function showResult(card, result) {
  card.dataset.state = 'done';
  card.dataset.result = JSON.stringify(result);
  card.querySelector('.status').textContent =
    `${result.label} · ${pct(result.confidence)} · ${result.image.width}×${result.image.height}`;
  card.querySelector('.top-k').replaceChildren(
    ...result.top_k.map(({ label, probability }) => {
      const bar = el('span', '', 'bar');
      bar.setAttribute('role', 'img');
      bar.setAttribute('aria-label', `${label}: ${pct(probability)}`);
      const fill = el('span');
      fill.style.width = `${(probability * 100).toFixed(2)}%`;
      bar.append(fill);
      return el('li', [el('span', label, 'label'), bar, el('span', pct(probability), 'pct')]);
    }),
  );
  const table = card.querySelector('.timings');
  for (const td of table.querySelectorAll('td')) td.textContent = result.timings_ms[td.dataset.stage].toFixed(2);
  table.hidden = false;
  lastError = null;
}

function showCardError(card, err) {
  if (err.code === 'E_ABORTED') {
    card.dataset.state = 'cancelled';
    card.querySelector('.status').textContent = 'Cancelled';
    return;
  }
  card.dataset.state = 'error';
  card.dataset.errorCode = err.code ?? 'E_INTERNAL';
  card.querySelector('.status').textContent = err.message;
  card.querySelector('.status').setAttribute('role', 'alert');
  lastError = err;
  showMessage(`${card.querySelector('.file-name').textContent}: ${err.message}`);
}

function updateState() {
  const body = document.body;
  if (!classifier.runtime) return; // still loading (or failed to load)
  $('#cancel-pending').hidden = pending.size === 0;
  if (pending.size) body.dataset.state = 'busy';
  else body.dataset.state = lastError ? 'error' : 'ready';
}

function showMessage(text) {
  const box = $('#message');
  box.textContent = text;
  box.hidden = false;
}

function hideMessage() {
  $('#message').hidden = true;
}

function el(tag, content = '', className = '') {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (Array.isArray(content)) node.append(...content);
  else node.textContent = content;
  return node;
}

// Inputs: file picker, drop anywhere on the page, paste, keyboard on the drop zone.
$('#file-input').addEventListener('change', (event) => {
  classifyFiles(event.target.files);
  event.target.value = ''; // picking the same file again fires change again
});
const zone = $('#drop-zone');
zone.addEventListener('click', (event) => {
  if (event.target.tagName !== 'LABEL') $('#file-input').click();
});
zone.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    $('#file-input').click();
  }
});
// A dropped .onnx file is a model to try, wherever it lands; images are classified.
const routeFiles = (files) => (holdsModel(files) ? takeModelFiles(splitModelFiles(files)) : classifyFiles(files));
acceptDroppedAndPastedFiles({ dropTarget: document, pasteTarget: document, zone, contains: (node) => document.contains(node), onFiles: routeFiles });

// Try your own model: its drop area (a labels file alone counts too), its pickers, its form.
const ownDrop = $('#own-model-drop');
ownDrop.addEventListener('dragover', (event) => {
  event.preventDefault();
  ownDrop.classList.add('dragging');
});
ownDrop.addEventListener('dragleave', () => ownDrop.classList.remove('dragging'));
ownDrop.addEventListener('drop', (event) => {
  event.preventDefault();
  event.stopPropagation(); // not an image to classify (the page's own handler)
  ownDrop.classList.remove('dragging');
  zone.classList.remove('dragging');
  takeModelFiles(splitModelFiles(event.dataTransfer?.files ?? []));
});
for (const [id, role] of [['#own-model-file', 'model'], ['#own-labels-file', 'labels']]) {
  const input = $(id);
  input.addEventListener('change', () => {
    if (input.files.length) takeModelFiles({ [role]: input.files[0] });
    input.value = ''; // picking the same file again fires change again
  });
}
$('#own-model-use').addEventListener('click', useOwnModel);
$('#own-channels').addEventListener('change', onChannelsChange);
fillOwnChoices();
$('#retry-load').addEventListener('click', retryLoad);
$('#cancel-pending').addEventListener('click', () => {
  batch.abort();
  batch = new AbortController();
});
$('#clear-results').addEventListener('click', () => {
  for (const img of document.querySelectorAll('#results .preview[src]')) URL.revokeObjectURL(img.src);
  for (const card of document.querySelectorAll('#results .result')) if (!pending.has(card)) card.remove();
  if (!$('#results').children.length) $('.results-head').hidden = true;
  hideMessage();
  // The failed cards are gone, so the page is no longer in error (a failed load still is).
  lastError = null;
  updateState();
});

// Camera: classify the live stream one frame at a time, showing the top-1 and frames per second.
bindCameraButton($('#camera-button'), classifier, {
  video: $('#camera-video'),
  topK: CAMERA.topK,
  onState: (running) => {
    $('#camera-video').hidden = !running;
    $('#camera-readout').hidden = !running;
    $('#camera-readout').textContent = running ? 'Starting…' : '';
  },
  onResult: (result, stats) => {
    $('#camera-readout').textContent = `${result.label} · ${pct(result.confidence)} · ${stats.fps.toFixed(1)} fps`;
  },
  onError: (err) => showMessage(`Camera: ${err.message}`),
});
