"""The digits example end to end, as docs/custom-models.md tells the user: ``add-model`` with
the example's hook, a rendered digit classified in the page (through its file input) as in
CPython, and ``eval --host both`` on the 360 held-back digits with the same accuracy in both.

The model is added to a copy of the manifest (``--models-dir``), which the dev server serves
in place of ``models/`` (``serve.py --mount models=DIR``), so the checkout stays untouched.
"""

from __future__ import annotations

import base64
import json
import os

import numpy as np
import pytest
from conftest import READY_TIMEOUT_MS, serving_models
from helpers import MANIFEST, MODELS, ROOT, run_cli

pytestmark = pytest.mark.browser

EXAMPLE = ROOT / "examples" / "digits"
EXPECTED = json.loads((EXAMPLE / "expected.json").read_text())


@pytest.fixture(scope="module")
def digits_models(tmp_path_factory):
    """A models folder: the shipped manifest and default model, plus the digits model added
    with the tutorial's command."""
    folder = tmp_path_factory.mktemp("models")
    (folder / "manifest.json").write_bytes(MANIFEST.read_bytes())
    default = json.loads(MANIFEST.read_text())["default_model"]
    os.link(MODELS / f"{default}.onnx", folder / f"{default}.onnx")
    proc = run_cli(
        "add-model", "examples/digits/digits.onnx", "--labels", "examples/digits/labels.txt",
        "--python", "examples/digits/digits_hooks.py", "--id", "digits",
        "--name", "Handwritten digits (8x8)", "--license", "CC-BY-4.0",
        "--models-dir", str(folder),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return folder


@pytest.fixture(scope="module")
def digits_site(digits_models):
    with serving_models(digits_models) as url:
        yield url


def test_rendered_digits_classified_in_the_page_equal_cpython(page, digits_site, digits_models):
    # CPython's answers: the CLI on the same files (its own decode, the same hook).
    proc = run_cli(
        "classify", "examples/digits/samples", "--model", "digits", "--top-k", "10",
        "--manifest", str(digits_models / "manifest.json"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    native = {os.path.basename(r["file"]): r for r in map(json.loads, proc.stdout.splitlines())}

    page.goto(f"{digits_site}?model=digits")
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    assert page.input_value("#model-select") == "digits"
    for name, want in EXPECTED["samples"].items():
        done = page.locator("#results .result[data-state='done']")
        before = done.count()
        page.set_input_files("#file-input", str(EXAMPLE / name))
        page.wait_for_function(
            "n => document.querySelectorAll('#results .result[data-state=done]').length > n",
            arg=before,
            timeout=READY_TIMEOUT_MS,
        )
        result = json.loads(done.last.get_attribute("data-result"))
        expected = native[os.path.basename(name)]
        assert result["model"]["id"] == "digits"
        assert result["preprocess_mode"] == "hook"
        assert result["label"] == expected["label"] == str(want["digit"])
        # The page shows its top 5; CPython's answer has all 10 classes to compare them with.
        native_p = {r["index"]: r["probability"] for r in expected["top_k"]}
        assert len(result["top_k"]) == 5 and len(native_p) == 10
        np.testing.assert_allclose(
            [r["probability"] for r in result["top_k"]],
            [native_p[r["index"]] for r in result["top_k"]],
            rtol=0,
            atol=1e-4,
        )


def test_eval_on_the_held_back_digits_is_equal_in_both_hosts(digits_models, tmp_path):
    out = tmp_path / "report.json"
    proc = run_cli(
        "eval", "examples/digits/heldout", "--model", "digits", "--host", "both",
        "--manifest", str(digits_models / "manifest.json"), "--json", str(out),
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    native, browser = report["hosts"]["native"], report["hosts"]["browser"]
    held = EXPECTED["heldout"]
    assert report["bad_rows"] == []
    assert report["evaluated"] == native["images"] == browser["images"] == held["images"] == 360
    # The same answers as the tool's own run (make_digits.py), in both hosts.
    assert native["top1_accuracy"] == browser["top1_accuracy"]
    assert round(native["top1_accuracy"], 6) == held["top1_accuracy"]
    assert native["top1_accuracy"] >= 0.95  # measured 0.961 (346/360)
    assert report["agreement"]["top1_equal"] == 1.0
    assert report["agreement"]["max_abs_dp"] < 1e-4


# docs/custom-models.md's registerModel snippet, as written there, on files the user picked.
REGISTER_JS = """async ({ model, hooks, image }) => {
    const files = Object.fromEntries(Object.entries({ model, hooks, image }).map(([k, v]) =>
        [k, new File([Uint8Array.from(atob(v.b64), (c) => c.charCodeAt(0))], v.name)]));
    const [modelFile, hooksFile, digitImage] = [files.model, files.hooks, files.image];
    const { createClassifier } = await import('/edge-infer.js');
    const classifier = createClassifier();
    const { id } = await classifier.registerModel({
      bytes: modelFile,
      labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      hooks: { source: await hooksFile.text() },
    });
    const result = await classifier.classify(digitImage, { model: id, topK: 10 });
    classifier.dispose();
    return result;
}"""


def test_the_tutorials_run_time_registration_classifies_as_cpython(ready_page, digits_models):
    sample = EXAMPLE / "samples" / "pen-3.png"
    proc = run_cli(
        "classify", str(sample), "--model", "digits", "--top-k", "10",
        "--manifest", str(digits_models / "manifest.json"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    native = {r["index"]: r["probability"] for r in json.loads(proc.stdout)["top_k"]}
    files = {
        key: {"name": path.name, "b64": base64.b64encode(path.read_bytes()).decode()}
        for key, path in (
            ("model", EXAMPLE / "digits.onnx"),
            ("hooks", EXAMPLE / "digits_hooks.py"),
            ("image", sample),
        )
    }
    result = ready_page.evaluate(REGISTER_JS, files)  # the model travels as bytes
    assert result["model"]["id"].startswith("user-")
    assert result["preprocess_mode"] == "hook"
    assert result["label"] == "3"
    np.testing.assert_allclose(
        [r["probability"] for r in result["top_k"]],
        [native[r["index"]] for r in result["top_k"]],
        rtol=0,
        atol=1e-4,
    )
