"""Decode image files to RGBA pixels in CPython (Pillow). Not used in the browser.

The rules match the browser's (``web/lib/decode.js``): empty, truncated and SVG files are
refused with a clear message, images over :data:`MAX_PIXELS` are refused from their header
before decoding, EXIF orientation is honoured, and animations give their first frame.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

#: Largest image decoded, in pixels (the browser uses the same budget).
MAX_PIXELS = 50_000_000


class DecodeError(ValueError):
    """The file is not an image this host can decode."""

    def __init__(self, message: str, code: str = "E_DECODE"):
        super().__init__(message)
        self.code = code


def decode_file(path: str | Path) -> tuple[np.ndarray, float]:
    """Decode an image file to ``(H, W, 4)`` uint8 RGBA, honouring EXIF orientation.

    Returns:
        ``(pixels, decode_ms)``.

    Raises:
        DecodeError: the file is missing, empty, truncated, too large, SVG, or not an image.

    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    t0 = time.perf_counter()
    try:
        head = path.open("rb").read(4096)
    except FileNotFoundError as exc:
        raise DecodeError(f"{path}: no such file") from exc
    except OSError as exc:
        raise DecodeError(f"{path}: cannot read ({exc.strerror})") from exc
    if not head:
        raise DecodeError(f"{path}: is empty (0 bytes)")
    if _looks_like_svg(head):
        raise DecodeError(
            f"{path}: is an SVG (vector) image; edge-infer classifies raster images. "
            "Export it to PNG first.",
            code="E_UNSUPPORTED_FORMAT",
        )
    # Our own budget (checked from the header below) replaces Pillow's bomb limits.
    saved_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DecodeError(
                    f"{path}: is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
                    f"the limit is {MAX_PIXELS / 1e6:.0f} megapixels",
                    code="E_IMAGE_TOO_LARGE",
                )
            image.seek(0)  # first frame of an animation
            image.load()
            image = ImageOps.exif_transpose(image)
            pixels = np.asarray(image.convert("RGBA"))
    except DecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise DecodeError(f"{path}: not an image that can be decoded") from exc
    except OSError as exc:
        if "truncated" in str(exc):
            raise DecodeError(f"{path}: is truncated ({exc})") from exc
        raise DecodeError(f"{path}: cannot decode image ({exc})") from exc
    except (SyntaxError, ValueError) as exc:
        raise DecodeError(f"{path}: cannot decode image ({exc})") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = saved_limit
    return pixels, (time.perf_counter() - t0) * 1e3


def _looks_like_svg(head: bytes) -> bool:
    text = head.decode("utf-8", errors="ignore").lstrip().lower()
    return text.startswith("<svg") or (
        (text.startswith("<?xml") or text.startswith("<!doctype svg")) and "<svg" in text
    )
