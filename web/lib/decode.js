/**
 * Image decoding to RGBA pixels with the browser's own decoders. Runs in the worker.
 */
import { EdgeInferError, ErrorCode } from './errors.js';

/** Options that keep pixel values as stored: no colour management, no premultiplication. */
export const BITMAP_OPTIONS = Object.freeze({
  imageOrientation: 'from-image',
  premultiplyAlpha: 'none',
  colorSpaceConversion: 'none',
});

let canvas = null;
let context = null;

/**
 * Decode an image to RGBA pixels.
 * @param {Blob | ImageBitmap | {data: Uint8ClampedArray, width: number, height: number}} source
 * @param {string} [name] shown in error messages
 * @returns {Promise<{rgba: Uint8ClampedArray, width: number, height: number}>}
 */
export async function decodeToRGBA(source, name = 'image') {
  if (isPixels(source)) return checkPixels(source, name);
  let bitmap = source;
  if (source instanceof Blob) {
    if (source.size === 0) throw new EdgeInferError(ErrorCode.DECODE, `${name} is empty (0 bytes)`);
    try {
      bitmap = await createImageBitmap(source, BITMAP_OPTIONS);
    } catch {
      const type = source.type || 'unknown type';
      throw new EdgeInferError(
        ErrorCode.DECODE,
        `${name} could not be decoded as an image (${type}, ${source.size} bytes)`,
      );
    }
  } else if (!(source instanceof ImageBitmap)) {
    throw new EdgeInferError(ErrorCode.INPUT, `unsupported input for ${name}`);
  }
  try {
    return drawToRGBA(bitmap);
  } finally {
    bitmap.close();
  }
}

function drawToRGBA(bitmap) {
  const { width, height } = bitmap;
  if (!width || !height) throw new EdgeInferError(ErrorCode.DECODE, 'the image has no pixels');
  if (!canvas) {
    canvas = new OffscreenCanvas(width, height);
    context = canvas.getContext('2d', { willReadFrequently: true });
  } else if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width; // resizing also clears
    canvas.height = height;
  } else {
    context.clearRect(0, 0, width, height);
  }
  context.drawImage(bitmap, 0, 0);
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
