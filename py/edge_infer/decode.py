"""Decode image files to RGBA pixels in CPython (Pillow). Not used in the browser."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


class DecodeError(ValueError):
    """The file is not an image this host can decode."""


def decode_file(path: str | Path) -> tuple[np.ndarray, float]:
    """Decode an image file to ``(H, W, 4)`` uint8 RGBA, honouring EXIF orientation.

    Returns:
        ``(pixels, decode_ms)``.

    Raises:
        DecodeError: the file is missing, empty, or not a decodable image.

    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    t0 = time.perf_counter()
    try:
        with Image.open(path) as image:
            image.seek(0)  # first frame of an animation
            image = ImageOps.exif_transpose(image)
            pixels = np.asarray(image.convert("RGBA"))
    except FileNotFoundError as exc:
        raise DecodeError(f"{path}: no such file") from exc
    except UnidentifiedImageError as exc:
        raise DecodeError(f"{path}: not an image that can be decoded") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DecodeError(f"{path}: cannot decode image ({exc})") from exc
    return pixels, (time.perf_counter() - t0) * 1e3
