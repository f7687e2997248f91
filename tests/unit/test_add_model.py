"""``python -m edge_infer add-model``: real ONNX models in, manifest entries out, or refusals.

The small test models are ONNX protobuf bytes written by ``tests/onnx_models.py``, which gives
exact control over the bad variants (dynamic dims, two inputs...); native onnxruntime loads
and runs them like any exported model. One test also adds a committed model
(``mobilenet_v2-int8.onnx``) under a new id.

Every test works on a temporary copy of ``models/manifest.json``; the repo's ``models/`` is
only read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import helpers
import numpy as np
import pytest
from edge_infer.decode import decode_file
from edge_infer.hosts.native import create_pipeline
from edge_infer.manifest import load_manifest
from edge_infer.postprocess import softmax
from edge_infer.preprocess import preprocess
from helpers import CAT_LABELS, MANIFEST, MODELS, photo
from onnx_models import (
    BOOL,
    FLOAT,
    UINT8,
    colour_model,
    nhwc_colour_model,
    node,
    onnx_model,
    tensor,
    value_info,
)

RGB_WEIGHTS = np.eye(3) * 4.0
RGB_LABELS = "red\ngreen\nblue\n"
UNIT_SCALE = ["--scale", repr(1 / 255), "--mean", "0", "0", "0", "--std", "1", "1", "1"]

# --- helpers ----------------------------------------------------------------------------------


def run_cli(*args):
    """The CLI exactly as the README runs it (helpers.run_cli), with paths as arguments."""
    return helpers.run_cli(*map(str, args))


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file in ``folder``, hidden temp files included."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.fixture
def models_dir(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(MANIFEST, folder / "manifest.json")
    return folder


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    return folder


def write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


# --- good adds ------------------------------------------------------------------------------


def test_add_then_models_lists_it_and_classify_runs_it(models_dir, src):
    model = write(src / "colours.onnx", colour_model(RGB_WEIGHTS))
    labels = write(src / "colours.txt", RGB_LABELS)
    manifest = models_dir / "manifest.json"
    before = manifest.read_bytes()
    os.chmod(manifest, 0o640)

    proc = run_cli(
        "add-model", model, "--labels", labels, "--models-dir", models_dir,
        "--name", "Colour means", *UNIT_SCALE,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "added colours:" in proc.stdout
    assert "canonical format" not in proc.stdout
    assert "?model=colours" in proc.stdout

    # The model is copied byte for byte under its id; the entry records its hash and size.
    copied = models_dir / "colours.onnx"
    assert copied.read_bytes() == model.read_bytes()
    data = json.loads(manifest.read_text(encoding="utf-8"))
    entry = data["models"][-1]
    assert entry["id"] == "colours"
    assert entry["file"] == "colours.onnx"
    assert entry["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert entry["bytes"] == len(model.read_bytes())
    assert entry["input"] == {"name": "x", "shape": [1, 3, 32, 32], "dtype": "float32"}
    assert entry["output"] == {"name": "logits", "shape": [1, 3], "dtype": "float32"}
    assert entry["preprocess"]["resize"]["shorter_side"] == 37  # round(32 * 256 / 224)
    assert entry["preprocess"]["crop"] == {"height": 32, "width": 32}
    assert entry["preprocess"]["mean"] == [0.0, 0.0, 0.0]
    assert data["label_sets"][entry["labels"]]["labels"] == ["red", "green", "blue"]
    assert "/" not in json.dumps(entry["provenance"])  # no local paths recorded

    # Same formatting: without the new entry and label set, the old bytes come back.
    del data["models"][-1], data["label_sets"][entry["labels"]]
    assert (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode() == before
    assert os.stat(manifest).st_mode & 0o777 == 0o640  # the atomic rename kept the mode
    assert not [p for p in models_dir.iterdir() if p.name.startswith(".")]  # no temp files

    listed = run_cli("models", "--manifest", manifest)
    assert listed.returncode == 0, listed.stderr
    assert f"colours\t1.0.0\t{entry['bytes']}\tColour means" in listed.stdout.splitlines()

    result = run_cli(
        "classify", photo("chelsea.png"), "--manifest", manifest, "--model", "colours",
        "--top-k", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["model"] == {"id": "colours", "version": "1.0.0"}
    # The expected answer, computed independently: channel means of the preprocessed photo.
    spec = load_manifest(manifest).get("colours")
    x = preprocess(decode_file(photo("chelsea.png"))[0], spec.preprocess)
    expected = softmax(x.mean(axis=(2, 3))[0].astype(np.float64) @ RGB_WEIGHTS)
    got = {t["index"]: t["probability"] for t in answer["top_k"]}
    assert got == pytest.approx(dict(enumerate(expected.tolist())), abs=1e-5)
    assert answer["label"] == ["red", "green", "blue"][int(expected.argmax())]


def test_add_a_real_imagenet_model_reuses_its_label_set(models_dir, src):
    # A committed MobileNetV2 under the user's own name, labels as a CRLF text file with a BOM.
    model = shutil.copy(MODELS / "mobilenet_v2-int8.onnx", src / "my_classifier.onnx")
    names = load_manifest(MANIFEST).get("mobilenet_v2-int8").labels
    labels = write(src / "imagenet.txt", "\ufeff" + "\r\n".join(names) + "\r\n")
    proc = run_cli("add-model", model, "--labels", labels, "--models-dir", models_dir)
    assert proc.returncode == 0, proc.stderr

    data = json.loads((models_dir / "manifest.json").read_text(encoding="utf-8"))
    entry = data["models"][-1]
    assert entry["id"] == "my_classifier"  # the file name's stem
    assert entry["labels"] == "imagenet1k"  # identical labels: the existing set, no copy
    assert set(data["label_sets"]) == {"imagenet1k"}
    assert entry["preprocess"] == data["models"][0]["preprocess"]  # ImageNet defaults, 256/224

    result = run_cli(
        "classify", photo("chelsea.png"), "--manifest", models_dir / "manifest.json",
        "--model", "my_classifier",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["label"] in CAT_LABELS
    builtin = create_pipeline(load_manifest(MANIFEST), MODELS, "mobilenet_v2-int8")
    reference = builtin.classify(decode_file(photo("chelsea.png"))[0])
    assert [t["index"] for t in answer["top_k"]] == [t["index"] for t in reference["top_k"]]
    assert answer["confidence"] == pytest.approx(reference["confidence"], abs=1e-6)


def test_json_labels_keep_non_ascii_text(models_dir, src):
    weights = np.array([[4, 0, 0, 1], [0, 4, 0, 1], [0, 0, 4, 1]])
    model = write(src / "four.onnx", colour_model(weights))
    labels = write(src / "labels.json", json.dumps(["rouge", "vert", "bleu", "café au lait"]))
    proc = run_cli(
        "add-model", model, "--labels", labels, "--models-dir", models_dir, "--id", "fr.colours",
        "--resize-shorter-side", "48", "--license", "MIT", *UNIT_SCALE,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    raw = (models_dir / "manifest.json").read_bytes()
    assert '"café au lait"'.encode() in raw  # UTF-8 as written by tools/export_model.py
    entry = json.loads(raw)["models"][-1]
    assert (entry["id"], entry["license"], entry["file"]) == (
        "fr.colours",
        "MIT",
        "fr.colours.onnx",
    )
    assert entry["preprocess"]["resize"]["shorter_side"] == 48
    result = run_cli(
        "classify", photo("coffee.png"), "--manifest", models_dir / "manifest.json",
        "--model", "fr.colours", "--top-k", "4",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {t["label"] for t in json.loads(result.stdout)["top_k"]} == {
        "rouge", "vert", "bleu", "café au lait",
    }  # fmt: skip


def test_model_already_in_the_models_folder_is_used_in_place(models_dir):
    model = write(models_dir / "inplace.onnx", colour_model(RGB_WEIGHTS))
    labels = write(models_dir.parent / "labels.txt", RGB_LABELS)
    proc = run_cli(
        "add-model", model, "--labels", labels, "--manifest", models_dir / "manifest.json"
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in models_dir.iterdir()) == ["inplace.onnx", "manifest.json"]
    assert load_manifest(models_dir / "manifest.json").get("inplace").file == "inplace.onnx"


def test_a_hand_formatted_manifest_is_rewritten_canonically_and_said(models_dir, src):
    manifest = models_dir / "manifest.json"
    write(manifest, json.dumps(json.loads(manifest.read_text(encoding="utf-8")), indent=4))
    model, labels = write(src / "c.onnx", GOOD), write(src / "l.txt", RGB_LABELS)
    proc = run_cli("add-model", model, "--labels", labels, "--models-dir", models_dir)
    assert proc.returncode == 0, proc.stderr
    assert "rewritten in the canonical format" in proc.stdout
    text = manifest.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def test_help_documents_the_labels_format_and_what_is_not_supported():
    proc = run_cli("add-model", "--help")
    assert proc.returncode == 0
    assert "one label per line" in proc.stdout
    assert "JSON list of strings" in proc.stdout
    assert "Python hooks run in both hosts" in proc.stdout
    assert "pure-Python wheels given with --wheel" in proc.stdout
    assert "NHWC" in proc.stdout and "--output" in proc.stdout


def _solid(path: Path, rgb) -> Path:
    """A PNG of one colour."""
    from PIL import Image

    Image.new("RGB", (48, 40), tuple(rgb)).save(path)
    return path


def _add_and_classify(models_dir, src, model_bytes, labels_text, add_args, image):
    model = write(src / "m.onnx", model_bytes)
    labels = write(src / "m.txt", labels_text)
    added = run_cli("add-model", model, "--labels", labels, "--models-dir", models_dir, *add_args)
    assert added.returncode == 0, added.stderr
    manifest = models_dir / "manifest.json"
    result = run_cli("classify", image, "--manifest", manifest, "--model", "m", "--top-k", "3")
    assert result.returncode == 0, result.stderr
    entry = json.loads(manifest.read_text())["models"][-1]
    return entry, json.loads(result.stdout)


def test_nhwc_and_bgr_inputs_get_their_channels_in_place(models_dir, src):
    # A channels-last colour model sees a red image as red; told its input is BGR, it sees it
    # in its third channel, which it calls blue: the channels really are swapped.
    red = _solid(src / "red.png", (255, 0, 0))
    entry, answer = _add_and_classify(
        models_dir, src, nhwc_colour_model(3, RGB_WEIGHTS), RGB_LABELS, UNIT_SCALE, red
    )
    assert entry["input"]["shape"] == [1, 32, 32, 3]
    assert entry["preprocess"]["layout"] == "NHWC"
    assert answer["label"] == "red"
    assert answer["top_k"][0]["probability"] == pytest.approx(
        float(softmax(np.array([4.0, 0.0, 0.0]))[0]), abs=1e-6
    )
    shutil.copy(MANIFEST, models_dir / "manifest.json")
    entry, answer = _add_and_classify(
        models_dir,
        src,
        nhwc_colour_model(3, RGB_WEIGHTS),
        RGB_LABELS,
        [*UNIT_SCALE, "--channels", "BGR"],
        red,
    )
    assert entry["preprocess"]["channel_order"] == "BGR"
    assert answer["label"] == "blue"


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_grey_models_see_pillows_grey_level(models_dir, src, layout):
    # Logits (4g, 0, -4g) for grey level g in -0.5..0.5 (--offset): light, mid or dark.
    weights = np.array([[4.0, 0.0, -4.0]])
    model = (
        colour_model(weights, in_dims=(1, 1, 32, 32))
        if layout == "NCHW"
        else nhwc_colour_model(1, weights)
    )
    args = ["--scale", repr(1 / 255), "--offset", "-0.5"]
    colour = (200, 30, 90)
    entry, answer = _add_and_classify(
        models_dir, src, model, "light\nmid\ndark\n", args, _solid(src / "c.png", colour)
    )
    assert entry["preprocess"]["channel_order"] == "L"
    assert entry["preprocess"]["offset"] == -0.5 and "mean" not in entry["preprocess"]
    from PIL import Image

    grey = Image.new("RGB", (1, 1), colour).convert("L").getpixel((0, 0))  # Pillow's own
    g = grey / 255 - 0.5
    expected = softmax(np.array([4 * g, 0.0, -4 * g]))
    got = {t["index"]: t["probability"] for t in answer["top_k"]}
    assert got == pytest.approx(dict(enumerate(expected.tolist())), abs=1e-6)


def test_sigmoid_output_lists_every_class_over_the_threshold(models_dir, src):
    # Yellow lights red and green: both pass 0.9 (sigmoid(4) = 0.982), blue (0.5) does not.
    entry, answer = _add_and_classify(
        models_dir, src, colour_model(RGB_WEIGHTS), RGB_LABELS,
        [*UNIT_SCALE, "--output", "sigmoid", "--threshold", "0.9"],
        _solid(src / "yellow.png", (255, 255, 0)),
    )  # fmt: skip
    assert entry["output"]["activation"] == "sigmoid" and entry["output"]["threshold"] == 0.9
    s4 = 1 / (1 + np.exp(-4.0))
    assert [t["probability"] for t in answer["top_k"]] == pytest.approx([s4, s4, 0.5], abs=1e-6)
    assert answer["multi_label"]["threshold"] == 0.9
    assert [c["label"] for c in answer["multi_label"]["present"]] == ["red", "green"]


def test_stretch_resizes_to_the_input_size_without_cropping(models_dir, src):
    # A tall strip whose top quarter is red and the rest blue.
    from PIL import Image

    image = Image.new("RGB", (40, 160), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 40, 40))  # the top quarter red
    path = src / "strip.png"
    image.save(path)
    entry, answer = _add_and_classify(
        models_dir, src, colour_model(RGB_WEIGHTS), RGB_LABELS,
        [*UNIT_SCALE, "--resize", "stretch"], path,
    )  # fmt: skip
    assert entry["preprocess"]["resize"] == {
        "interpolation": "bilinear",
        "antialias": True,
        "mode": "stretch",
    }
    # Stretched, the top quarter of the 32x32 input is red (Pillow's resize is the reference);
    # a shorter-side resize and centre crop would keep only blue rows (red == green).
    got = {t["label"]: t["probability"] for t in answer["top_k"]}
    x = np.asarray(Image.open(path).convert("RGB").resize((32, 32), Image.BILINEAR)) / 255
    expected = softmax(x.reshape(-1, 3).mean(axis=0) @ RGB_WEIGHTS)
    names = ["red", "green", "blue"]
    assert got == pytest.approx(dict(zip(names, expected.tolist(), strict=True)), abs=1e-5)
    assert got["red"] > got["green"]


# --- refusals: exit 2, a message naming the problem, every file byte for byte unchanged ------


def _two_inputs():
    return onnx_model(
        [node("Add", ["a", "b"], ["s"]), node("GlobalAveragePool", ["s"], ["p"]),
         node("Flatten", ["p"], ["logits"])],
        [value_info("a", [1, 3, 32, 32]), value_info("b", [1, 3, 32, 32])],
        [value_info("logits", [1, 3])],
    )  # fmt: skip


def _uint8_input():
    return onnx_model(
        [node("Cast", ["x"], ["f"], to=FLOAT), node("GlobalAveragePool", ["f"], ["p"]),
         node("Flatten", ["p"], ["logits"])],
        [value_info("x", [1, 3, 32, 32], elem=UINT8)],
        [value_info("logits", [1, 3])],
    )  # fmt: skip


def _infinite_output():
    # Dividing the channel means by zero: the probe's output is infinite.
    return onnx_model(
        [node("GlobalAveragePool", ["x"], ["p"]), node("Flatten", ["p"], ["f"]),
         node("Div", ["f", "zero"], ["logits"])],
        [value_info("x", [1, 3, 32, 32])],
        [value_info("logits", [1, 3])],
        [tensor("zero", np.zeros(3))],
    )  # fmt: skip


def _classes_known_at_run_time():
    # Compress keeps a data-dependent number of columns, so onnxruntime cannot say the class
    # count before a run: only the probe finds the 4 classes for 3 labels.
    return onnx_model(
        [
            node("GlobalAveragePool", ["x"], ["p"]),
            node("Flatten", ["p"], ["f"]),
            node("MatMul", ["f", "w"], ["all"]),
            node("Compress", ["all", "keep"], ["logits"], axis=1),
        ],
        [value_info("x", [1, 3, 32, 32])],
        [value_info("logits", [1, "classes"])],
        [tensor("w", np.ones((3, 4))), tensor("keep", [True] * 4, elem=BOOL)],
    )


def _truncated_real_model():
    return (MODELS / "mobilenet_v2-int8.onnx").read_bytes()[:100_000]


GOOD = colour_model(RGB_WEIGHTS)
# name: (model bytes or None for no file, labels bytes, labels file name, extra args, message)
BAD_CASES = {
    "model missing": (None, RGB_LABELS, "l.txt", [], "cannot read model file"),
    "not onnx (text)": (b"hello, I am not a model\n", RGB_LABELS, "l.txt", [], "not an ONNX model"),
    "not onnx (empty)": (b"", RGB_LABELS, "l.txt", [], "is empty, not an ONNX model"),
    "truncated onnx": (_truncated_real_model(), RGB_LABELS, "l.txt", [], "not an ONNX model"),
    "dynamic batch": (
        colour_model(RGB_WEIGHTS, in_dims=("batch", 3, 32, 32)),
        RGB_LABELS,
        "l.txt",
        [],
        "dynamic shape ['batch', 3, 32, 32]",
    ),
    "unknown spatial dims": (
        colour_model(RGB_WEIGHTS, in_dims=(1, 3, None, None)),
        RGB_LABELS,
        "l.txt",
        [],
        "dynamic shape",
    ),
    "batch of 2": (
        colour_model(RGB_WEIGHTS, in_dims=(2, 3, 32, 32), out_dims=[2, 3]),
        RGB_LABELS,
        "l.txt",
        [],
        "batch size 2",
    ),
    "output not [1, classes]": (
        onnx_model(
            [node("GlobalAveragePool", ["x"], ["logits"])],
            [value_info("x", [1, 3, 32, 32])],
            [value_info("logits", [1, 3, 1, 1])],
        ),
        RGB_LABELS,
        "l.txt",
        [],
        "has shape [1, 3, 1, 1]; expected [1, classes]",
    ),
    "two inputs": (_two_inputs(), RGB_LABELS, "l.txt", [], "2 inputs (a, b)"),
    "uint8 input": (_uint8_input(), RGB_LABELS, "l.txt", [], "tensor(uint8); it must be float32"),
    "grey channels on an RGB input": (
        GOOD,
        RGB_LABELS,
        "l.txt",
        ["--channels", "L"],
        "--channels L does not fit the model's 3",
    ),
    "RGB channels on a grey input": (
        nhwc_colour_model(1),
        RGB_LABELS,
        "l.txt",
        ["--channels", "RGB"],
        "does not fit the model's 1-ch",
    ),
    "layout that leaves 32 channels": (
        GOOD,
        RGB_LABELS,
        "l.txt",
        ["--layout", "NHWC"],
        "would have 32 channels",
    ),
    "mean of the wrong length": (
        GOOD,
        RGB_LABELS,
        "l.txt",
        ["--mean", "0.5", "0.5"],
        "--mean has 2 values; the model",
    ),
    "grey std of the wrong length": (
        nhwc_colour_model(1),
        RGB_LABELS,
        "l.txt",
        ["--std", "1", "1", "1"],
        "--std has 3 values",
    ),
    "offset and mean": (
        GOOD,
        RGB_LABELS,
        "l.txt",
        ["--offset", "-1", "--mean", "0", "0", "0"],
        "--offset replaces",
    ),
    "threshold without sigmoid": (
        GOOD,
        RGB_LABELS,
        "l.txt",
        ["--threshold", "0.3"],
        "--threshold applies to --output sig",
    ),
    "threshold out of range": (
        GOOD,
        RGB_LABELS,
        "l.txt",
        ["--output", "sigmoid", "--threshold", "1.5"],
        "must be betw",
    ),
    "shorter side with stretch": (
        GOOD,
        RGB_LABELS,
        "l.txt",
        ["--resize", "stretch", "--resize-shorter-side", "40"],
        "no meaning with --resize stretch",
    ),
    "logits declared as probabilities": (
        colour_model(RGB_WEIGHTS * 100),
        RGB_LABELS,
        "l.txt",
        ["--output", "none"],
        "not probabilities in 0..1; set the output activation to softmax or sigmoid",
    ),
    "5 channels": (
        colour_model(np.ones((5, 3)), in_dims=(1, 5, 32, 32)),
        RGB_LABELS,
        "l.txt",
        [],
        "neither NCHW nor NHWC",
    ),
    "wrong label count (text)": (GOOD, "red\ngreen\n", "l.txt", [], "has 3 classes but labels"),
    "wrong label count (json)": (
        GOOD,
        '["red", "green", "blue", "extra"]',
        "l.json",
        [],
        "has 4 labels",
    ),
    "output classes only known at run time": (
        _classes_known_at_run_time(),
        RGB_LABELS,
        "l.txt",
        [],
        "probe run on a generated",
    ),
    "non-finite output": (_infinite_output(), RGB_LABELS, "l.txt", [], "NaN or infinity"),
    "labels latin-1": (
        GOOD,
        "caf\xe9\nvert\nbleu\n".encode("latin-1"),
        "l.txt",
        [],
        "is not UTF-8 text (byte 0xe9 at offset 3)",
    ),
    "labels utf-16": (GOOD, RGB_LABELS.encode("utf-16"), "l.txt", [], "is not UTF-8 text"),
    "labels blank line": (GOOD, "red\n\ngreen\nblue\n", "l.txt", [], "line 2 is blank"),
    "labels empty": (GOOD, "\n\n", "l.txt", [], "has no labels"),
    "labels json not a list": (
        GOOD,
        '{"0": "red"}',
        "l.json",
        [],
        "expected a JSON list of strings, got an object",
    ),
    "labels json bad": (GOOD, '["red", "green",', "l.json", [], "not valid JSON"),
    "labels json not strings": (GOOD, '["red", 1, "blue"]', "l.json", [], "item 1 is not"),
    "labels missing": (GOOD, None, "l.txt", [], "cannot read labels file"),
    "duplicate id": (GOOD, RGB_LABELS, "l.txt", ["--id", "mobilenet_v2-fp32"], "already in"),
    "invalid id": (GOOD, RGB_LABELS, "l.txt", ["--id", "my model!"], "is not valid"),
    "resize below crop": (
        GOOD,
        RGB_LABELS,
        "l.txt",
        ["--resize-shorter-side", "31"],
        "smaller than the model's",
    ),
    "std zero": (
        GOOD,
        RGB_LABELS,
        "l.txt",
        ["--std", "1", "0", "1"],
        "--std 1.0 0.0 1.0: every value",
    ),
}


@pytest.mark.parametrize("case", BAD_CASES)
def test_refusal_leaves_every_file_untouched(case, models_dir, src):
    model_bytes, labels_data, labels_name, extra, message = BAD_CASES[case]
    model = src / "candidate.onnx"
    if model_bytes is not None:
        write(model, model_bytes)
    labels = src / labels_name
    if labels_data is not None:
        write(labels, labels_data)
    before = snapshot(models_dir)

    proc = run_cli("add-model", model, "--labels", labels, "--models-dir", models_dir, *extra)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert proc.stderr.startswith("edge_infer: add-model: ")
    assert proc.stderr.count("\n") == 1  # one clear line, no traceback or onnxruntime log
    assert f"{models_dir / 'manifest.json'} is unchanged" in proc.stderr
    assert proc.stdout == ""
    assert snapshot(models_dir) == before  # manifest byte-identical, nothing copied, no temp


def test_refusals_name_the_offending_file(models_dir, src):
    model = write(src / "candidate.onnx", GOOD)
    labels = write(src / "bad-labels.txt", b"\xff\xfe")
    proc = run_cli("add-model", model, "--labels", labels, "--models-dir", models_dir)
    assert proc.returncode == 2 and str(labels) in proc.stderr
    write(labels, "a\nb\n")
    proc = run_cli("add-model", model, "--labels", labels, "--models-dir", models_dir)
    assert proc.returncode == 2 and str(model) in proc.stderr and str(labels) in proc.stderr


def test_labels_path_is_a_directory(models_dir, src):
    model = write(src / "candidate.onnx", GOOD)
    before = snapshot(models_dir)
    proc = run_cli("add-model", model, "--labels", src, "--models-dir", models_dir)
    assert proc.returncode == 2
    assert f"cannot read labels file {src}: Is a directory" in proc.stderr
    assert snapshot(models_dir) == before


def test_existing_different_file_under_the_id_is_never_overwritten(models_dir, src):
    model = write(src / "colours.onnx", GOOD)
    labels = write(src / "l.txt", RGB_LABELS)
    write(models_dir / "colours.onnx", b"someone else's file")
    before = snapshot(models_dir)
    proc = run_cli("add-model", model, "--labels", labels, "--models-dir", models_dir)
    assert proc.returncode == 2
    assert "colours.onnx already exists and is a different file" in proc.stderr
    assert snapshot(models_dir) == before


def test_broken_manifest_is_not_rewritten(models_dir, src):
    manifest = models_dir / "manifest.json"
    write(manifest, manifest.read_text().replace('"schema_version": 1', '"schema_version": 9'))
    before = snapshot(models_dir)
    model, labels = write(src / "c.onnx", GOOD), write(src / "l.txt", RGB_LABELS)
    proc = run_cli("add-model", model, "--labels", labels, "--models-dir", models_dir)
    assert proc.returncode == 2
    assert "is not valid, fix it first" in proc.stderr and "schema_version" in proc.stderr
    assert snapshot(models_dir) == before


def test_models_dir_must_be_the_manifests_folder(models_dir, src, tmp_path):
    model, labels = write(src / "c.onnx", GOOD), write(src / "l.txt", RGB_LABELS)
    before = snapshot(models_dir)
    proc = run_cli(
        "add-model", model, "--labels", labels, "--manifest", models_dir / "manifest.json",
        "--models-dir", src,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "is not the folder of --manifest" in proc.stderr
    assert snapshot(models_dir) == before and sorted(p.name for p in src.iterdir()) == [
        "c.onnx", "l.txt",
    ]  # fmt: skip


def test_a_hook_that_fails_the_probe_is_refused_and_nothing_is_written(models_dir, src):
    # The hook imports, but returns the pixels instead of the model's input tensor.
    model, labels = write(src / "c.onnx", GOOD), write(src / "l.txt", RGB_LABELS)
    hooks = write(src / "hooks.py", "def preprocess(pixels, spec):\n    return pixels\n")
    before = snapshot(models_dir)
    proc = run_cli("add-model", model, "--labels", labels, "--models-dir", models_dir,
                   "--python", hooks)  # fmt: skip
    assert proc.returncode == 2
    assert "the probe run on a generated" in proc.stderr
    assert "c.hooks.py: preprocess returned shape" in proc.stderr
    assert "the model's input is [1, 3, 32, 32]" in proc.stderr
    assert snapshot(models_dir) == before


def test_failed_manifest_write_removes_the_copied_model(models_dir, src, monkeypatch):
    # A disk failure at the very last step (the manifest's rename), injected in-process:
    # the copied model must go, and the manifest must stay as it was.
    import edge_infer.add_model as am

    manifest = models_dir / "manifest.json"
    real_replace = os.replace

    def failing_replace(tmp, dest):
        if Path(dest) == manifest:
            raise OSError(28, "No space left on device")
        real_replace(tmp, dest)

    monkeypatch.setattr(am.os, "replace", failing_replace)
    model, labels = write(src / "c.onnx", GOOD), write(src / "l.txt", RGB_LABELS)
    before = snapshot(models_dir)
    with pytest.raises(am.AddModelError, match=r"cannot write .*manifest\.json: No space left"):
        am.add_model(model, labels, manifest)
    assert snapshot(models_dir) == before


def test_probe_image_is_deterministic_and_varied():
    from edge_infer.add_model import probe_image

    a, b = probe_image(50, 70), probe_image(50, 70)
    assert a.shape == (50, 70, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert all(a[:, :, c].std() > 10 for c in range(3))
