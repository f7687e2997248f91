"""Faults: a runtime file (Pyodide, the numpy wheel, onnxruntime-web's WASM) is missing.

Each case serves a copy of ``web/vendor`` with one file taken out (``serve.py --mount
vendor=DIR`` shadows the real folder; the real one is never touched). The page and the API must
fail fast with E_RUNTIME_LOAD naming the file, stay usable, and load without a page reload once
the file is put back.
"""

from __future__ import annotations

import base64
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import READY_TIMEOUT_MS, start_server
from helpers import CAT_LABELS, ROOT, photo

pytestmark = pytest.mark.browser

VENDOR = ROOT / "web" / "vendor"
VENDOR_JSON = json.loads((VENDOR / "vendor.json").read_text())
# The stdlib Pyodide boots from: the precompiled one when setup made it (pyodide-loader.js).
STDLIB = VENDOR_JSON.get("bytecode", {}).get("stdlib", {}).get("file", "pyodide/python_stdlib.zip")
MISSING = [
    "pyodide/pyodide.asm.wasm",
    STDLIB,
    VENDOR_JSON["numpy"]["file"],
    "ort/ort-wasm-simd-threaded.wasm",
]
# A failure must arrive long before this; a hang (the bug this guards against) fails the test.
FAIL_WITHIN_MS = 90_000


@dataclass
class BrokenSite:
    url: str
    name: str  # the missing file's name, as messages must show it
    _served: Path
    _aside: Path

    def restore(self) -> None:
        """Put the file back where the server looks for it."""
        self._served.parent.mkdir(parents=True, exist_ok=True)
        self._aside.replace(self._served)


@pytest.fixture(params=MISSING, ids=lambda p: Path(p).name)
def broken_site(request, tmp_path):
    """The app served with one vendored runtime file missing (a copy; web/vendor is untouched)."""
    vendor = tmp_path / "vendor"
    shutil.copytree(VENDOR, vendor)
    served = vendor / request.param
    aside = tmp_path / "aside" / served.name
    aside.parent.mkdir()
    served.replace(aside)
    proc, url = start_server("--mount", f"vendor={vendor}")
    yield BrokenSite(url, served.name, served, aside)
    proc.terminate()
    proc.wait(timeout=10)


def chelsea_b64() -> str:
    return base64.b64encode(photo("chelsea.png").read_bytes()).decode()


