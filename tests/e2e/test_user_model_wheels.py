"""A model whose hooks import a pure-Python package of their own, in the browser: the wheel
comes from this site (content-addressed, sha256-checked) and micropip installs it, loaded only
then; the answers equal the CPython host's, and no request leaves the origin. A wheel that
fails its check, or a dependency that is not declared, fails that model with a clear error,
and the classifier keeps working.

The wheel (``blockmath``) is built by the test (tests/hook_examples.py); the models are small
real ONNX files added to a copy of the manifest, which the dev server serves in place of
``models/`` (``serve.py --mount models=DIR``).
"""

from __future__ import annotations

import base64
import copy
import json
import os

import numpy as np
import pytest
from conftest import serving_models
from edge_infer.add_model import add_model
from edge_infer.hosts.native import create_pipeline
from edge_infer.manifest import load_manifest
from helpers import MANIFEST, MODELS, photo
from hook_examples import HOOKS_WITH_WHEEL, build_wheel
from onnx_models import colour_model

pytestmark = pytest.mark.browser

WHEEL = "blockmath-1.0.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def wheel_models(tmp_path_factory):
    """The repo's manifest and default model, plus ``wheeled`` (hooks importing blockmath,
    added with its wheel) and two broken copies of it: ``undeclared`` (no wheel listed) and
    ``bad-wheel`` (a wheel whose sha256 is not the file's)."""
    folder = tmp_path_factory.mktemp("models")
    default = load_manifest(MANIFEST).get()
    os.link(MODELS / default.file, folder / default.file)
    (folder / "manifest.json").write_bytes(MANIFEST.read_bytes())
    src = tmp_path_factory.mktemp("src")
    (src / "rgb.txt").write_text("red\ngreen\nblue\n")
    (src / "wheeled.onnx").write_bytes(colour_model(np.eye(3) * 4.0))
    (src / "hooks.py").write_text(HOOKS_WITH_WHEEL)
    wheel = build_wheel(src)
    add_model(
        src / "wheeled.onnx",
        src / "rgb.txt",
        folder / "manifest.json",
        hooks_path=src / "hooks.py",
        wheel_paths=[wheel],
    )
    data = json.loads((folder / "manifest.json").read_text())
    wheeled = data["models"][-1]
    undeclared, bad = copy.deepcopy(wheeled), copy.deepcopy(wheeled)
    undeclared["id"], bad["id"] = "undeclared", "bad-wheel"
    del undeclared["hooks"]["wheels"]
    bad["hooks"]["wheels"][0]["sha256"] = "0" * 64
    data["models"] += [undeclared, bad]
    (folder / "manifest.json").write_text(json.dumps(data, indent=2) + "\n")
    return folder


@pytest.fixture(scope="module")
def wheel_site(wheel_models):
    with serving_models(wheel_models) as url:
        yield url


# Classifies once with the default model, then once with `model`; returns both answers and
# the pixels Python got for `model` (the whole decoded image: hooks see every pixel).
CLASSIFY_JS = """async ({ b64, model }) => {
    const { createClassifier } = await import('/edge-infer.js');
    const { decodeToRGBA } = await import('/lib/decode.js');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const file = new File([bytes], 'photo.png', { type: 'image/png' });
    window.classifier = createClassifier({ topK: 3 });
    const first = await window.classifier.classify(file);
    const before = await window.countRequests();
    const result = await window.classifier.classify(file, { model, preprocess: 'exact' });
    const pixels = await decodeToRGBA(file, 'photo.png', {});
    let bin = '';
    for (let i = 0; i < pixels.rgba.length; i += 0x8000) {
        bin += String.fromCharCode.apply(null, pixels.rgba.subarray(i, i + 0x8000));
    }
    return { first, result, rgba: btoa(bin), width: pixels.width, height: pixels.height, before };
}"""


