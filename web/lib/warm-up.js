/**
 * One pass of the image path without inference, taken before the runtime reports ready: the
 * first call of each numpy path is several times slower than later ones.
 */
import { DEFAULTS } from './config.js';
import { decodeToRGBA, fastResize } from './decode.js';
import { ErrorCode } from './errors.js';

/**
 * Decode a generated JPEG with the browser's resampling (the fast path, which the first image
 * takes; exact mode warms on first use) and run Python's begin/end on it. The model is
 * removed again: the runtime registers it with its session.
 *
 * A model with Python hooks gets the full pixels, as in a classification, and its hooks
 * run: a hook that refuses this generated image (E_HOOK) does not fail the boot.
 * @param {import('./python-host.js').PythonHost} python
 * @param {object} model the boot model's manifest entry
 * @param {string | null} [hooks] its verified Python hooks file, if the entry names one
 */
export async function warmUpPython(python, model, hooks = null) {
  const resize = model.hooks ? undefined : fastResize(model.preprocess);
  const pixels = await decodeToRGBA(await warmUpJpeg(), 'warm-up', { resize });
  const logits = new Float32Array(model.output.shape.at(-1));
  python.addModel(model.id, hooks);
  try {
    const facts = { mode: model.hooks ? 'exact' : 'fast', topK: DEFAULTS.topK, decodeMs: 0, queueWaitMs: 0, started: performance.now() };
    await python.classify(model.id, pixels, facts, async (input) => {
      input.fill(0, 0, 1); // touch the view as a classification does
      return { logits, runMs: 0 };
    });
  } catch (err) {
    if (err.code !== ErrorCode.HOOK) throw err;
  } finally {
    python.removeModel(model.id);
  }
}

/** A 320x240 JPEG made here, so the warm-up takes a photo's path: header check, decode, resize. */
async function warmUpJpeg() {
  const canvas = new OffscreenCanvas(320, 240);
  const ctx = canvas.getContext('2d');
  const gradient = ctx.createLinearGradient(0, 0, 320, 240);
  gradient.addColorStop(0, '#203040');
  gradient.addColorStop(1, '#c08060');
  ctx.fillStyle = gradient;
  ctx.fillRect(0, 0, 320, 240);
  return canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
}
