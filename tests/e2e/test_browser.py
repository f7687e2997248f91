"""End-to-end: the real app in headless Debian Chromium, driven the way a user drives it."""

from __future__ import annotations

import base64
import json
import shutil
from urllib.parse import urlsplit

import numpy as np
import pytest
from conftest import READY_TIMEOUT_MS
from helpers import CAT_LABELS, MANIFEST, MODELS, ROOT, data_transfer, photo

pytestmark = pytest.mark.browser

RESULT_KEYS = {"label", "confidence", "top_k", "timings_ms", "model", "runtime"}
STAGES = {"decode", "preprocess", "inference", "postprocess", "total"}


class App:
    """A loaded app page plus every request it made."""

    def __init__(self, page, url, *, loaded=False):
        self.page, self.url, self.requests, self.loaded = page, url, [], loaded
        page.on("request", lambda r: self.requests.append(r.url))

    def open(self):
        """Open the app (the shared page is open already) and wait until it is ready."""
        if not self.loaded:
            self.page.goto(self.url)
        self.wait_state("ready")
        return self

    def wait_state(self, state):
        self.page.wait_for_selector(f"body[data-state='{state}']", timeout=READY_TIMEOUT_MS)

    def results(self, state="done", count=1):
        selector = f"#results .result[data-state='{state}']"
        self.page.wait_for_function(
            "([s, n]) => document.querySelectorAll(s).length >= n",
            arg=[selector, count],
            timeout=READY_TIMEOUT_MS,
        )
        return [
            json.loads(r)
            for r in self.page.eval_on_selector_all(
                "#results .result[data-result]", "els => els.map((e) => e.dataset.result)"
            )
        ]

    def foreign_requests(self):
        origin = "{0.scheme}://{0.netloc}/".format(urlsplit(self.url))
        return [u for u in self.requests if not u.startswith((origin, "blob:"))]

    def file_payload(self, path, mime):
        return {
            "b64": base64.b64encode(path.read_bytes()).decode(),
            "name": path.name,
            "type": mime,
        }

    def data_transfer(self, files):
        """A real DataTransfer holding the given files, built inside the page."""
        return data_transfer(self.page, files)

    def drop(self, *files):
        dt = self.data_transfer([self.file_payload(p, m) for p, m in files])
        for event in ("dragenter", "dragover", "drop"):
            self.page.dispatch_event("#drop-zone", event, {"dataTransfer": dt})


@pytest.fixture
def app(ready_page, app_url):
    """The shared ready app page; the test fails if it contacts another origin meanwhile."""
    app = App(ready_page, app_url, loaded=True)
    yield app
    assert app.foreign_requests() == [], "the page contacted another origin"


@pytest.fixture
def fresh_app(page, app_url):
    """The app in a new browser context, not opened yet: for tests of the boot itself."""
    app = App(page, app_url)
    yield app
    assert app.foreign_requests() == [], "the page contacted another origin"


def test_loads_isolated_with_two_threads_and_reports_runtime(app):
    app.open()
    page = app.page
    assert page.evaluate("crossOriginIsolated") is True
    facts = page.inner_text("#runtime-facts")
    ort_web = json.loads((ROOT / "package.json").read_text())["dependencies"]["onnxruntime-web"]
    assert "0.27.7" in facts and "2.0.2" in facts and ort_web in facts
    assert "Threads\n2" in facts or "Threads\t2" in facts
    assert "Ready" in page.inner_text("#status-text")


def test_chelsea_through_the_file_input(app, artifacts_dir):
    app.open()
    app.page.set_input_files("#file-input", str(photo("chelsea.png")))
    [result] = app.results()
    assert result["label"] in CAT_LABELS
    assert set(RESULT_KEYS) <= set(result)
    assert set(result["timings_ms"]) == STAGES
    assert result["timings_ms"]["total"] >= result["timings_ms"]["inference"] > 0
    assert result["runtime"]["threads"] == 2
    assert result["runtime"]["cross_origin_isolated"] is True
    assert result["runtime"]["host"] == "pyodide"
    assert len(result["top_k"]) == 5
    card = app.page.locator("#results .result").first
    assert result["label"] in card.inner_text()
    assert app.page.get_attribute("body", "data-state") == "ready"
    card.screenshot(path=str(artifacts_dir / "result-chelsea.png"))
    app.page.screenshot(path=str(artifacts_dir / "page.png"), full_page=True)
    docs = ROOT / "docs"
    if docs.is_dir() and __import__("os").environ.get("EDGE_INFER_UPDATE_DOCS") == "1":
        shutil.copy(artifacts_dir / "page.png", docs / "screenshot.png")


