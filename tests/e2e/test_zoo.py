"""Every model variant in the real browser: answers, parity with CPython, integrity, caching."""

from __future__ import annotations

import base64
import json
import shutil

import numpy as np
import pytest
from conftest import READY_TIMEOUT_MS, start_server
from edge_infer.decode import decode_file
from edge_infer.hosts.native import create_pipeline
from edge_infer.manifest import load_manifest
from helpers import CAT_LABELS, MANIFEST, MODELS, ROOT, photo

pytestmark = pytest.mark.browser

MANIFEST_DATA = load_manifest(MANIFEST)
MODEL_IDS = list(MANIFEST_DATA.models)
FP32_IDS = [m for m in MODEL_IDS if MANIFEST_DATA.models[m].precision == "fp32"]


def b64(path):
    return base64.b64encode(path.read_bytes()).decode()


CLASSIFY_JS = """async ({ files, model, mode }) => {
    const { createClassifier } = await import('./edge-infer.js');
    const classifier = window.zooClassifier ??= createClassifier();
    const out = [];
    for (const f of files) {
        const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
        try {
            out.push({ result: await classifier.classify(
                new File([bytes], f.name, { type: 'image/png' }), { model, preprocess: mode }) });
        } catch (err) {
            out.push({ code: err.code, message: err.message });
        }
    }
    return out;
}"""


@pytest.fixture
def zoo_page(ready_page):
    """The shared ready app page (classifiers share its runtime and its model cache)."""
    return ready_page


def classify(page, model, *names, mode="exact"):
    files = [{"b64": b64(photo(n)), "name": n} for n in names]
    return page.evaluate(CLASSIFY_JS, {"files": files, "model": model, "mode": mode})


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_each_variant_classifies_and_matches_cpython(zoo_page, model_id):
    cat, coffee = classify(zoo_page, model_id, "chelsea.png", "coffee.png")
    assert cat["result"]["model"]["id"] == model_id
    assert cat["result"]["label"] in CAT_LABELS
    if model_id in FP32_IDS:
        assert coffee["result"]["label"] == "espresso"
    # CPython on the same file, exact preprocessing in both hosts.
    native = create_pipeline(MANIFEST_DATA, MODELS, model_id).classify(
        decode_file(photo("chelsea.png"))[0]
    )
    browser = cat["result"]
    assert [r["index"] for r in browser["top_k"][:3]] == [r["index"] for r in native["top_k"][:3]]
    np.testing.assert_allclose(
        [r["probability"] for r in browser["top_k"]],
        [r["probability"] for r in native["top_k"]],
        atol=2e-3,  # PNG decode is lossless; fp16/int8 kernels differ slightly across hosts
    )


def test_unknown_model_is_a_coded_error(zoo_page):
    [out] = classify(zoo_page, "resnet-9000", "chelsea.png")
    assert out["code"] == "E_MODEL_UNKNOWN"
    assert "resnet-9000" in out["message"] and "mobilenet_v2-fp32" in out["message"]


# model -> what is wrong with its file in the served copy
BROKEN_MODELS = {
    "mobilenet_v2-int8": "altered",  # one byte flipped: the sha256 no longer matches
    "mobilenet_v2-fp16": "truncated",  # cut in half: fewer bytes than the manifest says
    "efficientnet_lite0-int8": "missing",  # the server answers 404
}


@pytest.fixture
def corrupted_site(tmp_path):
    """A models folder with one altered, one truncated and one missing model file."""
    models = tmp_path / "models"
    shutil.copytree(MODELS, models)
    for model_id, fault in BROKEN_MODELS.items():
        target = models / MANIFEST_DATA.models[model_id].file
        data = bytearray(target.read_bytes())
        if fault == "altered":
            data[len(data) // 3] ^= 0x5A
            target.write_bytes(bytes(data))
        elif fault == "truncated":
            target.write_bytes(bytes(data[: len(data) // 2]))
        else:
            target.unlink()
    proc, url = start_server("--models", str(models))
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_broken_model_files_are_refused_and_the_previous_one_keeps_working(browser, corrupted_site):
    page = browser.new_page()
    page.goto(corrupted_site)
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    expected = {"altered": "E_MODEL_INTEGRITY", "truncated": "E_MODEL_INTEGRITY"}
    expected["missing"] = "E_MODEL_FETCH"
    for model_id, fault in BROKEN_MODELS.items():
        bad, good = classify(page, model_id, "chelsea.png") + classify(
            page, "mobilenet_v2-fp32", "chelsea.png"
        )
        assert bad.get("code") == expected[fault], (model_id, bad)
        assert model_id in bad["message"], bad
        assert MANIFEST_DATA.models[model_id].file in bad["message"], bad  # names the file
        if fault == "altered":
            assert "sha256" in bad["message"]
        if fault == "truncated":
            assert "bytes" in bad["message"]
        if fault == "missing":
            assert "404" in bad["message"]
        assert good["result"]["label"] in CAT_LABELS, (model_id, good)
    page.close()


def test_manifest_in_the_browser_is_the_committed_one(zoo_page):
    served = zoo_page.evaluate("fetch('./models/manifest.json').then((r) => r.json())")
    assert served == json.loads((ROOT / "models" / "manifest.json").read_text())
