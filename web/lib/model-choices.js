/**
 * The page's side of "try your own model" (web/app.js): which of the dropped files is the
 * model and which the labels, and the preprocessing form turned into a ModelSpec's
 * `preprocess` and `output` blocks (client.js). Python validates the blocks; nothing here
 * checks them.
 */
import { USER_MODEL } from './config.js';

/**
 * Sort dropped or picked files into the model (the first `.onnx`) and its labels (the first
 * other file).
 * @param {Iterable<File>} files
 * @returns {{model: File|null, labels: File|null}}
 */
export function splitModelFiles(files) {
  const list = [...files];
  const isOnnx = (file) => /\.onnx$/i.test(file.name);
  return { model: list.find(isOnnx) ?? null, labels: list.find((file) => !isOnnx(file)) ?? null };
}

/** Whether dropped files hold a model (then they go to the model, not the classifier). */
export function holdsModel(files) {
  return splitModelFiles(files).model !== null;
}

/**
 * Numbers typed in a field, separated by commas or spaces ("0.485, 0.456, 0.406"); what is
 * not a number stays NaN for Python to refuse, naming the field.
 * @param {string} text
 * @returns {number[]}
 */
export function parseNumbers(text) {
  return text.split(/[\s,]+/).filter(Boolean).map(Number);
}

/**
 * A ModelSpec's `preprocess` and `output` from the form's choices (defaults: USER_MODEL).
 * @param {{size: number, resize: 'shorter_side'|'stretch', channelOrder: string, layout: string,
 *   mean: number[], std: number[], activation: string}} choices
 * @returns {{preprocess: object, output: {activation: string}}} manifest-schema blocks
 */
export function specBlocks({ size, resize, channelOrder, layout, mean, std, activation }) {
  const resizeBlock = { mode: resize, interpolation: 'bilinear', antialias: true };
  if (resize === 'shorter_side') resizeBlock.shorter_side = Math.round(size / USER_MODEL.cropRatio);
  return {
    preprocess: { resize: resizeBlock, crop: { height: size, width: size }, scale: USER_MODEL.scale, mean, std, layout, channel_order: channelOrder },
    output: { activation },
  };
}
