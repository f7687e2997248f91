"""Pyodide host: inference is onnxruntime-web, run by the worker between two Python calls.

The inference worker creates a :class:`BrowserHost` at boot (``web/lib/boot.js``) and drives
it through ``web/lib/python-host.js``, which keeps, per model, views of two arrays Python
reuses: the input tensor and the logits buffer. Per image it calls :meth:`BrowserHost.begin`
with the decoded RGBA pixels (preprocess into the input tensor), runs onnxruntime-web on its
view of that tensor, copies the logits into the logits buffer and calls
:meth:`BrowserHost.end` with what it measured; Python builds the whole result. Both calls
are synchronous: an async Python call from JavaScript costs two event-loop round trips
(about 1 ms each in the worker), which would be most of the pipeline's overhead. Only
scalars, the pixels and JSON strings cross the bridge per image; no PyProxy is made or
destroyed.
"""

from __future__ import annotations

import hashlib
import json
import platform
from typing import Any

import numpy as np

from edge_infer.hooks import HookError, load_hooks
from edge_infer.manifest import (
    ManifestError,
    ModelSpec,
    default_preprocess,
    parse_labels_file,
    parse_manifest_json,
    parse_model_entry,
)
from edge_infer.pipeline import Pending, Pipeline


class BrowserHost:
    """All Python state of one worker: the manifest, models registered at run time, pipelines.

    One pipeline per loaded model.

    Args:
        manifest_json: the manifest text, validated here.
        runtime_json: JSON of the JS-side runtime facts (versions, threads, isolation), if
            known yet; :meth:`set_runtime` adds them later.

    """

    def __init__(self, manifest_json: str, runtime_json: str = "{}"):
        self.manifest = parse_manifest_json(manifest_json)
        self.runtime: dict[str, Any] = {
            "host": "pyodide",
            "python": platform.python_version(),
            "numpy": np.__version__,
        }
        #: Models registered at run time (:meth:`register_model`), by id.
        self.registered: dict[str, ModelSpec] = {}
        self.pipelines: dict[str, Pipeline] = {}
        self._logits: dict[str, np.ndarray] = {}
        self._pending: dict[str, Pending] = {}
        self._installed_wheels: set[str] = set()  # sha256 of every wheel micropip installed
        self.set_runtime(runtime_json)

    def set_runtime(self, runtime_json: str) -> None:
        """Add JS-side runtime facts (JSON), for example once onnxruntime-web has booted.

        Results made after the call carry them, for models added before it too.
        """
        facts = json.loads(runtime_json)
        self.runtime.update(facts)
        for pipeline in self.pipelines.values():
            pipeline.runtime.update(facts)

    def runtime_json(self) -> str:
        """The runtime facts every result carries, as JSON text."""
        return json.dumps(self.runtime)

    def register_model(
        self,
        entry_json: str,
        labels_json: str | None = None,
        labels_file: Any = None,
        labels_source: str = "labels",
        hooks_source: str | None = None,
    ) -> None:
        """Validate a model entry given at run time, as a manifest entry is, and keep it.

        Nothing changes unless every check passes; registering an id again replaces that
        model's entry (the worker then adds it again with :meth:`add_model`).

        Args:
            entry_json: JSON of the entry, in the manifest's schema; its ``labels`` is its id.
                Without ``preprocess``, ``add-model``'s defaults for its input shape
                (:func:`~edge_infer.manifest.default_preprocess`).
            labels_json: JSON of the labels as a list of strings, or None when
                ``labels_file`` is given.
            labels_file: the bytes of a labels file (a JS ``Uint8Array`` in the browser),
                parsed by :func:`~edge_infer.manifest.parse_labels_file`.
            labels_source: the labels file's name, for error messages.
            hooks_source: the text of the hooks file the entry names (its sha256 checked).

        Raises:
            ManifestError: the entry or the labels are not valid, or the id is a manifest
                model's; the message names the field.
            HookError: the hooks file does not match its sha256 or does not load.

        """
        entry = json.loads(entry_json)
        if "preprocess" not in entry and _static_rank4(entry.get("input", {}).get("shape")):
            entry["preprocess"] = default_preprocess(entry["input"]["shape"])
        if labels_file is not None:
            data = labels_file.to_bytes() if hasattr(labels_file, "to_bytes") else labels_file
            labels: Any = parse_labels_file(bytes(data), labels_source)
        else:
            labels = json.loads(labels_json) if labels_json is not None else None
        spec = parse_model_entry(entry, labels, path=f"model {entry.get('id')!r}")
        if spec.id in self.manifest.models:
            raise ManifestError(
                f"model {spec.id!r}.id: a model of the manifest has this id; choose another"
            )
        if spec.hooks is not None:
            if hooks_source is None:
                raise HookError(f"{spec.hooks.file}: model {spec.id} needs its hooks file")
            load_hooks(hooks_source, spec.hooks.file, spec.hooks.sha256)
        self.registered[spec.id] = spec

    def model(self, model_id: str) -> ModelSpec:
        """The entry of ``model_id``: registered at run time, or the manifest's."""
        spec = self.registered.get(model_id)
        return spec if spec is not None else self.manifest.get(model_id)

    def labels_json(self, model_id: str) -> str:
        """The labels of ``model_id`` as a JSON list."""
        return json.dumps(self.model(model_id).labels)

    def add_model(self, model_id: str, hooks_source: str | None = None) -> None:
        """Make ``model_id`` classifiable (its onnxruntime-web session lives in the worker).

        Args:
            model_id: a manifest id, or the id of a model registered with
                :meth:`register_model`.
            hooks_source: the text of the model's hooks file, when its entry names one
                (checked against the entry's sha256 here too).

        Raises:
            HookError: the entry names a hooks file and none came, or it does not load.

        """
        model = self.model(model_id)
        hooks = None
        if model.hooks is not None:
            if hooks_source is None:
                raise HookError(f"{model.hooks.file}: model {model_id} needs its hooks file")
            hooks = load_hooks(hooks_source, model.hooks.file, model.hooks.sha256)
        self.pipelines[model_id] = Pipeline(model, None, self.runtime, hooks)
        self._logits[model_id] = np.zeros(len(model.labels), dtype=np.float32)
        self._pending.pop(model_id, None)

    async def install_wheels(self, model_id: str, folder: str) -> None:
        """Install ``model_id``'s hook wheels with micropip, before :meth:`add_model`.

        Args:
            model_id: a manifest id whose ``hooks.wheels`` the worker wrote into ``folder``
                (a Pyodide file-system path), each under its own file name.
            folder: where the wheels are.

        Each wheel's sha256 is checked here again, then micropip installs it from the file
        system with ``deps=False``: no index is asked and nothing is fetched. A wheel already
        installed (another model's, the same bytes) is not installed twice.

        Raises:
            HookError: a wheel does not match the manifest, or micropip cannot install it.

        """
        model = self.manifest.get(model_id)
        wheels = [w for w in model.hooks.wheels if w.sha256 not in self._installed_wheels]
        for wheel in wheels:
            with open(f"{folder}/{wheel.file}", "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            if digest != wheel.sha256:
                raise HookError(
                    f"{wheel.file} fails its integrity check (sha256 {digest}, "
                    f"expected {wheel.sha256})"
                )
        if not wheels:
            return
        try:
            import micropip  # loaded by the worker (hook-wheels.js) for the first such model
        except ImportError as exc:
            raise HookError(f"micropip did not load; model {model.id} needs it") from exc
        try:
            await micropip.install([f"emfs:{folder}/{w.file}" for w in wheels], deps=False)
        except Exception as exc:  # micropip's own errors: the wheel is unusable here
            names = ", ".join(w.file for w in wheels)
            raise HookError(f"{names}: micropip cannot install it: {exc}") from exc
        self._installed_wheels.update(w.sha256 for w in wheels)

    def remove_model(self, model_id: str) -> None:
        """Forget ``model_id``'s pipeline (its JS session is released by the worker)."""
        self.pipelines.pop(model_id, None)
        self._logits.pop(model_id, None)
        self._pending.pop(model_id, None)

    def input_tensor(self, model_id: str) -> np.ndarray:
        """The float32 input tensor :meth:`begin` fills for ``model_id`` (the same array always)."""
        return self.pipelines[model_id].input

    def logits_buffer(self, model_id: str) -> np.ndarray:
        """The float32 array :meth:`end` reads the logits from (the same array always)."""
        return self._logits[model_id]

    def begin(self, model_id: str, rgba: Any, width: int, height: int, image_json: str) -> None:
        """Preprocess RGBA pixels (a JS ``Uint8ClampedArray``) into :meth:`input_tensor`.

        Args:
            model_id: a model added with :meth:`add_model`.
            rgba: ``width * height * 4`` bytes, row-major.
            width: the pixels' width.
            height: the pixels' height.
            image_json: JSON of ``{mode, top_k, decode_ms, source_width, source_height}``:
                the preprocessing mode (checked here), classes to return, the time the
                worker spent decoding, and the image's size before the browser resized it.

        The worker then runs the session on the tensor and calls :meth:`end` before the next
        ``begin`` for this model.

        """
        image = json.loads(image_json)
        pixels = np.empty((height, width, 4), dtype=np.uint8)
        rgba.assign_to(pixels)
        pipeline = self.pipelines[model_id]
        self._pending[model_id] = pipeline.start(
            pixels,
            top_k=image["top_k"],
            decode_ms=image["decode_ms"],
            mode=image["mode"],
            source_size=(image["source_width"], image["source_height"]),
        )

    def end(self, model_id: str, measured_json: str) -> str:
        """Postprocess the logits the worker wrote into :meth:`logits_buffer`.

        Args:
            model_id: the model of the pending :meth:`begin`.
            measured_json: JSON of what the worker measured, in ms: ``inference`` (its
                inference stage: the engine call and the copies around it), ``ort_run``
                (onnxruntime-web's ``run`` alone), ``queue_wait`` (time the image waited for
                its turn) and ``before_begin`` (from its turn to :meth:`begin`).

        Returns the whole result as JSON text: one string crosses the bridge.

        """
        measured = json.loads(measured_json)
        pending = self._pending.pop(model_id)
        return json.dumps(
            pending.finish(
                self._logits[model_id],
                inference_ms=measured["inference"],
                host_ms=measured["before_begin"],
                detail_ms={"ort_run": measured["ort_run"], "queue_wait": measured["queue_wait"]},
            )
        )

    def abandon(self, model_id: str) -> None:
        """Drop :meth:`begin`'s pending image after inference failed."""
        self._pending.pop(model_id, None)


def _static_rank4(shape: Any) -> bool:
    """A shape :func:`default_preprocess` can read; anything else is left to validation."""
    return isinstance(shape, list) and len(shape) == 4 and all(type(d) is int for d in shape)
