"""Generates the bad-input matrix from code (no opaque blobs in git).

Each case is a file plus what every host must do with it: refuse it with a stable error
code, or classify it (optionally as a cat, when the pixels are chelsea's).
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from helpers import photo
from PIL import Image


@dataclass(frozen=True)
class Case:
    """One input file and the expected outcome."""

    name: str  # file name (also shown in messages)
    mime: str
    browser: str  # "cat", "ok" or an error code
    cli: str  # same, for the CPython host (Pillow decodes some formats browsers do not)


CASES = [
    Case("empty.jpg", "image/jpeg", "E_DECODE", "E_DECODE"),
    Case("text.jpg", "image/jpeg", "E_DECODE", "E_DECODE"),
    Case("random.jpg", "image/jpeg", "E_DECODE", "E_DECODE"),
    Case("truncated.jpg", "image/jpeg", "E_DECODE", "E_DECODE"),
    Case("truncated.png", "image/png", "E_DECODE", "E_DECODE"),
    Case("drawing.svg", "image/svg+xml", "E_UNSUPPORTED_FORMAT", "E_UNSUPPORTED_FORMAT"),
    Case("animated.gif", "image/gif", "cat", "cat"),
    Case("gray.png", "image/png", "ok", "ok"),
    Case("rgb16.png", "image/png", "cat", "cat"),
    Case("palette.png", "image/png", "cat", "cat"),
    Case("alpha.png", "image/png", "cat", "cat"),
    Case("cmyk.jpg", "image/jpeg", "cat", "cat"),
    Case("exif-rotated.jpg", "image/jpeg", "cat", "cat"),
    Case("one-pixel.png", "image/png", "ok", "ok"),
    Case("huge-20000x20000.png", "image/png", "E_IMAGE_TOO_LARGE", "E_IMAGE_TOO_LARGE"),
    Case("chelsea.tiff", "image/tiff", "E_DECODE", "cat"),
]


def chelsea() -> Image.Image:
    return Image.open(photo("chelsea.png")).convert("RGB")


def coffee() -> Image.Image:
    return Image.open(photo("coffee.png")).convert("RGB")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_rgb16(pixels: np.ndarray) -> bytes:
    """16-bit-per-channel RGB PNG (Pillow cannot write one)."""
    h, w, _ = pixels.shape
    wide = (pixels.astype(">u2") * 257).reshape(h, w * 3)
    raw = b"".join(b"\x00" + row.tobytes() for row in wide)
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(raw, 6))
        + png_chunk(b"IEND", b"")
    )


def png_huge(width: int, height: int) -> bytes:
    """A valid 1-bit PNG with a huge pixel size but a small file (all black)."""
    row = b"\x00" + bytes((width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", body)
        + png_chunk(b"IEND", b"")
    )


def exif_rotated() -> bytes:
    """Chelsea stored rotated 90° clockwise, with EXIF orientation 8 that turns it upright."""
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90° counter-clockwise to display
    return encode(chelsea().transpose(Image.Transpose.ROTATE_270), "JPEG", quality=95, exif=exif)


def alpha_png() -> bytes:
    """Chelsea with a fully transparent border (composited on white) and an opaque middle."""
    rgba = chelsea().convert("RGBA")
    alpha = np.zeros((rgba.height, rgba.width), dtype=np.uint8)
    alpha[20:-20, 20:-20] = 255
    rgba.putalpha(Image.fromarray(alpha))
    return encode(rgba, "PNG")


def build(name: str) -> bytes:
    """The bytes of case ``name``."""
    rng = np.random.default_rng(7)
    if name == "empty.jpg":
        return b""
    if name == "text.jpg":
        return b"This is a shopping list, not a photo.\n" * 40
    if name == "random.jpg":
        return rng.integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    if name == "truncated.jpg":
        data = encode(chelsea(), "JPEG", quality=90)
        return data[: len(data) * 6 // 10]
    if name == "truncated.png":
        data = photo("chelsea.png").read_bytes()
        return data[: len(data) * 6 // 10]
    if name == "drawing.svg":
        return (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200">'
            b'<circle cx="150" cy="100" r="80" fill="orange"/></svg>'
        )
    if name == "animated.gif":
        frames = [chelsea(), coffee().resize(chelsea().size)]
        buf = io.BytesIO()
        frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
        return buf.getvalue()
    if name == "gray.png":
        return encode(chelsea().convert("L"), "PNG")
    if name == "rgb16.png":
        return png_rgb16(np.asarray(chelsea()))
    if name == "palette.png":
        return encode(chelsea().quantize(256), "PNG")
    if name == "alpha.png":
        return alpha_png()
    if name == "cmyk.jpg":
        return encode(chelsea().convert("CMYK"), "JPEG", quality=95)
    if name == "exif-rotated.jpg":
        return exif_rotated()
    if name == "one-pixel.png":
        return encode(Image.new("RGB", (1, 1), (200, 120, 40)), "PNG")
    if name == "huge-20000x20000.png":
        return png_huge(20_000, 20_000)
    if name == "chelsea.tiff":
        return encode(chelsea(), "TIFF")
    raise KeyError(name)


def write_all(folder: Path) -> dict[str, Path]:
    """Write every case (and an upright JPEG twin of the EXIF case) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for case in CASES:
        path = folder / case.name
        path.write_bytes(build(case.name))
        paths[case.name] = path
    upright = folder / "upright.jpg"
    upright.write_bytes(encode(chelsea(), "JPEG", quality=95))
    paths["upright.jpg"] = upright
    return paths
