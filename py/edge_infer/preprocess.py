"""Pixels to model input: resize the shorter side, centre-crop, normalise, lay out as NCHW.

Pure numpy, shared by both hosts. The resize reproduces Pillow's ``Image.resize`` with
``BILINEAR`` pixel for pixel (a triangle filter whose support widens when downscaling, in
Pillow's fixed-point arithmetic), which is what torchvision's ``Resize`` does on PIL images.
Only the pixels that survive the centre crop are ever computed, so cost scales with the crop,
not the resized image.
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


#: Pillow's fixed point for 8-bit images: weights are integers scaled by 2**22, and sums of
#: 255 * weight stay inside a signed 32-bit integer.
PRECISION_BITS = 32 - 8 - 2


def resample_weights(
    in_size: int, out_size: int, start: int, count: int, antialias: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear taps for output pixels ``start .. start+count`` of an ``in -> out`` resize.

    Returns ``(index, weight)``, both shaped ``(count, taps)``: output pixel ``i`` is
    ``sum_k weight[i, k] * input[index[i, k]] / 2**PRECISION_BITS``, rounded. Weights are
    Pillow's: ``precompute_coeffs`` for the bilinear filter, normalised in float64 so a row
    sums to 1, then ``normalize_coeffs_8bpc``'s rounding to fixed point (int32). Unused taps
    have weight 0 and index 0.
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
    # Pillow's exact float64 steps: scaled by the reciprocal, summed tap by tap in order.
    x = (index - centers[:, None] + 0.5) * (1.0 / filter_scale)
    weight = np.where(valid, np.clip(1.0 - np.abs(x), 0.0, None), 0.0)
    total = np.zeros(count)
    for k in range(taps):
        total += weight[:, k]
    weight /= total[:, None]
    # C's (int) cast truncates toward zero, as astype does; bilinear weights are never < 0.
    fixed = (weight * (1 << PRECISION_BITS) + 0.5).astype(np.int32)
    index = np.where(valid, index, 0)
    return index, fixed


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


def round_fixed_point(acc: np.ndarray) -> np.ndarray:
    """Pillow's ``clip8``: a fixed-point sum (with the rounding half added) back to uint8."""
    return np.clip(acc >> PRECISION_BITS, 0, 255).astype(np.uint8)


