"""Pixels to model input: resize the shorter side, centre-crop, normalise, lay out as NCHW.

Pure numpy, shared by both hosts. The resize follows Pillow's ``Image.resize`` with
``BILINEAR`` (a triangle filter whose support widens when downscaling, i.e. antialiased),
which is what torchvision's ``Resize`` does on PIL images. Only the pixels that survive the
centre crop are ever computed, so cost scales with the crop, not the resized image.
"""

from __future__ import annotations

import functools

import numpy as np

from edge_infer.manifest import PreprocessSpec


class PreprocessError(ValueError):
    """The pixels cannot be turned into a model input (bad shape, dtype, size or mode)."""


#: ``exact``: numpy resizes the pixels as Pillow does. ``fast``: the host already resized the
#: shorter side (the browser, while decoding), and numpy only crops and normalises.
PREPROCESS_MODES = ("exact", "fast")


def resized_size(height: int, width: int, shorter_side: int) -> tuple[int, int]:
    """Size after resizing the shorter side to ``shorter_side``, as torchvision computes it.

    The longer side is truncated (``int(shorter * long / short)``), not rounded.
    """
    if height <= width:
        return shorter_side, max(1, int(shorter_side * width / height))
    return max(1, int(shorter_side * height / width)), shorter_side


def crop_offsets(height: int, width: int, crop_h: int, crop_w: int) -> tuple[int, int]:
    """Top-left corner of the centre crop, rounded like torchvision's ``CenterCrop``."""
    return round((height - crop_h) / 2.0), round((width - crop_w) / 2.0)


def resample_weights(
    in_size: int, out_size: int, start: int, count: int, antialias: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear taps for output pixels ``start .. start+count`` of an ``in -> out`` resize.

    Returns ``(index, weight)``, both shaped ``(count, taps)``: output pixel ``i`` is
    ``sum_k weight[i, k] * input[index[i, k]]``. Weights of a row sum to 1; unused taps have
    weight 0 and index 0. Mirrors Pillow's ``precompute_coeffs`` for the bilinear filter.
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0) if antialias else 1.0
    support = 1.0 * filter_scale
    centers = (np.arange(start, start + count, dtype=np.float64) + 0.5) * scale
    lo = np.maximum((centers - support + 0.5).astype(np.int64), 0)
    hi = np.minimum((centers + support + 0.5).astype(np.int64), in_size)
    taps = int((hi - lo).max())
    index = lo[:, None] + np.arange(taps)[None, :]
    valid = index < hi[:, None]
    x = (index - centers[:, None] + 0.5) / filter_scale
    weight = np.where(valid, np.clip(1.0 - np.abs(x), 0.0, None), 0.0)
    weight /= weight.sum(axis=1, keepdims=True)
    index = np.where(valid, index, 0)
    return index, weight.astype(np.float32)


def check_pixels(pixels: np.ndarray) -> np.ndarray:
    """Validate decoded pixels and return them as ``(H, W, C)`` uint8 with C in 1, 3, 4."""
    if not isinstance(pixels, np.ndarray):
        raise PreprocessError(f"pixels must be a numpy array, got {type(pixels).__name__}")
    if pixels.dtype != np.uint8:
        raise PreprocessError(f"pixels must be uint8, got {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise PreprocessError(
            f"pixels must be shaped (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {pixels.shape}"
        )
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise PreprocessError(f"image is empty ({pixels.shape[1]}x{pixels.shape[0]})")
    return pixels


