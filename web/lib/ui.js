/**
 * UI pieces the page (web/app.js) and `<edge-classifier>` (element.js) share: how boot
 * stages, file names, probabilities and sizes are shown, and how dropped or pasted files
 * reach the classifier.
 */

/** What each boot stage (boot.js BOOT_STAGES) is called in a status line. */
const STAGE_NAMES = Object.freeze({
  config: 'configuration',
  pyodide: 'Python runtime (Pyodide)',
  numpy: 'numpy',
  package: 'edge_infer package',
  onnxruntime: 'onnxruntime-web',
  model: 'model',
  session: 'inference session',
  warmup: 'warm-up run',
});

/** "Loading numpy, model…" for a progress report's active stages. */
export function loadingText(stages) {
  const names = stages.map((s) => STAGE_NAMES[s] ?? s);
  return names.length ? `Loading ${names.join(', ')}…` : 'Loading…';
}

/** The last path segment of a URL, for short messages (the error has the full URL). */
export function fileName(url) {
  return String(url).split(/[?#]/)[0].split('/').filter(Boolean).pop() ?? String(url);
}

/** What to call an input in a result or an error: a file's name, a URL's last segment. */
export function inputName(input, fallback = 'image') {
  if (typeof input === 'string' || input instanceof URL) return fileName(input) || String(input);
  return input?.name || fallback;
}

/** A probability as a percentage with one decimal. */
export const percent = (p) => `${(p * 100).toFixed(1)}%`;

/** Bytes as megabytes with one decimal (no unit). */
export const megabytes = (bytes) => (bytes / 1e6).toFixed(1);

/**
 * Classify what is dropped on `dropTarget` or pasted into `pasteTarget`, marking `zone` while
 * a drag is over the target.
 * @param {{dropTarget: EventTarget, pasteTarget: EventTarget, zone: Element,
 *   contains?: (node: Node|null) => boolean, onFiles: (files: File[]|FileList) => void}} opts
 *   `contains`: whether a node is still inside the target (a drag moving onto a child is not
 *   a leave)
 */
export function acceptDroppedAndPastedFiles({ dropTarget, pasteTarget, zone, contains = () => false, onFiles }) {
  dropTarget.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('dragging');
  });
  dropTarget.addEventListener('dragleave', (event) => {
    if (!event.relatedTarget || !contains(event.relatedTarget)) zone.classList.remove('dragging');
  });
  dropTarget.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    onFiles(event.dataTransfer?.files ?? []);
  });
  pasteTarget.addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.items ?? [])]
      .filter((item) => item.kind === 'file')
      .map((item) => item.getAsFile())
      .filter(Boolean);
    if (files.length) {
      event.preventDefault();
      onFiles(files);
    }
  });
}
