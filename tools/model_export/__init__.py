"""The parts of ``tools/export_model.py``: registry, networks, ONNX building, calibration, checks.

- ``registry.toml`` / :mod:`.registry`: which models exist, their weights, preprocessing,
  precision variants and the checks they must pass;
- :mod:`.networks`: the torch networks the published weights load into;
- :mod:`.onnx_export`: torch to deterministic ONNX bytes, and the fp16 and int8 variants;
- :mod:`.calibration`: the int8 calibration samples;
- :mod:`.verify`: the checks every file passes before anything is written;
- :mod:`.environment`: the pinned export venv and the installed packages' files.

The export venv does not install edge-infer, so ``py/`` goes on ``sys.path`` here: the checks
and the calibration decode and preprocess with the app's own package.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "py") not in sys.path:
    sys.path.insert(0, str(ROOT / "py"))


class ExportError(RuntimeError):
    """A check failed; nothing is written."""
