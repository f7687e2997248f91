"""Model switching in the page and the API: progress, ?model=, LRU cache, repeat visits."""

from __future__ import annotations

import json
import re

import chromium
import numpy as np
import pytest
from conftest import READY_TIMEOUT_MS
from helpers import CAT_LABELS, photo
from PIL import Image

pytestmark = pytest.mark.browser

BOOT_MODEL = "mobilenet_v2-fp32"
OTHER_MODEL = "efficientnet_lite0-int8"


@pytest.fixture
def recorded(page):
    requests = []
    page.context.on("request", lambda r: requests.append(r))
    page.requests = requests
    return page


def model_requests(page, model_id):
    """Requests for a model file made by the page or its workers (not the service worker's
    own precaching, which fetches the default model once after the first visit)."""
    return [
        r
        for r in page.requests
        if re.search(rf"/models/[0-9a-f]{{64}}/{model_id}\.onnx$", r.url)
        and r.service_worker is None
    ]


def classify_file(page, name):
    before = page.locator("#results .result[data-state='done']").count()
    page.set_input_files("#file-input", str(photo(name)))
    page.wait_for_function(
        "n => document.querySelectorAll('#results .result[data-state=done]').length > n",
        arg=before,
        timeout=READY_TIMEOUT_MS,
    )
    return json.loads(
        page.locator("#results .result[data-state='done']").last.get_attribute("data-result")
    )


def test_picker_switches_and_switching_back_is_cached(recorded, app_url):
    page = recorded
    page.goto(app_url)
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    page.wait_for_selector("#model-select:not([disabled])")
    assert page.input_value("#model-select") == BOOT_MODEL

    page.select_option("#model-select", OTHER_MODEL)
    page.wait_for_function(
        "() => document.querySelector('#model-status').textContent.startsWith('Ready')",
        timeout=READY_TIMEOUT_MS,
    )
    assert f"model={OTHER_MODEL}" in page.url
    result = classify_file(page, "chelsea.png")
    assert result["model"]["id"] == OTHER_MODEL and result["label"] in CAT_LABELS

    page.select_option("#model-select", BOOT_MODEL)
    page.wait_for_function(
        "() => document.querySelector('#model-status').textContent.startsWith('Ready')",
        timeout=READY_TIMEOUT_MS,
    )
    assert "cached, no download" in page.inner_text("#model-status")
    result = classify_file(page, "coffee.png")
    assert result["model"]["id"] == BOOT_MODEL and result["label"] == "espresso"
    assert len(model_requests(page, BOOT_MODEL)) == 1  # only the boot download
    assert len(model_requests(page, OTHER_MODEL)) == 1


def test_model_url_parameter(recorded, app_url):
    page = recorded
    page.goto(f"{app_url}?model={OTHER_MODEL}")
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    page.wait_for_selector("#model-select:not([disabled])")
    assert page.input_value("#model-select") == OTHER_MODEL
    result = classify_file(page, "chelsea.png")
    assert result["model"]["id"] == OTHER_MODEL
    assert not model_requests(page, BOOT_MODEL)  # the default model was never downloaded


def test_repeat_visit_does_not_download_the_model_again(playwright, logged_server, tmp_path):
    """The server's access log is the proof: the revisit gets no model bytes (304 or none).

    A persistent profile, as a real user has: Playwright's default contexts are incognito,
    whose small in-memory HTTP cache does not keep a 14 MB file.
    """
    proc, url = logged_server
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), **chromium.launch_kwargs()
    )
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
        page.wait_for_timeout(1000)  # let the service worker finish installing, if it does
        first_visit = list(proc.log)
        page.reload()
        page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
        page.wait_for_timeout(500)
        revisit = proc.log[len(first_visit) :]
    finally:
        context.close()

    def model_lines(lines):
        return [ln for ln in lines if f"/{BOOT_MODEL}.onnx" in ln]

    assert any('" 200 ' in ln for ln in model_lines(first_visit))
    assert not any('" 200 ' in ln for ln in model_lines(revisit)), model_lines(revisit)


LOAD_JS = """async ({ model, cache }) => {
    const { createClassifier } = await import('/edge-infer.js');
    const c = createClassifier({ cache });
    await c.ready;
    const events = [];
    const first = await c.loadModel(model, { onProgress: (p) => events.push(p) });
    const again = await c.loadModel(model);
    return { first, again, events };
}"""


def test_api_load_model_reports_bytes_and_cache_bounds(page, app_url):
    page.goto(app_url + "models/manifest.json")  # a same-origin page that boots nothing
    out = page.evaluate(LOAD_JS, {"model": OTHER_MODEL, "cache": {"maxModels": 1}})
    assert out["first"]["cached"] is False and out["again"]["cached"] is True
    last = out["events"][-1]
    assert last["loaded"] == last["total"] > 1_000_000
    # maxModels 1: the boot model was evicted (and released) when the other one loaded.
    assert out["first"]["cache"]["models"] == [OTHER_MODEL]


RAW_RGB_JS = """async (requests) => {
    const { createClassifier } = await import('/edge-infer.js');
    const c = createClassifier();
    const out = [];
    for (const r of requests) {
        try { out.push({ result: await c.classify(r) }); }
        catch (err) { out.push({ code: err.code, message: err.message }); }
    }
    return out;
}"""


def test_raw_rgb_request_in_the_js_api(ready_page):
    image = Image.open(photo("coffee.png")).convert("RGB").resize((224, 160))
    data = np.asarray(image).reshape(-1).tolist()
    ok = {"image_data": data, "width": 224, "height": 160, "model_id": BOOT_MODEL}
    page = ready_page  # classifiers made through the API share the page's runtime
    good, short, unknown, nan = page.evaluate(
        RAW_RGB_JS,
        [
            ok,
            {**ok, "image_data": data[:-3]},
            {**ok, "model_id": "no-such-model"},
            {"image_data": [0, 0, None], "width": 1, "height": 1},
        ],
    )
    result = good["result"]
    assert result["label"] == "espresso"
    assert result["latency_ms"] == result["timings_ms"]["total"]
    assert result["model_version"] == "1.0.0"
    assert short["code"] == "E_INPUT" and "width*height*3" in short["message"]
    assert unknown["code"] == "E_MODEL_UNKNOWN"
    assert nan["code"] == "E_INPUT" and "finite" in nan["message"]
