"""Native baseline: CPython + native onnxruntime on the same model file and images."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from benchlib import MANIFEST, MODELS, ROOT
from benchlib.steady import Plan

sys.path.insert(0, str(ROOT / "py"))  # the edge_infer package, as pytest's pythonpath does

RAW_WARMUP = 3


def native_config(image: str, path: Path, threads: int, plan: Plan) -> dict:
    """Classify ``path`` with ``create_pipeline`` at ``threads``, decoding with Pillow each run.

    Then times raw ``session.run`` on the same input tensor. Records are shaped like the
    browser ones.
    """
    from edge_infer.hosts.native import create_pipeline
    from edge_infer.manifest import load_manifest

    manifest = load_manifest(MANIFEST)
    pipeline = create_pipeline(manifest, MODELS, threads=threads)
    runs = [_classify(pipeline, path) for _ in range(1 + plan.warmup + plan.runs)]
    return {
        "pipeline": "native",
        "threads": threads,
        "actual_threads": threads,
        "image": image,
        "first": runs[0],
        "warmup": runs[1 : 1 + plan.warmup],
        "samples": runs[1 + plan.warmup :],
        "ort_run_ms": _raw_session_runs(manifest, path, threads, plan.runs),
    }


def _classify(pipeline, path: Path) -> dict:
    """Decode with Pillow and classify once; summarised like the harness does."""
    from edge_infer.decode import decode_file

    t0 = time.perf_counter()
    pixels, decode_ms = decode_file(path)
    result = pipeline.classify(pixels, top_k=5, decode_ms=decode_ms)
    return {
        "label": result["label"],
        "confidence": result["confidence"],
        "timings_ms": result["timings_ms"],
        "wall_ms": (time.perf_counter() - t0) * 1e3,
    }


def _raw_session_runs(manifest, path: Path, threads: int, count: int) -> list[float]:
    """Milliseconds of bare ``session.run`` calls on this image's preprocessed tensor.

    The session has the same options as ``create_pipeline``'s.
    """
    import onnxruntime as ort
    from edge_infer.decode import decode_file
    from edge_infer.preprocess import preprocess

    model = manifest.get(None)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(
        str(MODELS / model.file), options, providers=["CPUExecutionProvider"]
    )
    feed = {model.input_name: preprocess(decode_file(path)[0], model.preprocess)}
    out = []
    for i in range(RAW_WARMUP + count):
        t0 = time.perf_counter()
        session.run([model.output_name], feed)
        if i >= RAW_WARMUP:
            out.append((time.perf_counter() - t0) * 1e3)
    return out


def native_versions() -> dict:
    """Versions of the native reference stack."""
    import numpy as np
    import onnxruntime as ort

    return {"onnxruntime": ort.__version__, "numpy": np.__version__}
