/**
 * Image dimensions from the file header (JPEG, PNG), without decoding, so the decode can
 * resize to the right size in one `createImageBitmap` call. EXIF orientations that turn the
 * image by 90 degrees swap width and height, as `imageOrientation: 'from-image'` does.
 */

const HEAD_BYTES = 256 * 1024;

/**
 * Displayed width and height of an encoded image, or null when the header is not understood.
 * @param {Blob} blob
 * @returns {Promise<{width: number, height: number} | null>}
 */
export async function imageSize(blob) {
  const view = new DataView(await blob.slice(0, HEAD_BYTES).arrayBuffer());
  try {
    return pngSize(view) ?? jpegSize(view);
  } catch {
    return null; // truncated or odd header: the caller decodes to find out
  }
}

function pngSize(view) {
  const isPng = view.byteLength >= 24 && view.getUint32(0) === 0x89504e47 && view.getUint32(12) === 0x49484452;
  return isPng ? { width: view.getUint32(16), height: view.getUint32(20) } : null;
}

function jpegSize(view) {
  if (view.byteLength < 4 || view.getUint16(0) !== 0xffd8) return null;
  let orientation = 1;
  let offset = 2;
  while (offset + 4 <= view.byteLength) {
    if (view.getUint8(offset) !== 0xff) return null;
    const marker = view.getUint8(offset + 1);
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2; // no length field
      continue;
    }
    const length = view.getUint16(offset + 2);
    if (marker === 0xe1) orientation = exifOrientation(view, offset + 4, length - 2) ?? orientation;
    if (isStartOfFrame(marker)) {
      const height = view.getUint16(offset + 5);
      const width = view.getUint16(offset + 7);
      return orientation >= 5 ? { width: height, height: width } : { width, height };
    }
    offset += 2 + length;
  }
  return null;
}

function isStartOfFrame(marker) {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function exifOrientation(view, start, length) {
  const isExif = length >= 14 && view.getUint32(start) === 0x45786966 && view.getUint16(start + 4) === 0;
  if (!isExif) return null;
  const tiff = start + 6;
  const little = view.getUint16(tiff) === 0x4949;
  const ifd = tiff + view.getUint32(tiff + 4, little);
  const count = view.getUint16(ifd, little);
  for (let i = 0; i < count; i += 1) {
    const entry = ifd + 2 + i * 12;
    if (view.getUint16(entry, little) === 0x0112) return view.getUint16(entry + 8, little);
  }
  return null;
}
