"""The CPython host and its CLI, on the real model and real photos."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from edge_infer.decode import decode_file
from edge_infer.hosts.native import ModelIntegrityError, create_pipeline
from edge_infer.manifest import load_manifest
from helpers import CAT_LABELS, MANIFEST, MODELS, ROOT, VENV_PYTHON, photo, run_cli

RESULT_KEYS = {
    "label",
    "confidence",
    "image",
    "preprocess_mode",
    "latency_ms",
    "model_version",
    "top_k",
    "timings_ms",
    "model",
    "runtime",
}
STAGES = {"decode", "preprocess", "inference", "postprocess", "total"}


@pytest.fixture(scope="module")
def pipeline():
    return create_pipeline(load_manifest(MANIFEST), MODELS, threads=1)


def classify(pipeline, name):
    pixels, decode_ms = decode_file(photo(name))
    return pipeline.classify(pixels, top_k=5, decode_ms=decode_ms)


def test_result_shape(pipeline):
    result = classify(pipeline, "chelsea.png")
    assert set(result) == RESULT_KEYS
    assert set(result["timings_ms"]) == STAGES
    assert all(v >= 0 for v in result["timings_ms"].values())
    assert result["model"] == {"id": pipeline.model.id, "version": pipeline.model.version}
    assert result["runtime"]["host"] == "cpython"
    assert result["image"] == {"width": 451, "height": 300}  # chelsea.png
    assert result["preprocess_mode"] == "exact"
    assert len(result["top_k"]) == 5
    assert result["label"] == result["top_k"][0]["label"]
    assert result["confidence"] == result["top_k"][0]["probability"]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("chelsea.png", CAT_LABELS),
        ("coffee.png", {"espresso"}),
        ("rocket.jpg", {"drilling platform", "space shuttle"}),
        ("motorcycle_left.png", {"moped"}),
    ],
)
def test_real_photos(pipeline, image, expected):
    assert classify(pipeline, image)["label"] in expected


def test_threads_do_not_change_the_answer(pipeline):
    two = create_pipeline(load_manifest(MANIFEST), MODELS, threads=2)
    pixels, _ = decode_file(photo("coffee.png"))
    a = pipeline.classify(pixels)["top_k"]
    b = two.classify(pixels)["top_k"]
    assert [r["index"] for r in a] == [r["index"] for r in b]
    np.testing.assert_allclose(
        [r["probability"] for r in a], [r["probability"] for r in b], atol=1e-5
    )


@pytest.fixture
def corrupted_models(tmp_path):
    model = load_manifest(MANIFEST).get()
    shutil.copy(MANIFEST, tmp_path / "manifest.json")
    data = bytearray((MODELS / model.file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / model.file).write_bytes(bytes(data))
    return tmp_path


def test_corrupted_model_is_refused(corrupted_models):
    with pytest.raises(ModelIntegrityError, match="fails its integrity check"):
        create_pipeline(load_manifest(corrupted_models / "manifest.json"), corrupted_models)


def test_venv_imports_this_checkout_editable(tmp_path):
    """`.venv/bin/python` finds edge_infer without PYTHONPATH, from any directory, and it is
    this checkout's py/edge_infer (an editable install: edits apply without reinstalling)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [str(ROOT / VENV_PYTHON), "-c", "import edge_infer; print(edge_infer.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(ROOT / "py" / "edge_infer" / "__init__.py")


def test_cli_prints_one_json_line_per_image():
    proc = run_cli("classify", str(photo("chelsea.png")), str(photo("coffee.png")))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    cat, coffee = (json.loads(line) for line in lines)
    assert cat["label"] in CAT_LABELS
    assert coffee["label"] == "espresso"
    assert set(cat) == RESULT_KEYS | {"file"}


def test_cli_reports_bad_files_and_continues(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not an image")
    proc = run_cli("classify", str(bad), str(photo("coffee.png")))
    assert proc.returncode == 1
    assert "notes.jpg: not an image" in proc.stderr
    assert json.loads(proc.stdout)["label"] == "espresso"


def test_cli_takes_folders_and_a_file_list_of_any_length(tmp_path):
    # A folder (hidden files skipped) and a list of paths on stdin: a list keeps the command
    # line short whatever the data set's size.
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(photo("coffee.png"), folder / "sub" / "coffee.png")
    shutil.copy(photo("chelsea.png"), folder / "chelsea.png")
    (folder / ".hidden.png").write_bytes(b"not looked at")
    listing = "\n".join([str(photo("coffee.png"))] * 50) + "\n"
    proc = run_cli("classify", str(folder), "--files-from", "-", input=listing, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == 52
    assert [r["file"] for r in results[:2]] == [
        str(folder / "chelsea.png"),
        str(folder / "sub" / "coffee.png"),
    ]
    assert {r["label"] for r in results[1:]} == {"espresso"}


def test_cli_survives_a_command_line_over_32_kb(tmp_path):
    # onnxruntime 1.30.0's native wheel crashed on import (SIGSEGV) once the process's
    # command line passed about 32 KB; the pinned 1.31.1 does not. 140 paths of 250 bytes.
    from PIL import Image

    image = tmp_path / ("x" * 200 + ".png")
    Image.new("RGB", (64, 48), (200, 120, 40)).save(image)
    args = [str(image)] * 140
    assert sum(len(a) + 1 for a in args) > 33_000
    proc = run_cli("classify", *args, timeout=300)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-500:])
    assert len(proc.stdout.splitlines()) == 140


def test_cli_without_images_is_a_usage_error():
    proc = run_cli("classify")
    assert proc.returncode == 2
    assert "no images given" in proc.stderr


def test_cli_refuses_a_corrupted_model(corrupted_models):
    proc = run_cli(
        "classify",
        str(photo("coffee.png")),
        "--manifest",
        str(corrupted_models / "manifest.json"),
    )
    assert proc.returncode == 2
    assert "fails its integrity check" in proc.stderr
    assert proc.stdout == ""


def test_cli_unknown_model():
    proc = run_cli("classify", str(photo("coffee.png")), "--model", "resnet")
    assert proc.returncode == 2
    assert "unknown model id 'resnet'" in proc.stderr


def test_cli_lists_models():
    proc = run_cli("models")
    assert proc.returncode == 0
    assert load_manifest(MANIFEST).default_model in proc.stdout
