"""Faults: a worker crash mid-run, 50 images at once (order, ownership, cancel)."""

from __future__ import annotations

import base64
import json

import pytest
from conftest import READY_TIMEOUT_MS
from helpers import CAT_LABELS, photo

pytestmark = pytest.mark.browser

CRASH_JS = """async ({ cat, coffee, worker }) => {
    const { createClassifier } = await import('/edge-infer.js');
    const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const file = (b64, name) => new File([bytes(b64)], name, { type: 'image/png' });
    const c = createClassifier({ debug: true });
    await c.ready;
    const inFlight = [c.classify(file(cat, 'a.png')), c.classify(file(coffee, 'b.png'))].map((p) =>
        p.then((r) => ({ label: r.label }), (e) => ({ code: e.code })));
    c._simulateCrash(worker);
    const failed = await Promise.all(inFlight);
    const after = await c.classify(file(coffee, 'c.png'));
    return { failed, after: after.label, threads: after.runtime.threads };
}"""


@pytest.mark.parametrize("worker", ["inference", "onnxruntime"])
def test_worker_crash_mid_run_fails_the_request_and_recovers(page, app_url, worker):
    """Either worker dying (the inference worker, or onnxruntime-web's own) fails what is in
    flight with E_WORKER_CRASHED, and the next request boots a fresh runtime."""
    page.goto(app_url + "models/manifest.json")  # same origin, boots nothing itself
    b64 = {
        k: base64.b64encode(photo(f).read_bytes()).decode()
        for k, f in (("cat", "chelsea.png"), ("coffee", "coffee.png"))
    }
    out = page.evaluate(CRASH_JS, {**b64, "worker": worker})
    # Each in-flight request settles: an answer that beat the crash, or a coded error.
    for entry in out["failed"]:
        assert entry.get("code") == "E_WORKER_CRASHED" or "label" in entry
    assert any(e.get("code") == "E_WORKER_CRASHED" for e in out["failed"])
    assert out["after"] == "espresso"  # the next request restarted the runtime
    assert out["threads"] == 2


def drop_many(page, files):
    dt = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, { type: 'image/png' }));
            }
            return dt;
        }""",
        files,
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": dt})


def fifty_files():
    cat = base64.b64encode(photo("chelsea.png").read_bytes()).decode()
    coffee = base64.b64encode(photo("coffee.png").read_bytes()).decode()
    return [
        {
            "b64": cat if i % 2 == 0 else coffee,
            "name": f"{i:02d}-{'cat' if i % 2 == 0 else 'coffee'}.png",
        }
        for i in range(50)
    ]


def test_fifty_images_at_once_arrive_in_order_each_with_its_own_answer(page, app_url):
    page.goto(app_url)
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    drop_many(page, fifty_files())
    page.wait_for_function(
        "() => document.querySelectorAll('#results .result[data-state=done]').length === 50",
        timeout=300_000,
    )
    names = page.eval_on_selector_all(
        "#results .result .file-name", "els => els.map(e => e.textContent)"
    )
    assert names == [f["name"] for f in fifty_files()]
    results = [
        json.loads(r)
        for r in page.eval_on_selector_all(
            "#results .result", "els => els.map(e => e.dataset.result)"
        )
    ]
    for name, result in zip(names, results, strict=True):
        expected = CAT_LABELS if "cat" in name else {"espresso"}
        assert result["label"] in expected, (name, result["label"])
    page.wait_for_selector("body[data-state='ready']")


def test_cancelling_the_rest_of_a_big_drop(page, app_url):
    page.goto(app_url)
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    drop_many(page, fifty_files())
    page.wait_for_function(
        "() => document.querySelectorAll('#results .result[data-state=done]').length >= 3",
        timeout=READY_TIMEOUT_MS,
    )
    page.click("#cancel-pending")
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    states = page.eval_on_selector_all("#results .result", "els => els.map(e => e.dataset.state)")
    assert len(states) == 50
    assert set(states) <= {"done", "cancelled"}
    assert states.count("cancelled") >= 30
    # Finished cards form a prefix: nothing after a cancelled one completed.
    assert "done" not in states[states.index("cancelled") :]
    assert page.is_hidden("#cancel-pending")
    # The next image still works.
    page.set_input_files("#file-input", str(photo("coffee.png")))
    page.wait_for_function(
        "() => document.querySelectorAll('#results .result[data-state=done]').length "
        "> [...document.querySelectorAll('#results .result')].slice(0, 50)"
        ".filter(e => e.dataset.state === 'done').length",
        timeout=READY_TIMEOUT_MS,
    )
    last = json.loads(page.locator("#results .result").last.get_attribute("data-result"))
    assert last["label"] == "espresso"
