"""The classification pipeline: preprocess, infer, postprocess, each stage timed.

Inference is a callable supplied by the host: native onnxruntime in CPython, or a bridge to
onnxruntime-web in Pyodide (which returns an awaitable). The pipeline itself is pure numpy.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from edge_infer.manifest import ModelSpec
from edge_infer.postprocess import postprocess
from edge_infer.preprocess import preprocess

InferFn = Callable[[np.ndarray], "np.ndarray | Awaitable[np.ndarray]"]


class Pipeline:
    """Classifies pixels with one model.

    Args:
        model: the manifest entry (preprocessing spec, labels, id and version).
        infer: maps the float32 input tensor to logits; may return an awaitable.
        runtime: facts about the host, copied into every result's ``runtime`` field.

    """

    def __init__(self, model: ModelSpec, infer: InferFn, runtime: dict[str, Any] | None = None):
        self.model = model
        self.infer = infer
        self.runtime = dict(runtime or {})
        self._input = np.empty(model.input_shape, dtype=np.float32)  # reused across calls

    async def classify(self, pixels: np.ndarray, *, top_k: int = 5, decode_ms: float = 0.0):
        """Classify one image; awaits the inference callable if it returns an awaitable.

        Args:
            pixels: decoded uint8 pixels, ``(H, W, 4)``, ``(H, W, 3)`` or ``(H, W)``.
            top_k: how many classes to return.
            decode_ms: time the host spent decoding the image, reported in ``timings_ms``.

        Returns:
            The result dict (see :func:`make_result`).

        """
        t0 = time.perf_counter()
        x = preprocess(pixels, self.model.preprocess, out=self._input)
        t1 = time.perf_counter()
        logits = self.infer(x)
        if inspect.isawaitable(logits):
            logits = await logits
        t2 = time.perf_counter()
        ranked = postprocess(logits, self.model.labels, top_k)
        t3 = time.perf_counter()
        return self._result(ranked, decode_ms, t0, t1, t2, t3)

    def classify_sync(self, pixels: np.ndarray, *, top_k: int = 5, decode_ms: float = 0.0):
        """Like :meth:`classify` for hosts whose inference is synchronous (CPython)."""
        coro = self.classify(pixels, top_k=top_k, decode_ms=decode_ms)
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value
        coro.close()
        raise TypeError("inference returned an awaitable; use 'await Pipeline.classify'")

    def _result(self, ranked, decode_ms, t0, t1, t2, t3) -> dict:
        timings = {
            "decode": round(float(decode_ms), 4),
            "preprocess": round((t1 - t0) * 1e3, 4),
            "inference": round((t2 - t1) * 1e3, 4),
            "postprocess": round((t3 - t2) * 1e3, 4),
            "total": round(float(decode_ms) + (t3 - t0) * 1e3, 4),
        }
        return make_result(ranked, timings, self.model, self.runtime)


def make_result(ranked: list[dict], timings_ms: dict, model: ModelSpec, runtime: dict) -> dict:
    """Build the result object shared by every host.

    ``{label, confidence, top_k: [{index, label, probability}], timings_ms: {decode,
    preprocess, inference, postprocess, total}, model: {id, version}, runtime: {...}}``, plus
    the classic edge-inference fields ``latency_ms`` (the total) and ``model_version``.
    """
    best = ranked[0]
    return {
        "label": best["label"],
        "confidence": best["probability"],
        "latency_ms": timings_ms["total"],
        "model_version": model.version,
        "top_k": ranked,
        "timings_ms": timings_ms,
        "model": {"id": model.id, "version": model.version},
        "runtime": dict(runtime),
    }
