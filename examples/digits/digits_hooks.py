"""Preprocessing for the digits model: any image of one digit -> the 8x8 0..16 grid it knows.

scikit-learn's digits are 32x32 bitmaps of handwriting, scaled to fit the box, then summed in
4x4 blocks: ink is high (0..16), the background 0. This hook does the same to a photo or a
drawing, in numpy only, so the browser and CPython run it unchanged:

1. grey from RGB(A) (transparent pixels count as white paper);
2. ink is whatever differs from the background, the median of the border pixels, so dark on
   light and light on dark both work; it is scaled so the background is 0 and the strongest
   ink 1;
3. crop to the ink's bounding box, pad it to a centred square;
4. area-average down to 8x8 and scale to 0..16.
"""

import numpy as np

SIDE = 8  # the model's input is 1x1x8x8
INK = 0.5  # a pixel is ink for the bounding box when it is at least half the strongest ink


def preprocess(pixels, model):
    """The model's input tensor (1, 1, 8, 8), float32 0..16, for one digit image."""
    grey = _grey(pixels)
    ink = _ink(grey)
    rows = np.flatnonzero((ink >= INK).any(axis=1))
    cols = np.flatnonzero((ink >= INK).any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    ink = _pad_square(ink)
    grid = _area_resize(ink, SIDE) * 16.0
    return grid.astype(np.float32).reshape(model.input_shape)


def _grey(pixels):
    """Luma 0..255 (ITU-R 601 weights, as Pillow's convert('L')), alpha over white."""
    p = np.asarray(pixels, dtype=np.float64)
    if p.ndim == 2:
        return p
    grey = p[..., 0] * 0.299 + p[..., 1] * 0.587 + p[..., 2] * 0.114
    if p.shape[2] == 4:
        alpha = p[..., 3] / 255.0
        grey = grey * alpha + 255.0 * (1.0 - alpha)
    return grey


def _ink(grey):
    """0 for the background (the border's median), 1 for the strongest ink."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = np.median(border)
    ink = np.abs(grey - background)
    strongest = ink.max()
    if strongest < 32:  # not even an eighth of the grey scale: no digit to see
        raise ValueError("no digit found: the image is one flat colour")
    return np.clip(ink / strongest, 0.0, 1.0)


def _pad_square(ink):
    """``ink`` centred in a square of its longer side, padded with background."""
    h, w = ink.shape
    side = max(h, w)
    out = np.zeros((side, side))
    top, left = (side - h) // 2, (side - w) // 2
    out[top : top + h, left : left + w] = ink
    return out


def _area_resize(square, side):
    """Exact area average of a square image to ``side`` x ``side`` (any size, up or down)."""
    n = square.shape[0]
    edges = np.arange(side + 1) * (n / side)  # output cell i covers [edges[i], edges[i+1])
    lo = np.maximum(edges[:-1, None], np.arange(n)[None, :])
    hi = np.minimum(edges[1:, None], np.arange(n)[None, :] + 1)
    weights = np.clip(hi - lo, 0.0, None) / (n / side)  # (side, n); each row sums to 1
    return weights @ square @ weights.T
