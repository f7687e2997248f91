"""``add-model``: register a user's ONNX image classifier in a manifest, checked first.

The model is loaded with native onnxruntime, its input and output are checked against what the
manifest schema can express, it is run once on a generated image through the same pipeline the
hosts use, and only then is it copied next to the manifest and the manifest rewritten
atomically. Every refusal raises :class:`AddModelError` before anything is written; a failure
while writing removes the copied model, so the manifest is byte for byte as it was.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from edge_infer.manifest import (
    CROP_RATIO,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MODEL_ID,
    PURE_WHEEL,
    ManifestError,
    ModelSpec,
    parse_labels_file,
    parse_manifest_json,
)


class AddModelError(Exception):
    """A refusal: the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class PreprocessOptions:
    """The preprocessing and output a user can choose; sizes come from the model input.

    ``resize_shorter_side`` None means ``round(max(crop) / (224 / 256))``, the ImageNet
    convention (256 for a 224 crop); ``resize="stretch"`` resizes straight to the input size
    instead. ``channel_order`` None means RGB for 3 channels and L for 1; ``layout`` None
    means the one the input shape shows. ``mean`` and ``std`` None mean ImageNet's for RGB
    and BGR (in that order) and 0 and 1 for grey; ``offset`` replaces both
    (``v * scale + offset``).
    """

    resize_shorter_side: int | None = None
    scale: float = 1 / 255
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    antialias: bool = True
    background: tuple[int, int, int] | None = None
    resize: str = "shorter_side"
    channel_order: str | None = None
    layout: str | None = None
    offset: float | None = None
    activation: str = "softmax"
    threshold: float | None = None


@dataclass(frozen=True)
class ModelIO:
    """What onnxruntime says about a model's single input and output."""

    input_name: str
    input_shape: tuple[int, int, int, int]
    output_name: str
    classes: int | None  # None: the output's class dimension is symbolic; the probe decides
    layout: str  # "NCHW" or "NHWC", as the shape shows (NCHW when both could be)


@dataclass(frozen=True)
class AddedModel:
    """What :func:`add_model` wrote."""

    id: str
    file: Path
    sha256: str
    bytes: int
    input_shape: tuple[int, ...]
    labels: int
    label_set: str
    probe_top1: str
    probe_probability: float
    #: The manifest was not in the canonical format before, so other lines changed too.
    reformatted: bool = False


def read_labels(path: Path) -> tuple[str, ...]:
    """Read class labels (see :func:`read_labels_file`)."""
    return read_labels_file(path)[0]


