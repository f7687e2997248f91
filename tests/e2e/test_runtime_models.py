"""Models given at run time: ``classifier.registerModel(spec)`` by URL, and the page's "try
your own model" panel, driven by a real drop and the real file inputs.

A model registered by URL answers as the CPython host does on the same pixels (top-5 within
1e-4); a wrong sha256 is refused with E_MODEL_INTEGRITY and the built-in models keep working;
a spec as the ``model`` option is the classifier's model; a model given as bytes, with hooks,
comes back after its session is evicted.
On the page, a dropped .onnx file and its labels classify dropped images; a file that is not
ONNX, labels that do not fit the output and labels that are not UTF-8 are refused, each
with its error, and the model in use stays in use.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import onnxruntime as ort
import pytest
from edge_infer.manifest import parse_model_entry
from edge_infer.pipeline import Pipeline
from helpers import CAT_LABELS, MANIFEST, MODELS, data_transfer, photo
from hook_examples import HOOKS
from onnx_models import colour_model
from PIL import Image

pytestmark = pytest.mark.browser

MANIFEST_DATA = json.loads(MANIFEST.read_text())
INT8 = next(m for m in MANIFEST_DATA["models"] if m["id"] == "mobilenet_v2-int8")
IMAGENET = MANIFEST_DATA["label_sets"][INT8["labels"]]["labels"]
# The int8 file, preprocessed otherwise than its manifest entry says: stretched, not cropped.
STRETCHED = {
    **INT8["preprocess"],
    "resize": {"mode": "stretch", "interpolation": "bilinear", "antialias": True},
}

# Registers by URL, classifies in exact mode, and returns the pixels Python got (the decoded
# image), for the CPython host to run on.
REGISTER_BY_URL_JS = """async ({ spec, b64 }) => {
    const { createClassifier } = await import('./edge-infer.js');
    const { decodeToRGBA } = await import('./lib/decode.js');
    window.runtimeClassifier = createClassifier({ topK: 5 });
    const info = await window.runtimeClassifier.registerModel(spec);
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const file = new File([bytes], 'photo.png', { type: 'image/png' });
    const result = await window.runtimeClassifier.classify(
        file, { model: info.id, preprocess: 'exact' });
    const pixels = await decodeToRGBA(file, 'photo.png', {});
    let bin = '';
    for (let i = 0; i < pixels.rgba.length; i += 0x8000) {
        bin += String.fromCharCode.apply(null, pixels.rgba.subarray(i, i + 0x8000));
    }
    return { info, result, rgba: btoa(bin), width: pixels.width, height: pixels.height };
}"""


def test_a_model_registered_by_url_answers_as_cpython_does(ready_page):
    spec = {
        "id": "stretched-int8",
        "url": f"models/{INT8['sha256']}/{INT8['file']}",
        "sha256": INT8["sha256"],
        "labels": IMAGENET,
        "preprocess": STRETCHED,
    }
    b64 = base64.b64encode(photo("chelsea.png").read_bytes()).decode()
    out = ready_page.evaluate(REGISTER_BY_URL_JS, {"spec": spec, "b64": b64})
    info, browser = out["info"], out["result"]
    assert info["id"] == "stretched-int8" and info["labels"] == IMAGENET
    assert info["sha256"] == INT8["sha256"] and info["bytes"] == INT8["bytes"]
    assert browser["model"]["id"] == "stretched-int8"

    model = parse_model_entry(info["entry"], IMAGENET)  # the entry Python validated in the page
    assert model.preprocess.resize_mode == "stretch"
    session = ort.InferenceSession(str(MODELS / INT8["file"]), providers=["CPUExecutionProvider"])
    pipeline = Pipeline(model, lambda x: session.run([model.output_name], {model.input_name: x})[0])
    rgba = np.frombuffer(base64.b64decode(out["rgba"]), dtype=np.uint8)
    pixels = rgba.reshape(out["height"], out["width"], 4)
    pending = pipeline.start(pixels, top_k=5, mode="exact")
    expected = pending.finish(pipeline.infer(pending.input))
    assert [r["index"] for r in browser["top_k"]] == [r["index"] for r in expected["top_k"]]
    np.testing.assert_allclose(
        [r["probability"] for r in browser["top_k"]],
        [r["probability"] for r in expected["top_k"]],
        rtol=0,
        atol=1e-4,
    )


WRONG_SHA256_JS = """async ({ spec, b64 }) => {
    const { createClassifier } = await import('./edge-infer.js');
    window.runtimeClassifier = createClassifier();
    const refused = (spec) => window.runtimeClassifier.registerModel(spec).then(
        () => null, (err) => ({ code: err.code, message: err.message }));
    const byUrl = await refused(spec);
    const bytes = new Uint8Array(await (await fetch(spec.url)).arrayBuffer());
    const byBytes = await refused({ ...spec, url: undefined, bytes });
    const noSha = await refused({ ...spec, sha256: undefined });
    const image = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const next = await window.runtimeClassifier.classify(new Blob([image], { type: 'image/png' }));
    return { byUrl, byBytes, noSha, next: next.label, model: next.model.id };
}"""


def test_a_wrong_sha256_is_refused_and_the_built_in_models_keep_working(ready_page):
    spec = {
        "id": "tampered",
        "url": f"models/{INT8['sha256']}/{INT8['file']}",
        "sha256": "0" * 64,
        "labels": IMAGENET,
        "preprocess": INT8["preprocess"],
    }
    b64 = base64.b64encode(photo("chelsea.png").read_bytes()).decode()
    out = ready_page.evaluate(WRONG_SHA256_JS, {"spec": spec, "b64": b64})
    for refusal in (out["byUrl"], out["byBytes"]):
        assert refusal["code"] == "E_MODEL_INTEGRITY", refusal
        assert f"has sha256 {INT8['sha256']}, the model spec says {'0' * 64}" in refusal["message"]
    assert out["noSha"]["code"] == "E_INPUT"
    assert "a model given by URL needs its sha256" in out["noSha"]["message"]
    assert out["next"] in CAT_LABELS and out["model"] == MANIFEST_DATA["default_model"]


# ------------------------------------------------------------------ the page's own-model panel

COLOURS = ["red", "green", "blue"]
# 224x224 RGB in, NCHW: the page's default preprocessing fits it as it is.
COLOUR_MODEL = colour_model(np.eye(3) * 4.0, in_dims=(1, 3, 224, 224))


def png(colour) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, format="PNG")
    return file_entry("swatch.png", buf.getvalue(), "image/png")


def file_entry(name: str, data: bytes, type_: str = "") -> dict:
    return {"b64": base64.b64encode(data).decode(), "name": name, "type": type_}


def drop(page, selector: str, files: list[dict]) -> None:
    page.dispatch_event(selector, "drop", {"dataTransfer": data_transfer(page, files)})


def pick(page, selector: str, name: str, data: bytes) -> None:
    page.set_input_files(selector, files=[{"name": name, "mimeType": "", "buffer": data}])


def own_outcome(page) -> dict:
    """Wait until the panel settles, then what it shows."""
    page.wait_for_selector("#own-model[data-state=ready], #own-model[data-state=error]")
    return page.evaluate(
        """() => ({ state: document.querySelector('#own-model').dataset.state,
                   code: document.querySelector('#own-model').dataset.errorCode,
                   text: document.querySelector('#own-model-status').textContent })"""
    )


def settle_panel(page) -> None:
    page.evaluate("() => { document.querySelector('#own-model').dataset.state = 'checking'; }")


def classify_dropped(page, colour) -> dict:
    """Drop an image on the page as a user does; the card's result."""
    count = page.locator("#results .result").count()
    drop(page, "#drop-zone", [png(colour)])
    card = page.locator("#results .result").nth(count)
    card.locator("xpath=self::*[@data-state='done' or @data-state='error']").wait_for()
    assert card.get_attribute("data-state") == "done", card.locator(".status").text_content()
    return json.loads(card.get_attribute("data-result"))


