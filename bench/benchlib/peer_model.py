"""Transformers.js's model folder for our manifest model, made from the committed files.

Transformers.js loads an image classifier from a folder holding ``config.json``
(``model_type``, ``id2label``), ``preprocessor_config.json`` and ``onnx/model.onnx``, and it
feeds the graph an input named ``pixel_values``. Our models name theirs ``input``, so the
folder gets a copy of the model whose graph input (and every node input that reads it) is
renamed. The rename edits the protobuf wire format directly, field by field, so no ``onnx``
package is needed and every other byte is kept. The copy must give the same outputs as the
original in native onnxruntime, bit for bit, or the folder is not written.

``bench/peer_model.py`` is the command line; ``bench/run.py`` writes the folder under
``--out`` (git-ignored) before its peer section.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchlib import MANIFEST, MODELS

INPUT_NAME = "pixel_values"  # what Transformers.js's image pipelines feed
MODEL_TYPE = {"mobilenet_v2": "mobilenet_v2"}  # our model family -> Transformers.js model_type
ARCHITECTURE = {"mobilenet_v2": "MobileNetV2ForImageClassification"}
IMAGE_PROCESSOR = {"mobilenet_v2": "MobileNetV2ImageProcessor"}

# ONNX protobuf field numbers (onnx.proto) of the fields the rename walks through.
MODEL_GRAPH = 7
GRAPH_NODE, GRAPH_INPUT, GRAPH_VALUE_INFO = 1, 11, 13
NODE_INPUT = 1
VALUE_INFO_NAME = 1
LEN = 2  # wire type of strings and embedded messages


# --- protobuf wire format ----------------------------------------------------------------


def _read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def fields(buf: bytes | memoryview) -> list[tuple[int, int, memoryview, memoryview | None]]:
    """The top-level fields of one serialized message, in order.

    Each is ``(field number, wire type, the field's whole encoding, payload)``; the payload is
    the bytes of a length-delimited field (string, bytes, embedded message), else None.
    """
    buf = memoryview(buf)
    out, pos = [], 0
    while pos < len(buf):
        start = pos
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        payload = None
        if wire == 0:
            _, pos = _read_varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == LEN:
            size, pos = _read_varint(buf, pos)
            payload = buf[pos : pos + size]
            pos += size
        else:  # groups (3, 4) are not used by onnx.proto
            raise ValueError(f"unsupported protobuf wire type {wire} in field {number}")
        if pos > len(buf):
            raise ValueError("truncated protobuf message")
        out.append((number, wire, buf[start:pos], payload))
    return out


def edit(buf: bytes | memoryview, edits: dict[int, Callable[[memoryview], bytes]]) -> bytes:
    """``buf`` with each length-delimited field listed in ``edits`` replaced by its result.

    Fields keep their order; untouched fields are copied byte for byte.
    """
    parts = []
    for number, wire, raw, payload in fields(buf):
        if wire == LEN and number in edits:
            new = edits[number](payload)
            parts.append(_varint(number << 3 | LEN) + _varint(len(new)) + new)
        else:
            parts.append(raw)
    return b"".join(parts)


def graph_input_names(model: bytes) -> list[str]:
    """Names of the graph inputs of a serialized ONNX ModelProto."""
    names = []
    for number, _, _, graph in fields(model):
        if number != MODEL_GRAPH:
            continue
        for field, _, _, value_info in fields(graph):
            if field == GRAPH_INPUT:
                names += [bytes(p).decode() for f, _, _, p in fields(value_info) if f == 1]
    return names


def rename_graph_input(model: bytes, old: str, new: str) -> bytes:
    """A copy of an ONNX model whose graph input ``old`` is called ``new``.

    Renames the input's ValueInfoProto, any ``value_info`` entry of that name and every node
    input that reads it. Subgraphs (If, Loop) are not walked: a model with one that reads the
    input would fail the output check of :func:`write_model_folder`.
    """
    if old not in graph_input_names(model):
        raise ValueError(f"the model has no graph input named {old!r}")
    old_b, new_b = old.encode(), new.encode()

    def name(payload: memoryview) -> bytes:
        if bytes(payload) == new_b:
            raise ValueError(f"the model already has a value named {new!r}")
        return new_b if bytes(payload) == old_b else bytes(payload)

    def value_info(payload: memoryview) -> bytes:
        return edit(payload, {VALUE_INFO_NAME: name})

    def node(payload: memoryview) -> bytes:
        return edit(payload, {NODE_INPUT: name})

    def graph(payload: memoryview) -> bytes:
        edits = {GRAPH_NODE: node, GRAPH_INPUT: value_info, GRAPH_VALUE_INFO: value_info}
        return edit(payload, edits)

    return edit(model, {MODEL_GRAPH: graph})


# --- the folder ----------------------------------------------------------------------------


def manifest_entry(model_id: str) -> tuple[dict, list[str]]:
    """The manifest entry of ``model_id`` and its labels."""
    manifest = json.loads(MANIFEST.read_text())
    [entry] = [m for m in manifest["models"] if m["id"] == model_id]
    return entry, manifest["label_sets"][entry["labels"]]["labels"]


def config_json(entry: dict, labels: list[str]) -> dict:
    """``config.json``: the model type Transformers.js maps to its class, and the labels.

    No ``label2id``: two ImageNet labels ("crane", "maillot") name two classes each.
    """
    family = entry["family"]
    return {
        "model_type": MODEL_TYPE[family],
        "architectures": [ARCHITECTURE[family]],
        "num_labels": len(labels),
        "id2label": {str(i): label for i, label in enumerate(labels)},
    }


def preprocessor_json(entry: dict) -> dict:
    """``preprocessor_config.json`` matching our preprocessing as far as Transformers.js can.

    Resize the shorter side (bilinear asked, but in a browser Transformers.js resizes with a
    2D canvas at default smoothing whatever ``resample`` says), centre crop, rescale by 1/255,
    ImageNet mean and std. Differences that remain are listed in bench/README.md.
    """
    spec = entry["preprocess"]
    if spec["resize"]["interpolation"] != "bilinear" or spec["channel_order"] != "RGB":
        raise ValueError(f"{entry['id']}: no Transformers.js equivalent of {spec}")
    return {
        "image_processor_type": IMAGE_PROCESSOR[entry["family"]],
        "do_convert_rgb": True,
        "do_resize": True,
        "size": {"shortest_edge": spec["resize"]["shorter_side"]},
        "resample": 2,  # PIL's BILINEAR
        "do_center_crop": True,
        "crop_size": {"height": spec["crop"]["height"], "width": spec["crop"]["width"]},
        "do_rescale": True,
        "rescale_factor": spec["scale"],
        "do_normalize": True,
        "image_mean": spec["mean"],
        "image_std": spec["std"],
    }


def same_outputs(original: bytes, renamed: bytes, entry: dict, runs: int = 2) -> bool:
    """Whether both models give bit-identical outputs in native onnxruntime (seeded inputs)."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one thread: the same reduction order in both sessions
    a = ort.InferenceSession(original, options, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(renamed, options, providers=["CPUExecutionProvider"])
    if [i.name for i in b.get_inputs()] != [INPUT_NAME]:
        return False
    rng = np.random.default_rng(0)
    for _ in range(runs):
        x = rng.standard_normal(entry["input"]["shape"], dtype=np.float32)
        [ya] = a.run(None, {entry["input"]["name"]: x})
        [yb] = b.run(None, {INPUT_NAME: x})
        if ya.shape != yb.shape or not np.array_equal(ya, yb):
            return False
    return True


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_model_folder(root: Path, model_id: str = "mobilenet_v2-fp32") -> Path:
    """Write ``root/<model_id>/`` for Transformers.js; returns that folder.

    Skips the work when the folder was made from the same model file (``source.json`` keeps
    the sha256 of the committed model). Raises if the renamed copy's outputs differ.
    """
    entry, labels = manifest_entry(model_id)
    folder = root / model_id
    stamp = {"model": entry["file"], "sha256": entry["sha256"], "input": INPUT_NAME}
    source = folder / "source.json"
    if source.is_file() and json.loads(source.read_text()) == stamp:
        return folder
    original = (MODELS / entry["file"]).read_bytes()
    old = entry["input"]["name"]
    renamed = original if old == INPUT_NAME else rename_graph_input(original, old, INPUT_NAME)
    if not same_outputs(original, renamed, entry):
        raise RuntimeError(f"{model_id}: the renamed model's outputs differ from the original's")
    _write(folder / "onnx" / "model.onnx", renamed)
    for name, data in (
        ("config.json", config_json(entry, labels)),
        ("preprocessor_config.json", preprocessor_json(entry)),
    ):
        _write(folder / name, json.dumps(data, indent=1).encode())
    _write(source, json.dumps(stamp, indent=1).encode())  # last: marks the folder complete
    return folder