def composite_alpha(pixels: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """Return RGB pixels with any transparency blended over ``background``.

    Opaque RGBA comes back unchanged (4 channels, alpha ignored later): resampling four
    contiguous channels is faster than copying out three.
    """
    if pixels.shape[2] != 4 or pixels[:, :, 3].min() == 255:
        return pixels
    a = pixels[:, :, 3:].astype(np.float32) * (1.0 / 255.0)
    bg = np.asarray(background, dtype=np.float32)
    blended = pixels[:, :, :3].astype(np.float32) * a + bg * (1.0 - a)
    return np.rint(blended).astype(np.uint8)


def to_rgb(pixels: np.ndarray, background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Return ``(H, W, 3)`` uint8 RGB from RGB, RGBA, or grayscale pixels.

    Transparent pixels are composited over ``background`` (white by default), so a logo on a
    transparent canvas is seen the way a browser shows it on a white page.
    """
    pixels = composite_alpha(check_pixels(pixels), background)
    if pixels.shape[2] == 1:
        return np.repeat(pixels, 3, axis=2)
    return pixels[:, :, :3]


def resize_crop(
    pixels: np.ndarray, out_h: int, out_w: int, crop: tuple[int, int, int, int], antialias: bool
) -> np.ndarray:
    """Resize ``(H, W, C)`` uint8 to ``out_h x out_w`` and return only the crop, as float32.

    ``crop`` is ``(top, left, height, width)`` in the resized image; the result is shaped
    ``(height, width, C)`` with values in 0..255. The vertical pass runs first over just the
    columns the horizontal taps read, because gathering whole rows is a contiguous copy.
    """
    top, left, ch, cw = crop
    in_h, in_w, channels = pixels.shape
    if (in_h, in_w) == (out_h, out_w):
        return pixels[top : top + ch, left : left + cw].astype(np.float32)
    yi, yw = resample_weights(in_h, out_h, top, ch, antialias)
    xi, xw = resample_weights(in_w, out_w, left, cw, antialias)
    col0, col1 = int(xi[xw > 0].min()), int(xi[xw > 0].max()) + 1
    columns = pixels[:, col0:col1]
    vertical = np.zeros((ch, col1 - col0, channels), dtype=np.float32)
    scratch = np.empty_like(vertical)
    for k in range(yi.shape[1]):
        np.multiply(columns[yi[:, k]], yw[:, k, None, None], out=scratch)
        vertical += scratch
    xi = np.clip(xi - col0, 0, col1 - col0 - 1)  # zero-weight taps may point anywhere
    out = np.zeros((ch, cw, channels), dtype=np.float32)
    for k in range(xi.shape[1]):
        out += vertical[:, xi[:, k]] * xw[:, k, None]
    return out


@functools.lru_cache(maxsize=16)
def normalisation(spec: PreprocessSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(gain, bias)``, shaped ``(3, 1, 1)``: ``(v * scale - mean) / std``.

    Cached per spec: the small array ops cost more than the multiply-add on a cold cache.
    """
    std = np.asarray(spec.std, dtype=np.float32)
    gain = np.float32(spec.scale) / std
    bias = -np.asarray(spec.mean, dtype=np.float32) / std
    gain.flags.writeable = bias.flags.writeable = False
    return gain[:, None, None], bias[:, None, None]


def preprocess(
    pixels: np.ndarray, spec: PreprocessSpec, out: np.ndarray | None = None, mode: str = "exact"
) -> np.ndarray:
    """Turn decoded pixels into the model input tensor described by ``spec``.

    Args:
        pixels: uint8 array shaped ``(H, W, 4)`` RGBA, ``(H, W, 3)`` RGB, or ``(H, W)`` gray.
        spec: the model's preprocessing spec from the manifest.
        out: optional preallocated C-contiguous float32 array of the output shape to fill.
        mode: one of :data:`PREPROCESS_MODES`. In ``exact`` mode pixels of any size are
            resized here; in ``fast`` mode their shorter side must already be
            ``spec.resize_shorter_side``.

    Returns:
        A C-contiguous float32 array shaped ``(1, 3, crop_height, crop_width)``.

    Raises:
        PreprocessError: the pixels have the wrong type or shape, ``out`` does not fit, the
            mode is unknown, or ``fast`` pixels were not resized.

    """
    if mode not in PREPROCESS_MODES:
        raise PreprocessError(f"mode must be one of {', '.join(PREPROCESS_MODES)}, got {mode!r}")
    pixels = check_pixels(pixels)
    h, w = pixels.shape[:2]
    if mode == "fast" and min(h, w) != spec.resize_shorter_side:
        raise PreprocessError(
            f"fast mode expects pixels whose shorter side is {spec.resize_shorter_side}, "
            f"got {w}x{h}"
        )
    ch, cw = spec.crop_height, spec.crop_width
    out_h, out_w = resized_size(h, w, spec.resize_shorter_side)
    if out_h < ch or out_w < cw:  # pragma: no cover - guarded by manifest validation
        raise PreprocessError(f"resized image {out_w}x{out_h} is smaller than the crop {cw}x{ch}")
    top, left = crop_offsets(out_h, out_w, ch, cw)
    shape = (1, 3, ch, cw)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise PreprocessError(f"out must be a C-contiguous float32 array shaped {shape}")

    if (h, w) == (out_h, out_w):
        # Already resized (the browser resamples as it decodes): only the crop is read, and
        # uint8 goes straight into the float32 output, with no intermediate copy.
        cropped = composite_alpha(pixels[top : top + ch, left : left + cw], spec.background)
    else:
        src = composite_alpha(pixels, spec.background)
        cropped = resize_crop(src, out_h, out_w, (top, left, ch, cw), spec.antialias)
    if cropped.shape[2] == 1:  # grayscale: the same plane feeds R, G and B
        cropped = np.broadcast_to(cropped, (ch, cw, 3))
    gain, bias = normalisation(spec)
    np.multiply(cropped[:, :, :3].transpose(2, 0, 1), gain, out=out[0])
    out[0] += bias
    return out
