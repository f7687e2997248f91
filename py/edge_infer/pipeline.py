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

    A classification is two synchronous halves around inference: :meth:`start` preprocesses
    and hands out the input tensor, :meth:`Pending.finish` postprocesses the logits. The
    hosts drive them: :meth:`classify_sync` with a synchronous engine (native onnxruntime),
    :meth:`classify` with one that may return an awaitable, and the Pyodide host from
    JavaScript around onnxruntime-web's promise (no Python event-loop round trip on the hot
    path).

    Args:
        model: the manifest entry (preprocessing spec, labels, id and version).
        infer: maps the float32 input tensor to logits; may return an awaitable. ``None``
            when the host runs inference itself between ``start`` and ``finish``.
        runtime: facts about the host, copied into every result's ``runtime`` field.

    Attributes:
        input: the float32 input tensor every :meth:`start` fills (one array per pipeline).

    """

    def __init__(
        self, model: ModelSpec, infer: InferFn | None = None, runtime: dict[str, Any] | None = None
    ):
        self.model = model
        self.infer = infer
        self.runtime = dict(runtime or {})
        # Reused across calls; the Pyodide host's worker keeps a view of it for the engine.
        self.input = np.empty(model.input_shape, dtype=np.float32)

    def start(self, pixels: np.ndarray, *, top_k: int = 5, decode_ms: float = 0.0) -> Pending:
        """Preprocess ``pixels``; the returned :class:`Pending` holds the input tensor.

        Args:
            pixels: decoded uint8 pixels, ``(H, W, 4)``, ``(H, W, 3)`` or ``(H, W)``.
            top_k: how many classes to return.
            decode_ms: time the host spent decoding the image, reported in ``timings_ms``.

        The input tensor is this pipeline's reused buffer: finish one classification before
        starting the next.

        """
        t0 = time.perf_counter()
        x = preprocess(pixels, self.model.preprocess, out=self.input)
        return Pending(self, x, top_k, decode_ms, t0, time.perf_counter())

    async def classify(self, pixels: np.ndarray, *, top_k: int = 5, decode_ms: float = 0.0):
        """Classify one image with ``infer``, awaiting it if it returns an awaitable.

        Returns:
            The result dict (see :func:`make_result`).

        """
        pending = self.start(pixels, top_k=top_k, decode_ms=decode_ms)
        logits = self._infer(pending.input)
        if inspect.isawaitable(logits):
            logits = await logits
        return pending.finish(logits)

    def classify_sync(self, pixels: np.ndarray, *, top_k: int = 5, decode_ms: float = 0.0):
        """Like :meth:`classify` for hosts whose inference is synchronous (CPython)."""
        pending = self.start(pixels, top_k=top_k, decode_ms=decode_ms)
        logits = self._infer(pending.input)
        if inspect.isawaitable(logits):
            if inspect.iscoroutine(logits):
                logits.close()
            raise TypeError("inference returned an awaitable; use 'await Pipeline.classify'")
        return pending.finish(logits)

    def _infer(self, x: np.ndarray):
        if self.infer is None:
            raise TypeError("this pipeline has no inference callable; use start() and finish()")
        return self.infer(x)


class Pending:
    """A preprocessed image waiting for its logits (made by :meth:`Pipeline.start`).

    Attributes:
        input: the float32 NCHW input tensor for the engine.

    """

    def __init__(self, pipeline: Pipeline, x: np.ndarray, top_k: int, decode_ms: float, t0, t1):
        self.pipeline, self.input = pipeline, x
        self._top_k, self._decode_ms, self._t0, self._t1 = top_k, float(decode_ms), t0, t1

    def finish(self, logits: np.ndarray, inference_ms: float | None = None) -> dict:
        """Postprocess ``logits`` into the result dict (see :func:`make_result`).

        Args:
            logits: the engine's output for :attr:`input`.
            inference_ms: the engine time as the host measured it; by default the time since
                :meth:`Pipeline.start` returned.

        """
        t2 = time.perf_counter()
        model = self.pipeline.model
        ranked = postprocess(logits, model.labels, self._top_k)
        t3 = time.perf_counter()
        if inference_ms is None:
            inference_ms = (t2 - self._t1) * 1e3
        preprocess_ms = (self._t1 - self._t0) * 1e3
        postprocess_ms = (t3 - t2) * 1e3
        timings = {
            "decode": round(self._decode_ms, 4),
            "preprocess": round(preprocess_ms, 4),
            "inference": round(float(inference_ms), 4),
            "postprocess": round(postprocess_ms, 4),
            "total": round(self._decode_ms + preprocess_ms + inference_ms + postprocess_ms, 4),
        }
        return make_result(ranked, timings, model, self.pipeline.runtime)


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
