"""The int8 calibration samples: scikit-image photos no test uses, through the app's preprocess."""

from __future__ import annotations

from typing import Any

import numpy as np
from checksums import sha256_file
from edge_infer.decode import decode_file
from edge_infer.manifest import parse_preprocess
from edge_infer.preprocess import preprocess

from model_export import ExportError
from model_export.environment import skimage_photo

# The stereo twin of the test photo motorcycle_left.png: as good as a test photo.
STEREO_TWIN = "motorcycle_right.png"


def calibration_views(pixels: np.ndarray) -> list[np.ndarray]:
    """The image, its horizontal flip, and its top-left and bottom-right 3/4 crops."""
    h, w = pixels.shape[:2]
    ch, cw = h * 3 // 4, w * 3 // 4
    views = [pixels, pixels[:, ::-1], pixels[:ch, :cw], pixels[h - ch :, w - cw :]]
    return [np.ascontiguousarray(v) for v in views]


def calibration_set(
    photos: tuple[str, ...], test_photos: tuple[str, ...], pp: dict[str, Any]
) -> list[np.ndarray]:
    """Every view of every calibration photo, preprocessed with the block ``pp``."""
    clash = set(photos) & {*test_photos, STEREO_TWIN}
    if clash or list(photos) != sorted(photos):
        raise ExportError(f"calibration set must be sorted and avoid test photos: {clash}")
    spec = parse_preprocess(pp)
    samples = []
    for name in photos:
        pixels, _ = decode_file(skimage_photo(name))
        samples += [preprocess(v, spec) for v in calibration_views(pixels)]
    return samples


def calibration_record(
    calibration: dict[str, Any], test_photos: tuple[str, ...], n_samples: int, pins: dict
) -> dict[str, Any]:
    """The manifest's account of the calibration set (files with sha256, views, exclusions)."""
    return {
        "source": "scikit-image data/",
        "scikit_image": pins["scikit-image"],
        "decoder": f"edge_infer.decode.decode_file (Pillow {pins['pillow']})",
        "files": [
            {"file": name, "sha256": sha256_file(skimage_photo(name))}
            for name in calibration["photos"]
        ],
        "augmentation": calibration["augmentation"],
        "samples": n_samples,
        "excluded": "test photos " + ", ".join(test_photos) + f"; {STEREO_TWIN} "
        "(stereo twin of motorcycle_left.png); synthetic images",
    }
