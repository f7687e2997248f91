/**
 * What the page accepts as an image, turned into what the inference worker decodes: Blobs go
 * as they are, pixel sources become a transferred ImageBitmap, URLs are fetched here, and the
 * classic raw RGB JSON request becomes RGBA pixels.
 */
import { EdgeInferError, ErrorCode, abortError } from './errors.js';

const BITMAP_OPTIONS = { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' };

/** Free what a prepared input holds (a bitmap that will never be sent). */
export function closePrepared(prepared) {
  if (typeof ImageBitmap !== 'undefined' && prepared?.image instanceof ImageBitmap) prepared.image.close();
}

const isInstance = (value, name) => typeof globalThis[name] === 'function' && value instanceof globalThis[name];
const PIXEL_SOURCES = ['ImageBitmap', 'HTMLImageElement', 'HTMLCanvasElement', 'HTMLVideoElement', 'OffscreenCanvas'];

/**
 * Turn any accepted input into something the worker decodes: Blobs go as they are (the worker
 * decodes them); pixel sources become a transferred ImageBitmap; URLs are fetched here.
 */
export async function toWorkerInput(input, signal) {
  if (isRawRgbRequest(input)) return rawRgbToWorkerInput(input);
  if (input instanceof Blob) {
    return { image: input, name: input.name || 'image', decodeMs: 0, transfer: [] };
  }
  if (typeof input === 'string' || input instanceof URL) {
    const url = new URL(input, location.href);
    let blob;
    try {
      const response = await fetch(url, { signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      blob = await response.blob();
    } catch (err) {
      if (signal?.aborted) throw abortError(signal);
      throw new EdgeInferError(ErrorCode.INPUT, `cannot fetch ${url.href} (it must be same-origin or send CORS headers): ${err.message}`);
    }
    return { image: blob, name: url.pathname.split('/').pop() || url.href, decodeMs: 0, transfer: [] };
  }
  if (isInstance(input, 'ImageData')) {
    return { image: { data: input.data, width: input.width, height: input.height }, name: 'ImageData', decodeMs: 0, transfer: [] };
  }
  if (!PIXEL_SOURCES.some((name) => isInstance(input, name))) {
    throw new EdgeInferError(ErrorCode.INPUT, `unsupported input type ${Object.prototype.toString.call(input)}`);
  }
  const kind = input.constructor.name;
  if (isInstance(input, 'HTMLVideoElement') && input.readyState < 2) {
    throw new EdgeInferError(ErrorCode.INPUT, 'the video has no frame to classify yet');
  }
  const t0 = performance.now();
  let bitmap;
  try {
    if (isInstance(input, 'HTMLImageElement')) await input.decode();
    bitmap = await createImageBitmap(input, BITMAP_OPTIONS); // a copy: the caller keeps theirs
  } catch (err) {
    throw new EdgeInferError(ErrorCode.DECODE, `the ${kind} could not be read: ${err.message}`);
  }
  assertReadable(bitmap, kind);
  return { image: bitmap, name: kind, decodeMs: performance.now() - t0, transfer: [bitmap] };
}

let probe = null;

/**
 * Cross-origin pixels without CORS make a "tainted" bitmap that the worker could draw but
 * never read. Read one pixel here to fail early with a message that says what to fix.
 */
function assertReadable(bitmap, kind) {
  probe ??= new OffscreenCanvas(1, 1).getContext('2d', { willReadFrequently: true });
  try {
    probe.drawImage(bitmap, 0, 0, 1, 1, 0, 0, 1, 1);
    probe.getImageData(0, 0, 1, 1);
  } catch (err) {
    bitmap.close();
    if (err?.name !== 'SecurityError') throw err;
    throw new EdgeInferError(
      ErrorCode.INPUT,
      `the ${kind} holds cross-origin pixels without CORS; serve the image with CORS and set crossorigin="anonymous"`,
    );
  }
}

/** The classic raw RGB JSON request: `{image_data, width, height, model_id}`. */
export function isRawRgbRequest(input) {
  return input !== null && typeof input === 'object' && 'image_data' in input && !ArrayBuffer.isView(input);
}

/**
 * Validate a raw RGB request (RGB 0..255, row-major, width*height*3 numbers) and turn it into
 * RGBA pixels. Errors match the CPython host's `serve-json`.
 */
function rawRgbToWorkerInput({ image_data: data, width, height }) {
  for (const [name, value] of [['width', width], ['height', height]]) {
    if (!Number.isInteger(value) || value < 1) throw new EdgeInferError(ErrorCode.INPUT, `${name} must be a positive integer, got ${value}`);
  }
  if (!Array.isArray(data) && !ArrayBuffer.isView(data)) {
    throw new EdgeInferError(ErrorCode.INPUT, 'image_data must be a list of RGB values 0..255');
  }
  const expected = width * height * 3;
  if (data.length !== expected) {
    throw new EdgeInferError(ErrorCode.INPUT, `image_data has ${data.length} values; width*height*3 = ${width}*${height}*3 = ${expected}`);
  }
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < expected; i += 3, j += 4) {
    for (let c = 0; c < 3; c += 1) {
      const v = data[i + c];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new EdgeInferError(ErrorCode.INPUT, `image_data[${i + c}] is ${v}, not a finite number`);
      if (v < 0 || v > 255) throw new EdgeInferError(ErrorCode.INPUT, `image_data[${i + c}] is ${v}, outside 0..255`);
      rgba[j + c] = roundHalfEven(v); // as numpy's rint in the CPython host
    }
    rgba[j + 3] = 255;
  }
  return { image: { data: rgba, width, height }, name: 'image_data', decodeMs: 0, transfer: [rgba.buffer] };
}

function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
