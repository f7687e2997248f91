/**
 * embed.html: the <edge-classifier> element in a page of its own, for hosts that embed an
 * iframe instead of loading the module. It talks to its parent window with postMessage.
 *
 * Query: `model`, `top-k` (or `topK`), `threads`, `src`, `compact`, `no-camera`, and `origin`,
 * the embedding page's origin. Messages go only to that origin, and only messages from the
 * parent window at that origin are accepted. The shapes are documented in docs/embedding.md;
 * every message has `type` ('edge-infer:…') and `version` (1).
 */
import { defineEdgeClassifier } from './element.js';

const VERSION = 1;
const PREFIX = 'edge-infer:';
const params = new URLSearchParams(location.search);

defineEdgeClassifier();
const element = document.createElement('edge-classifier');
for (const [param, attr] of [['model', 'model'], ['top-k', 'top-k'], ['topK', 'top-k'], ['threads', 'threads'], ['src', 'src']]) {
  if (params.get(param)) element.setAttribute(attr, params.get(param));
}
for (const flag of ['compact', 'no-camera']) if (params.has(flag)) element.setAttribute(flag, '');
document.body.style.margin = '0'; // CSSOM, not a style attribute: fine under a strict CSP
document.body.append(element);

const parent = findParent();
if (parent.problem) {
  console.warn(`edge-infer embed: ${parent.problem}; results are not posted to the parent page`);
  element.dataset.embedProblem = parent.problem;
}

/**
 * Which origin may receive our results: the one the host declares with `?origin=`, checked
 * against the real embedder when the browser tells us (location.ancestorOrigins), else the
 * referrer's origin. Never '*': results describe the user's images.
 */
function findParent() {
  if (window.parent === window) return { origin: null, problem: 'not in a frame' };
  const declared = params.get('origin');
  let actual = location.ancestorOrigins?.[0] ?? null;
  if (!actual && document.referrer) actual = new URL(document.referrer).origin;
  if (declared && (declared === '*' || declared === 'null')) return { origin: null, problem: `origin=${declared} is not allowed` };
  if (declared && actual && declared !== actual) return { origin: null, problem: `origin=${declared} but the embedding page is ${actual}` };
  const origin = declared ?? actual;
  if (!origin || origin === 'null') return { origin: null, problem: "the embedding page's origin is unknown; add ?origin=" };
  return { origin, problem: null };
}

function post(type, body = {}) {
  if (parent.origin) window.parent.postMessage({ type: PREFIX + type, version: VERSION, ...body }, parent.origin);
}

element.addEventListener('ready', (event) => {
  const { runtime, model, startup_ms } = event.detail;
  post('ready', { runtime, model, startup_ms });
});
element.addEventListener('progress', (event) => post('progress', { progress: event.detail }));
// What the user does (drop, pick, paste, camera, src) is posted with id null; requests from
// the parent are answered below with their own id (silently for the element's events).
element.addEventListener('result', (event) => post('result', { id: null, result: event.detail }));
element.addEventListener('error', (event) => post('error', { id: null, code: event.detail.code, message: event.detail.message }));

window.addEventListener('message', async (event) => {
  // Only our parent, from the origin we post to. Everything else is ignored silently.
  if (!parent.origin || event.source !== window.parent || event.origin !== parent.origin) return;
  const msg = event.data;
  if (msg?.type !== `${PREFIX}classify`) return;
  try {
    const result = await element.classify(msg.image, { silent: true });
    post('result', { id: msg.id ?? null, result });
  } catch (err) {
    post('error', { id: msg.id ?? null, code: err.code ?? 'E_INTERNAL', message: err.message });
  }
});

// Let the host size the iframe to its content.
let lastHeight = 0;
new ResizeObserver(() => {
  const height = Math.ceil(document.documentElement.scrollHeight);
  if (height !== lastHeight) post('resize', { height: (lastHeight = height) });
}).observe(document.body);
