/**
 * Image decoding to RGBA pixels with the browser's own decoders. Runs in the worker.
 */
import { LIMITS } from './config.js';
import { EdgeInferError, ErrorCode } from './errors.js';
import { inspectImage } from './image-header.js';

/** Largest image decoded, in pixels (config.js LIMITS.decodePixels): larger files are
 * refused from their header, before the browser allocates anything. */
export const MAX_PIXELS = LIMITS.decodePixels;

const RASTER_FORMATS = 'PNG, JPEG, GIF, WebP, BMP or AVIF';

/** Options that keep pixel values as stored: no colour management, no premultiplication. */
export const BITMAP_OPTIONS = Object.freeze({
  imageOrientation: 'from-image',
  premultiplyAlpha: 'none',
  colorSpaceConversion: 'none',
});

let canvas = null;
let context = null;

/**
 * Size after resizing the shorter side to `shorterSide`, truncating the longer side exactly
 * like torchvision (and `edge_infer.preprocess.resized_size`).
 * @param {number} width
 * @param {number} height
 * @param {number} shorterSide
 * @returns {{width: number, height: number}}
 */
export function resizedSize(width, height, shorterSide) {
  if (height <= width) return { width: Math.max(1, Math.trunc((shorterSide * width) / height)), height: shorterSide };
  return { width: shorterSide, height: Math.max(1, Math.trunc((shorterSide * height) / width)) };
}

/**
 * @typedef {{shorterSide: number} | {width: number, height: number}} Resize
 * What the browser resizes to in fast mode: the shorter side (the longer one follows), or an
 * exact size for a model that stretches its input.
 */

/**
 * Fast mode's resize for a manifest `preprocess` block, as `edge_infer.preprocess.target_size`
 * computes it: the shorter side, or the whole input size for a stretched model.
 * @param {{resize: {mode?: string, shorter_side?: number}, crop: {width: number, height: number}}} preprocess
 * @returns {Resize}
 */
export function fastResize(preprocess) {
  if (preprocess.resize.mode === 'stretch') return { width: preprocess.crop.width, height: preprocess.crop.height };
  return { shorterSide: preprocess.resize.shorter_side };
}

/**
 * Decode an image to RGBA pixels.
 *
 * With `resize`, the browser resamples while drawing (high-quality smoothing, i.e.
 * antialiased), so only the small resized image crosses into Python: the "fast" mode. Without
 * it the full-resolution pixels are returned and numpy resizes them ("exact" mode, which
 * matches Pillow/torchvision).
 * @param {Blob | ImageBitmap | {data: Uint8ClampedArray, width: number, height: number}} source
 * @param {string} [name] shown in error messages
 * @param {{resize?: Resize}} [options]
 * @returns {Promise<{rgba: Uint8ClampedArray, width: number, height: number, sourceWidth: number, sourceHeight: number}>}
 */
export async function decodeToRGBA(source, name = 'image', { resize } = {}) {
  if (isPixels(source)) {
    const pixels = checkPixels(source, name);
    if (!resize) return { ...pixels, sourceWidth: pixels.width, sourceHeight: pixels.height };
    source = await createImageBitmap(new ImageData(pixels.rgba, pixels.width, pixels.height), BITMAP_OPTIONS);
  }
  let bitmap = source;
  if (source instanceof Blob) {
    if (source.size === 0) throw new EdgeInferError(ErrorCode.DECODE, `${name} is empty (0 bytes)`);
    await checkHeader(source, name);
    try {
      bitmap = await createImageBitmap(source, BITMAP_OPTIONS);
    } catch {
      const type = source.type || 'unknown type';
      throw new EdgeInferError(
        ErrorCode.DECODE,
        `${name} could not be decoded as an image (${type}, ${source.size} bytes); this browser reads ${RASTER_FORMATS}`,
      );
    }
  } else if (!(source instanceof ImageBitmap)) {
    throw new EdgeInferError(ErrorCode.INPUT, `unsupported input for ${name}`);
  }
  try {
    const sourceWidth = bitmap.width;
    const sourceHeight = bitmap.height;
    if (!sourceWidth || !sourceHeight) throw new EdgeInferError(ErrorCode.DECODE, `${name} has no pixels`);
    let target = { width: sourceWidth, height: sourceHeight };
    if (resize) target = 'shorterSide' in resize ? resizedSize(sourceWidth, sourceHeight, resize.shorterSide) : resize;
    return { ...drawToRGBA(bitmap, target.width, target.height), sourceWidth, sourceHeight };
  } finally {
    bitmap.close();
  }
}

/** Refuse, from the header alone, files that cannot or must not be decoded. */
async function checkHeader(blob, name) {
  const header = await inspectImage(blob);
  if (header.format === 'svg') {
    throw new EdgeInferError(
      ErrorCode.UNSUPPORTED_FORMAT,
      `${name} is an SVG (vector) image; edge-infer classifies raster images (${RASTER_FORMATS}). Export it to PNG first.`,
    );
  }
  if (header.truncated) {
    throw new EdgeInferError(ErrorCode.DECODE, `${name} is truncated: the ${header.format.toUpperCase()} data ends early (${blob.size} bytes)`);
  }
  const pixels = (header.width ?? 0) * (header.height ?? 0);
  if (pixels > MAX_PIXELS) {
    throw new EdgeInferError(
      ErrorCode.TOO_LARGE,
      `${name} is ${header.width}×${header.height} (${(pixels / 1e6).toFixed(0)} megapixels); the limit is ${MAX_PIXELS / 1e6} megapixels`,
      { width: header.width, height: header.height, maxPixels: MAX_PIXELS },
    );
  }
}

function drawToRGBA(bitmap, width, height) {
  if (!canvas) {
    canvas = new OffscreenCanvas(width, height);
    context = canvas.getContext('2d', { willReadFrequently: true });
  } else if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width; // resizing also clears
    canvas.height = height;
  } else {
    context.clearRect(0, 0, width, height);
  }
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, width, height);
  const { data } = context.getImageData(0, 0, width, height);
  return { rgba: data, width, height };
}

function isPixels(source) {
  return source && !(source instanceof Blob) && ArrayBuffer.isView(source.data);
}

function checkPixels({ data, width, height }, name) {
  if (!(width > 0 && height > 0 && data.length === width * height * 4)) {
    throw new EdgeInferError(
      ErrorCode.INPUT,
      `${name}: expected ${width}x${height}x4 = ${width * height * 4} RGBA bytes, got ${data.length}`,
    );
  }
  const rgba = data instanceof Uint8ClampedArray ? data : new Uint8ClampedArray(data.buffer, data.byteOffset, data.length);
  return { rgba, width, height };
}
