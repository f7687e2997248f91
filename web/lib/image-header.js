/**
 * Reads an image file's header without decoding it: format, pixel size, and whether the
 * file ends where its format says it must. Lets the worker refuse truncated files, SVG and
 * over-budget images before the browser allocates anything.
 */

/** Bytes read from the start and the end of the file. */
const HEAD_BYTES = 256 * 1024;
const TAIL_BYTES = 4096;

/**
 * @typedef {object} ImageHeader
 * @property {string} format 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'svg' | 'avif' | 'unknown'
 * @property {number} [width] pixel width when the header states it
 * @property {number} [height] pixel height when the header states it
 * @property {boolean} truncated true when the file provably ends early
 */

/**
 * Inspect a Blob's header and tail.
 * @param {Blob} blob
 * @returns {Promise<ImageHeader>}
 */
export async function inspectImage(blob) {
  const head = new Uint8Array(await blob.slice(0, HEAD_BYTES).arrayBuffer());
  const tail = new Uint8Array(await blob.slice(Math.max(0, blob.size - TAIL_BYTES)).arrayBuffer());
  return inspectBytes(head, tail, blob.size);
}

/**
 * Inspect raw bytes (exported for tests).
 * @param {Uint8Array} head first bytes of the file
 * @param {Uint8Array} tail last bytes of the file
 * @param {number} size file size in bytes
 * @returns {ImageHeader}
 */
export function inspectBytes(head, tail, size) {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const at = (i, ...bytes) => bytes.every((b, k) => head[i + k] === b);
  const ascii = (i, n) => String.fromCharCode(...head.subarray(i, i + n));

  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) {
    const ok = head.length >= 24;
    // The last chunk must be IEND: length 0, "IEND", CRC AE426082.
    const endsWell = endsWith(tail, [0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
    return { format: 'png', width: ok ? view.getUint32(16) : undefined, height: ok ? view.getUint32(20) : undefined, truncated: !endsWell };
  }
  if (at(0, 0xff, 0xd8, 0xff)) {
    return { format: 'jpeg', ...jpegSize(head, view), truncated: !containsEoi(tail) };
  }
  if (ascii(0, 4) === 'GIF8') {
    // Trailer 0x3B ends every GIF; encoders may pad with zeros after it.
    const endsWell = trimZeros(tail).at(-1) === 0x3b;
    return { format: 'gif', width: view.getUint16(6, true), height: view.getUint16(8, true), truncated: !endsWell };
  }
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
    const declared = view.getUint32(4, true) + 8;
    return { format: 'webp', ...webpSize(head, view, ascii), truncated: size < declared };
  }
  if (ascii(0, 2) === 'BM' && head.length >= 26) {
    const declared = view.getUint32(2, true);
    return { format: 'bmp', width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)), truncated: declared > 0 && size < declared };
  }
  if (ascii(4, 4) === 'ftyp' && /avif|avis/.test(ascii(8, 4))) return { format: 'avif', truncated: false };
  if (looksLikeSvg(head)) return { format: 'svg', truncated: false };
  return { format: 'unknown', truncated: false };
}

function jpegSize(head, view) {
  // Walk the segments to the first SOFn marker, which holds the frame size.
  let i = 2;
  while (i + 9 < head.length) {
    if (head[i] !== 0xff) return {};
    const marker = head[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    const length = view.getUint16(i + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isSof) return { height: view.getUint16(i + 5), width: view.getUint16(i + 7) };
    i += 2 + length;
  }
  return {};
}

function webpSize(head, view, ascii) {
  const chunk = ascii(12, 4);
  if (chunk === 'VP8X' && head.length >= 30) {
    const w = 1 + (head[24] | (head[25] << 8) | (head[26] << 16));
    const h = 1 + (head[27] | (head[28] << 8) | (head[29] << 16));
    return { width: w, height: h };
  }
  if (chunk === 'VP8 ' && head.length >= 30) return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  if (chunk === 'VP8L' && head.length >= 25) {
    const bits = view.getUint32(21, true);
    return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  return {};
}

function containsEoi(tail) {
  // EOI (FFD9) ends the image; some cameras append data after it, so search the tail.
  for (let i = tail.length - 2; i >= 0; i -= 1) if (tail[i] === 0xff && tail[i + 1] === 0xd9) return true;
  return false;
}

function endsWith(bytes, suffix) {
  const trimmed = trimZeros(bytes);
  if (trimmed.length < suffix.length) return false;
  const start = trimmed.length - suffix.length;
  return suffix.every((b, k) => trimmed[start + k] === b);
}

function trimZeros(bytes) {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end -= 1;
  return bytes.subarray(0, end);
}

function looksLikeSvg(head) {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head.subarray(0, 4096)).trimStart().toLowerCase();
  return text.startsWith('<svg') || ((text.startsWith('<?xml') || text.startsWith('<!doctype svg')) && text.includes('<svg'));
}
