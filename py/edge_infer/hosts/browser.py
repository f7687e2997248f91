"""Pyodide host: inference is onnxruntime-web, run by the worker between two Python calls.

The worker (``web/lib/worker.js``) creates a :class:`BrowserHost` and, per image, calls
:meth:`BrowserHost.begin` with the decoded RGBA pixels (preprocess; it gets the input tensor
back as a PyProxy whose buffer it views without copying), runs onnxruntime-web on that view,
and calls :meth:`BrowserHost.end` with the logits (postprocess). Both calls are synchronous:
an async Python call from JavaScript costs two event-loop round trips (about 1 ms each in
the worker), which would be most of the pipeline's overhead.
"""

from __future__ import annotations

import json
import platform
from typing import Any

import numpy as np

from edge_infer.manifest import parse_manifest_json
from edge_infer.pipeline import Pending, Pipeline


class BrowserHost:
    """All Python state of one worker: the manifest and one pipeline per loaded model.

    Args:
        manifest_json: the manifest text, validated here.
        runtime_json: JSON of the JS-side runtime facts (versions, threads, isolation).

    """

    def __init__(self, manifest_json: str, runtime_json: str):
        self.manifest = parse_manifest_json(manifest_json)
        self.runtime: dict[str, Any] = {
            "host": "pyodide",
            "python": platform.python_version(),
            "numpy": np.__version__,
            **json.loads(runtime_json),
        }
        self.pipelines: dict[str, Pipeline] = {}
        self._pending: dict[str, Pending] = {}

    def runtime_json(self) -> str:
        """The runtime facts every result carries, as JSON text."""
        return json.dumps(self.runtime)

    def add_model(self, model_id: str) -> None:
        """Make ``model_id`` classifiable (its onnxruntime-web session lives in the worker)."""
        self.pipelines[model_id] = Pipeline(self.manifest.get(model_id), None, self.runtime)
        self._pending.pop(model_id, None)

    def remove_model(self, model_id: str) -> None:
        """Forget ``model_id``'s pipeline (its JS session is released by the worker)."""
        self.pipelines.pop(model_id, None)
        self._pending.pop(model_id, None)

    def begin(
        self, model_id: str, rgba: Any, width: int, height: int, top_k: int, decode_ms: float
    ) -> np.ndarray:
        """Preprocess RGBA pixels (a JS ``Uint8ClampedArray``) for ``model_id``.

        Returns the float32 input tensor (reused per model: the worker views its buffer, runs
        the session, and calls :meth:`end` before the next ``begin`` for this model).
        """
        pixels = np.empty((height, width, 4), dtype=np.uint8)
        rgba.assign_to(pixels)
        pipeline = self.pipelines[model_id]
        pending = pipeline.start(pixels, top_k=int(top_k), decode_ms=float(decode_ms))
        self._pending[model_id] = pending
        return pending.input

    def end(self, model_id: str, logits: Any, inference_ms: float) -> str:
        """Postprocess the logits (a JS ``Float32Array``) of :meth:`begin`'s image.

        Returns the result as JSON text: one string crosses the bridge, so no PyProxy
        outlives the call.
        """
        pending = self._pending.pop(model_id)
        out = np.empty(len(pending.pipeline.model.labels), dtype=np.float32)
        logits.assign_to(out)
        return json.dumps(pending.finish(out, inference_ms=float(inference_ms)))

    def abandon(self, model_id: str) -> None:
        """Drop :meth:`begin`'s pending image after inference failed."""
        self._pending.pop(model_id, None)
