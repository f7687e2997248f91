"""Transformers.js's model folder (bench/benchlib/peer_model.py), made from the real model.

The renamed copy must be our model with only its input's name changed: same outputs in
native onnxruntime, same size but for the name's bytes, same everything else.
"""

from __future__ import annotations

import json
import sys

import pytest
from helpers import MODELS, ROOT

if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))
from benchlib import peer_model

MODEL_ID = "mobilenet_v2-fp32"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return peer_model.write_model_folder(tmp_path_factory.mktemp("peer-models"), MODEL_ID)


def test_the_folder_has_what_transformers_js_loads(folder):
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "config.json",
        "onnx/model.onnx",
        "preprocessor_config.json",
        "source.json",
    ]
    entry, labels = peer_model.manifest_entry(MODEL_ID)
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "mobilenet_v2"
    assert config["id2label"] == {str(i): label for i, label in enumerate(labels)}
    assert len(config["id2label"]) == 1000 and config["id2label"]["285"] == "Egyptian cat"
    pre = json.loads((folder / "preprocessor_config.json").read_text())
    assert pre["size"] == {"shortest_edge": 256}
    assert pre["crop_size"] == {"height": 224, "width": 224}
    assert (pre["image_mean"], pre["image_std"]) == (
        entry["preprocess"]["mean"],
        entry["preprocess"]["std"],
    )
    assert pre["do_rescale"] and pre["rescale_factor"] == pytest.approx(1 / 255)


def test_only_the_input_name_changes_and_the_outputs_are_identical(folder):
    entry, _ = peer_model.manifest_entry(MODEL_ID)
    original = (MODELS / entry["file"]).read_bytes()
    renamed = (folder / "onnx" / "model.onnx").read_bytes()
    assert peer_model.graph_input_names(original) == ["input"]
    assert peer_model.graph_input_names(renamed) == ["pixel_values"]
    assert len(renamed) > len(original)  # a longer name at each use, nothing else added
    assert renamed.count(b"pixel_values") >= 2 and original.count(b"pixel_values") == 0
    assert peer_model.same_outputs(original, renamed, entry, runs=1)


def test_a_rename_back_gives_the_original_bytes(folder):
    renamed = (folder / "onnx" / "model.onnx").read_bytes()
    entry, _ = peer_model.manifest_entry(MODEL_ID)
    back = peer_model.rename_graph_input(renamed, "pixel_values", "input")
    assert back == (MODELS / entry["file"]).read_bytes()


def test_renaming_refuses_a_missing_input_or_a_name_in_use(folder):
    renamed = (folder / "onnx" / "model.onnx").read_bytes()
    with pytest.raises(ValueError, match="no graph input named 'input'"):
        peer_model.rename_graph_input(renamed, "input", "x")
    with pytest.raises(ValueError, match="already has a value named"):
        peer_model.rename_graph_input(renamed, "pixel_values", "pixel_values")


def test_a_second_write_keeps_the_folder(folder):
    stamp = (folder / "onnx" / "model.onnx").stat().st_mtime_ns
    assert peer_model.write_model_folder(folder.parent, MODEL_ID) == folder
    assert (folder / "onnx" / "model.onnx").stat().st_mtime_ns == stamp
