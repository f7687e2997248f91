"""Benchmark images: JPEGs generated with Pillow from a real photo shipped by scikit-image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SOURCE_PHOTO = "chelsea.png"  # a tabby cat: MobileNetV2 says "Egyptian cat"
SIZES = {"1024x768": (1024, 768), "4000x3000": (4000, 3000)}
JPEG_QUALITY = 90


@dataclass(frozen=True)
class BenchImage:
    """One generated benchmark image."""

    name: str
    path: Path
    width: int
    height: int
    bytes: int

    def facts(self) -> dict:
        """JSON-ready description."""
        return {
            "file": self.path.name,
            "width": self.width,
            "height": self.height,
            "bytes": self.bytes,
            "source": f"scikit-image {SOURCE_PHOTO}",
            "jpeg_quality": JPEG_QUALITY,
        }


def source_photo() -> Path:
    """Path of scikit-image's copy of the source photo."""
    import skimage

    path = Path(skimage.__file__).parent / "data" / SOURCE_PHOTO
    if not path.is_file():
        raise FileNotFoundError(f"scikit-image does not ship {SOURCE_PHOTO}")
    return path


def make_inputs(directory: Path) -> dict[str, BenchImage]:
    """Write one JPEG per size in :data:`SIZES` (resized with Lanczos, quality 90)."""
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    images = {}
    with Image.open(source_photo()) as photo:
        rgb = photo.convert("RGB")
        for name, (width, height) in SIZES.items():
            path = directory / f"{Path(SOURCE_PHOTO).stem}-{name}.jpg"
            rgb.resize((width, height), Image.Resampling.LANCZOS).save(
                path, "JPEG", quality=JPEG_QUALITY
            )
            images[name] = BenchImage(name, path, width, height, path.stat().st_size)
    return images
