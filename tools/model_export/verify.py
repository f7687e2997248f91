"""The checks every exported file passes before anything is written.

Each file: the ONNX checker, the opset, float32 graph input and output. fp32: onnxruntime
against torch on the logits, and the registry's expected top-1 on photos scikit-image ships.
fp16 and int8: fp32's top-1 on the same photos, and a bound on the largest probability change.
Probabilities and top-k come from the app's own ``edge_infer.postprocess``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from edge_infer.decode import decode_file
from edge_infer.manifest import parse_preprocess
from edge_infer.postprocess import softmax, top_k
from edge_infer.preprocess import preprocess
from torch import nn

from model_export import ExportError
from model_export.environment import skimage_photo
from model_export.registry import Family, ModelSpec


def photo_inputs(fam: Family, photos: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Each photo decoded and preprocessed by the app's package, as users get it."""
    spec = parse_preprocess(fam.preprocess)
    return {image: preprocess(decode_file(skimage_photo(image))[0], spec) for image in photos}


def check_graph(spec: ModelSpec, data: bytes, opset: int) -> list[tuple[str, int]]:
    """ONNX checker, opset, float32 graph input/output; returns the op histogram."""
    fam = spec.fam
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    if [(o.domain, o.version) for o in proto.opset_import] != [("", opset)]:
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
    """Logits of ``data`` on every input, with native onnxruntime at one thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    fam = spec.fam
    return {
        name: session.run([fam.output_name], {fam.input_name: x})[0] for name, x in inputs.items()
    }


def verify_fp32(
    spec: ModelSpec,
    data: bytes,
    model: nn.Module,
    labels: list[str],
    photos: dict[str, np.ndarray],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """Check that onnxruntime matches torch within ``max_abs_diff`` and gives the answers."""
    ops = check_graph(spec, data, settings["opset"])
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
    if not max_diff <= settings["max_abs_diff"]:
        raise ExportError(
            f"{spec.id}: onnxruntime vs torch max abs diff {max_diff:.3g} "
            f"> {settings['max_abs_diff']}"
        )
    probs = {image: softmax(logits[image]) for image in photos}
    for image, (accepted, min_prob) in spec.fam.expect_top1.items():
        best = top_k(probs[image], labels, 1)[0]
        if best["label"] not in accepted or best["probability"] < min_prob:
            raise ExportError(
                f"{spec.id}/{image}: top-1 {best['label']!r} p={best['probability']:.3f}, "
                f"expected one of {accepted} with p>={min_prob}"
            )
    return {
        "ops": ops,
        "probs": probs,
        "check": f"onnxruntime vs torch max abs diff {max_diff:.3g}",
    }


def verify_derived(
    spec: ModelSpec,
    data: bytes,
    ref: dict[str, np.ndarray],
    photos: dict[str, np.ndarray],
    settings: dict[str, Any],
    opset: int,
) -> dict[str, Any]:
    """Same top-1 as fp32 on the check photos, and a bound on the largest probability change."""
    ops = check_graph(spec, data, opset)
    probs = {image: softmax(z) for image, z in run_onnx(spec, data, photos).items()}
    deltas = {image: float(np.abs(p - ref[image]).max()) for image, p in probs.items()}
    limit = settings["max_prob_delta"]
    for image in spec.fam.expect_top1:
        if int(probs[image].argmax()) != int(ref[image].argmax()):
            raise ExportError(f"{spec.id}/{image}: top-1 differs from fp32")
        if not deltas[image] <= limit:
            raise ExportError(f"{spec.id}/{image}: max |p - p_fp32| {deltas[image]:.3f} > {limit}")
    worst = ", ".join(f"{image} {d:.4f}" for image, d in deltas.items())
    return {"ops": ops, "probs": probs, "deltas": deltas, "check": f"max |p - p_fp32|: {worst}"}


def describe(report: dict[str, Any], labels: list[str]) -> list[str]:
    """Printable lines of a report: the check, the op histogram, each photo's top-5."""
    lines = [report["check"], "ops: " + ", ".join(f"{op} x{n}" for op, n in report["ops"])]
    for image, p in report["probs"].items():
        top = "; ".join(f"{r['label']} {r['probability']:.3f}" for r in top_k(p, labels))
        lines.append(f"{image}: {top}")
    return lines
