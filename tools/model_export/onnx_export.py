"""Deterministic ONNX bytes: torch export (fp32), and the fp16 and int8 files derived from it.

Every file is normalised so that it does not depend on where the repository or the venv
lives: all ``metadata_props`` and ``doc_string`` fields (stack traces, file paths, FX debug
text) are dropped, and the protobuf is serialised deterministically. Weights stay inside the
single ``.onnx`` file.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from checksums import sha256_bytes
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.transformers.float16 import convert_float_to_float16
from torch import nn

from model_export import ExportError
from model_export.registry import Family


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
    """Normalised, deterministically serialised bytes of ``model``."""
    return normalise_onnx(model).SerializeToString(deterministic=True)


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


def torch_export_bytes(model: nn.Module, fam: Family, opset: int) -> bytes:
    """torch.onnx.export (dynamo) to a temp dir, then normalise and serialise."""
    x = torch.zeros(*fam.input_shape, dtype=torch.float32)
    with tempfile.TemporaryDirectory(prefix="edge-infer-export-") as tmp:
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(
            model,
            (x,),
            path,
            dynamo=True,
            opset_version=opset,
            input_names=[fam.input_name],
            output_names=[fam.output_name],
            external_data=False,
        )
        written = sorted(p.name for p in Path(tmp).iterdir())
        if written != [path.name]:
            raise ExportError(f"exporter wrote {written}, expected only {path.name}")
        proto = onnx.load(path, load_external_data=False)
    return serialise(proto)


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


def convert_fp16(fp32: bytes, settings: dict[str, Any]) -> bytes:
    """The fp32 file with every op in fp16 (onnxruntime's converter, then re-sorted)."""
    proto = convert_float_to_float16(onnx.load_from_string(fp32), **settings)
    topological_sort(proto.graph)
    return serialise(proto)


class ArrayReader(CalibrationDataReader):
    """Feeds preprocessed samples to the calibrator, one at a time."""

    def __init__(self, input_name: str, samples: list[np.ndarray]):
        self._it = iter([{input_name: x} for x in samples])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


# The registry names quantize_static's enum arguments; these are their types.
QUANT_ENUMS = {
    "quant_format": QuantFormat,
    "activation_type": QuantType,
    "weight_type": QuantType,
    "calibrate_method": CalibrationMethod,
}


def quantize_int8(
    fp32: bytes, input_name: str, samples: list[np.ndarray], settings: dict[str, Any]
) -> bytes:
    """The fp32 file statically quantised with ``settings``, calibrated on ``samples``."""
    arguments = {k: QUANT_ENUMS[k][v] if k in QUANT_ENUMS else v for k, v in settings.items()}
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
                ArrayReader(input_name, samples),
                **arguments,
            )
            written = sorted(p.name for p in Path(tmp).iterdir())
            if written != [path.name]:
                raise ExportError(f"quantize_static wrote {written}, expected only {path.name}")
            proto = onnx.load(path, load_external_data=False)
    finally:
        root.setLevel(level)
    return serialise(proto)