def record_requests(page):
    """Every URL the page and its workers request, in order; ``countRequests()`` in the page
    says how many so far."""
    urls = []
    page.on("request", lambda request: urls.append(request.url))
    page.expose_function("countRequests", lambda: len(urls))
    return urls


def test_a_hook_with_a_wheel_answers_as_in_cpython_and_nothing_leaves_the_origin(
    page, wheel_site, wheel_models
):
    urls = record_requests(page)
    page.goto(wheel_site + "models/manifest.json")  # same origin, boots nothing itself
    b64 = base64.b64encode(photo("coffee.png").read_bytes()).decode()
    out = page.evaluate(CLASSIFY_JS, {"b64": b64, "model": "wheeled"})
    assert out["first"]["model"]["id"] != "wheeled"
    booted, hooked = urls[: out["before"]], urls[out["before"] :]
    # micropip is loaded for the model with wheels only, never by the boot.
    assert not [u for u in booted if "micropip" in u or "packaging" in u]
    assert [u for u in hooked if u.endswith("/micropip-0.9.0-py3-none-any.whl")]
    assert [u for u in hooked if u.endswith("/packaging-24.2-py3-none-any.whl")]
    manifest = load_manifest(wheel_models / "manifest.json")
    spec = manifest.get("wheeled")
    wheel = spec.hooks.wheels[0]
    assert wheel_site + f"models/{wheel.sha256}/{WHEEL}" in hooked
    assert wheel_site + f"models/{spec.hooks.sha256}/{spec.hooks.file}" in hooked
    assert [u for u in urls if not u.startswith(wheel_site)] == []

    browser = out["result"]
    rgba = np.frombuffer(base64.b64decode(out["rgba"]), dtype=np.uint8)
    pixels = rgba.reshape(out["height"], out["width"], 4)
    native = create_pipeline(manifest, wheel_models, threads=1, model_id="wheeled")
    pending = native.start(pixels, top_k=3, mode="exact")
    expected = pending.finish(native.infer(pending.input))
    assert browser["model"]["id"] == "wheeled"
    assert browser["preprocess_mode"] == "hook"
    assert [r["index"] for r in browser["top_k"]] == [r["index"] for r in expected["top_k"]]
    np.testing.assert_allclose(
        [r["probability"] for r in browser["top_k"]],
        [r["probability"] for r in expected["top_k"]],
        rtol=0,
        atol=1e-4,
    )


FAILURES_JS = """async ({ b64 }) => {
    const { createClassifier } = await import('/edge-infer.js');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const file = () => new File([bytes], 'photo.png', { type: 'image/png' });
    const classifier = createClassifier({ topK: 1 });
    const outcome = (model) => classifier.classify(file(), { model }).then(
        (r) => ({ label: r.label, model: r.model.id }),
        (err) => ({ code: err.code, message: err.message }));
    const out = {};
    for (const model of ['undeclared', 'bad-wheel', 'wheeled', '']) {
        out[model || 'default'] = await outcome(model);
    }
    return out;
}"""


def test_a_bad_or_undeclared_wheel_fails_its_model_and_the_others_keep_working(page, wheel_site):
    page.goto(wheel_site + "models/manifest.json")
    b64 = base64.b64encode(photo("coffee.png").read_bytes()).decode()
    out = page.evaluate(FAILURES_JS, {"b64": b64})
    assert out["undeclared"]["code"] == "E_HOOK", out
    assert out["undeclared"]["message"] == (  # it shares wheeled's hooks file
        "wheeled.hooks.py, line 2: does not import: ModuleNotFoundError: "
        "No module named 'blockmath'"
    )
    assert out["bad-wheel"]["code"] == "E_MODEL_INTEGRITY", out
    assert f"{WHEEL} has sha256" in out["bad-wheel"]["message"], out
    assert out["wheeled"]["model"] == "wheeled", out
    assert out["wheeled"]["label"] in ("red", "green", "blue")
    assert out["default"]["label"] == "espresso", out
