"""Faults: a runtime file (Pyodide, numpy and our package, onnxruntime-web) is missing or corrupt.

Each case serves a copy of ``web/vendor`` with one file taken out, or served (HTTP 200) with
its bytes cut short or altered (``serve.py --mount vendor=DIR`` shadows the real folder; the
real one is never touched). The page, the API and the element must fail fast with
E_RUNTIME_LOAD naming the file, stay usable, and load without a page reload once the file is
put back.
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
# What the worker boots from (pyodide-loader.js): the precompiled stdlib and the site-packages
# bundle (numpy, our package, bytecode) when setup made them. Not the memory snapshot: the boot
# goes on without it (test_snapshot_fallback.py). With it, Python imports nothing from the
# stdlib zip, so the boot checks the zip's sha256 itself, and a truncated one must still fail.
BYTECODE = VENDOR_JSON.get("bytecode", {})
STDLIB = BYTECODE.get("stdlib", {}).get("file", "pyodide/python_stdlib.zip")
SITE = BYTECODE.get("site_bundle", {}).get("file")
PACKAGES = [SITE] if SITE else [VENDOR_JSON["numpy"]["file"], VENDOR_JSON["edge_infer"]["file"]]
MISSING = [
    "pyodide/pyodide.asm.wasm",
    STDLIB,
    PACKAGES[0],
    "ort/ort-wasm-simd-threaded.wasm",
]
# Served with HTTP 200 but wrong. WASM and the stdlib zip are cut in half, as an interrupted
# copy leaves them (neither compiles nor unzips); the bundle and the wheels keep their size
# with a run of bytes flipped, which only their sha256 can tell.
CORRUPT = [
    ("pyodide/pyodide.asm.wasm", "truncated"),
    (STDLIB, "truncated"),
    *((path, "altered") for path in PACKAGES),
    ("ort/ort-wasm-simd-threaded.wasm", "truncated"),
]
FAULTS = [(path, "missing") for path in MISSING] + CORRUPT
# A failure must arrive long before this; a hang (the bug this guards against) fails the test.
FAIL_WITHIN_MS = 90_000


@dataclass
class BrokenSite:
    url: str
    name: str  # the broken file's name, as messages must show it
    fault: str  # "missing", "truncated" or "altered"
    _served: Path
    _aside: Path

    def restore(self) -> None:
        """Put the good file back where the server looks for it."""
        self._served.parent.mkdir(parents=True, exist_ok=True)
        self._aside.replace(self._served)


def corrupt(data: bytes, fault: str) -> bytes:
    if fault == "truncated":
        return data[: len(data) // 2]
    assert fault == "altered", fault
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]


def fault_id(param: tuple[str, str]) -> str:
    return f"{param[1]}-{Path(param[0]).name}"


@pytest.fixture(params=FAULTS, ids=fault_id)
def broken_site(request, tmp_path):
    """The app served with one vendored runtime file missing or corrupt (a copy; web/vendor is
    untouched)."""
    path, fault = request.param
    vendor = tmp_path / "vendor"
    shutil.copytree(VENDOR, vendor)
    served = vendor / path
    aside = tmp_path / "aside" / served.name
    aside.parent.mkdir()
    served.replace(aside)
    if fault != "missing":
        served.write_bytes(corrupt(aside.read_bytes(), fault))
    proc, url = start_server("--mount", f"vendor={vendor}")
    yield BrokenSite(url, served.name, fault, served, aside)
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


def test_page_and_api_name_the_broken_file_stay_usable_and_load_once_it_is_back(page, broken_site):
    """One broken site, two users of it in one browser context: a page that calls the API
    (``api``) and the app page (``page``). Both fail naming the file, stay usable, and load in
    place once it is back."""
    broken = broken_site.name
    api = page.context.new_page()
    api.goto(broken_site.url + "models/manifest.json")  # same origin, boots nothing itself
    args = {"b64": chelsea_b64(), "ms": FAIL_WITHIN_MS}

    # The API rejects with the file, and classify (which tries a fresh runtime) does the same
    # instead of hanging.
    out = api.evaluate(API_JS, {**args, "step": "broken"})
    for what in ("ready", "classify"):
        err = out[what]
        assert err.get("code") == "E_RUNTIME_LOAD", (what, err)
        assert broken in err["message"], (what, err)
        assert err["file"].endswith("/" + broken), (what, err)

    # The page leaves "loading" for an error that names the file, with a way to try again.
    answers = []
    page.context.on("response", lambda r: answers.append((r.url, r.status)))
    page.goto(broken_site.url)
    page.wait_for_selector("body[data-state='error']", timeout=FAIL_WITHIN_MS)
    message = page.text_content("#message")
    assert broken in message and "E_RUNTIME_LOAD" in message, message
    assert broken in page.text_content("#status-text")
    assert page.is_visible("#retry-load")
    # The server was asked and answered (404, or 200 with the bad bytes): no service worker
    # cache stood in for the file.
    served = [status for url, status in answers if url.endswith("/" + broken)]
    assert (404 if broken_site.fault == "missing" else 200) in served, answers
    assert page.evaluate("navigator.serviceWorker.controller") is None

    # Still usable: a dropped image gets a clear error naming the file, not an endless "Queued".
    drop(page, chelsea_b64(), "chelsea.png")
    card = page.locator("#results .result").last
    page.wait_for_function(
        "() => document.querySelector('#results .result:last-child').dataset.state === 'error'",
        timeout=FAIL_WITHIN_MS,
    )
    assert card.get_attribute("data-error-code") == "E_RUNTIME_LOAD"
    assert broken in card.locator(".status").text_content()
    page.wait_for_selector("body[data-state='error']", timeout=FAIL_WITHIN_MS)
    assert page.is_visible("#retry-load")

    # The file is back. The API's next call loads a new runtime, and its `ready` is now that
    # runtime's. (Before the page's retry: the page's service worker, registered once it is
    # ready, would precache the app alongside this boot.)
    broken_site.restore()
    out = api.evaluate(API_JS, {**args, "step": "restored", "ms": READY_TIMEOUT_MS})
    assert out["classify"].get("label") in CAT_LABELS, out
    assert out["ready"] == {"label": "ready"}
    api.close()

    # Retry loads the page in place (no reload), then the file input classifies.
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


@pytest.fixture(params=["pyodide/pyodide.asm.wasm", "ort/ort-wasm-simd-threaded.wasm"])
def html_for_wasm_site(request, tmp_path):
    """A `.wasm` answered with an HTML page and HTTP 200, as a catch-all route would answer."""
    vendor = tmp_path / "vendor"
    shutil.copytree(VENDOR, vendor)
    (vendor / request.param).write_bytes(b"<!doctype html><title>Not here</title>" + b" " * 4096)
    proc, url = start_server("--mount", f"vendor={vendor}")
    yield url, request.param
    proc.terminate()
    proc.wait(timeout=10)


def test_a_page_served_as_wasm_is_named_not_awaited_or_blamed_on_the_model(
    page, html_for_wasm_site
):
    # No fetch fails here. Pyodide only logs a wasm that does not compile and never settles;
    # onnxruntime-web would only say "no available backend" when the model's session is made.
    url, wasm = html_for_wasm_site
    page.goto(url + "models/manifest.json")
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
    assert err["file"].endswith("/" + wasm), err
    assert Path(wasm).name in err["message"] and "not valid WebAssembly" in err["message"], err


# An <edge-classifier> alone on a page of the (broken) app's origin, its events recorded.
ELEMENT_JS = """async () => {
    await import('/edge-infer.js');
    window.events = [];
    const el = document.createElement('edge-classifier');
    el.id = 'a';
    for (const type of ['ready', 'error']) {
        el.addEventListener(type, (e) => window.events.push({ type, detail: e.detail }));
    }
    // Themed like an embedder would: the retry control must follow --edge-error.
    el.style.setProperty('--edge-error', 'rgb(1, 2, 3)');
    document.body.replaceChildren(el);
}"""
SHADOW_FOCUS = "document.activeElement?.shadowRoot?.activeElement?.getAttribute('part') ?? null"


@pytest.mark.parametrize(
    "broken_site",
    [("pyodide/pyodide.asm.wasm", "truncated"), (PACKAGES[0], "missing")],
    ids=fault_id,
    indirect=True,
)
def test_element_names_the_broken_file_and_its_retry_button_loads_it(page, broken_site):
    broken = broken_site.name
    page.goto(broken_site.url + "models/manifest.json")  # same origin, boots nothing itself
    page.evaluate(ELEMENT_JS)

    # The element leaves "loading" for the error, naming the file, with a Retry button.
    page.wait_for_function(
        "() => document.querySelector('#a').state === 'error'", timeout=FAIL_WITHIN_MS
    )
    error = page.locator("#a [part=error]")
    assert error.is_visible() and broken in error.text_content()
    assert error.get_attribute("role") == "alert"
    assert broken in page.locator("#a [part=status]").text_content()
    assert page.locator("#a [part=progress]").is_hidden()
    [event] = [e["detail"] for e in page.evaluate("window.events") if e["type"] == "error"]
    assert event["code"] == "E_RUNTIME_LOAD" and broken in event["message"], event
    retry = page.locator("#a [part~=retry-button]")
    assert retry.is_visible() and retry.text_content() == "Retry loading"
    assert retry.evaluate("(b) => b.localName === 'button' && b.type === 'button'")
    assert retry.evaluate("(b) => getComputedStyle(b).borderTopColor") == "rgb(1, 2, 3)"

    # The file is back: the keyboard reaches the button (after the drop zone) and Enter retries,
    # in the same document.
    broken_site.restore()
    page.evaluate("window.sameDocument = true")
    page.keyboard.press("Tab")
    assert page.evaluate(SHADOW_FOCUS) == "drop-zone"
    page.keyboard.press("Tab")
    assert page.evaluate(SHADOW_FOCUS) == "button retry-button"
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#a').state === 'ready'", timeout=READY_TIMEOUT_MS
    )
    assert page.evaluate("window.sameDocument") is True
    assert retry.is_hidden() and error.is_hidden()
    assert page.evaluate(SHADOW_FOCUS) == "drop-zone"  # focus was not dropped with the button
    assert "Ready" in page.locator("#a [part=status]").text_content()
    assert [e["type"] for e in page.evaluate("window.events")] == ["error", "ready"]
    label = page.evaluate(
        """async (b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const file = new File([bytes], 'chelsea.png', { type: 'image/png' });
            return (await document.querySelector('#a').classify(file)).label;
        }""",
        chelsea_b64(),
    )
    assert label in CAT_LABELS
