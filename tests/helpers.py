"""Shared test helpers: repository paths and the scikit-image test photos."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
MANIFEST = MODELS / "manifest.json"


def photo(name: str) -> Path:
    """Path of a real photo shipped by scikit-image (``chelsea.png``, ``coffee.png``...)."""
    import skimage

    path = Path(skimage.__file__).parent / "data" / name
    assert path.is_file(), f"scikit-image does not ship {name}"
    return path


CAT_LABELS = {"Egyptian cat", "tabby", "tabby cat", "tiger cat"}
