"""The bad-input matrix, through the CLI, the JS API and the page's file input."""

from __future__ import annotations

import base64
import json
import os

import pytest
from bad_inputs import CASES, write_all
from conftest import READY_TIMEOUT_MS
from helpers import CAT_LABELS, run_cli


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("bad-inputs"))


def check(outcome: str, result: dict | None, code: str | None):
    if outcome in ("cat", "ok"):
        assert code is None, f"expected a result, got error {code}"
        if outcome == "cat":
            assert result["label"] in CAT_LABELS, result["label"]
    else:
        assert result is None, f"expected {outcome}, got a result"
        assert code == outcome


# ----------------------------------------------------------------------------- CLI


def test_cli_matrix(files):
    names = [c.name for c in CASES]
    proc = run_cli("classify", *(str(files[n]) for n in names), timeout=300)
    assert proc.returncode == 1  # some files failed, the others were classified
    results = {
        os.path.basename(json.loads(line)["file"]): json.loads(line)
        for line in proc.stdout.splitlines()
    }
    errors = {}
    for line in proc.stderr.splitlines():
        for name in names:
            if f"/{name}:" in line:
                errors[name] = line.rsplit("[", 1)[1].rstrip("]")
    for case in CASES:
        check(case.cli, results.get(case.name), errors.get(case.name))
    assert "the limit is 50 megapixels" in proc.stderr


# ------------------------------------------------------------------- browser (API)


@pytest.fixture
def api_page(ready_page):
    """The shared ready app page, with a classifier of the test's own on the window."""
    ready_page.evaluate(
        """async () => {
            const { createClassifier } = await import('./edge-infer.js');
            window.testClassifier = createClassifier();
            await window.testClassifier.ready;
        }"""
    )
    return ready_page


CLASSIFY_FILE_JS = """async ({ b64, name, type }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    try {
        const result = await window.testClassifier.classify(new File([bytes], name, { type }));
        return { result };
    } catch (err) {
        return { code: err.code, message: err.message, isError: err instanceof Error };
    }
}"""


def classify_in_page(page, path, mime):
    payload = {"b64": base64.b64encode(path.read_bytes()).decode(), "name": path.name, "type": mime}
    return page.evaluate(CLASSIFY_FILE_JS, payload)


@pytest.mark.browser
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_api_matrix_then_a_good_image(api_page, files, case):
    out = classify_in_page(api_page, files[case.name], case.mime)
    check(case.browser, out.get("result"), out.get("code"))
    if "code" in out:
        assert out["isError"] is True
        assert case.name in out["message"]
    # The next good image always works.
    good = classify_in_page(api_page, files["upright.jpg"], "image/jpeg")
    assert good["result"]["label"] in CAT_LABELS


@pytest.mark.browser
def test_exif_orientation_is_honoured(api_page, files):
    rotated = classify_in_page(api_page, files["exif-rotated.jpg"], "image/jpeg")["result"]
    upright = classify_in_page(api_page, files["upright.jpg"], "image/jpeg")["result"]
    assert rotated["image"] == {"width": 451, "height": 300}  # upright, not 300x451
    assert rotated["top_k"][0]["index"] == upright["top_k"][0]["index"]
    assert abs(rotated["confidence"] - upright["confidence"]) < 0.05


@pytest.mark.browser
def test_huge_image_is_refused_with_its_size(api_page, files):
    out = classify_in_page(api_page, files["huge-20000x20000.png"], "image/png")
    assert out["code"] == "E_IMAGE_TOO_LARGE"
    assert "20000×20000" in out["message"] and "50 megapixels" in out["message"]


# ------------------------------------------------------------------- browser (page)


@pytest.mark.browser
def test_page_shows_each_error_then_classifies(ready_page, files):
    page = ready_page
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    failures = [c for c in CASES if c.browser.startswith("E_")]
    for n, case in enumerate(failures, start=1):
        page.set_input_files("#file-input", str(files[case.name]))
        page.wait_for_function(
            "n => document.querySelectorAll('#results .result[data-state=error]').length >= n",
            arg=n,
            timeout=READY_TIMEOUT_MS,
        )
        page.wait_for_selector("body[data-state='error']")
        assert case.name in page.inner_text("#message")
        card = page.locator("#results .result").nth(n - 1)
        assert card.get_attribute("data-error-code") == case.browser
    # Clearing the failed cards leaves the error state too.
    page.click("#clear-results")
    page.wait_for_selector("body[data-state='ready']")
    assert page.locator("#results .result").count() == 0
    assert page.is_hidden("#message")
    page.set_input_files("#file-input", str(files["upright.jpg"]))
    page.wait_for_selector("#results .result[data-state='done']", timeout=READY_TIMEOUT_MS)
    page.wait_for_selector("body[data-state='ready']")
    assert page.is_hidden("#message")
