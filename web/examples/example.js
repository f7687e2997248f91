// A host page using edge-infer three ways. Copy what you need; replace APP with your URL.
const APP = new URL(new URLSearchParams(location.search).get('app') ?? '../', location.href);
document.querySelector('#app-url').textContent = APP.href;

// Importing the module defines <edge-classifier> and gives the API.
const { createClassifier } = await import(new URL('edge-infer.js', APP).href);

// 1. The element: listen to its events.
const widget = document.querySelector('#widget');
const log = document.querySelector('#element-log');
widget.addEventListener('ready', (e) => (log.value = `ready: ${e.detail.runtime.threads} thread(s)`));
widget.addEventListener('result', (e) => (log.value = `result: ${e.detail.label} (${(e.detail.confidence * 100).toFixed(1)}%)`));
widget.addEventListener('error', (e) => (log.value = `error ${e.detail.code}: ${e.detail.message}`));

// 2. The API: one classifier, results as objects, cancellation with an AbortSignal.
const out = document.querySelector('#api-output');
const classifier = createClassifier({ topK: 3 });
classifier.ready.then(
  ({ runtime }) => (out.textContent = `Ready: ${runtime.threads} thread(s), isolated: ${runtime.cross_origin_isolated}`),
  (err) => (out.textContent = `${err.code}: ${err.message}`),
);
let controller = null;
document.querySelector('#api-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  controller?.abort();
  controller = new AbortController();
  out.textContent = `Classifying ${file.name}…`;
  try {
    const result = await classifier.classify(file, { signal: controller.signal });
    out.textContent = result.top_k.map((c) => `${c.label}: ${(c.probability * 100).toFixed(1)}%`).join('\n');
    out.dataset.label = result.label;
  } catch (err) {
    out.textContent = `${err.code}: ${err.message}`; // E_ABORTED after Cancel, E_DECODE for non-images, ...
  }
});
document.querySelector('#api-cancel').addEventListener('click', () => controller?.abort());

// 3. The iframe: tell it our origin; accept messages only from its origin and window.
const frame = document.querySelector('#frame');
const frameOut = document.querySelector('#frame-output');
document.querySelector('#show-frame').addEventListener('click', () => {
  frame.hidden = false;
  frame.src = new URL(`embed.html?compact&origin=${encodeURIComponent(location.origin)}`, APP).href;
});
window.addEventListener('message', (event) => {
  if (event.origin !== APP.origin || event.source !== frame.contentWindow) return;
  const msg = event.data;
  if (msg.type === 'edge-infer:resize') frame.height = String(msg.height);
  if (msg.type === 'edge-infer:ready') frameOut.textContent = `iframe ready: ${msg.runtime.threads} thread(s)`;
  if (msg.type === 'edge-infer:result') frameOut.textContent = `iframe result: ${msg.result.label}`;
  if (msg.type === 'edge-infer:error') frameOut.textContent = `iframe error ${msg.code}: ${msg.message}`;
});
