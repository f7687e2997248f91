"""The model manifest: parsing and validation with errors that name the offending field.

The manifest (``models/manifest.json``) is data: every model the app can run is an entry in
it, and no code hard-codes a model. See ``models/README.md`` for the schema.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: The pattern every model id must match.
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_INTERPOLATIONS = ("bilinear",)
#: How the image is brought to the model's size: the shorter side then a centre crop, or
#: stretched to the size (the aspect ratio is not kept).
RESIZE_MODES = ("shorter_side", "stretch")
#: Channel order of the input tensor; ``L`` is one grey channel (Pillow's ``convert("L")``).
CHANNEL_ORDERS = ("RGB", "BGR", "L")
LAYOUTS = ("NCHW", "NHWC")
#: What turns the model's output into probabilities: ``softmax`` (one class per image),
#: ``sigmoid`` (independent classes, multi-label), ``none`` (the model outputs probabilities).
ACTIVATIONS = ("softmax", "sigmoid", "none")
#: A pure-Python wheel's file name (PEP 427): ``name-version[-build]-pythons-none-any.whl``,
#: every python tag ``py...`` (``py3``, ``py2.py3``): the only wheels that run in Pyodide and
#: CPython alike.
PURE_WHEEL = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.]*)-(?P<version>[A-Za-z0-9_.!+]+)(-[0-9][A-Za-z0-9_.]*)?"
    r"-(?P<python>py[0-9]+(\.py[0-9]+)*)-none-any\.whl$"
)


class ManifestError(ValueError):
    """A manifest is malformed; the message starts with the path of the offending field."""


@dataclass(frozen=True)
class PreprocessSpec:
    """How decoded pixels become the model's input tensor.

    The image is resized (``resize_mode``: the shorter side to ``resize_shorter_side`` then a
    centre crop of ``crop_height x crop_width``, or stretched to that size), its channels are
    put in ``channel_order``, and each value ``v`` in 0..255 becomes
    ``(v * scale - mean[c]) / std[c]``, laid out as ``layout``.
    """

    resize_shorter_side: int
    interpolation: str
    antialias: bool
    crop_height: int
    crop_width: int
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    layout: str = "NCHW"
    background: tuple[int, int, int] = (255, 255, 255)
    resize_mode: str = "shorter_side"
    channel_order: str = "RGB"

    @property
    def channels(self) -> int:
        """Channels of the input tensor: 1 for grayscale, else 3."""
        return 1 if self.channel_order == "L" else 3

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """The input tensor's shape this spec produces, batch of one."""
        h, w, c = self.crop_height, self.crop_width, self.channels
        return (1, c, h, w) if self.layout == "NCHW" else (1, h, w, c)


@dataclass(frozen=True)
class OutputSpec:
    """How the model's output row becomes probabilities.

    ``activation`` is one of :data:`ACTIVATIONS`; for ``sigmoid``, ``threshold`` is the
    probability a class must reach to count as present.
    """

    activation: str = "softmax"
    threshold: float = 0.5


@dataclass(frozen=True)
class WheelFile:
    """A pure-Python wheel a model's hooks import, next to the model file."""

    file: str
    sha256: str


