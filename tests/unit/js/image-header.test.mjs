// Unit tests (node --test) for the header sniffing that guards the decoder.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { inspectBytes } from '../../../web/lib/image-header.js';
import { resizedSize } from '../../../web/lib/decode.js';

const u8 = (...bytes) => new Uint8Array(bytes);
const ascii = (text) => new TextEncoder().encode(text);
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const inspect = (bytes) => inspectBytes(bytes, bytes.subarray(Math.max(0, bytes.length - 4096)), bytes.length);

function png(width, height, { complete = true } = {}) {
  const ihdr = new Uint8Array(25);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, 13);
  ihdr.set(ascii('IHDR'), 4);
  view.setUint32(8, width);
  view.setUint32(12, height);
  const iend = u8(0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82);
  return concat(u8(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), ihdr, complete ? iend : u8());
}

function jpeg(width, height, { complete = true } = {}) {
  const app0 = concat(u8(0xff, 0xe0, 0x00, 0x10), ascii('JFIF\0'), new Uint8Array(9));
  const sof0 = u8(0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 255, width >> 8, width & 255, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1);
  return concat(u8(0xff, 0xd8), app0, sof0, new Uint8Array(100), complete ? u8(0xff, 0xd9) : u8());
}

test('PNG: size from IHDR, complete only with IEND', () => {
  assert.deepEqual(inspect(png(451, 300)), { format: 'png', width: 451, height: 300, truncated: false });
  assert.equal(inspect(png(451, 300, { complete: false })).truncated, true);
  assert.equal(inspect(png(20000, 20000)).width, 20000);
});

test('JPEG: size from the first SOF segment, complete only with EOI', () => {
  assert.deepEqual(inspect(jpeg(640, 427)), { format: 'jpeg', width: 640, height: 427, truncated: false });
  assert.equal(inspect(jpeg(640, 427, { complete: false })).truncated, true);
});

test('GIF: size from the logical screen, complete only with the trailer', () => {
  const gif = concat(ascii('GIF89a'), u8(0x2c, 0x01, 0x90, 0x00), new Uint8Array(20), u8(0x3b));
  assert.deepEqual(inspect(gif), { format: 'gif', width: 300, height: 144, truncated: false });
  assert.equal(inspect(gif.subarray(0, gif.length - 1)).truncated, true);
});

test('SVG is recognised with or without an XML prolog', () => {
  assert.equal(inspect(ascii('<svg xmlns="http://www.w3.org/2000/svg"/>')).format, 'svg');
  assert.equal(inspect(ascii('  <?xml version="1.0"?>\n<svg></svg>')).format, 'svg');
  assert.equal(inspect(ascii('<?xml version="1.0"?><rss/>')).format, 'unknown');
});

test('text and random bytes are unknown, not truncated', () => {
  assert.deepEqual(inspect(ascii('shopping list')), { format: 'unknown', truncated: false });
});

test('resizedSize truncates the longer side like torchvision', () => {
  assert.deepEqual(resizedSize(451, 300, 256), { width: 384, height: 256 });
  assert.deepEqual(resizedSize(300, 451, 256), { width: 256, height: 384 });
  assert.deepEqual(resizedSize(1024, 768, 256), { width: 341, height: 256 });
  assert.deepEqual(resizedSize(1, 1, 256), { width: 256, height: 256 });
});
