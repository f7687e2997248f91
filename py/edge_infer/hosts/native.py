"""CPython host: native onnxruntime, model files verified against the manifest's sha256."""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path

import numpy as np

from edge_infer.manifest import Manifest, ModelSpec
from edge_infer.pipeline import Pipeline


class ModelIntegrityError(RuntimeError):
    """A model file is missing or its bytes do not match the manifest."""


def verify_model_file(path: Path, model: ModelSpec) -> bytes:
    """Read a model file and check its size and sha256 against the manifest entry.

    Returns:
        The verified bytes.

    Raises:
        ModelIntegrityError: the file is missing, or its size or sha256 differs.

    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelIntegrityError(f"model {model.id}: cannot read {path}: {exc.strerror}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != model.sha256 or len(data) != model.bytes:
        raise ModelIntegrityError(
            f"model {model.id}: {path.name} fails its integrity check "
            f"(sha256 {digest}, {len(data)} bytes; manifest says {model.sha256}, "
            f"{model.bytes} bytes)"
        )
    return data


def runtime_facts(threads: int) -> dict:
    """The ``runtime`` block of a CPython result."""
    import onnxruntime as ort

    return {
        "host": "cpython",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": ort.__version__,
        "backend": "cpu",
        "threads": threads,
    }


def create_pipeline(
    manifest: Manifest, models_dir: Path, model_id: str | None = None, threads: int = 1
) -> Pipeline:
    """Verify the model file, open an onnxruntime session, and wrap it in a :class:`Pipeline`.

    Args:
        manifest: the parsed manifest.
        models_dir: the folder holding the manifest's model files.
        model_id: which model (the manifest's default when None).
        threads: onnxruntime intra-op threads.

    """
    import onnxruntime as ort

    model = manifest.get(model_id)
    data = verify_model_file(Path(models_dir) / model.file, model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    inputs = {model.input_name: None}
    outputs = [model.output_name]

    def infer(x: np.ndarray) -> np.ndarray:
        inputs[model.input_name] = x
        return session.run(outputs, inputs)[0]

    hooks = None
    if model.hooks is not None:
        from edge_infer.hooks import load_hooks, put_wheels_on_path

        wheels = [Path(models_dir) / w.file for w in model.hooks.wheels]
        for wheel, path in zip(model.hooks.wheels, wheels, strict=True):
            _check_wheel(model, path, wheel.sha256)
        put_wheels_on_path(wheels)
        path = Path(models_dir) / model.hooks.file
        try:
            source = path.read_bytes()
        except OSError as exc:
            raise ModelIntegrityError(f"cannot read {path}: {exc.strerror or exc}") from exc
        hooks = load_hooks(source, model.hooks.file, model.hooks.sha256)
    return Pipeline(model, infer, runtime_facts(threads), hooks)


def _check_wheel(model: ModelSpec, path: Path, sha256: str) -> None:
    """Check a wheel of ``model``'s hooks against the manifest's sha256."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelIntegrityError(
            f"model {model.id}: cannot read {path}: {exc.strerror or exc}"
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ModelIntegrityError(
            f"model {model.id}: {path} fails its integrity check "
            f"(sha256 {digest}; manifest says {sha256})"
        )