def read_labels_file(path: Path) -> tuple[tuple[str, ...], str]:
    """Read class labels: a ``.json`` file is a JSON list of strings, others one per line.

    Text files are UTF-8 (a BOM is allowed). Each label is stripped of surrounding spaces,
    blank lines at the end are ignored, and a blank line anywhere else is refused because it
    would shift every later class index.

    Raises:
        AddModelError: the file cannot be read, is not UTF-8, is malformed or holds no label.

    Returns:
        The labels and the sha256 of the file's bytes.

    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AddModelError(f"cannot read labels file {path}: {exc.strerror or exc}") from exc
    try:
        labels = parse_labels_file(data, str(path))
    except ManifestError as exc:
        raise AddModelError(str(exc)) from exc
    return labels, hashlib.sha256(data).hexdigest()


def inspect_model(session: Any, path: Path) -> ModelIO:
    """Check an onnxruntime session's input and output against what the manifest can run.

    Raises:
        AddModelError: not exactly one float input and one float output, a dynamic or
            unsupported input shape, or an output that is not ``[1, classes]``.

    """
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise AddModelError(
            f"{path}: the model has {len(inputs)} inputs ({names}); edge-infer feeds exactly "
            "one image tensor"
        )
    if len(outputs) != 1:
        names = ", ".join(o.name for o in outputs)
        raise AddModelError(
            f"{path}: the model has {len(outputs)} outputs ({names}); edge-infer reads exactly "
            "one class-score tensor"
        )
    inp, out = inputs[0], outputs[0]
    if inp.type != "tensor(float)":
        raise AddModelError(f"{path}: input {inp.name!r} is {inp.type}; it must be float32")
    if out.type != "tensor(float)":
        raise AddModelError(f"{path}: output {out.name!r} is {out.type}; it must be float32")
    shape = list(inp.shape or [])  # None or [] when onnxruntime knows no rank
    if len(shape) != 4:
        raise AddModelError(
            f"{path}: input {inp.name!r} has shape {shape}; expected an image batch of rank 4, "
            "[1, C, H, W] or [1, H, W, C]"
        )
    if not all(isinstance(d, int) and d > 0 for d in shape):
        raise AddModelError(
            f"{path}: input {inp.name!r} has a dynamic shape {shape}; edge-infer needs a "
            "static shape such as [1, 3, 224, 224] (export the model with fixed sizes)"
        )
    if shape[0] != 1:
        raise AddModelError(f"{path}: input {inp.name!r} has batch size {shape[0]}; it must be 1")
    if shape[1] in (1, 3):
        layout = "NCHW"
    elif shape[3] in (1, 3):
        layout = "NHWC"
    else:
        raise AddModelError(
            f"{path}: input {inp.name!r} {shape} is neither NCHW nor NHWC with 1 or 3 channels"
        )
    out_shape = list(out.shape or [])
    if len(out_shape) != 2 or (isinstance(out_shape[0], int) and out_shape[0] != 1):
        raise AddModelError(
            f"{path}: output {out.name!r} has shape {out_shape}; expected [1, classes]"
        )
    classes = out_shape[1] if isinstance(out_shape[1], int) and out_shape[1] > 0 else None
    return ModelIO(inp.name, tuple(shape), out.name, classes, layout)


def probe_image(height: int, width: int) -> np.ndarray:
    """A deterministic RGB test image: gradients and a checker, so no channel is constant."""
    y, x = np.mgrid[0:height, 0:width]
    checker = ((y // 8 + x // 8) % 2) * 64
    r = x * 255 // max(width - 1, 1)
    g = y * 255 // max(height - 1, 1)
    b = (checker + (x + y) % 192) % 256
    return np.stack([r, g, b], axis=2).astype(np.uint8)


def add_model(
    model_path: Path,
    labels_path: Path,
    manifest_path: Path,
    *,
    model_id: str | None = None,
    name: str | None = None,
    version: str = "1.0.0",
    license: str = "unspecified",
    preprocess: PreprocessOptions | None = None,
    hooks_path: Path | None = None,
    wheel_paths: list[Path] = (),
) -> AddedModel:
    """Validate a model, copy it next to the manifest as ``<id>.onnx`` and add its entry.

    Args:
        model_path: the ONNX file to add.
        labels_path: its class labels (see :func:`read_labels`).
        manifest_path: the manifest to extend; the model file goes into its folder.
        model_id: the entry's id (default: the model file's name without ``.onnx``).
        name: the display name (default: the id).
        version: the entry's version string.
        license: the model's license, as the user states it.
        preprocess: preprocessing options (default: ImageNet's).
        hooks_path: a Python file defining ``preprocess(pixels, model)`` and/or
            ``postprocess(logits, model)`` (see :mod:`edge_infer.hooks`), copied next to the
            model as ``<id>.hooks.py``.
        wheel_paths: pure-Python wheels (``*-py3-none-any.whl``) the hooks import, checked
            (see :func:`read_pure_wheel`), copied next to the model under their own names
            and listed with their sha256 in the entry's ``hooks.wheels``. The hooks file
            must import with them (and without any other package beyond numpy and the
            standard library).

    Returns:
        What was written.

    Raises:
        AddModelError: any check failed or the files could not be written; the manifest is
            then byte for byte unchanged and no copied model is left behind.

    """
    preprocess = preprocess or PreprocessOptions()
    manifest_path = Path(manifest_path)
    models_dir = manifest_path.parent
    original = _read_manifest(manifest_path)
    data = json.loads(original)

    model_id = model_id if model_id is not None else Path(model_path).stem
    if not MODEL_ID.match(model_id):
        raise AddModelError(
            f"model id {model_id!r} is not valid: use 1 to 64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (choose one with --id)"
        )
    if any(entry.get("id") == model_id for entry in data["models"]):
        raise AddModelError(
            f"model id {model_id!r} is already in {manifest_path}; choose another with --id"
        )

    try:
        model_bytes = Path(model_path).read_bytes()
    except OSError as exc:
        raise AddModelError(f"cannot read model file {model_path}: {exc.strerror or exc}") from exc
    labels, labels_sha256 = read_labels_file(Path(labels_path))
    session = _load_session(model_bytes, Path(model_path))
    io = inspect_model(session, Path(model_path))
    if io.classes is not None and io.classes != len(labels):
        raise AddModelError(
            f"{model_path}: output {io.output_name!r} has {io.classes} classes but labels file "
            f"{labels_path} has {len(labels)} labels"
        )

    hooks, hook_bytes = None, None
    wheels = {Path(w).name: read_pure_wheel(Path(w)) for w in wheel_paths}
    if len(wheels) != len(wheel_paths):
        raise AddModelError("the same wheel file name is given twice")
    if wheels and hooks_path is None:
        raise AddModelError("wheels are for a hooks file's imports: give --python HOOKS.py too")
    if hooks_path is not None:
        from edge_infer.hooks import HookError, load_hooks, put_wheels_on_path

        put_wheels_on_path(list(wheel_paths))

        try:
            hook_bytes = Path(hooks_path).read_bytes()
        except OSError as exc:
            why = exc.strerror or exc
            raise AddModelError(f"cannot read hooks file {hooks_path}: {why}") from exc
        try:
            hooks = load_hooks(hook_bytes, f"{model_id}.hooks.py")
        except HookError as exc:
            hint = ""
            if isinstance(exc.__cause__, ModuleNotFoundError):
                hint = (
                    "; a pure-Python package comes with the model as a wheel: "
                    "--wheel NAME-VERSION-py3-none-any.whl"
                )
            raise AddModelError(f"{hooks_path}: {exc}{hint}") from exc

    file_name = f"{model_id}.onnx"
    digest = hashlib.sha256(model_bytes).hexdigest()
    label_set = _label_set_for(data["label_sets"], model_id, labels)
    entry = _entry(
        model_id,
        name or model_id,
        version,
        license,
        file_name,
        digest,
        len(model_bytes),
        io,
        len(labels),
        _preprocess_block(preprocess, io),
        _output_block(preprocess),
        label_set,
        Path(model_path).name,
    )
    new_data = copy.deepcopy(data)
    if label_set not in new_data["label_sets"]:
        new_data["label_sets"][label_set] = {
            "source": {
                "file": Path(labels_path).name,
                "sha256": labels_sha256,
            },
            "labels": list(labels),
        }
    if hook_bytes is not None:
        entry["hooks"] = {
            "file": f"{model_id}.hooks.py",
            "sha256": hashlib.sha256(hook_bytes).hexdigest(),
        }
        if wheels:
            entry["hooks"]["wheels"] = [
                {"file": name, "sha256": hashlib.sha256(wheel_bytes).hexdigest()}
                for name, wheel_bytes in wheels.items()
            ]
    new_data["models"].append(entry)
    # The same serialisation tools/export_model.py uses, so existing entries keep their bytes.
    text = json.dumps(new_data, indent=2, ensure_ascii=False) + "\n"
    try:
        spec = parse_manifest_json(text, source=str(manifest_path)).get(model_id)
    except ManifestError as exc:
        raise AddModelError(f"the new manifest entry would be invalid: {exc}") from exc

    top1, probability = _probe(session, spec, len(labels), Path(model_path), hooks)

    dest = models_dir / file_name
    created = _place_model(dest, model_bytes)
    placed = [dest] if created else []
    try:
        if hook_bytes is not None and _place_model(models_dir / spec.hooks.file, hook_bytes):
            placed.append(models_dir / spec.hooks.file)
        for name, wheel_bytes in wheels.items():
            if _place_model(models_dir / name, wheel_bytes):
                placed.append(models_dir / name)
        if manifest_path.read_bytes() != original:
            raise AddModelError(f"{manifest_path} changed while the model was being checked")
        _replace_atomically(manifest_path, text.encode("utf-8"))
    except BaseException as exc:
        for path in placed:
            path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise AddModelError(f"cannot write {manifest_path}: {exc.strerror or exc}") from exc
        raise
    return AddedModel(
        model_id,
        dest,
        digest,
        len(model_bytes),
        spec.input_shape,
        len(labels),
        label_set,
        top1,
        probability,
        reformatted=json.dumps(data, indent=2, ensure_ascii=False) + "\n" != original.decode(),
    )


def read_pure_wheel(path: Path) -> bytes:
    """Read a wheel and check it is pure Python, so that it installs in Pyodide as in CPython.

    Its file name must carry the tags ``py3-none-any`` (or ``py2.py3-none-any``), and its
    ``*.dist-info/WHEEL`` must say ``Root-Is-Purelib: true``.

    Raises:
        AddModelError: the file cannot be read, is not a wheel, or is not pure Python.

    Returns:
        The wheel's bytes.

    """
    if not path.name.endswith(".whl"):
        raise AddModelError(f"{path} is not a wheel (.whl); build or download one first")
    if not PURE_WHEEL.match(path.name):
        tags = "-".join(path.name.removesuffix(".whl").split("-")[-3:])
        raise AddModelError(
            f"{path} is not a pure-Python wheel (tags {tags}); only NAME-VERSION-py3-none-any.whl "
            "wheels run in the browser"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AddModelError(f"cannot read wheel {path}: {exc.strerror or exc}") from exc
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            metadata = [n for n in archive.namelist() if n.count("/") == 1]
            wheel_files = [n for n in metadata if n.endswith(".dist-info/WHEEL")]
            info = archive.read(wheel_files[0]).decode("utf-8") if len(wheel_files) == 1 else ""
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise AddModelError(f"{path} is not a valid wheel: {exc}") from exc
    if not info:
        raise AddModelError(f"{path} is not a valid wheel: no single *.dist-info/WHEEL file")
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    if fields.get("Root-Is-Purelib", "").strip().lower() != "true":
        raise AddModelError(
            f"{path} is not a pure-Python wheel: its WHEEL file does not say Root-Is-Purelib: true"
        )
    return data


def _read_manifest(path: Path) -> bytes:
    try:
        original = path.read_bytes()
    except OSError as exc:
        raise AddModelError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    try:
        parse_manifest_json(original.decode("utf-8"), source=str(path))
    except (UnicodeDecodeError, ManifestError) as exc:
        # Never rewrite a manifest that is already broken: the user must see and fix it first.
        raise AddModelError(f"manifest {path} is not valid, fix it first: {exc}") from exc
    return original


def _load_session(model_bytes: bytes, path: Path) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise AddModelError(
            "add-model needs native onnxruntime: pip install 'edge-infer[native]'"
        ) from exc
    if not model_bytes:
        raise AddModelError(f"{path} is empty, not an ONNX model")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3  # onnxruntime's own warnings would bury our message
    try:
        return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for every cause
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc)
        raise AddModelError(
            f"{path} is not an ONNX model that onnxruntime can load: {reason}"
        ) from exc


def _preprocess_block(opts: PreprocessOptions, io: ModelIO) -> dict:
    layout = opts.layout or io.layout
    shape = io.input_shape
    if layout == "NCHW":
        channels, crop_h, crop_w = shape[1], shape[2], shape[3]
    else:
        channels, crop_h, crop_w = shape[3], shape[1], shape[2]
    if channels not in (1, 3):
        raise AddModelError(
            f"--layout {layout}: the input {list(shape)} would have {channels} channels; "
            "edge-infer feeds 1 (grey) or 3"
        )
    order = opts.channel_order or ("L" if channels == 1 else "RGB")
    if (order == "L") != (channels == 1):
        raise AddModelError(
            f"--channels {order} does not fit the model's {channels}-channel input {list(shape)}"
        )
    resize = {"interpolation": "bilinear", "antialias": opts.antialias}
    if opts.resize == "stretch":
        if opts.resize_shorter_side is not None:
            raise AddModelError("--resize-shorter-side has no meaning with --resize stretch")
        resize["mode"] = "stretch"
    else:
        shorter = opts.resize_shorter_side or round(max(crop_h, crop_w) / CROP_RATIO)
        if shorter < max(crop_h, crop_w):
            raise AddModelError(
                f"--resize-shorter-side {shorter} is smaller than the model's input "
                f"{crop_h}x{crop_w}; it must be at least {max(crop_h, crop_w)}"
            )
        resize["shorter_side"] = shorter
    block = {"resize": resize, "crop": {"height": crop_h, "width": crop_w}, "scale": opts.scale}
    if opts.offset is not None:
        if opts.mean is not None or opts.std is not None:
            raise AddModelError("--offset replaces --mean and --std; give one or the other")
        block["offset"] = opts.offset
    else:
        default_mean, default_std = (
            ((0.0,), (1.0,)) if channels == 1 else (IMAGENET_MEAN, IMAGENET_STD)
        )
        mean, std = opts.mean or default_mean, opts.std or default_std
        for flag, values in (("--mean", mean), ("--std", std)):
            if len(values) != channels:
                raise AddModelError(
                    f"{flag} has {len(values)} values; the model's input has {channels} "
                    f"channel{'s' if channels > 1 else ''}"
                )
        if any(not s > 0 for s in std):  # also refuses NaN
            raise AddModelError(f"--std {' '.join(map(str, std))}: every value must be > 0")
        block["mean"], block["std"] = list(mean), list(std)
    block["layout"] = layout
    block["channel_order"] = order
    if opts.background is not None:
        block["background"] = list(opts.background)
    return block


def _output_block(opts: PreprocessOptions) -> dict:
    """The entry's output options beyond the default softmax."""
    if opts.threshold is not None and opts.activation != "sigmoid":
        raise AddModelError("--threshold applies to --output sigmoid only")
    block = {} if opts.activation == "softmax" else {"activation": opts.activation}
    if opts.threshold is not None:
        block["threshold"] = opts.threshold
    return block


def _label_set_for(sets: dict, model_id: str, labels: tuple[str, ...]) -> str:
    """An existing set with exactly these labels (ImageNet's, say), else a new free name."""
    for name, entry in sets.items():
        if tuple(entry.get("labels", ())) == labels:
            return name
    name, n = model_id, 2
    while name in sets:
        name, n = f"{model_id}-{n}", n + 1
    return name


def _entry(
    model_id,
    name,
    version,
    license,
    file_name,
    digest,
    size,
    io,
    classes,
    preprocess,
    output,
    label_set,
    source,
) -> dict:
    from edge_infer import __version__

    # Key order as in the entries tools/export_model.py writes.
    return {
        "id": model_id,
        "version": version,
        "name": name,
        "task": "image-classification",
        "file": file_name,
        "sha256": digest,
        "bytes": size,
        "license": license,
        "provenance": {"added_by": f"edge_infer {__version__} add-model", "source_file": source},
        "input": {"name": io.input_name, "shape": list(io.input_shape), "dtype": "float32"},
        "output": {
            "name": io.output_name,
            "shape": [1, classes],
            "dtype": "float32",
            **output,
        },
        "preprocess": preprocess,
        "labels": label_set,
    }


def _probe(
    session: Any, spec: ModelSpec, classes: int, path: Path, hooks: Any = None
) -> tuple[str, float]:
    """Run the model once on a generated image through the hosts' own pipeline."""
    from edge_infer.pipeline import Pipeline

    pre = spec.preprocess
    height = max(pre.resize_shorter_side, pre.crop_height) + 37  # larger than the input: a resize
    width = height * 4 // 3 + 11
    image = probe_image(height, width)
    logits: list[np.ndarray] = []

    def infer(x: np.ndarray) -> np.ndarray:
        logits.append(session.run([spec.output_name], {spec.input_name: x})[0])
        return logits[-1]

    try:
        result = Pipeline(spec, infer, hooks=hooks).classify(image, top_k=1)
    except Exception as exc:
        got = f" (output shape {list(logits[-1].shape)})" if logits else ""
        raise AddModelError(
            f"{path}: the probe run on a generated {width}x{height} image failed{got}: {exc}"
        ) from exc
    if logits[-1].shape != (1, classes):
        raise AddModelError(
            f"{path}: on a generated image the output is shaped {list(logits[-1].shape)}, "
            f"not [1, {classes}] for {classes} labels"
        )
    return result["label"], result["confidence"]


def _place_model(dest: Path, data: bytes) -> bool:
    """Write the validated bytes to ``dest``; returns whether a new file was created.

    A file already there is kept only if it holds these very bytes (the user put the model in
    the models folder first); anything else there is someone's file, never overwritten.
    """
    if dest.exists():
        try:
            same = dest.read_bytes() == data
        except OSError:
            same = False
        if same:
            return False
        raise AddModelError(
            f"{dest} already exists and is a different file; choose another --id or move it"
        )
    try:
        _replace_atomically(dest, data, mode=0o644)
    except OSError as exc:
        raise AddModelError(f"cannot write {dest}: {exc.strerror or exc}") from exc
    return True


def _replace_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to a temp file in ``path``'s folder, then rename it over ``path``.

    The file keeps its permission bits (mkstemp would make it 0600, unreadable to a server).
    """
    if mode is None:
        mode = stat.S_IMODE(path.stat().st_mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
