/**
 * <edge-classifier>: a drop-in image classifier widget (custom element, shadow DOM).
 *
 * Attributes: `model`, `top-k`, `threads`, `src`, `compact`, `no-camera`.
 * Events (bubbling, composed): `ready`, `progress`, `result` (detail: the result object),
 * `error` (detail: {code, message}).
 * If the runtime fails to load, the element says which file failed and offers a "Retry
 * loading" button (also `retry()`), which starts the runtime again without a page reload.
 * Every instance on a page shares one worker (see client.js); removing the element from the
 * document releases its share, and the worker stops when no instance uses it.
 *
 * No inline styles or scripts: the stylesheet is a constructed CSSStyleSheet and the DOM is
 * built with createElement, so the element works under a strict Content-Security-Policy.
 */
import { bindCameraButton } from './camera.js';
import { createClassifier } from './client.js';
import { CAMERA, DEFAULTS } from './config.js';
import { EdgeInferError, ErrorCode } from './errors.js';
import { acceptDroppedAndPastedFiles, fileName, inputName, loadingText, megabytes as mb, percent as pct } from './ui.js';

const TAG = 'edge-classifier';
const STAGES = ['decode', 'preprocess', 'inference', 'postprocess', 'total'];

/* Theme: every colour and size comes from a public custom property with a built-in default
   (light or dark, following prefers-color-scheme). See docs/embedding.md for the list. */
const CSS = `
:host {
  --_bg: #ffffff; --_fg: #1d1d1f; --_muted: #6b6b70; --_border: #d9d9de; --_accent: #2f6fde;
  --_bar: var(--edge-accent, #2f6fde); --_bar-bg: #e6ebf5; --_error: #b3261e;
  display: block; box-sizing: border-box; max-width: 100%; contain: content;
  font: var(--edge-font, 400 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  color: var(--edge-fg, var(--_fg)); background: var(--edge-bg, var(--_bg));
  border: 1px solid var(--edge-border, var(--_border)); border-radius: var(--edge-radius, 10px);
  padding: var(--edge-gap, 12px);
}
@media (prefers-color-scheme: dark) {
  :host {
    --_bg: #1f1f23; --_fg: #ececf0; --_muted: #a0a0a8; --_border: #35353c; --_accent: #7aa7ff;
    --_bar: var(--edge-accent, #7aa7ff); --_bar-bg: #2a3142; --_error: #ff8a80;
  }
}
:host([hidden]) { display: none; }
*, *::before, *::after { box-sizing: inherit; }
.muted { color: var(--edge-muted, var(--_muted)); }
.status { display: flex; justify-content: space-between; gap: .5rem; flex-wrap: wrap; font-size: .9em; }
progress { width: 100%; height: .4rem; accent-color: var(--edge-accent, var(--_accent)); margin: .25rem 0 .5rem; }
progress[hidden] { display: none; }
.zone {
  display: grid; grid-template-columns: auto 1fr; align-items: center; gap: var(--edge-gap, 12px);
  border: 2px dashed var(--edge-border, var(--_border)); border-radius: var(--edge-radius, 10px);
  padding: var(--edge-gap, 12px); cursor: pointer; transition: border-color .15s, background-color .15s;
}
.zone:focus-visible, .zone.dragging { outline: none; border-color: var(--edge-accent, var(--_accent));
  background: color-mix(in srgb, var(--edge-accent, var(--_accent)) 8%, transparent); }
.zone:focus-visible { box-shadow: 0 0 0 3px color-mix(in srgb, var(--edge-accent, var(--_accent)) 40%, transparent); }
.media { width: var(--edge-preview-size, 140px); height: var(--edge-preview-size, 140px); border-radius: 6px;
  background: var(--edge-bar-bg, var(--_bar-bg)); overflow: hidden; display: grid; place-items: center; }
.media img, .media video { width: 100%; height: 100%; object-fit: contain; }
.media [hidden] { display: none; }
.hint { margin: 0; }
.hint strong { display: block; font-size: 1.05em; }
.link { color: var(--edge-accent, var(--_accent)); text-decoration: underline; }
.actions { display: flex; gap: .5rem; align-items: center; margin-top: .5rem; flex-wrap: wrap; }
button { font: inherit; font-size: .9em; padding: .25rem .75rem; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--edge-border, var(--_border)); background: transparent; color: inherit; }
button:focus-visible { outline: 2px solid var(--edge-accent, var(--_accent)); outline-offset: 2px; }
button[aria-pressed="true"] { background: var(--edge-accent, var(--_accent)); color: var(--edge-bg, var(--_bg)); }
button[hidden] { display: none; }
.live { font-variant-numeric: tabular-nums; font-size: .9em; }
.results { margin-top: .5rem; }
.headline { margin: 0 0 .35rem; font-weight: 600; overflow-wrap: anywhere; }
.top-k { list-style: none; margin: 0; padding: 0; display: grid; gap: .25rem; }
.top-k li { display: grid; grid-template-columns: minmax(6rem, 12rem) 1fr 3.8rem; gap: .5rem; align-items: center; font-size: .92em; }
.bar { height: .6rem; background: var(--edge-bar-bg, var(--_bar-bg)); border-radius: 4px; overflow: hidden; }
.bar > span { display: block; height: 100%; width: 0; background: var(--edge-bar, var(--_bar)); border-radius: 4px; transition: width .25s ease-out; }
.pct { text-align: right; font-variant-numeric: tabular-nums; }
.timings { border-collapse: collapse; margin-top: .5rem; font-size: .8em; font-variant-numeric: tabular-nums; }
.timings caption { text-align: left; caption-side: top; }
.timings th, .timings td { border: 1px solid var(--edge-border, var(--_border)); padding: .1rem .45rem; text-align: right; font-weight: 400; }
.error { color: var(--edge-error, var(--_error)); margin: .5rem 0 0; }
.retry { border-color: var(--edge-error, var(--_error)); }
.retry[aria-disabled="true"] { cursor: progress; color: var(--edge-muted, var(--_muted)); border-color: var(--edge-border, var(--_border)); }
[hidden] { display: none !important; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
:host([no-camera]) [part~="camera-button"] { display: none; }
:host([compact]) { padding: calc(var(--edge-gap, 12px) / 2); }
:host([compact]) .media { --edge-preview-size: 64px; }
:host([compact]) .hint span, :host([compact]) .timings, :host([compact]) .runtime { display: none; }
:host([compact]) .top-k li:nth-child(n + 4) { display: none; }
@media (prefers-reduced-motion: reduce) {
  .zone, .bar > span { transition: none; }
}
`;

