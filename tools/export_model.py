"""Reproducible ONNX export of edge-infer's models, plus ``models/manifest.json``.

Run from the repository root, in the export-only venv (see tools/requirements-export.txt)::

    .venv-export/bin/python tools/export_model.py            # export, verify, write models/
    .venv-export/bin/python tools/export_model.py --check    # re-export to memory and
                                                             # compare sha256 with models/

Which models exist and how each is made is declared in ``tools/model_export/registry.toml``:
for every family (MobileNetV2, EfficientNet-Lite0) three variants,

* ``fp32``: ``torch.onnx.export`` (dynamo, opset 18) of the published weights, loaded into
  the networks of ``tools/model_export/networks.py``;
* ``fp16``: the fp32 file converted by onnxruntime's ``convert_float_to_float16`` with the
  graph inputs and outputs kept float32 (two Cast nodes at the edges);
* ``int8``: the fp32 file quantised by onnxruntime's ``quantize_static``: QDQ format,
  per-channel int8 weights with ``reduce_range`` (7-bit), uint8 activations, MinMax ranges
  from a fixed calibration set of scikit-image photos that no test uses.

Every file is built twice and the two byte strings must be identical, and every file passes
the checks of ``tools/model_export/verify.py`` before anything is written. The script exits
non-zero and writes nothing if any check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
from checksums import sha256_bytes, sha256_file
from model_export import ROOT, ExportError
from model_export.calibration import calibration_record, calibration_set
from model_export.environment import (
    check_license_evidence,
    check_versions,
    package_file,
    read_pins,
)
from model_export.labels import load_label_set
from model_export.networks import load_network
from model_export.onnx_export import convert_fp16, quantize_int8, torch_export_bytes, twice
from model_export.registry import Family, ModelSpec, Registry, load_registry
from model_export.verify import describe, photo_inputs, verify_derived, verify_fp32

MODELS_DIR = ROOT / "models"
MANIFEST_NAME = "manifest.json"
TOOL = "tools/export_model.py"
SCHEMA_VERSION = 1

# One built model: its spec, bytes, check report and provenance record.
Built = tuple[ModelSpec, bytes, dict[str, Any], dict[str, Any]]


def build_family(fam: Family, registry: Registry, labels: list[str], pins: dict) -> list[Built]:
    """Build, verify and describe the three variants of one family."""
    variants = registry.variants
    opset = variants["fp32"]["opset"]
    check_license_evidence(fam.license_evidence)
    photos = photo_inputs(fam, registry.test_photos)
    fp32_spec, fp16_spec, int8_spec = (ModelSpec(fam, p) for p in registry.precisions)

    weights = package_file(fam.weights["module"], fam.weights["file"], fam.weights["sha256"])
    model = load_network(fam.network, weights)
    fp32 = twice(fp32_spec.id, lambda: torch_export_bytes(model, fam, opset))
    fp32_report = verify_fp32(fp32_spec, fp32, model, labels, photos, variants["fp32"])
    source = fam.source(pins)
    export = {
        "tool": TOOL,
        "torch": pins["torch"],
        "onnx": pins["onnx"],
        "onnxscript": pins["onnxscript"],
        "onnx_opset": opset,
        "dynamo": True,
    }
    out = [(fp32_spec, fp32, fp32_report, {**source, "export": export})]

    parent = {"id": fp32_spec.id, "sha256": sha256_bytes(fp32), "bytes": len(fp32)}
    ref = fp32_report["probs"]

    def derived(spec: ModelSpec, data: bytes, conversion: dict[str, Any]) -> Built:
        settings = variants[spec.precision]
        report = verify_derived(spec, data, ref, photos, settings, opset)
        conversion = {
            "tool": TOOL,
            "function": settings["function"],
            "onnxruntime": pins["onnxruntime"],
            "settings": settings["settings"],
            **conversion,
        }
        return spec, data, report, {**source, "derived_from": parent, "conversion": conversion}

    fp16 = twice(fp16_spec.id, lambda: convert_fp16(fp32, variants["fp16"]["settings"]))
    out.append(derived(fp16_spec, fp16, {}))

    int8 = variants["int8"]
    samples = calibration_set(
        tuple(int8["calibration"]["photos"]), registry.test_photos, fam.preprocess
    )
    int8_bytes = twice(
        int8_spec.id, lambda: quantize_int8(fp32, fam.input_name, samples, int8["settings"])
    )
    calibration = calibration_record(int8["calibration"], registry.test_photos, len(samples), pins)
    out.append(derived(int8_spec, int8_bytes, {"calibration": calibration}))
    return out


def build_all(registry: Registry, pins: dict[str, str]) -> dict[str, bytes]:
    """Return {file name: bytes} for every model and the manifest, all verified."""
    label_sets = {key: load_label_set(ls, pins) for key, ls in registry.label_sets.items()}
    files: dict[str, bytes] = {}
    entries = []
    for fam in registry.families:
        labels = label_sets[fam.labels]["labels"]
        for spec, data, report, provenance in build_family(fam, registry, labels, pins):
            print(f"== {spec.id}: {len(data)} bytes, sha256 {sha256_bytes(data)}")
            print("\n".join(f"   {line}" for line in describe(report, labels)))
            files[spec.file] = data
            entries.append(spec.manifest_entry(data, provenance))

    manifest = {
        "schema_version": SCHEMA_VERSION,
        "default_model": registry.default_model,
        "label_sets": label_sets,
        "models": entries,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    files[MANIFEST_NAME] = text.encode("utf-8")
    return files


def compare(files: dict[str, bytes], out_dir: Path) -> int:
    """Print OK/DIFF per file against ``out_dir``; returns how many differ."""
    bad = 0
    for name, data in files.items():
        path = out_dir / name
        have = sha256_file(path) if path.is_file() else "missing"
        ok = have == sha256_bytes(data)
        bad += not ok
        print(f"{'OK  ' if ok else 'DIFF'} {name} committed {have} rebuilt {sha256_bytes(data)}")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="re-export to memory and compare sha256 with models/",
    )
    parser.add_argument(
        "--out-dir", type=Path, default=MODELS_DIR, help="where to write (default: models/)"
    )
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    try:
        pins = read_pins()
        check_versions(pins)
        files = build_all(load_registry(), pins)
    except ExportError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1

    if args.check:
        bad = compare(files, args.out_dir)
        if bad:
            print(f"FAILED: {bad} file(s) differ from a fresh export", file=sys.stderr)
            return 1
        print("check passed: committed files match a fresh export byte for byte")
        return 0

    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out_dir / name).write_bytes(data)
        print(f"wrote {args.out_dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