def test_a_dropped_model_classifies_and_bad_files_are_refused_keeping_it(ready_page):
    page = ready_page
    assert "nothing is uploaded" in page.locator("#own-model .privacy").text_content()
    labels = "\n".join(COLOURS).encode() + b"\n"
    try:
        model_file = file_entry("colours.onnx", COLOUR_MODEL)
        drop(page, "#own-model-drop", [model_file, file_entry("colours.txt", labels, "text/plain")])
        shown = own_outcome(page)
        assert shown["state"] == "ready", shown
        assert "colours.onnx: 3 classes (red, green, blue)" in shown["text"]
        picked = page.locator("#model-select option:checked").text_content()
        assert picked.startswith("colours.onnx")
        red = classify_dropped(page, (230, 20, 20))
        assert red["label"] == "red" and red["model"]["id"].startswith("user-")
        assert [c["label"] for c in red["top_k"]][:1] == ["red"]
        own_id = red["model"]["id"]

        # Not ONNX at all, picked with the model file input (the labels are still colours.txt).
        settle_panel(page)
        pick(page, "#own-model-file", "broken.onnx", b"this is not a model")
        shown = own_outcome(page)
        assert (shown["state"], shown["code"]) == ("error", "E_INPUT"), shown
        assert "broken.onnx is not an ONNX model onnxruntime-web can load" in shown["text"]
        assert "Still using colours.onnx" in shown["text"]
        assert classify_dropped(page, (230, 20, 20))["model"]["id"] == own_id

        # Four labels for three outputs, dropped together with the model.
        settle_panel(page)
        drop(page, "#own-model-drop", [model_file, file_entry("four.txt", labels + b"cyan\n")])
        shown = own_outcome(page)
        assert (shown["state"], shown["code"]) == ("error", "E_MANIFEST"), shown
        assert "3 classes but label set" in shown["text"] and "has 4 labels" in shown["text"]
        assert classify_dropped(page, (20, 230, 20))["label"] == "green"

        # Labels that are not UTF-8, picked with the labels file input.
        settle_panel(page)
        pick(page, "#own-labels-file", "latin1.txt", "rouge\nvert\nbleu\xe9\n".encode("latin-1"))
        shown = own_outcome(page)
        assert (shown["state"], shown["code"]) == ("error", "E_MANIFEST"), shown
        assert "labels file latin1.txt is not UTF-8 text" in shown["text"]
        blue = classify_dropped(page, (20, 20, 230))
        assert blue["label"] == "blue" and blue["model"]["id"] == own_id
    finally:
        page.select_option("#model-select", MANIFEST_DATA["default_model"])
        page.locator("#model-select:not([disabled])").wait_for()
    cat = classify_dropped(page, (128, 128, 128))
    assert cat["model"]["id"] == MANIFEST_DATA["default_model"]


