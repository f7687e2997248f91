"""The shared ready page's reset: what one test leaves behind, the next one does not see."""

from __future__ import annotations

import json

import pytest
from helpers import CAT_LABELS, photo

pytestmark = pytest.mark.browser

LEAVE_STATE_JS = """async () => {
    const { createClassifier } = await import('./edge-infer.js');
    window.leftover = createClassifier();
    await window.leftover.ready;
    window.keptHandle = window.leftover;  // to see the dispose after the reset deleted both
    window.leftoverFlag = 1;
}"""


def test_reset_cleans_up_or_boots_a_new_page(ready_page, shared_app, request):
    page = ready_page
    boots = shared_app.boots
    # Leave everything a test may leave: a result card, an error message, API classifiers and
    # globals, listeners, a permission.
    page.set_input_files("#file-input", str(photo("chelsea.png")))
    page.wait_for_selector("#results .result[data-state='done']", timeout=120_000)
    page.evaluate(LEAVE_STATE_JS)
    heard = []
    page.on("console", lambda m: heard.append(m.text))
    page.context.grant_permissions(["clipboard-read"], origin=shared_app.url.rstrip("/"))
    leftover = page.evaluate_handle("window.leftover")
    shared_app.reset()

    again = shared_app.ensure(request.node.nodeid)
    assert again is page and shared_app.boots == boots  # put back, not booted again
    assert page.locator("#results .result").count() == 0
    assert page.evaluate("[typeof window.leftover, typeof window.leftoverFlag]") == [
        "undefined",
        "undefined",
    ]
    # The classifier the test left was disposed, and the page's own one still works.
    disposed = leftover.evaluate("(c) => c.classify('x').then(() => 'ran', (e) => e.code)")
    assert disposed == "E_DISPOSED"
    page.evaluate("console.log('after the reset')")
    assert heard == []
    state = page.evaluate(
        "navigator.permissions.query({ name: 'clipboard-read' }).then((p) => p.state)"
    )
    assert state != "granted"
    page.set_input_files("#file-input", str(photo("chelsea.png")))
    page.wait_for_selector("#results .result[data-state='done']", timeout=120_000)
    assert page.locator("#results .result").count() == 1
    result = json.loads(page.get_attribute("#results .result", "data-result"))
    assert result["label"] in CAT_LABELS

    # What cannot be undone (here an init script) closes the page: the next user boots anew.
    page.add_init_script("window.injected = 1")
    shared_app.reset()
    fresh = shared_app.ensure(request.node.nodeid)
    assert fresh is not page and shared_app.boots == boots + 1
    assert fresh.evaluate("typeof window.injected") == "undefined"
    assert shared_app.recycles[-1].endswith("the test called add_init_script")
