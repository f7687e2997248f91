/**
 * Plain-JS preprocessing and postprocessing, equivalent to edge_infer's (py/edge_infer):
 * torchvision's resize arithmetic, the centre-crop rounding, per-channel normalisation to
 * NCHW float32, softmax and top-k.
 */

/**
 * Round half to even, like Python's `round()`.
 * @param {number} x
 * @returns {number}
 */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Size after resizing the shorter side to `shorter`; the longer side is truncated, as
 * torchvision computes it (`int(shorter * long / short)`).
 * @param {number} width
 * @param {number} height
 * @param {number} shorter
 * @returns {{width: number, height: number}}
 */
export function resizedSize(width, height, shorter) {
  if (height <= width) return { width: Math.max(1, Math.trunc((shorter * width) / height)), height: shorter };
  return { width: shorter, height: Math.max(1, Math.trunc((shorter * height) / width)) };
}

/**
 * Top-left corner of the centre crop, rounded like Python's `round((size - crop) / 2)`.
 * @param {{width: number, height: number}} size the resized image
 * @param {{width: number, height: number}} crop
 * @returns {{left: number, top: number}}
 */
export function cropOffsets(size, crop) {
  return { left: roundHalfEven((size.width - crop.width) / 2), top: roundHalfEven((size.height - crop.height) / 2) };
}

/**
 * RGBA bytes to a `(1, 3, H, W)` float32 tensor: `(v * scale - mean) / std` per channel.
 * Transparent pixels are blended over `background` first (white by default), as edge_infer does.
 * @param {Uint8ClampedArray} rgba `width * height * 4` bytes
 * @param {{scale: number, mean: number[], std: number[], background?: number[]}} spec
 * @param {Float32Array} out `3 * width * height` values, filled and returned
 * @returns {Float32Array}
 */
export function toNCHW(rgba, spec, out) {
  const plane = rgba.length / 4;
  const [g0, g1, g2] = spec.std.map((s) => spec.scale / s);
  const [b0, b1, b2] = spec.mean.map((m, c) => -m / spec.std[c]);
  const [bgR, bgG, bgB] = spec.background ?? [255, 255, 255];
  for (let p = 0, i = 0; p < plane; p += 1, i += 4) {
    let r = rgba[i];
    let g = rgba[i + 1];
    let b = rgba[i + 2];
    const a = rgba[i + 3];
    if (a !== 255) {
      const k = a / 255;
      r = Math.round(r * k + bgR * (1 - k));
      g = Math.round(g * k + bgG * (1 - k));
      b = Math.round(b * k + bgB * (1 - k));
    }
    out[p] = r * g0 + b0;
    out[plane + p] = g * g1 + b1;
    out[2 * plane + p] = b * g2 + b2;
  }
  return out;
}

/**
 * Softmax over logits, then the `k` most probable classes, best first.
 * @param {Float32Array} logits
 * @param {string[]} labels
 * @param {number} k
 * @returns {{index: number, label: string, probability: number}[]}
 */
export function softmaxTopK(logits, labels, k) {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  const exps = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i += 1) {
    exps[i] = Math.exp(logits[i] - max);
    sum += exps[i];
  }
  const best = []; // kept sorted, at most k long
  for (let i = 0; i < exps.length; i += 1) {
    if (best.length === k && exps[i] <= exps[best[k - 1]]) continue;
    let j = Math.min(best.length, k - 1);
    while (j > 0 && exps[best[j - 1]] < exps[i]) j -= 1;
    best.splice(j, 0, i);
    if (best.length > k) best.pop();
  }
  return best.map((index) => ({ index, label: labels[index], probability: exps[index] / sum }));
}
