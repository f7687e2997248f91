import copy
import json

import pytest
from edge_infer.manifest import ManifestError, load_manifest, parse_manifest, parse_manifest_json
from helpers import MANIFEST, MODELS


@pytest.fixture(scope="module")
def raw():
    return json.loads(MANIFEST.read_text())


def test_committed_manifest_is_valid_and_complete(raw):
    manifest = load_manifest(MANIFEST)
    model = manifest.get()
    assert model.id == raw["default_model"]
    assert len(model.labels) == 1000
    assert model.labels[0] == "tench"
    assert model.labels[285] == "Egyptian cat"
    assert model.labels[967] == "espresso"
    assert model.input_shape == (1, 3, 224, 224)
    path = MODELS / model.file
    assert path.stat().st_size == model.bytes
    for key in ("package", "package_version", "weights_file", "weights_sha256"):
        assert model.provenance[key], key


def broken(raw, mutate):
    data = copy.deepcopy(raw)
    mutate(data)
    return data


CASES = [
    (lambda d: d.pop("schema_version"), "manifest.schema_version: missing required field"),
    (lambda d: d.update(schema_version=99), "schema_version: unsupported version 99"),
    (lambda d: d.update(models=[]), "manifest.models: expected at least 1 item"),
    (lambda d: d.update(default_model="nope"), "default_model: 'nope' is not the id"),
    (lambda d: d["models"][0].pop("sha256"), "models[0].sha256: missing required field"),
    (lambda d: d["models"][0].update(sha256="abc"), "models[0].sha256: expected 64 lowercase"),
    (lambda d: d["models"][0].update(bytes="12"), "models[0].bytes: expected an integer"),
    (lambda d: d["models"][0].update(file="../etc/passwd"), "models[0].file: '../etc/passwd'"),
    (lambda d: d["models"][0].update(labels="nope"), "models[0].labels: unknown label set"),
    (
        lambda d: d["models"][0]["preprocess"].update(mean=[0.5, 0.5]),
        "models[0].preprocess.mean: expected 3 items, got 2",
    ),
    (
        lambda d: d["models"][0]["preprocess"].update(std=[0.2, 0.0, 0.2]),
        "models[0].preprocess.std: every value must be > 0",
    ),
    (
        lambda d: d["models"][0]["preprocess"]["resize"].update(interpolation="nearest"),
        "models[0].preprocess.resize.interpolation: 'nearest' is not one of",
    ),
    (
        lambda d: d["models"][0]["preprocess"]["crop"].update(height=300),
        "models[0].preprocess.resize.shorter_side: 256 is smaller than the crop",
    ),
    (
        lambda d: d["models"][0]["input"].update(shape=[1, 3, 200, 200]),
        "models[0].input.shape: [1, 3, 200, 200] does not match the preprocessing",
    ),
    (
        lambda d: d["models"][0]["output"].update(shape=[1, 10]),
        "models[0].output.shape: 10 classes but label set",
    ),
    (lambda d: d["models"].append(copy.deepcopy(d["models"][0])), "duplicate id"),
    (
        lambda d: d["label_sets"]["imagenet1k"]["labels"].__setitem__(3, ""),
        "label_sets.imagenet1k.labels[3]: expected a non-empty string",
    ),
    (lambda d: d["models"][0].update(input=[]), "models[0].input: expected an object, got a list"),
    (
        lambda d: d["models"][0]["preprocess"].update(channel_order="RGBA"),
        "models[0].preprocess.channel_order: 'RGBA' is not one of RGB, BGR, L",
    ),
    (
        lambda d: d["models"][0]["preprocess"].update(layout="CHW"),
        "models[0].preprocess.layout: 'CHW' is not one of NCHW, NHWC",
    ),
    (
        lambda d: d["models"][0]["preprocess"]["resize"].update(mode="stretch"),
        "models[0].preprocess.resize.shorter_side: a stretched resize goes straight to the crop",
    ),
    (
        lambda d: d["models"][0]["preprocess"].update(offset=-1.0),
        "models[0].preprocess.mean: give either offset or mean and std",
    ),
    (
        lambda d: d["models"][0]["preprocess"].update(channel_order="L"),
        "models[0].preprocess.mean: expected 1 items, got 3",
    ),
    (
        lambda d: d["models"][0]["preprocess"].update(layout="NHWC"),
        "models[0].input.shape: [1, 3, 224, 224] does not match the preprocessing (NHWC, RGB, "
        "224x224): expected [1, 224, 224, 3]",
    ),
    (
        lambda d: d["models"][0]["output"].update(activation="relu"),
        "models[0].output.activation: 'relu' is not one of softmax, sigmoid, none",
    ),
    (
        lambda d: d["models"][0]["output"].update(threshold=0.5),
        "models[0].output.threshold: only a sigmoid output has a threshold",
    ),
    (
        lambda d: d["models"][0]["output"].update(activation="sigmoid", threshold=0.0),
        "models[0].output.threshold: 0.0 must be between 0 and 1",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), CASES)
def test_malformed_manifest_errors_name_the_field(raw, mutate, message):
    with pytest.raises(ManifestError) as info:
        parse_manifest(broken(raw, mutate))
    assert message in str(info.value)


def test_invalid_json_reports_the_position():
    with pytest.raises(ManifestError, match=r"not valid JSON \(line 2, column"):
        parse_manifest_json('{\n  "models": [,]\n}')


def test_unknown_model_lists_known_ids():
    manifest = load_manifest(MANIFEST)
    with pytest.raises(ManifestError, match="unknown model id 'resnet'; known ids: "):
        manifest.get("resnet")


def test_missing_file_is_a_manifest_error(tmp_path):
    with pytest.raises(ManifestError, match="cannot read manifest"):
        load_manifest(tmp_path / "missing.json")