def test_coffee_through_a_drop_event(app):
    app.open()
    app.drop((photo("coffee.png"), "image/png"))
    [result] = app.results()
    assert result["label"] == "espresso"


def test_several_dropped_images_are_classified_in_order(app):
    app.open()
    app.drop(
        (photo("coffee.png"), "image/png"),
        (photo("chelsea.png"), "image/png"),
        (photo("motorcycle_left.png"), "image/png"),
    )
    results = app.results(count=3)
    assert results[0]["label"] == "espresso"
    assert results[1]["label"] in CAT_LABELS
    assert results[2]["label"] == "moped"
    names = app.page.eval_on_selector_all(
        "#results .result .file-name", "els => els.map(e => e.textContent)"
    )
    assert names == ["coffee.png", "chelsea.png", "motorcycle_left.png"]


def test_non_image_shows_an_error_then_the_next_image_works(app, tmp_path):
    app.open()
    notes = tmp_path / "notes.txt"
    notes.write_text("definitely not pixels\n" * 20)
    app.page.set_input_files("#file-input", str(notes))
    app.wait_state("error")
    message = app.page.inner_text("#message")
    assert "notes.txt" in message and "could not be decoded" in message
    card = app.page.locator("#results .result[data-state='error']")
    assert card.get_attribute("data-error-code") == "E_DECODE"
    app.page.set_input_files("#file-input", str(photo("chelsea.png")))
    [result] = app.results()
    assert result["label"] in CAT_LABELS
    app.wait_state("ready")
    assert app.page.is_hidden("#message")


def test_paste_from_the_clipboard(app, app_url):
    app.page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=app_url.rstrip("/")
    )
    app.open()
    payload = app.file_payload(photo("coffee.png"), "image/png")
    app.page.evaluate(
        """async (f) => {
            const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
            const blob = new Blob([bytes], { type: 'image/png' });
            await navigator.clipboard.write([new ClipboardItem({ 'image/png': blob })]);
        }""",
        payload,
    )
    app.page.focus("#drop-zone")
    app.page.keyboard.press("Control+V")
    [result] = app.results()
    assert result["label"] == "espresso"


PARITY_JS = """async ({ f, mode }) => {
    const { createClassifier } = await import('./edge-infer.js');
    const { resizedSize, BITMAP_OPTIONS } = await import('./lib/decode.js');
    const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: f.type }), BITMAP_OPTIONS);
    const full = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d');
    full.drawImage(bitmap, 0, 0);
    const image = full.getImageData(0, 0, bitmap.width, bitmap.height);
    // What the fast path hands to Python: the browser's own resample to the resize size.
    const size = resizedSize(bitmap.width, bitmap.height, 256);
    const small = new OffscreenCanvas(size.width, size.height).getContext('2d');
    small.imageSmoothingEnabled = true;
    small.imageSmoothingQuality = 'high';
    small.drawImage(bitmap, 0, 0, size.width, size.height);
    const resized = small.getImageData(0, 0, size.width, size.height);
    const classifier = createClassifier();
    const result = await classifier.classify(image, { preprocess: mode });
    const pixels = mode === 'exact' ? image : resized;
    let bin = '';
    for (let i = 0; i < pixels.data.length; i += 0x8000) {
        bin += String.fromCharCode.apply(null, pixels.data.subarray(i, i + 0x8000));
    }
    return { result, rgba: btoa(bin), width: pixels.width, height: pixels.height };
}"""


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_browser_matches_cpython_on_the_same_pixels(app, mode):
    """Same pixels into both hosts' Python: the whole top-5 agrees within 1e-4.

    In exact mode those are the decoded full-resolution pixels (numpy resizes in both hosts);
    in fast mode they are the browser's resample, which is what the worker hands to Python.
    """
    from edge_infer.hosts.native import create_pipeline
    from edge_infer.manifest import load_manifest

    app.open()
    payload = app.file_payload(photo("chelsea.png"), "image/png")
    out = app.page.evaluate(PARITY_JS, {"f": payload, "mode": mode})
    rgba = np.frombuffer(base64.b64decode(out["rgba"]), dtype=np.uint8)
    pixels = rgba.reshape(out["height"], out["width"], 4)
    native = create_pipeline(load_manifest(MANIFEST), MODELS, threads=1).classify(pixels)
    browser = out["result"]
    assert browser["preprocess_mode"] == mode
    assert [r["index"] for r in browser["top_k"]] == [r["index"] for r in native["top_k"]]
    np.testing.assert_allclose(
        [r["probability"] for r in browser["top_k"]],
        [r["probability"] for r in native["top_k"]],
        rtol=0,
        atol=1e-4,
    )
    assert browser["label"] in CAT_LABELS


