"""A user's own models, added with ``add-model``, in the browser: channels-last BGR input with
a multi-label (sigmoid) output, a grey input stretched to size, and a model whose
preprocessing and output are the user's own Python (hooks). The browser's answers equal the
CPython host's on the same pixels, in both preprocessing modes; a hook that raises fails
that image with the file and line, and the next image works. The same files given at run time
by URL (model, labels file, hooks) answer exactly as the added model does.

The models are small real ONNX files (tests/onnx_models.py) added to a copy of the manifest,
which the dev server serves in place of ``models/`` (``serve.py --mount models=DIR``).
"""

from __future__ import annotations

import base64
import itertools
import json
import os

import numpy as np
import pytest
from conftest import serving_models
from edge_infer.add_model import PreprocessOptions, add_model
from edge_infer.hosts.native import create_pipeline
from edge_infer.manifest import load_manifest
from helpers import MANIFEST, MODELS, photo
from hook_examples import HOOKS
from onnx_models import colour_model, nhwc_colour_model

# The hooks, failing on purpose for images 77 pixels wide (line 6 of the file).
FAILING_HOOKS = HOOKS.replace(
    "    rgb = pixels[..., :3]",
    "    if pixels.shape[1] == 77:\n        raise ValueError('77 pixels wide')\n"
    "    rgb = pixels[..., :3]",
)

pytestmark = pytest.mark.browser

# Classifies once in the given mode; also returns the pixels Python got (the decoded image in
# exact mode, the browser's own resample in fast mode), for the CPython host to run on.
CLASSIFY_JS = """async ({ b64, model, mode }) => {
    const { createClassifier } = await import('/edge-infer.js');
    const { fastResize, decodeToRGBA } = await import('/lib/decode.js');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const file = new File([bytes], 'photo.png', { type: 'image/png' });
    window.classifier ??= createClassifier({ topK: 3 });  // one runtime for every call
    const result = await window.classifier.classify(file, { model, preprocess: mode });
    const manifest = await (await fetch('/models/manifest.json')).json();
    const spec = manifest.models.find((m) => m.id === model);
    // As the product decodes: full pixels for a model with hooks.
    const resize = mode === 'fast' && !spec.hooks ? fastResize(spec.preprocess) : undefined;
    const pixels = await decodeToRGBA(file, 'photo.png', { resize });
    let bin = '';
    for (let i = 0; i < pixels.rgba.length; i += 0x8000) {
        bin += String.fromCharCode.apply(null, pixels.rgba.subarray(i, i + 0x8000));
    }
    return { result, rgba: btoa(bin), width: pixels.width, height: pixels.height };
}"""


