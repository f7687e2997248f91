"""sha256 of bytes and files: the one hashing helper of ``tools/`` (stdlib only).

``tools/setup.py`` runs under the system python3 before ``.venv`` exists, so this module
imports nothing outside the standard library. Scripts run as ``python3 tools/x.py`` import
it directly (their folder is on ``sys.path``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20  # hash large files (the 14 MB ORT wasm, models) without reading them whole


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
