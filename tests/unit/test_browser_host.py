"""The Pyodide host's Python side, in CPython: model bookkeeping, models registered at run
time, and runtime facts.

Its per-image calls (``begin`` reads a JS typed array) run in the browser tests.
"""

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from edge_infer.add_model import add_model
from edge_infer.hooks import HookError
from edge_infer.hosts.browser import BrowserHost
from edge_infer.manifest import ManifestError, default_preprocess
from onnx_models import colour_model, nhwc_colour_model

MANIFEST = Path(__file__).resolve().parents[2] / "models" / "manifest.json"


@pytest.fixture
def host():
    return BrowserHost(MANIFEST.read_text())


def test_runtime_facts_added_later_reach_models_added_before_and_after(host):
    first = host.manifest.default_model
    host.add_model(first)
    host.set_runtime(json.dumps({"threads": 2, "onnxruntime_web": "1.30.0"}))
    other = next(m for m in host.manifest.models if m != first)
    host.add_model(other)
    for model_id in (first, other):
        assert host.pipelines[model_id].runtime["threads"] == 2
    facts = json.loads(host.runtime_json())
    assert facts["host"] == "pyodide" and facts["numpy"] == np.__version__
    assert facts["onnxruntime_web"] == "1.30.0"


def test_each_model_keeps_one_input_tensor_and_logits_buffer_until_removed(host):
    model_id = host.manifest.default_model
    host.add_model(model_id)
    tensor, logits = host.input_tensor(model_id), host.logits_buffer(model_id)
    assert tensor.dtype == np.float32 and logits.dtype == np.float32
    assert host.input_tensor(model_id) is tensor and host.logits_buffer(model_id) is logits
    host.remove_model(model_id)
    with pytest.raises(KeyError):
        host.input_tensor(model_id)


def runtime_entry(model_id="mine", classes=3, **changes):
    """A model entry as the browser's runtime registration builds it (web/lib/inference.js)."""
    entry = {
        "id": model_id,
        "version": "1.0.0",
        "name": "mine.onnx",
        "file": f"{model_id}.onnx",
        "sha256": "ab" * 32,
        "bytes": 1234,
        "license": "unspecified",
        "provenance": {"registered_at_runtime": "mine.onnx"},
        "input": {"name": "x", "shape": [1, 3, 32, 32], "dtype": "float32"},
        "output": {"name": "logits", "shape": [1, classes], "dtype": "float32"},
        "preprocess": {
            "resize": {"interpolation": "bilinear", "antialias": True, "shorter_side": 37},
            "crop": {"height": 32, "width": 32},
            "scale": 1 / 255,
            "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225],
            "layout": "NCHW",
            "channel_order": "RGB",
        },
        "labels": model_id,
    }
    entry.update(changes)
    return entry


def test_a_registered_model_is_validated_as_a_manifest_entry_and_then_runs(host):
    host.register_model(json.dumps(runtime_entry()), labels_file=b"red\ngreen\nblue\n")
    host.add_model("mine")
    assert host.model("mine").labels == ("red", "green", "blue")
    assert host.input_tensor("mine").shape == (1, 3, 32, 32)
    host.register_model(json.dumps(runtime_entry(classes=2)), labels_json='["a", "b"]')
    assert host.model("mine").labels == ("a", "b")  # registering the id again replaces it


@pytest.mark.parametrize(
    ("shape", "layout", "order"),
    [([1, 3, 32, 32], "NCHW", "RGB"), ([1, 1, 8, 8], "NCHW", "L"), ([1, 32, 32, 3], "NHWC", "RGB")],
)
def test_a_registration_without_preprocess_gets_add_models_defaults(
    host, tmp_path, shape, layout, order
):
    entry = runtime_entry(input={"name": "x", "shape": shape, "dtype": "float32"})
    del entry["preprocess"]
    host.register_model(json.dumps(entry), labels_json='["a", "b", "c"]')
    spec = host.model("mine").preprocess
    assert (spec.layout, spec.channel_order) == (layout, order)
    # The block add-model writes for a model of this shape and no options.
    model = tmp_path / "m.onnx"
    if layout == "NHWC":
        model.write_bytes(nhwc_colour_model(3, np.eye(3)))
    else:
        model.write_bytes(colour_model(np.ones((shape[1], 3)), in_dims=shape))
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(MANIFEST.read_bytes())
    add_model(model, tmp_path / "labels.txt", manifest, model_id="added")
    added = json.loads(manifest.read_text())["models"]
    assert default_preprocess(shape) == next(m for m in added if m["id"] == "added")["preprocess"]


@pytest.mark.parametrize(
    ("entry", "labels", "message"),
    [
        (runtime_entry(classes=4), b"red\ngreen\nblue\n", "4 classes but label set 'mine' has 3"),
        (runtime_entry(), b"red\n\xe9\nblue\n", "is not UTF-8 text (byte 0xe9 at offset 4)"),
        (runtime_entry(), b"red\n\ngreen\nblue\n", "line 2 is blank"),
        (runtime_entry(id="bad id"), b"a\nb\nc\n", "'bad id' must match"),
        (runtime_entry(sha256="x"), b"a\nb\nc\n", ".sha256: expected 64 lowercase hex digits"),
        (
            runtime_entry(input={"name": "x", "shape": [1, 3, 224, 224], "dtype": "float32"}),
            b"a\nb\nc\n",
            "does not match the preprocessing",
        ),
    ],
)
def test_a_bad_registration_is_refused_naming_the_field_and_changes_nothing(
    host, entry, labels, message
):
    host.register_model(json.dumps(runtime_entry()), labels_json='["a", "b", "c"]')
    with pytest.raises(ManifestError, match=re.escape(message)):
        host.register_model(json.dumps(entry), labels_file=labels, labels_source="my.txt")
    assert host.model("mine").labels == ("a", "b", "c")
    assert set(host.registered) == {"mine"}


def test_a_manifest_id_cannot_be_registered(host):
    taken = host.manifest.default_model
    with pytest.raises(ManifestError, match="a model of the manifest has this id"):
        host.register_model(json.dumps(runtime_entry(taken)), labels_json='["a", "b", "c"]')
    assert host.model(taken) is host.manifest.get(taken)


def test_a_registered_model_with_hooks_needs_the_file_its_sha256_names(host):
    source = "def postprocess(logits, model):\n    return logits\n"
    digest = hashlib.sha256(source.encode()).hexdigest()
    entry = runtime_entry(hooks={"file": "mine.hooks.py", "sha256": digest})
    with pytest.raises(HookError, match="needs its hooks file"):
        host.register_model(json.dumps(entry), labels_json='["a", "b", "c"]')
    with pytest.raises(HookError, match="fails its integrity check"):
        host.register_model(json.dumps(entry), '["a", "b", "c"]', hooks_source=source + "#")
    assert host.registered == {}
    host.register_model(json.dumps(entry), '["a", "b", "c"]', hooks_source=source)
    host.add_model("mine", source)