@dataclass(frozen=True)
class HookFile:
    """A model's Python hooks file (see :mod:`edge_infer.hooks`), next to the model file.

    ``wheels``: the pure-Python wheels it imports, next to it too (installed before it runs).
    """

    file: str
    sha256: str
    wheels: tuple[WheelFile, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """One runnable model file and everything needed to use it."""

    id: str
    version: str
    name: str
    file: str
    sha256: str
    bytes: int
    license: str
    input_name: str
    input_shape: tuple[int, ...]
    output_name: str
    preprocess: PreprocessSpec
    labels: tuple[str, ...]
    output: OutputSpec = OutputSpec()
    hooks: HookFile | None = None
    family: str = ""
    precision: str = ""
    provenance: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Manifest:
    """All models the app knows, keyed by id, plus the default model's id."""

    default_model: str
    models: dict[str, ModelSpec]

    def get(self, model_id: str | None = None) -> ModelSpec:
        """Return the model with ``model_id`` (the default model when None).

        Raises:
            ManifestError: no model has that id; the message lists the known ids.

        """
        key = self.default_model if model_id is None else model_id
        try:
            return self.models[key]
        except KeyError:
            known = ", ".join(sorted(self.models))
            raise ManifestError(f"unknown model id {key!r}; known ids: {known}") from None


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest file.

    Raises:
        ManifestError: the file is missing, is not JSON, or fails validation.

    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    return parse_manifest_json(text, source=str(path))


def parse_manifest_json(text: str, *, source: str = "manifest") -> Manifest:
    """Parse manifest JSON text; errors name ``source`` and the JSON position."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    return parse_manifest(data)


def parse_manifest(data: Any) -> Manifest:
    """Validate a decoded manifest object and build a :class:`Manifest`."""
    root = _Obj(data, "manifest")
    version = root.int("schema_version", minimum=1)
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"schema_version: unsupported version {version} (this code reads {SCHEMA_VERSION})"
        )
    label_sets = _parse_label_sets(root.obj("label_sets"))
    models: dict[str, ModelSpec] = {}
    for i, raw in enumerate(root.list("models", min_len=1)):
        spec = _parse_model(_Obj(raw, f"models[{i}]"), label_sets)
        if spec.id in models:
            raise ManifestError(f"models[{i}].id: duplicate id {spec.id!r}")
        models[spec.id] = spec
    default = root.str("default_model")
    if default not in models:
        raise ManifestError(f"default_model: {default!r} is not the id of any entry in models")
    return Manifest(default_model=default, models=models)


def _parse_label_sets(obj: _Obj) -> dict[str, tuple[str, ...]]:
    sets = {}
    for name in obj.value:
        entry = obj.obj(name)
        labels = entry.list("labels", min_len=1)
        for j, label in enumerate(labels):
            if not isinstance(label, str) or not label.strip():
                raise ManifestError(f"{entry.path}.labels[{j}]: expected a non-empty string")
        sets[name] = tuple(labels)
    return sets


def _parse_model(m: _Obj, label_sets: dict[str, tuple[str, ...]]) -> ModelSpec:
    model_id = m.str("id")
    if not MODEL_ID.match(model_id):
        raise ManifestError(f"{m.path}.id: {model_id!r} must match {MODEL_ID.pattern}")
    sha = m.str("sha256")
    if not _SHA256.match(sha):
        raise ManifestError(f"{m.path}.sha256: expected 64 lowercase hex digits")
    file = m.str("file")
    if "/" in file or "\\" in file or file.startswith("."):
        raise ManifestError(f"{m.path}.file: {file!r} must be a plain file name in models/")

    inp, out = m.obj("input"), m.obj("output")
    shape = tuple(inp.int_list("shape", length=4, minimum=1))
    if inp.str("dtype") != "float32":
        raise ManifestError(f"{inp.path}.dtype: only float32 inputs are supported")

    labels_name = m.str("labels")
    if labels_name not in label_sets:
        known = ", ".join(sorted(label_sets))
        raise ManifestError(f"{m.path}.labels: unknown label set {labels_name!r}; known: {known}")
    labels = label_sets[labels_name]
    out_shape = out.int_list("shape", length=2, minimum=1)
    if out_shape[1] != len(labels):
        raise ManifestError(
            f"{out.path}.shape: {out_shape[1]} classes but label set {labels_name!r} "
            f"has {len(labels)} labels"
        )

    pre = _parse_preprocess(m.obj("preprocess"))
    if shape != pre.input_shape:
        raise ManifestError(
            f"{inp.path}.shape: {list(shape)} does not match the preprocessing "
            f"({pre.layout}, {pre.channel_order}, {pre.crop_height}x{pre.crop_width}): "
            f"expected {list(pre.input_shape)}"
        )
    return ModelSpec(
        id=model_id,
        version=m.str("version"),
        name=m.str("name"),
        file=file,
        sha256=sha,
        bytes=m.int("bytes", minimum=1),
        license=m.str("license"),
        input_name=inp.str("name"),
        input_shape=shape,
        output_name=out.str("name"),
        preprocess=pre,
        labels=labels,
        output=_parse_output(out),
        hooks=_parse_hooks(m.obj("hooks")) if "hooks" in m.value else None,
        family=m.optional_str("family"),
        precision=m.optional_str("precision"),
        provenance=m.obj("provenance").value,
    )


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: torchvision's Resize(256) + CenterCrop(224): the default shorter side keeps that ratio.
CROP_RATIO = 224 / 256


def default_preprocess(input_shape: list[int]) -> dict:
    """The ``preprocess`` block ``add-model`` writes when given no options, for an input shape.

    The layout is NCHW when the shape allows it, else NHWC; 1 channel is grey (mean 0, std 1),
    3 are RGB with ImageNet's mean and std; the shorter side is resized to the crop over
    :data:`CROP_RATIO`, then centre-cropped to the input's height and width; values scale by
    1/255. A run-time model given without ``preprocess`` gets this block.
    """
    _, d1, d2, d3 = input_shape
    layout, channels, height, width = ("NCHW", d1, d2, d3) if d1 in (1, 3) else ("NHWC", d3, d1, d2)
    grey = channels == 1
    return {
        "resize": {
            "interpolation": "bilinear",
            "antialias": True,
            "shorter_side": round(max(height, width) / CROP_RATIO),
        },
        "crop": {"height": height, "width": width},
        "scale": 1 / 255,
        "mean": [0.0] if grey else list(IMAGENET_MEAN),
        "std": [1.0] if grey else list(IMAGENET_STD),
        "layout": layout,
        "channel_order": "L" if grey else "RGB",
    }


def parse_model_entry(data: Any, labels: Any, path: str = "model") -> ModelSpec:
    """Validate one model entry given at run time, with its labels, exactly as a manifest entry.

    The browser's runtime registration (``registerModel`` in ``web/lib/client.js``) builds the
    entry; its ``labels`` field must name the label set ``labels`` stands for, its id.

    Raises:
        ManifestError: the message starts with ``path`` and the offending field.

    """
    entry = _Obj(data, path)
    label_set = _Obj({"labels": list(labels) if isinstance(labels, tuple) else labels}, path)
    for j, label in enumerate(label_set.list("labels", min_len=1)):
        if not isinstance(label, str) or not label.strip():
            raise ManifestError(f"{path}.labels[{j}]: expected a non-empty string")
    return _parse_model(entry, {entry.str("id"): tuple(labels)})


def parse_labels_file(data: bytes, source: str) -> tuple[str, ...]:
    """Parse a labels file: a ``.json`` file is a JSON list of strings, others one per line.

    Text is UTF-8 (a BOM is allowed). Each label is stripped of surrounding spaces, blank
    lines at the end are ignored, and a blank line anywhere else is refused because it would
    shift every later class index.

    Raises:
        ManifestError: not UTF-8, malformed, or no label; the message names ``source``.

    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"labels file {source} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from exc
    text = text.removeprefix("\ufeff")
    if source.lower().endswith(".json"):
        labels = _json_labels(source, text)
    else:
        # split("\n"), not splitlines(): U+2028 and friends may be part of a label.
        lines = [line.strip() for line in text.split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        for n, line in enumerate(lines, 1):
            if not line:
                raise ManifestError(
                    f"labels file {source}: line {n} is blank; write one label per line "
                    "(a blank line would shift every later class index)"
                )
        labels = lines
    if not labels:
        raise ManifestError(f"labels file {source} has no labels")
    return tuple(labels)


def _json_labels(source: str, text: str) -> list[str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"labels file {source}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg})"
        ) from exc
    if not isinstance(value, list):
        raise ManifestError(
            f"labels file {source}: expected a JSON list of strings, got "
            f"{'an object' if isinstance(value, dict) else type(value).__name__}"
        )
    for i, label in enumerate(value):
        if not isinstance(label, str) or not label.strip():
            raise ManifestError(f"labels file {source}: item {i} is not a non-empty string")
    return [label.strip() for label in value]


def parse_preprocess(data: Any, path: str = "preprocess") -> PreprocessSpec:
    """Validate one manifest ``preprocess`` block (used by tools that build entries)."""
    return _parse_preprocess(_Obj(data, path))


def _parse_preprocess(p: _Obj) -> PreprocessSpec:
    resize, crop = p.obj("resize"), p.obj("crop")
    interpolation = resize.str("interpolation")
    if interpolation not in _INTERPOLATIONS:
        raise ManifestError(
            f"{resize.path}.interpolation: {interpolation!r} is not one of {_INTERPOLATIONS}"
        )
    resize_mode = resize.choice("mode", RESIZE_MODES, default="shorter_side")
    layout = p.choice("layout", LAYOUTS)
    channel_order = p.choice("channel_order", CHANNEL_ORDERS, default="RGB")
    channels = 1 if channel_order == "L" else 3
    crop_h, crop_w = crop.int("height", minimum=1), crop.int("width", minimum=1)
    if resize_mode == "stretch":
        shorter = min(crop_h, crop_w)
        if "shorter_side" in resize.value:
            raise ManifestError(
                f"{resize.path}.shorter_side: a stretched resize goes straight to the crop "
                "size; remove shorter_side"
            )
    else:
        shorter = resize.int("shorter_side", minimum=1)
        if shorter < max(crop_h, crop_w):
            raise ManifestError(
                f"{resize.path}.shorter_side: {shorter} is smaller than the crop {crop_h}x{crop_w}"
            )
    if "offset" in p.value:
        # ``v * scale + offset``: the same as a mean of -offset and a std of 1.
        for key in ("mean", "std"):
            if key in p.value:
                raise ManifestError(f"{p.path}.{key}: give either offset or mean and std")
        mean, std = [-p.float("offset")] * channels, [1.0] * channels
    else:
        mean, std = p.float_list("mean", length=channels), p.float_list("std", length=channels)
    if any(s <= 0 for s in std):
        raise ManifestError(f"{p.path}.std: every value must be > 0")
    background = tuple(p.int_list("background", length=3, minimum=0, required=False) or [255] * 3)
    if any(c > 255 for c in background):
        raise ManifestError(f"{p.path}.background: values must be 0..255")
    return PreprocessSpec(
        resize_shorter_side=shorter,
        interpolation=interpolation,
        antialias=resize.bool("antialias"),
        crop_height=crop_h,
        crop_width=crop_w,
        scale=p.float("scale"),
        mean=tuple(mean),
        std=tuple(std),
        layout=layout,
        background=background,
        resize_mode=resize_mode,
        channel_order=channel_order,
    )


def _parse_hooks(h: _Obj) -> HookFile:
    file, sha = h.str("file"), h.str("sha256")
    if "/" in file or "\\" in file or file.startswith(".") or not file.endswith(".py"):
        raise ManifestError(f"{h.path}.file: {file!r} must be a plain .py file name in models/")
    if not _SHA256.match(sha):
        raise ManifestError(f"{h.path}.sha256: expected 64 lowercase hex digits")
    wheels = []
    if "wheels" in h.value:
        for i, raw in enumerate(h.list("wheels")):
            w = _Obj(raw, f"{h.path}.wheels[{i}]")
            name, digest = w.str("file"), w.str("sha256")
            if not PURE_WHEEL.match(name):
                raise ManifestError(
                    f"{w.path}.file: {name!r} must be a pure-Python wheel's file name "
                    "(NAME-VERSION-py3-none-any.whl) in models/"
                )
            if not _SHA256.match(digest):
                raise ManifestError(f"{w.path}.sha256: expected 64 lowercase hex digits")
            if name in (x.file for x in wheels):
                raise ManifestError(f"{w.path}.file: {name!r} is listed twice")
            wheels.append(WheelFile(name, digest))
    return HookFile(file, sha, tuple(wheels))


def _parse_output(out: _Obj) -> OutputSpec:
    activation = out.choice("activation", ACTIVATIONS, default="softmax")
    if "threshold" not in out.value:
        return OutputSpec(activation)
    if activation != "sigmoid":
        raise ManifestError(f"{out.path}.threshold: only a sigmoid output has a threshold")
    threshold = out.float("threshold")
    if not 0.0 < threshold < 1.0:
        raise ManifestError(f"{out.path}.threshold: {threshold} must be between 0 and 1")
    return OutputSpec(activation, threshold)


class _Obj:
    """A JSON object with typed accessors whose errors name the field's path."""

    def __init__(self, value: Any, path: str):
        if not isinstance(value, dict):
            raise ManifestError(f"{path}: expected an object, got {_kind(value)}")
        self.value, self.path = value, path

    def _get(self, key: str, required: bool = True) -> Any:
        if key not in self.value:
            if required:
                raise ManifestError(f"{self.path}.{key}: missing required field")
            return None
        return self.value[key]

    def obj(self, key: str) -> _Obj:
        return _Obj(self._get(key), f"{self.path}.{key}")

    def str(self, key: str) -> str:
        v = self._get(key)
        if not isinstance(v, str) or not v:
            raise ManifestError(f"{self.path}.{key}: expected a non-empty string, got {_kind(v)}")
        return v

    def optional_str(self, key: str) -> str:
        return "" if key not in self.value else self.str(key)

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        if default is not None and key not in self.value:
            return default
        v = self.str(key)
        if v not in choices:
            raise ManifestError(f"{self.path}.{key}: {v!r} is not one of {', '.join(choices)}")
        return v

    def bool(self, key: str) -> bool:
        v = self._get(key)
        if not isinstance(v, bool):
            raise ManifestError(f"{self.path}.{key}: expected true or false, got {_kind(v)}")
        return v

    def int(self, key: str, minimum: int | None = None) -> int:
        v = self._get(key)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ManifestError(f"{self.path}.{key}: expected an integer, got {_kind(v)}")
        if minimum is not None and v < minimum:
            raise ManifestError(f"{self.path}.{key}: {v} is below the minimum {minimum}")
        return v

    def float(self, key: str) -> float:
        v = self._get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ManifestError(f"{self.path}.{key}: expected a finite number, got {_kind(v)}")
        return float(v)

    def list(self, key: str, *, length: int | None = None, min_len: int = 0) -> list:
        v = self._get(key)
        if not isinstance(v, list):
            raise ManifestError(f"{self.path}.{key}: expected a list, got {_kind(v)}")
        if length is not None and len(v) != length:
            raise ManifestError(f"{self.path}.{key}: expected {length} items, got {len(v)}")
        if len(v) < min_len:
            raise ManifestError(f"{self.path}.{key}: expected at least {min_len} item(s)")
        return v

    def int_list(self, key, *, length, minimum=None, required=True):
        if not required and key not in self.value:
            return None
        items = self.list(key, length=length)
        for j, v in enumerate(items):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ManifestError(f"{self.path}.{key}[{j}]: expected an integer, got {_kind(v)}")
            if minimum is not None and v < minimum:
                raise ManifestError(f"{self.path}.{key}[{j}]: {v} is below the minimum {minimum}")
        return items

    def float_list(self, key, *, length):
        items = self.list(key, length=length)
        for j, v in enumerate(items):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ManifestError(f"{self.path}.{key}[{j}]: expected a finite number")
        return [float(v) for v in items]


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(v), type(v).__name__
    )
