"""Shared test helpers: repository paths, the scikit-image test photos, real drops."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
MANIFEST = MODELS / "manifest.json"
# The Content-Security-Policy tools/serve.py sends with every response.
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "connect-src 'self'; img-src 'self' blob: data:; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors *"
)
# The CLI's interpreter as the README writes it: relative to the repository root.
VENV_PYTHON = ".venv/bin/python"


def run_cli(*args: str, input: str | None = None, timeout: float = 120):
    """Run ``.venv/bin/python -m edge_infer ARGS`` exactly as the README does.

    From the repository root, with no PYTHONPATH: the package must be installed in .venv
    (``tools/setup.py`` installs it editable), not found through the environment.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [VENV_PYTHON, "-m", "edge_infer", *args],
        input=input,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


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
