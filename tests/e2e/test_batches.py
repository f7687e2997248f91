"""50 images at once on the shared app page: order, ownership, cancelling the rest."""

from __future__ import annotations

import base64
import json

import pytest
from conftest import READY_TIMEOUT_MS
from helpers import CAT_LABELS, photo

pytestmark = pytest.mark.browser


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


def test_fifty_images_at_once_arrive_in_order_each_with_its_own_answer(ready_page):
    page = ready_page
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


def test_cancelling_the_rest_of_a_big_drop(ready_page):
    page = ready_page
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
