"""Faults: a worker crash mid-run (in a fresh runtime: the crash ends it).

50 images at once (order, ownership, cancel) are in ``tests/e2e/test_batches.py``.
"""

from __future__ import annotations

import base64

import pytest
from helpers import photo

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
