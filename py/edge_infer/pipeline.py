"""The classification pipeline: preprocess, infer, postprocess, each stage timed.

Inference is a callable supplied by the host (native onnxruntime in CPython), or the host runs
it itself between :meth:`Pipeline.start` and :meth:`Pending.finish` (onnxruntime-web, driven
by the Pyodide host's worker). The pipeline itself is pure numpy, and it alone builds results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edge_infer.hooks import Hooks
from edge_infer.manifest import ModelSpec
from edge_infer.postprocess import ACTIVATIONS, present, top_k
from edge_infer.preprocess import preprocess

InferFn = Callable[[np.ndarray], np.ndarray]


class Pipeline:
    """Classifies pixels with one model.

    A classification is two synchronous halves around inference: :meth:`start` preprocesses
    and hands out the input tensor, :meth:`Pending.finish` postprocesses the logits. The
    CPython host calls :meth:`classify`, which runs ``infer`` between them; the Pyodide host
    calls the halves from JavaScript around onnxruntime-web's promise (no Python event-loop
    round trip on the hot path).

    Args:
        model: the manifest entry (preprocessing spec, labels, id and version).
        infer: maps the float32 input tensor to logits. ``None`` when the host runs inference
            itself between ``start`` and ``finish``.
        runtime: facts about the host, copied into every result's ``runtime`` field.
        hooks: the model's own Python hooks (see :mod:`edge_infer.hooks`), which replace the
            built-in preprocessing and/or output activation.

    Attributes:
        input: the float32 input tensor every :meth:`start` fills (one array per pipeline).

    """

    def __init__(
        self,
        model: ModelSpec,
        infer: InferFn | None = None,
        runtime: dict[str, Any] | None = None,
        hooks: Hooks | None = None,
    ):
        self.model = model
        self.infer = infer
        self.hooks = hooks
        self.runtime = dict(runtime or {})
        # Reused across calls; the Pyodide host's worker keeps a view of it for the engine.
        self.input = np.empty(model.input_shape, dtype=np.float32)

    def start(
        self,
        pixels: np.ndarray,
        *,
        top_k: int = 5,
        decode_ms: float = 0.0,
        mode: str = "exact",
        source_size: tuple[int, int] | None = None,
    ) -> Pending:
        """Preprocess ``pixels``; the returned :class:`Pending` holds the input tensor.

        Args:
            pixels: decoded uint8 pixels, ``(H, W, 4)``, ``(H, W, 3)`` or ``(H, W)``.
            top_k: how many classes to return.
            decode_ms: time the host spent decoding the image, reported in ``timings_ms``.
            mode: ``"exact"`` (numpy resizes) or ``"fast"`` (the host already resized the
                shorter side; see :func:`edge_infer.preprocess.preprocess`). A model's
                preprocess hook ignores it, and results then say ``"hook"``.
            source_size: ``(width, height)`` of the image before any resizing by the host;
                the pixels' own size by default.

        The input tensor is this pipeline's reused buffer: finish one classification before
        starting the next.

        """
        t0 = time.perf_counter()
        if source_size is None:
            source_size = (int(pixels.shape[1]), int(pixels.shape[0]))
        if self.hooks is not None and self.hooks.preprocess is not None:
            x = self.hooks.run_preprocess(pixels, self.model, self.input)
            mode = "hook"
        else:
            x = preprocess(pixels, self.model.preprocess, out=self.input, mode=mode)
        return Pending(self, x, top_k, decode_ms, mode, source_size, t0, time.perf_counter())

    def classify(self, pixels: np.ndarray, *, top_k: int = 5, decode_ms: float = 0.0) -> dict:
        """Classify one image with ``infer`` (exact preprocessing).

        Returns:
            The result dict (see :func:`make_result`).

        """
        if self.infer is None:
            raise TypeError("this pipeline has no inference callable; use start() and finish()")
        pending = self.start(pixels, top_k=top_k, decode_ms=decode_ms)
        return pending.finish(self.infer(pending.input))


class Pending:
    """A preprocessed image waiting for its logits (made by :meth:`Pipeline.start`).

    Attributes:
        input: the float32 NCHW input tensor for the engine.

    """

    def __init__(
        self,
        pipeline: Pipeline,
        x: np.ndarray,
        top_k: int,
        decode_ms: float,
        mode: str,
        source_size: tuple[int, int],
        t0: float,
        t1: float,
    ):
        self.pipeline, self.input = pipeline, x
        self._top_k, self._decode_ms, self._mode = top_k, float(decode_ms), mode
        self._source_size, self._t0, self._t1 = source_size, t0, t1

    def finish(
        self,
        logits: np.ndarray,
        inference_ms: float | None = None,
        *,
        host_ms: float = 0.0,
        detail_ms: dict[str, float] | None = None,
    ) -> dict:
        """Postprocess ``logits`` into the result dict (see :func:`make_result`).

        Args:
            logits: the engine's output for :attr:`input`.
            inference_ms: the engine time as the host measured it; by default the time since
                :meth:`Pipeline.start` returned.
            host_ms: time the host spent on this image outside :meth:`Pipeline.start` and
                this call and outside decoding (the bridge before ``start``); part of
                ``total``.
            detail_ms: finer timings the host measured (for example the engine's own run
                time, or the wait in its queue), reported as ``timings_detail_ms``.

        """
        t2 = time.perf_counter()
        model = self.pipeline.model
        hooks = self.pipeline.hooks
        if hooks is not None and hooks.postprocess is not None:
            probabilities = hooks.run_postprocess(logits, model)
        else:
            probabilities = ACTIVATIONS[model.output.activation](logits)
        ranked = top_k(probabilities, model.labels, self._top_k)
        if model.output.activation == "sigmoid":
            found = present(probabilities, model.labels, model.output.threshold)
        t3 = time.perf_counter()
        if inference_ms is None:
            inference_ms = (t2 - self._t1) * 1e3
        # Wall time from preprocessing to here, so that the bridge to the engine counts too.
        total = self._decode_ms + float(host_ms) + (t3 - self._t0) * 1e3
        timings = {
            "decode": round(self._decode_ms, 4),
            "preprocess": round((self._t1 - self._t0) * 1e3, 4),
            "inference": round(float(inference_ms), 4),
            "postprocess": round((t3 - t2) * 1e3, 4),
            "total": round(total, 4),
        }
        result = make_result(ranked, timings, model, self.pipeline.runtime)
        if model.output.activation == "sigmoid":
            result["multi_label"] = {"threshold": model.output.threshold, "present": found}
        width, height = self._source_size
        result["image"] = {"width": int(width), "height": int(height)}
        result["preprocess_mode"] = self._mode
        if detail_ms is not None:
            result["timings_detail_ms"] = {k: round(float(v), 2) for k, v in detail_ms.items()}
        return result


def make_result(ranked: list[dict], timings_ms: dict, model: ModelSpec, runtime: dict) -> dict:
    """Build the result object shared by every host.

    ``{label, confidence, top_k: [{index, label, probability}], timings_ms: {decode,
    preprocess, inference, postprocess, total}, model: {id, version}, runtime: {...}}``, plus
    the classic edge-inference fields ``latency_ms`` (the total) and ``model_version``. A
    multi-label (sigmoid) model's result also has ``multi_label: {threshold, present}``, the
    classes at or above the threshold.
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
