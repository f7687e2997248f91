"""Shared test helpers: repository paths, the scikit-image test photos, real drops."""

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


def data_transfer(page, files: list[dict]):
    """A real ``DataTransfer`` built inside ``page``, holding ``files`` ({b64, name, type})."""
    return page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return dt;
        }""",
        files,
    )