MODEL_OPTION_JS = """async ({ spec, b64 }) => {
    const { createClassifier } = await import('./edge-infer.js');
    window.runtimeClassifier = createClassifier({ model: spec, topK: 3 });
    const info = await window.runtimeClassifier.ready;
    const image = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const blob = new Blob([image], { type: 'image/png' });
    const result = await window.runtimeClassifier.classify(blob);
    return { ready: info.model, model: result.model.id, top: result.top_k.length };
}"""


def test_a_model_spec_as_the_model_option_is_the_classifiers_model(ready_page):
    spec = {
        "id": "option-int8",
        "url": f"models/{INT8['sha256']}/{INT8['file']}",
        "sha256": INT8["sha256"],
        "labels": IMAGENET,
        "preprocess": INT8["preprocess"],
        "name": "int8, given at run time",
    }
    b64 = base64.b64encode(photo("chelsea.png").read_bytes()).decode()
    out = ready_page.evaluate(MODEL_OPTION_JS, {"spec": spec, "b64": b64})
    assert out["ready"] == {"id": "option-int8", "version": "1.0.0", "name": spec["name"]}
    assert out["model"] == "option-int8" and out["top"] == 3


EVICTION_JS = """async ({ model, hooks, labels, preprocess, b64 }) => {
    const { createClassifier } = await import('./edge-infer.js');
    window.runtimeClassifier = createClassifier({ topK: 3 });
    const bytes = Uint8Array.from(atob(model), (c) => c.charCodeAt(0));
    const spec = { bytes, labels, preprocess, hooks: { source: hooks } };
    const first = await window.runtimeClassifier.registerModel({ ...spec, id: 'hooked-first' });
    let cache;
    for (const id of ['filler-1', 'filler-2', 'filler-3']) {
        ({ cache } = await window.runtimeClassifier.registerModel({ ...spec, id }));
    }
    const reload = await window.runtimeClassifier.loadModel(first.id);
    const image = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const result = await window.runtimeClassifier.classify(
        new Blob([image], { type: 'image/png' }), { model: first.id });
    return { cache: cache.models, cached: reload.cached, result };
}"""