def resample_rows(lines: np.ndarray, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """One pass over the rows of a 2-D uint8 array, in Pillow's fixed point.

    Output row ``i`` is the sum of ``weight[i, k] * lines[index[i, k]]``, rounded to uint8.
    Gathering whole rows keeps every multiply-add long and contiguous.
    """
    acc = np.full((index.shape[0], lines.shape[1]), 1 << (PRECISION_BITS - 1), dtype=np.int32)
    scratch = np.empty_like(acc)
    for k in range(index.shape[1]):
        np.multiply(lines[index[:, k]], weight[:, k, None], out=scratch)
        acc += scratch
    return round_fixed_point(acc)


def vertical_pass(pixels: np.ndarray, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Resample ``(H, W, C)`` uint8 along H: returns ``(len(index), W, C)``."""
    h, w, c = pixels.shape
    lines = np.ascontiguousarray(pixels).reshape(h, w * c)
    return resample_rows(lines, index, weight).reshape(len(index), w, c)


def horizontal_pass(pixels: np.ndarray, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Resample ``(H, W, C)`` uint8 along W: returns ``(H, len(index), C)``.

    Runs on the transposed pixels, so that a tap gathers whole columns.
    """
    h, w, c = pixels.shape
    columns = np.ascontiguousarray(pixels.transpose(1, 0, 2)).reshape(w, h * c)
    return resample_rows(columns, index, weight).reshape(len(index), h, c).transpose(1, 0, 2)


def pillow_vertical_first(in_h: int, in_w: int, out_h: int, out_w: int) -> bool:
    """Whether Pillow runs its vertical pass first (the two orders round differently).

    Since Pillow 13 it does when the height shrinks by more than twice as many pixels as the
    width (``ImagingResampleInner``); Pillow 12 and older always start with the horizontal one.
    """
    return in_h - out_h > 0 and in_h - out_h > 2 * (in_w - out_w)


def resize_crop(
    pixels: np.ndarray, out_h: int, out_w: int, crop: tuple[int, int, int, int], antialias: bool
) -> np.ndarray:
    """Resize ``(H, W, C)`` uint8 to ``out_h x out_w`` and return only the crop, as float32.

    ``crop`` is ``(top, left, height, width)`` in the resized image; the result is shaped
    ``(height, width, min(C, 3))`` with values in 0..255. With ``antialias`` it equals Pillow 13's
    ``Image.resize(..., BILINEAR)`` cropped, pixel for pixel: the same integer arithmetic,
    two passes each rounded to uint8, in Pillow's order, each skipped when its size does not
    change. Only the source rows and columns that the crop's taps read are computed.
    """
    top, left, ch, cw = crop
    in_h, in_w = pixels.shape[:2]
    if (in_h, in_w) == (out_h, out_w):
        return pixels[top : top + ch, left : left + cw].astype(np.float32)
    pixels = pixels[:, :, :3]  # alpha is ignored later: leave it out of the copies the passes make
    passes = []
    row0, row1, col0, col1 = top, top + ch, left, left + cw
    if in_h != out_h:
        yi, yw = resample_weights(in_h, out_h, top, ch, antialias)
        row0, row1 = int(yi[yw > 0].min()), int(yi[yw > 0].max()) + 1
        yi = np.clip(yi - row0, 0, row1 - row0 - 1)  # zero-weight taps may point anywhere
        passes.append(lambda image: vertical_pass(image, yi, yw))
    if in_w != out_w:
        xi, xw = resample_weights(in_w, out_w, left, cw, antialias)
        col0, col1 = int(xi[xw > 0].min()), int(xi[xw > 0].max()) + 1
        xi = np.clip(xi - col0, 0, col1 - col0 - 1)
        horizontal = lambda image: horizontal_pass(image, xi, xw)  # noqa: E731
        passes.insert(
            len(passes) if pillow_vertical_first(in_h, in_w, out_h, out_w) else 0, horizontal
        )
    image = pixels[row0:row1, col0:col1]
    for resample in passes:
        image = resample(image)
    return image.astype(np.float32)


@functools.lru_cache(maxsize=16)
def normalisation(spec: PreprocessSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(gain, bias)``, shaped ``(C,)``: ``(v * scale - mean) / std``.

    Cached per spec: the small array ops cost more than the multiply-add on a cold cache.
    """
    std = np.asarray(spec.std, dtype=np.float32)
    gain = np.float32(spec.scale) / std
    bias = -np.asarray(spec.mean, dtype=np.float32) / std
    gain.flags.writeable = bias.flags.writeable = False
    return gain, bias


def to_gray(pixels: np.ndarray) -> np.ndarray:
    """``(H, W, 1)`` uint8 grey from ``(H, W, C)`` pixels.

    As Pillow's ``convert("L")`` computes it from RGB: ``(19595 R + 38470 G + 7471 B +
    32768) >> 16``.
    """
    if pixels.shape[2] == 1:
        return pixels
    acc = pixels[:, :, 0] * np.uint32(19595)
    acc += pixels[:, :, 1] * np.uint32(38470)
    acc += pixels[:, :, 2] * np.uint32(7471)
    acc += np.uint32(0x8000)
    return (acc >> 16).astype(np.uint8)[:, :, None]


def target_size(height: int, width: int, spec: PreprocessSpec) -> tuple[int, int]:
    """``(height, width)`` the image is resized to before the crop, per ``spec.resize_mode``."""
    if spec.resize_mode == "stretch":
        return spec.crop_height, spec.crop_width
    return resized_size(height, width, spec.resize_shorter_side)


def preprocess(
    pixels: np.ndarray, spec: PreprocessSpec, out: np.ndarray | None = None, mode: str = "exact"
) -> np.ndarray:
    """Turn decoded pixels into the model input tensor described by ``spec``.

    Transparency is composited over ``spec.background``; a grayscale model's pixels become
    grey (as Pillow's ``convert("L")``) before they are resized; the resize and crop follow
    ``spec.resize_mode``; then the channels are ordered, normalised and laid out.

    Args:
        pixels: uint8 array shaped ``(H, W, 4)`` RGBA, ``(H, W, 3)`` RGB, or ``(H, W)`` gray.
        spec: the model's preprocessing spec from the manifest.
        out: optional preallocated C-contiguous float32 array of the output shape to fill.
        mode: one of :data:`PREPROCESS_MODES`. In ``exact`` mode pixels of any size are
            resized here; in ``fast`` mode they must already have the size of
            :func:`target_size` (the shorter side, or the whole size when stretched).

    Returns:
        A C-contiguous float32 array shaped ``spec.input_shape``.

    Raises:
        PreprocessError: the pixels have the wrong type or shape, ``out`` does not fit, the
            mode is unknown, or ``fast`` pixels were not resized.

    """
    if mode not in PREPROCESS_MODES:
        raise PreprocessError(f"mode must be one of {', '.join(PREPROCESS_MODES)}, got {mode!r}")
    pixels = check_pixels(pixels)
    h, w = pixels.shape[:2]
    ch, cw = spec.crop_height, spec.crop_width
    out_h, out_w = target_size(h, w, spec)
    if mode == "fast" and (h, w) != (out_h, out_w):
        expected = (
            f"{cw}x{ch}"
            if spec.resize_mode == "stretch"
            else f"pixels whose shorter side is {spec.resize_shorter_side}"
        )
        raise PreprocessError(f"fast mode expects {expected}, got {w}x{h}")
    if out_h < ch or out_w < cw:  # pragma: no cover - guarded by manifest validation
        raise PreprocessError(f"resized image {out_w}x{out_h} is smaller than the crop {cw}x{ch}")
    top, left = crop_offsets(out_h, out_w, ch, cw)
    shape = spec.input_shape
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise PreprocessError(f"out must be a C-contiguous float32 array shaped {shape}")

    if (h, w) == (out_h, out_w):
        # Already resized (the browser resamples as it decodes): only the crop is read, and
        # uint8 goes straight into the float32 output, with no intermediate copy.
        pixels = pixels[top : top + ch, left : left + cw]
    pixels = composite_alpha(pixels, spec.background)
    if spec.channel_order == "L":
        pixels = to_gray(pixels)
    if (h, w) == (out_h, out_w):
        cropped = pixels
    else:
        cropped = resize_crop(pixels, out_h, out_w, (top, left, ch, cw), spec.antialias)
    if spec.channel_order != "L":
        if cropped.shape[2] == 1:  # a grey image: the same plane feeds R, G and B
            cropped = np.broadcast_to(cropped, (ch, cw, 3))
        cropped = cropped[:, :, 2::-1] if spec.channel_order == "BGR" else cropped[:, :, :3]
    else:
        cropped = cropped[:, :, :1]
    gain, bias = normalisation(spec)
    if spec.layout == "NCHW":
        np.multiply(cropped.transpose(2, 0, 1), gain[:, None, None], out=out[0])
        out[0] += bias[:, None, None]
    else:
        np.multiply(cropped, gain, out=out[0])
        out[0] += bias
    return out