let sheet = null;
function styleFor(root) {
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
    }
    root.adoptedStyleSheets = [sheet];
  } else {
    root.append(h('style', {}, CSS)); // older browsers; needs style-src 'unsafe-inline' under CSP
  }
}

/** Tiny DOM builder: h('p', {class: 'x', part: 'y'}, 'text', child). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((c) => c != null));
  return node;
}

let uid = 0;

/**
 * The `<edge-classifier>` element. Besides its attributes and events it offers
 * `classify(input, {signal})`, `startCamera()`, `stopCamera()`, and the read-only `state`,
 * `runtime` and `lastResult`.
 */
export class EdgeClassifierElement extends HTMLElement {
  static observedAttributes = ['src', 'model', 'top-k'];

  #ui;
  #classifier = null;
  #camera = null;
  #previewUrl = null;
  #pending = 0;
  #teardownQueued = false;
  #internals = null;
  #stateValue = 'idle';
  #loadFailed = false; // the runtime failed to load: Retry (or the next image) loads it again

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open', delegatesFocus: false });
    styleFor(root);
    this.#internals = typeof this.attachInternals === 'function' ? this.attachInternals() : null;
    /** Latest result shown, or null. */
    this.lastResult = null;
    /** Runtime facts once ready (threads, isolation, versions). */
    this.runtime = null;
    this.#ui = this.#render(root);
    this.#bind(root);
    // Bound once; frames go to whichever classifier the element has at the time.
    const current = {
      classify: (input, opts) => {
        if (!this.#classifier) return Promise.reject(new EdgeInferError(ErrorCode.DISPOSED, 'the element was removed'));
        return this.#classifier.classify(input, opts);
      },
    };
    this.#camera = bindCameraButton(this.#ui.cameraButton, current, {
      video: this.#ui.video,
      topK: CAMERA.topK,
      onState: (running) => this.#onCameraState(running),
      onResult: (result, stats) => this.#onCameraFrame(result, stats),
      onError: (err) => this.#fail(err),
    });
    this.#setState('idle');
  }

  /** 'idle' | 'loading' | 'ready' | 'busy' | 'error' (also exposed as CSS `:state(...)`). */
  get state() {
    return this.#stateValue;
  }

  connectedCallback() {
    this.#teardownQueued = false;
    if (!this.#classifier) this.#start();
  }

  disconnectedCallback() {
    // A move (remove + insert in the same task) keeps everything; a real removal releases it.
    this.#teardownQueued = true;
    queueMicrotask(() => {
      if (this.#teardownQueued && !this.isConnected) this.#teardown();
    });
  }

  attributeChangedCallback(name, oldValue, value) {
    // Before ready, the ready handler classifies whatever `src` is by then.
    if (name !== 'src' || !value || oldValue === value || !this.runtime) return;
    this.#classifyUi(value, inputName(value));
  }

  /**
   * Classify an image and show it, exactly as if the user had dropped it.
   * @param {import('./client.js').ClassifierInput} input
   * @param {{signal?: AbortSignal, silent?: boolean}} [opts] `silent`: no `result`/`error`
   *   event for this call (the promise reports it)
   * @returns {Promise<object>} the result (also sent as a `result` event unless silent)
   */
  classify(input, { signal, silent = false } = {}) {
    if (!this.#classifier) this.#start();
    return this.#classifyUi(input, inputName(input), { signal, rethrow: true, silent });
  }

  /** Start classifying the camera (no-op when running). Resolves once the camera streams. */
  async startCamera() {
    if (!this.#classifier) this.#start();
    await this.#camera.start();
  }

  /** Stop the camera and release it. */
  stopCamera() {
    this.#camera.stop();
  }

  /**
   * Load the runtime again after it failed to (what the "Retry loading" button does): the
   * classifier starts a fresh worker, so a file that is back now loads without a page reload.
   * While the runtime is loading or loaded, this only returns the current attempt.
   * @returns {Promise<object>} resolves like the `ready` event's detail, rejects with the error
   */
  retry() {
    if (!this.#classifier) {
      this.#start();
      return this.#classifier.ready;
    }
    if (!this.#loadFailed) return this.#classifier.ready;
    return this.#load(this.#classifier, this.#classifier.retry());
  }

  // ---------------------------------------------------------------- lifecycle

  #start() {
    const threads = this.getAttribute('threads');
    const classifier = createClassifier({
      model: this.getAttribute('model') || undefined,
      threads: threads ? Number(threads) : undefined,
      topK: this.#topK(),
      onProgress: (progress) => this.#onProgress(progress),
    });
    this.#classifier = classifier;
    this.#load(classifier, classifier.ready);
  }

  /**
   * Show one attempt to load the runtime: progress, then ready, or the error naming the file
   * that failed with the Retry button.
   * @returns {Promise<object>} `ready`, for retry() to hand back
   */
  #load(classifier, ready) {
    this.#loadFailed = false;
    if (this.#stateValue !== 'busy') this.#setState('loading');
    const { progress, status, retryButton, error } = this.#ui;
    progress.hidden = false;
    progress.value = 0;
    status.textContent = 'Loading…';
    error.hidden = true;
    if (!retryButton.hidden) {
      // While retrying the button stays (inert) rather than vanishing, so keyboard focus on
      // it is not dropped onto the page; it goes only once the runtime is ready.
      retryButton.setAttribute('aria-disabled', 'true');
      retryButton.textContent = 'Retrying…';
    }
    ready.then(
      (info) => {
        if (this.#classifier !== classifier) return;
        this.runtime = info.runtime;
        progress.hidden = true;
        status.textContent = `Ready: ${info.model.name}`;
        this.#hideRetry();
        const r = info.runtime;
        this.#ui.runtime.textContent = `${r.threads} thread${r.threads === 1 ? '' : 's'} · ${r.cross_origin_isolated ? 'cross-origin isolated' : 'not isolated'} · loaded in ${(info.startup_ms.ready / 1000).toFixed(1)} s`;
        if (this.#stateValue === 'loading') this.#setState('ready');
        this.#emit('ready', info);
        const src = this.getAttribute('src');
        if (src) this.#classifyUi(src, inputName(src));
      },
      (err) => {
        if (this.#classifier !== classifier) return;
        this.#loadFailed = true;
        progress.hidden = true;
        const file = err?.details?.file ? ` (${fileName(err.details.file)})` : '';
        status.textContent = `The classifier failed to load${file}.`;
        retryButton.hidden = false;
        retryButton.removeAttribute('aria-disabled');
        retryButton.textContent = 'Retry loading';
        this.#fail(err);
      },
    );
    return ready;
  }

  #hideRetry() {
    const { retryButton, zone } = this.#ui;
    if (retryButton.hidden) return;
    const focused = this.shadowRoot.activeElement === retryButton;
    retryButton.hidden = true;
    if (focused) zone.focus(); // the next thing to do is to give it an image
  }

  #teardown() {
    this.#camera.stop();
    this.#classifier?.dispose();
    this.#classifier = null;
    this.runtime = null;
    this.#pending = 0;
    this.#loadFailed = false;
    this.#ui.retryButton.hidden = true;
    if (this.#previewUrl) URL.revokeObjectURL(this.#previewUrl);
    this.#previewUrl = null;
    this.#setState('idle');
  }

  // ---------------------------------------------------------------- DOM

  #render(root) {
    const id = `edge-classifier-${++uid}`;
    const input = h('input', { type: 'file', accept: 'image/*', multiple: true, hidden: true, tabindex: -1 });
    const img = h('img', { part: 'preview', alt: '', hidden: true });
    const video = h('video', { part: 'video', hidden: true, muted: true, playsinline: true, 'aria-label': 'Camera' });
    const zone = h(
      'div',
      { class: 'zone', part: 'drop-zone', role: 'button', tabindex: 0, 'aria-describedby': `${id}-hint`,
        'aria-label': 'Choose, drop or paste an image to classify' },
      h('div', { class: 'media' }, img, video),
      h('p', { class: 'hint', id: `${id}-hint` },
        h('strong', {}, 'Drop an image here'),
        h('span', { class: 'muted' }, 'or ', h('span', { class: 'link' }, 'choose a file'), ', or paste one (Ctrl+V / ⌘V) while this is focused.')),
    );
    const status = h('span', { class: 'status-text' }, 'Loading…');
    const runtime = h('span', { class: 'runtime muted' });
    const progress = h('progress', { part: 'progress', max: 1, value: 0, 'aria-label': 'Loading progress' });
    const cameraButton = h('button', { type: 'button', part: 'button camera-button', 'aria-pressed': 'false' }, 'Start camera');
    const retryButton = h('button', { type: 'button', class: 'retry', part: 'button retry-button', hidden: true, 'aria-describedby': `${id}-error` }, 'Retry loading');
    const live = h('span', { class: 'live', part: 'camera-readout', hidden: true });
    const headline = h('p', { class: 'headline', part: 'headline' });
    const topK = h('ol', { class: 'top-k', part: 'top-k' });
    const timingCells = Object.fromEntries(STAGES.map((s) => [s, h('td', { 'data-stage': s })]));
    const timings = h(
      'table',
      { class: 'timings', part: 'timings', hidden: true },
      h('caption', { class: 'muted' }, 'Stage timings (ms)'),
      h('thead', {}, h('tr', {}, STAGES.map((s) => h('th', { scope: 'col' }, s)))),
      h('tbody', {}, h('tr', {}, STAGES.map((s) => timingCells[s]))),
    );
    const results = h('section', { class: 'results', part: 'results', 'aria-live': 'polite', 'aria-label': 'Classification result' }, headline, topK, timings);
    const error = h('p', { class: 'error', part: 'error', role: 'alert', id: `${id}-error`, hidden: true });
    root.append(
      h('div', { class: 'status', part: 'status' }, status, runtime),
      progress,
      zone,
      input,
      h('div', { class: 'actions' }, retryButton, cameraButton, live),
      results,
      error,
    );
    if (!navigator.mediaDevices?.getUserMedia) cameraButton.hidden = true;
    return { input, img, video, zone, status, runtime, progress, cameraButton, retryButton, live, headline, topK, timings, timingCells, results, error };
  }

  #bind(root) {
    const { zone, input, retryButton } = this.#ui;
    zone.addEventListener('click', () => input.click());
    retryButton.addEventListener('click', () => {
      if (retryButton.getAttribute('aria-disabled') !== 'true') this.retry().catch(() => {}); // shown by #load
    });
    zone.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        input.click();
      }
    });
    input.addEventListener('change', () => {
      this.#classifyFiles(input.files);
      input.value = ''; // the same file again fires change again
    });
    // Drops anywhere on the element count, not only on the zone; paste works while focus is
    // inside the element.
    acceptDroppedAndPastedFiles({ dropTarget: this, pasteTarget: root, zone, contains: (node) => this.contains(node), onFiles: (files) => this.#classifyFiles(files) });
  }

  // ---------------------------------------------------------------- work

  #topK() {
    const k = Number(this.getAttribute('top-k'));
    return Number.isInteger(k) && k > 0 ? k : DEFAULTS.topK;
  }

  #classifyFiles(files) {
    for (const file of files) this.#classifyUi(file, inputName(file, 'pasted image'));
  }

  async #classifyUi(input, name, { signal, rethrow = false, silent = false } = {}) {
    const classifier = this.#classifier;
    if (!classifier) return undefined;
    this.#camera.stop(); // an explicit image replaces the live view
    // After a failed load the classifier would start the runtime again by itself; doing it
    // here shows that attempt (progress, then ready or the failed file) like the button does.
    if (this.#loadFailed) this.#load(classifier, classifier.retry()).catch(() => {});
    this.#pending += 1;
    this.#setState('busy');
    this.#showPreview(input);
    this.#ui.headline.textContent = `Classifying ${name}…`;
    this.#ui.error.hidden = true;
    try {
      const result = await classifier.classify(input, { signal, topK: this.#topK(), model: this.getAttribute('model') || undefined });
      this.#showResult(result, name);
      if (!silent) this.#emit('result', result);
      return result;
    } catch (err) {
      // After removal the element is quiet: its pending calls end with E_DISPOSED.
      if (this.#classifier === classifier) this.#fail(err, name, silent);
      if (rethrow) throw err;
      return undefined;
    } finally {
      if (this.#classifier === classifier) {
        this.#pending -= 1;
        if (!this.#pending && this.#stateValue === 'busy') this.#setState('ready');
      }
    }
  }

  #showPreview(input) {
    const { img, video } = this.#ui;
    if (this.#previewUrl) URL.revokeObjectURL(this.#previewUrl);
    this.#previewUrl = null;
    let src = null;
    if (input instanceof Blob && (!input.type || input.type.startsWith('image/'))) src = this.#previewUrl = URL.createObjectURL(input);
    else if (typeof input === 'string' || input instanceof URL) src = new URL(input, location.href).href;
    else if (input instanceof HTMLImageElement) src = input.currentSrc || input.src;
    video.hidden = true;
    img.hidden = !src;
    if (src) {
      img.src = src;
      img.alt = 'Preview of the image being classified';
    } else {
      img.removeAttribute('src');
    }
  }

  #showResult(result, name) {
    this.lastResult = result;
    const { headline, topK, timings, timingCells } = this.#ui;
    headline.textContent = `${name}: ${result.label} (${pct(result.confidence)})`;
    topK.replaceChildren(...result.top_k.map((entry) => this.#bar(entry)));
    for (const stage of STAGES) timingCells[stage].textContent = (result.timings_ms[stage] ?? 0).toFixed(1);
    timings.hidden = false;
  }

  #bar({ label, probability }) {
    const fill = h('span');
    fill.style.width = `${(probability * 100).toFixed(2)}%`; // CSSOM: allowed under a strict CSP
    return h('li', {}, h('span', { class: 'label' }, label), h('span', { class: 'bar', 'aria-hidden': 'true' }, fill), h('span', { class: 'pct' }, pct(probability)));
  }

  #onProgress(progress) {
    const { state, stages, loaded, total } = progress;
    if (state === 'loading') {
      this.#ui.status.textContent = `${loadingText(stages)} ${total ? `${mb(loaded)} / ${mb(total)} MB` : ''}`;
      this.#ui.progress.max = total || 1;
      this.#ui.progress.value = Math.min(loaded, total || 0);
    }
    this.#emit('progress', progress);
  }

  #onCameraState(running) {
    const { video, img, live, results } = this.#ui;
    video.hidden = !running;
    live.hidden = !running;
    if (running) {
      img.hidden = true;
      live.textContent = 'Starting…';
      results.setAttribute('aria-live', 'off'); // a result per frame would flood screen readers
    } else {
      results.setAttribute('aria-live', 'polite');
    }
  }

  #onCameraFrame(result, stats) {
    this.#ui.live.textContent = `${result.label} · ${pct(result.confidence)} · ${stats.fps.toFixed(1)} fps`;
    this.#ui.live.dataset.fps = stats.fps.toFixed(2);
    this.#showResult(result, 'Camera');
    this.#emit('result', result);
  }

  #fail(err, name, silent = false) {
    const code = err?.code ?? 'E_INTERNAL';
    const message = err?.message ?? String(err);
    this.#ui.error.textContent = name ? `${name}: ${message}` : message;
    this.#ui.error.hidden = false;
    this.#ui.headline.textContent = '';
    this.#setState('error');
    if (!silent) this.#emit('error', { code, message });
  }

  #setState(state) {
    this.#stateValue = state;
    const states = this.#internals?.states;
    if (!states) return;
    try {
      for (const s of ['idle', 'loading', 'ready', 'busy', 'error']) states.delete(s);
      states.add(state);
    } catch {
      // Older engines only accept `--state` custom-state names; the `state` property still works.
    }
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

/**
 * Define `<edge-classifier>` once, even if this module is loaded twice (for example from two
 * URLs): the first definition wins.
 * @returns {typeof EdgeClassifierElement}
 */
export function defineEdgeClassifier() {
  if (!customElements.get(TAG)) customElements.define(TAG, EdgeClassifierElement);
  return customElements.get(TAG);
}
