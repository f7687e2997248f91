"""Pyodide host: inference is onnxruntime-web, reached through Pyodide's JS bridge.

The worker (``web/lib/worker.js``) creates a :class:`BrowserHost`, registers one JS ``run``
function per model, and calls :meth:`BrowserHost.classify` with the decoded RGBA pixels. The
input tensor goes to JS as a PyProxy whose buffer JS views without copying.
"""

from __future__ import annotations

import json
import platform
from typing import Any

import numpy as np

from edge_infer.manifest import parse_manifest_json
from edge_infer.pipeline import Pipeline


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

    def runtime_json(self) -> str:
        """The runtime facts every result carries, as JSON text."""
        return json.dumps(self.runtime)

    def add_model(self, model_id: str, js_run: Any) -> None:
        """Register ``js_run(tensor_proxy) -> Promise<Float32Array>`` as ``model_id``'s engine.

        ``js_run`` must take the buffer view, run the session, and release the view before
        its promise settles; the proxy is destroyed here afterwards.
        """
        from pyodide.ffi import create_proxy

        model = self.manifest.get(model_id)
        logits = np.empty(len(model.labels), dtype=np.float32)

        async def infer(x: np.ndarray) -> np.ndarray:
            proxy = create_proxy(x)
            try:
                out = await js_run(proxy)
            finally:
                proxy.destroy()
            out.assign_to(logits)
            return logits

        self.pipelines[model_id] = Pipeline(model, infer, self.runtime)

    def remove_model(self, model_id: str) -> None:
        """Forget ``model_id``'s pipeline (its JS session is released by the worker)."""
        self.pipelines.pop(model_id, None)

    async def classify(
        self, model_id: str, rgba: Any, width: int, height: int, top_k: int, decode_ms: float
    ) -> str:
        """Classify RGBA pixels (a JS ``Uint8ClampedArray``); returns the result as JSON text.

        JSON crosses the bridge as one string, so no PyProxy outlives the call.
        """
        pixels = np.empty((height, width, 4), dtype=np.uint8)
        rgba.assign_to(pixels)
        result = await self.pipelines[model_id].classify(
            pixels, top_k=int(top_k), decode_ms=float(decode_ms)
        )
        return json.dumps(result)
