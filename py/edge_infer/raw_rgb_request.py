"""The classic edge-inference JSON request: ``{image_data, width, height, model_id}``.

``image_data`` holds RGB values 0..255, row-major, ``width * height * 3`` numbers. The answer
is the usual result plus the classic fields ``latency_ms`` and ``model_version``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class RawRgbRequestError(ValueError):
    """The request does not have the classic shape; ``code`` is a stable error code."""

    def __init__(self, message: str, code: str = "E_INPUT"):
        super().__init__(message)
        self.code = code


def parse_raw_rgb_request(request: Any) -> tuple[np.ndarray, str | None]:
    """Validate a classic request and return ``(pixels (H, W, 3) uint8, model_id)``.

    Raises:
        RawRgbRequestError: a field is missing or mistyped, the pixel count does not match
            ``width * height * 3``, or a value is not a finite number in 0..255.

    """
    if not isinstance(request, dict):
        raise RawRgbRequestError("request must be a JSON object")
    width, height = request.get("width"), request.get("height")
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RawRgbRequestError(f"{name} must be a positive integer, got {value!r}")
    data = request.get("image_data")
    if not isinstance(data, list):
        raise RawRgbRequestError("image_data must be a list of RGB values 0..255")
    expected = width * height * 3
    if len(data) != expected:
        raise RawRgbRequestError(
            f"image_data has {len(data)} values; width*height*3 = {width}*{height}*3 = {expected}"
        )
    model_id = request.get("model_id")
    if model_id is not None and not isinstance(model_id, str):
        raise RawRgbRequestError(f"model_id must be a string, got {model_id!r}")
    try:
        values = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise RawRgbRequestError("image_data must contain only numbers") from exc
    if values.ndim != 1:
        raise RawRgbRequestError("image_data must be a flat list of numbers")
    finite = np.isfinite(values)
    if not finite.all():
        index = int(np.argmin(finite))
        raise RawRgbRequestError(f"image_data[{index}] is {values[index]}, not a finite number")
    if values.min() < 0 or values.max() > 255:
        bad = int(np.argmax((values < 0) | (values > 255)))
        raise RawRgbRequestError(f"image_data[{bad}] is {values[bad]}, outside 0..255")
    pixels = np.rint(values).astype(np.uint8).reshape(height, width, 3)
    return pixels, model_id