@pytest.fixture(scope="module")
def user_models(tmp_path_factory):
    """A models folder: the repo's manifest and default model, plus two added models."""
    folder = tmp_path_factory.mktemp("models")
    default = load_manifest(MANIFEST).get()
    os.link(MODELS / default.file, folder / default.file)  # the boot loads the default model
    (folder / "manifest.json").write_bytes(MANIFEST.read_bytes())  # a copy: add_model writes it
    src = tmp_path_factory.mktemp("src")
    (src / "rgb.txt").write_text("red\ngreen\nblue\n")
    (src / "grey.txt").write_text("light\nmid\ndark\n")
    (src / "tags.onnx").write_bytes(nhwc_colour_model(3, np.eye(3) * 6.0 - 2.0))
    (src / "grey.onnx").write_bytes(
        colour_model(np.array([[4.0, 0.0, -4.0]]), in_dims=(1, 1, 40, 24))
    )
    unit = {"scale": 1 / 255, "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}
    add_model(
        src / "tags.onnx",
        src / "rgb.txt",
        folder / "manifest.json",
        preprocess=PreprocessOptions(
            **unit, channel_order="BGR", activation="sigmoid", threshold=0.6
        ),
    )
    add_model(
        src / "grey.onnx",
        src / "grey.txt",
        folder / "manifest.json",
        preprocess=PreprocessOptions(scale=1 / 255, offset=-0.5, resize="stretch"),
    )
    (src / "hooked.onnx").write_bytes(colour_model(np.eye(3) * 4.0))
    (src / "hooks.py").write_text(FAILING_HOOKS)
    manifest = folder / "manifest.json"
    add_model(src / "hooked.onnx", src / "rgb.txt", manifest, hooks_path=src / "hooks.py")
    return folder


@pytest.fixture(scope="module")
def user_site(user_models):
    with serving_models(user_models) as url:
        yield url


def test_added_models_answer_in_the_browser_as_in_cpython(page, user_site, user_models):
    page.goto(user_site + "models/manifest.json")  # same origin, boots nothing itself
    manifest = load_manifest(user_models / "manifest.json")
    b64 = base64.b64encode(photo("coffee.png").read_bytes()).decode()
    for model_id, mode in itertools.product(("tags", "grey", "hooked"), ("exact", "fast")):
        out = page.evaluate(CLASSIFY_JS, {"b64": b64, "model": model_id, "mode": mode})
        browser = out["result"]
        rgba = np.frombuffer(base64.b64decode(out["rgba"]), dtype=np.uint8)
        pixels = rgba.reshape(out["height"], out["width"], 4)
        native = create_pipeline(manifest, user_models, threads=1, model_id=model_id)
        pending = native.start(pixels, top_k=3, mode="exact" if model_id == "hooked" else mode)
        expected = pending.finish(native.infer(pending.input))
        assert browser["model"]["id"] == model_id
        assert browser["preprocess_mode"] == ("hook" if model_id == "hooked" else mode)
        assert [r["index"] for r in browser["top_k"]] == [r["index"] for r in expected["top_k"]]
        np.testing.assert_allclose(
            [r["probability"] for r in browser["top_k"]],
            [r["probability"] for r in expected["top_k"]],
            rtol=0,
            atol=1e-4,
        )
        if model_id == "tags":
            assert browser["multi_label"]["threshold"] == 0.6
            present = [c["label"] for c in browser["multi_label"]["present"]]
            assert present == [c["label"] for c in expected["multi_label"]["present"]]
        else:
            assert "multi_label" not in browser


HOOK_FAILURE_JS = """async () => {
    const canvas = new OffscreenCanvas(77, 40);
    canvas.getContext('2d').fillRect(0, 0, 77, 40);
    const wide = await canvas.convertToBlob({ type: 'image/png' });
    canvas.width = 60;
    canvas.getContext('2d').fillRect(0, 0, 60, 40);
    const fine = await canvas.convertToBlob({ type: 'image/png' });
    const failed = await window.classifier.classify(wide, { model: 'hooked' }).then(
        () => null, (err) => ({ code: err.code, message: err.message }));
    const next = await window.classifier.classify(fine, { model: 'hooked' });
    return { failed, next: next.label };
}"""


def test_a_failing_hook_names_its_file_and_line_and_the_next_image_works(page, user_site):
    page.goto(user_site + "models/manifest.json")
    page.evaluate("async () => { const m = await import('/edge-infer.js'); "
                  "window.classifier = m.createClassifier(); }")  # fmt: skip
    out = page.evaluate(HOOK_FAILURE_JS)
    assert out["failed"]["code"] == "E_HOOK", out
    assert out["failed"]["message"] == (
        "hooked.hooks.py, line 6, in preprocess: ValueError: 77 pixels wide"
    )
    assert out["next"] in ("red", "green", "blue")


REGISTER_SAME_MODEL_JS = """async ({ spec, b64 }) => {
    const { createClassifier } = await import('/edge-infer.js');
    window.classifier ??= createClassifier({ topK: 3 });
    const { id } = await window.classifier.registerModel(spec);
    const image = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const classify = (model) => window.classifier.classify(
        new Blob([image], { type: 'image/png' }), { model });
    return { given: await classify(id), added: await classify('hooked') };
}"""


def test_a_model_given_by_url_with_labels_and_hooks_urls_answers_as_the_added_one(
    page, user_site, user_models
):
    """registerModel with every part by URL: the same files add-model wrote, the same answers."""
    (user_models / "colours.txt").write_text("red\ngreen\nblue\n")
    page.goto(user_site + "models/manifest.json")
    hooked = load_manifest(user_models / "manifest.json").get("hooked")
    raw = json.loads((user_models / "manifest.json").read_text())
    spec = {
        "id": "hooked-at-runtime",
        "url": f"/models/{hooked.file}",
        "sha256": hooked.sha256,
        "labels": "/models/colours.txt",
        "hooks": {"url": f"/models/{hooked.hooks.file}", "sha256": hooked.hooks.sha256},
        "preprocess": next(m for m in raw["models"] if m["id"] == "hooked")["preprocess"],
    }
    b64 = base64.b64encode(photo("coffee.png").read_bytes()).decode()
    out = page.evaluate(REGISTER_SAME_MODEL_JS, {"spec": spec, "b64": b64})
    given, added = out["given"], out["added"]
    assert given["model"]["id"] == "hooked-at-runtime" and given["preprocess_mode"] == "hook"
    assert given["top_k"] == added["top_k"]
