"""Precompressed brotli and gzip copies of the runtime and model files (stdlib + Node).

``X.br`` and ``X.gz`` lie next to ``X`` (git-ignored, like ``X`` itself under ``web/vendor``)
and carry ``X``'s mtime: ``tools/serve.py`` serves a sibling only while the two mtimes are
equal, so an edited source is never answered with a stale encoding. ``web/vendor/encoded.json``
lists each source (site-relative path, size, sha256) with the size and sha256 of each encoding;
``tools/build.py`` checks the copies it ships against it. An encoding that would save less
than 5 % is not made (fp32 model weights hardly compress).

Brotli comes from Node's zlib (``tools/compress.mjs``), since setup already needs Node and
Python's standard library has no brotli; gzip from Python's ``gzip`` (level 9, no timestamp).
Both round-trip checks run before a file is written.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import subprocess
import tempfile
from pathlib import Path

from checksums import sha256_file

# Content-Encoding -> suffix of the sibling file.
ENCODINGS = {"br": ".br", "gzip": ".gz"}
ENCODED_SUFFIXES = tuple(ENCODINGS.values())
ENCODED_LIST = "encoded.json"  # in web/vendor/
FORMAT = 1
# Worth encoding: code, archives and data. Not already-compressed .gz or images.
ENCODABLE = {".wasm", ".js", ".mjs", ".json", ".zip", ".whl", ".onnx", ".bin", ".data", ".txt"}
MIN_BYTES = 1024
MAX_RATIO = 0.95
# Brotli's best quality for code, which it shrinks 4-6x (about 1 MB/s on 2 busy cores); a fast
# one for archives and model weights, which shrink by 0-25 % at any quality.
BROTLI_QUALITY = {".wasm": 11, ".js": 11, ".mjs": 11, ".json": 11, ".txt": 11}
BROTLI_QUALITY_OTHER = 5
COMPRESS_SCRIPT = Path(__file__).resolve().parent / "compress.mjs"


def encodable(path: str) -> bool:
    """Tell whether a file of this name is one we precompress."""
    return os.path.splitext(path)[1].lower() in ENCODABLE


def sibling(path: Path, coding: str) -> Path:
    """The file holding ``path`` encoded with ``coding`` ('br' or 'gzip')."""
    return path.with_name(path.name + ENCODINGS[coding])


def read_list(path: Path) -> dict:
    """The ``files`` of an encoded.json, or {} when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data.get("files", {}) if data.get("format") == FORMAT else {}


def _fresh(entry: dict | None, src: Path, sha256: str) -> bool:
    """An old list entry still describes ``src`` and its siblings (sizes and mtimes)."""
    if not entry or entry.get("sha256") != sha256:
        return False
    mtime = src.stat().st_mtime_ns
    for coding in ENCODINGS:
        dst = sibling(src, coding)
        if coding not in entry:
            if dst.exists():
                return False
            continue
        try:
            st = dst.stat()
        except OSError:
            return False
        if st.st_size != entry[coding]["bytes"] or st.st_mtime_ns != mtime:
            return False
    return True


def _gzip(src: Path, dst: Path) -> None:
    raw = src.read_bytes()
    packed = gzip.compress(raw, compresslevel=9, mtime=0)
    if gzip.decompress(packed) != raw:
        raise RuntimeError(f"{src}: gzip round trip differs")
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(packed)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def update(list_path: Path, files: dict[str, tuple[Path, str]], node: str = "node") -> int:
    """Make the siblings of ``files`` and write ``list_path``; returns how many were remade.

    ``files`` maps a site-relative path (``vendor/pyodide/pyodide.asm.wasm``) to the file on
    disk and its verified sha256. Files that are not :func:`encodable` or are under
    ``MIN_BYTES`` are left out, and their stale siblings removed.
    """
    old = read_list(list_path)
    new: dict[str, dict] = {}
    todo: list[tuple[str, Path, str]] = []
    for rel, (src, sha256) in sorted(files.items()):
        if not encodable(rel) or src.stat().st_size < MIN_BYTES:
            for coding in ENCODINGS:
                with contextlib.suppress(FileNotFoundError):
                    sibling(src, coding).unlink()
            continue
        if _fresh(old.get(rel), src, sha256):
            new[rel] = old[rel]
        else:
            todo.append((rel, src, sha256))
    by_quality: dict[int, list[Path]] = {}
    for _, src, _ in todo:
        quality = BROTLI_QUALITY.get(src.suffix.lower(), BROTLI_QUALITY_OTHER)
        by_quality.setdefault(quality, []).append(src)
    for quality, sources in sorted(by_quality.items()):
        args = [node, str(COMPRESS_SCRIPT), str(quality)]
        for src in sources:
            args += [str(src), str(sibling(src, "br"))]
        proc = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise RuntimeError(f"brotli compression failed: {proc.stderr.strip()[-2000:]}")
    for rel, src, sha256 in todo:
        _gzip(src, sibling(src, "gzip"))
        st = src.stat()
        if sha256_file(src) != sha256:
            raise RuntimeError(f"{src} changed while it was compressed")
        entry = {"bytes": st.st_size, "sha256": sha256}
        for coding in ENCODINGS:
            dst = sibling(src, coding)
            size = dst.stat().st_size
            if size > st.st_size * MAX_RATIO:
                dst.unlink()
                continue
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
            entry[coding] = {"bytes": size, "sha256": sha256_file(dst)}
        new[rel] = entry
    text = json.dumps({"format": FORMAT, "files": new}, indent=1, sort_keys=True) + "\n"
    if not list_path.is_file() or list_path.read_text() != text:
        fd, tmp = tempfile.mkstemp(dir=list_path.parent, prefix=f".{list_path.name}.")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, list_path)
    return len(todo)
