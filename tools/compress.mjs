/**
 * Brotli-compress files for tools/encode.py (Node's own zlib: no extra package to pin).
 *
 *     node tools/compress.mjs QUALITY SRC DST [SRC DST ...]
 *
 * Writes each DST through a temporary name, and only after the compressed bytes decompress
 * back to SRC's bytes exactly. Prints nothing on success; exits non-zero on any failure.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';

const [quality, ...paths] = process.argv.slice(2);
if (!/^\d+$/.test(quality ?? '') || paths.length === 0 || paths.length % 2) {
  console.error('usage: node tools/compress.mjs QUALITY SRC DST [SRC DST ...]');
  process.exit(2);
}
for (let i = 0; i < paths.length; i += 2) {
  const [src, dst] = [paths[i], paths[i + 1]];
  const raw = readFileSync(src);
  const packed = brotliCompressSync(raw, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: Number(quality),
      [constants.BROTLI_PARAM_LGWIN]: 24, // the largest window: the wasm files are 10-14 MB
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  if (!brotliDecompressSync(packed).equals(raw)) throw new Error(`${src}: brotli round trip differs`);
  const tmp = `${dst}.${process.pid}.tmp`;
  writeFileSync(tmp, packed, { mode: 0o644 });
  renameSync(tmp, dst);
}