EXACT_JS = """async (f) => {
    const { createClassifier } = await import('./edge-infer.js');
    const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
    const classifier = createClassifier({ topK: 5 });
    try {
        return await classifier.classify(new File([bytes], f.name, { type: f.type }),
                                         { preprocess: 'exact' });
    } finally {
        classifier.dispose();
    }
}"""


def pillow_torchvision_reference(path) -> np.ndarray:
    """Probabilities as an evaluation script computes them, without edge_infer's numpy code:
    Pillow decodes and resizes (torchvision's ``Resize(256)`` calls ``Image.resize`` with
    BILINEAR), ``CenterCrop(224)``, ``ToTensor`` and ``Normalize``, native onnxruntime, softmax.
    """
    import onnxruntime as ort
    from PIL import Image

    image = Image.open(path).convert("RGB")
    w, h = image.size
    size = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    image = image.resize(size, Image.BILINEAR)
    left, top = round((size[0] - 224) / 2.0), round((size[1] - 224) / 2.0)
    pixels = np.asarray(image.crop((left, top, left + 224, top + 224)), dtype=np.float32)
    tensor = pixels.transpose(2, 0, 1) / 255.0
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]
    tensor = ((tensor - mean) / std)[None].astype(np.float32)
    session = ort.InferenceSession(str(MODELS / "mobilenet_v2-fp32.onnx"))
    [logits] = session.run(None, {session.get_inputs()[0].name: tensor})
    logits = logits[0].astype(np.float64)
    e = np.exp(logits - logits.max())
    return e / e.sum()


@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_exact_mode_matches_pillow_and_torchvision_transforms(app, tmp_path, orientation):
    """The user's own evaluation (Pillow + torchvision's transforms) and the browser's exact
    mode give the same top-5, within 1e-4, on a photo file given to the API."""
    from PIL import Image

    path = tmp_path / f"chelsea-{orientation}.png"
    image = Image.open(photo("chelsea.png")).convert("RGB")
    (image if orientation == "landscape" else image.transpose(Image.TRANSPOSE)).save(path)
    manifest = json.loads(MANIFEST.read_text())
    default = next(m for m in manifest["models"] if m["id"] == manifest["default_model"])
    assert default["file"] == "mobilenet_v2-fp32.onnx"  # the reference below runs this file

    app.open()
    result = app.page.evaluate(EXACT_JS, app.file_payload(path, "image/png"))
    reference = pillow_torchvision_reference(path)
    expected = np.argsort(-reference)[:5]
    assert result["preprocess_mode"] == "exact"
    assert [r["index"] for r in result["top_k"]] == expected.tolist()
    np.testing.assert_allclose(
        [r["probability"] for r in result["top_k"]], reference[expected], rtol=0, atol=1e-4
    )


def test_images_dropped_while_loading_are_classified_when_ready(fresh_app):
    app = fresh_app
    app.page.goto(app.url)
    assert app.page.get_attribute("body", "data-state") == "loading"
    app.drop((photo("coffee.png"), "image/png"))
    assert app.page.get_attribute("body", "data-state") == "loading"
    [result] = app.results()
    assert result["label"] == "espresso"
    app.wait_state("ready")