def drop(page, b64: str, name: str) -> None:
    """Drop one PNG on the drop zone, as a user dragging a file would."""
    dt = page.evaluate_handle(
        """([b64, name]) => {
            const dt = new DataTransfer();
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            dt.items.add(new File([bytes], name, { type: 'image/png' }));
            return dt;
        }""",
        [b64, name],
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": dt})


def test_page_names_the_missing_file_stays_usable_and_retries(page, broken_site):
    missing = broken_site.name
    refused = []
    page.context.on("response", lambda r: r.status == 404 and refused.append(r.url))
    page.goto(broken_site.url)

    # Leaves "loading" for an error that names the file, with a way to try again.
    page.wait_for_selector("body[data-state='error']", timeout=FAIL_WITHIN_MS)
    message = page.text_content("#message")
    assert missing in message and "E_RUNTIME_LOAD" in message, message
    assert missing in page.text_content("#status-text")
    assert page.is_visible("#retry-load")
    # The server was asked and said 404: no service worker cache stood in for the file.
    assert any(u.endswith("/" + missing) for u in refused), refused
    assert page.evaluate("navigator.serviceWorker.controller") is None

    # Still usable: a dropped image gets a clear error naming the file, not an endless "Queued".
    drop(page, chelsea_b64(), "chelsea.png")
    card = page.locator("#results .result").last
    page.wait_for_function(
        "() => document.querySelector('#results .result:last-child').dataset.state === 'error'",
        timeout=FAIL_WITHIN_MS,
    )
    assert card.get_attribute("data-error-code") == "E_RUNTIME_LOAD"
    assert missing in card.locator(".status").text_content()
    page.wait_for_selector("body[data-state='error']", timeout=FAIL_WITHIN_MS)
    assert page.is_visible("#retry-load")

    # The file is back: Retry loads in place (no reload), then the file input classifies.
    broken_site.restore()
    page.evaluate("window.sameDocument = true")
    page.click("#retry-load")
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    assert page.evaluate("window.sameDocument") is True
    assert page.is_hidden("#retry-load")
    page.set_input_files("#file-input", str(photo("chelsea.png")))
    page.wait_for_function(
        "() => document.querySelector('#results .result:last-child').dataset.state === 'done'",
        timeout=READY_TIMEOUT_MS,
    )
    result = json.loads(page.locator("#results .result").last.get_attribute("data-result"))
    assert result["label"] in CAT_LABELS


# Each promise settles as {label} or {code, message, file}, or {hung} if it takes too long.
API_JS = """async ({ step, b64, ms }) => {
    const settle = (p) => Promise.race([
        p.then((r) => ({ label: r.label ?? 'ready' }),
               (e) => ({ code: e.code, message: e.message, file: e.details?.file ?? null })),
        new Promise((resolve) => setTimeout(() => resolve({ hung: true }), ms)),
    ]);
    const image = () => new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))],
                                 'chelsea.png', { type: 'image/png' });
    if (step === 'broken') {
        const { createClassifier } = await import('/edge-infer.js');
        window.classifier = createClassifier();
        const ready = await settle(window.classifier.ready);
        const classify = await settle(window.classifier.classify(image()));
        return { ready, classify };
    }
    const classify = await settle(window.classifier.classify(image()));
    const ready = await settle(window.classifier.ready);
    return { ready, classify };
}"""


def test_api_rejects_with_the_file_and_the_next_call_loads_once_it_is_back(page, broken_site):
    missing = broken_site.name
    page.goto(broken_site.url + "models/manifest.json")  # same origin, boots nothing itself
    args = {"b64": chelsea_b64(), "ms": FAIL_WITHIN_MS}

    out = page.evaluate(API_JS, {**args, "step": "broken"})
    for what in ("ready", "classify"):  # classify tried a fresh runtime: same answer, not a hang
        err = out[what]
        assert err.get("code") == "E_RUNTIME_LOAD", (what, err)
        assert missing in err["message"], (what, err)
        assert err["file"].endswith("/" + missing), (what, err)

    broken_site.restore()
    out = page.evaluate(API_JS, {**args, "step": "restored", "ms": READY_TIMEOUT_MS})
    assert out["classify"].get("label") in CAT_LABELS, out
    assert out["ready"] == {"label": "ready"}  # `ready` now is the new runtime's


@pytest.fixture
def corrupt_ort_site(tmp_path):
    """onnxruntime-web's .wasm served (HTTP 200) but not WebAssembly."""
    vendor = tmp_path / "vendor"
    shutil.copytree(VENDOR, vendor)
    (vendor / "ort" / "ort-wasm-simd-threaded.wasm").write_bytes(b"not wasm " * 512)
    proc, url = start_server("--mount", f"vendor={vendor}")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_an_unloadable_onnxruntime_wasm_is_named_not_blamed_on_the_model(page, corrupt_ort_site):
    # No fetch fails here: onnxruntime-web only says "no available backend" at session creation.
    page.goto(corrupt_ort_site + "models/manifest.json")
    err = page.evaluate(
        """async (ms) => {
            const { createClassifier } = await import('/edge-infer.js');
            return Promise.race([
                createClassifier().ready.then(
                    () => ({}),
                    (e) => ({ code: e.code, message: e.message, file: e.details?.file }),
                ),
                new Promise((resolve) => setTimeout(() => resolve({ hung: true }), ms)),
            ]);
        }""",
        FAIL_WITHIN_MS,
    )
    assert err.get("code") == "E_RUNTIME_LOAD", err
    assert err["file"].endswith("/ort/ort-wasm-simd-threaded.wasm"), err
    assert "ort-wasm-simd-threaded.wasm" in err["message"]