def test_an_evicted_model_given_as_bytes_comes_back_with_its_hooks(ready_page):
    blocks = {  # the hooks do the preprocessing; the entry still states the input it makes
        "resize": {"mode": "stretch", "interpolation": "bilinear", "antialias": True},
        "crop": {"height": 32, "width": 32},
        "scale": 1 / 255,
        "mean": [0, 0, 0],
        "std": [1, 1, 1],
        "layout": "NCHW",
        "channel_order": "RGB",
    }
    args = {
        "model": base64.b64encode(colour_model(np.eye(3) * 4.0)).decode(),
        "hooks": HOOKS,
        "labels": COLOURS,
        "preprocess": blocks,
        "b64": png((230, 20, 20))["b64"],
    }
    out = ready_page.evaluate(EVICTION_JS, args)
    assert "hooked-first" not in out["cache"]  # 3 sessions at most: it was evicted
    assert out["cached"] is False
    # The hooks invert the colours: red becomes cyan, whose strongest channels are G and B.
    assert out["result"]["model"]["id"] == "hooked-first"
    assert out["result"]["preprocess_mode"] == "hook"
    assert {c["label"] for c in out["result"]["top_k"][:2]} == {"green", "blue"}


CRASH_JS = """async ({ model, labels, preprocess, b64 }) => {
    const { createClassifier } = await import('/edge-infer.js');
    const classifier = createClassifier({ debug: true });
    const bytes = Uint8Array.from(atob(model), (c) => c.charCodeAt(0));
    const { id } = await classifier.registerModel({ bytes, labels, preprocess });
    const image = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const blob = new Blob([image], { type: 'image/png' });
    const before = await classifier.classify(blob, { model: id });
    const inFlight = classifier.classify(blob, { model: id }).then(() => null, (e) => e.code);
    classifier._simulateCrash();
    const lost = await inFlight;
    const after = await classifier.classify(blob, { model: id });
    return { before: before.label, lost, after: after.label, model: after.model.id, id };
}"""


def test_a_restarted_runtime_gets_the_registered_models_again(page, app_url):
    """Not the shared page: the worker dies on purpose."""
    page.goto(app_url + "models/manifest.json")  # same origin, boots nothing itself
    args = {
        "model": base64.b64encode(COLOUR_MODEL).decode(),
        "labels": COLOURS,
        "preprocess": imagenet_preprocess(),
        "b64": png((20, 230, 20))["b64"],
    }
    out = page.evaluate(CRASH_JS, args)
    assert out["before"] == "green" and out["after"] == "green" and out["model"] == out["id"]
    assert out["lost"] == "E_WORKER_CRASHED"


def imagenet_preprocess() -> dict:
    """The page's default preprocessing (web/lib/config.js USER_MODEL) as a manifest block."""
    return {
        "resize": {"shorter_side": 256, "interpolation": "bilinear", "antialias": True},
        "crop": {"height": 224, "width": 224},
        "scale": 1 / 255,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "layout": "NCHW",
        "channel_order": "RGB",
    }
