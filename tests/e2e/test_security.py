"""Security in the browser: the served CSP holds, nothing leaves the origin, user strings stay
text. The tests drive the real app the way a user does (file input, drop); the dev server's
own side over raw HTTP is in ``tests/unit/test_serve_security.py``.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from urllib.parse import urlsplit

import pytest
from conftest import READY_TIMEOUT_MS, RECORD_VIOLATIONS
from helpers import CAT_LABELS, CSP, ROOT, data_transfer, photo

HOSTILE = "<img src=x onerror=window.__xss=1>.png"
HOSTILE_ERROR = "<img src=x onerror=window.__xss=2><b>bold</b>.png"


def origin_of(url: str) -> str:
    return "{0.scheme}://{0.netloc}".format(urlsplit(url))


def payload(data: bytes, name: str, mime: str) -> dict:
    return {"b64": base64.b64encode(data).decode(), "name": name, "type": mime}


def open_embed_page(page, app_url: str) -> None:
    """Load embed.html and wait until its <edge-classifier> is ready."""
    page.goto(app_url + "embed.html")
    page.wait_for_function(
        "() => document.querySelector('edge-classifier')?.state === 'ready'",
        timeout=READY_TIMEOUT_MS,
    )


def drop(page, files: list[dict], target: str = "#drop-zone") -> None:
    """Dispatch a real drop with a DataTransfer holding ``files`` (built in the page)."""
    dt = data_transfer(page, files)
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(target, event, {"dataTransfer": dt})


def wait_cards(page, count: int, state: str | None = None) -> None:
    selector = "#results .result:not([data-state='pending'])"
    if state:
        selector = f"#results .result[data-state='{state}']"
    page.wait_for_function(
        "([s, n]) => document.querySelectorAll(s).length >= n",
        arg=[selector, count],
        timeout=READY_TIMEOUT_MS,
    )


def results(page) -> list[dict]:
    return [
        json.loads(r)
        for r in page.eval_on_selector_all(
            "#results .result[data-result]", "els => els.map((e) => e.dataset.result)"
        )
    ]


@pytest.fixture
def watched(context, page):
    """The page with CSP violations and worker CSP complaints recorded."""
    context.add_init_script(RECORD_VIOLATIONS)
    complaints = []
    page.on("console", lambda m: "CSP" in m.text and complaints.append(m.text))
    yield page, complaints
    assert page.evaluate("window.__violations") == []
    assert complaints == []


@pytest.fixture
def watched_shared(ready_page):
    """The shared ready page with worker CSP complaints recorded (its context records CSP
    violations from the start, as ``watched`` does)."""
    complaints = []
    ready_page.on("console", lambda m: "CSP" in m.text and complaints.append(m.text))
    yield ready_page, complaints
    assert ready_page.evaluate("window.__violations") == []
    assert complaints == []


# --------------------------------------------------------------------------- CSP in the browser


@pytest.mark.browser
def test_app_runs_under_the_served_csp_without_violations(watched, app_url):
    page, _ = watched
    response = page.goto(app_url)
    assert response.headers["content-security-policy"] == CSP
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    assert page.evaluate("crossOriginIsolated") is True
    page.set_input_files("#file-input", str(photo("chelsea.png")))
    wait_cards(page, 1, "done")
    [result] = results(page)
    assert result["label"] in CAT_LABELS and result["runtime"]["threads"] == 2
    # The probability bars are sized from JS through CSSOM (el.style.width): that shows up as
    # a style attribute but is not inline style in CSP's sense, so no violation above.
    assert page.evaluate("document.querySelectorAll('[style]').length") >= 1


@pytest.mark.browser
def test_embed_page_runs_under_the_served_csp_without_violations(watched, app_url):
    page, _ = watched
    open_embed_page(page, app_url)
    label = page.evaluate(
        """async (f) => {
            const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
            const file = new File([bytes], f.name, { type: f.type });
            return (await document.querySelector('edge-classifier').classify(file)).label;
        }""",
        payload(photo("chelsea.png").read_bytes(), "chelsea.png", "image/png"),
    )
    assert label in CAT_LABELS


@pytest.mark.browser
def test_a_violation_would_be_seen(page, app_url):
    """The recorder works: an inline script in the page is refused and recorded."""
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(app_url)
    page.evaluate(
        """() => {
            const s = document.createElement('script');
            s.textContent = 'window.__inline = 1';
            document.head.append(s);
        }"""
    )
    page.wait_for_function("() => window.__violations.length > 0")
    assert page.evaluate("window.__inline") is None
    assert "script-src" in page.evaluate("window.__violations")[0]


@pytest.mark.browser
def test_the_worker_cannot_phone_home_and_says_so(ready_page):
    """connect-src holds in the worker too, and its refusals reach the console (worker.js)."""
    page = ready_page
    complaints = []
    page.on("console", lambda m: "CSP blocked" in m.text and complaints.append(m.text))
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    [worker] = [w for w in page.workers if w.url.endswith("/lib/worker.js")]
    error = worker.evaluate(
        "() => fetch('http://127.0.0.2:9/collect').then(() => 'sent', (e) => e.name)"
    )
    assert error == "TypeError"
    for _ in range(100):  # console messages from workers arrive asynchronously
        if complaints:
            break
        page.wait_for_timeout(100)
    assert complaints and "connect-src" in complaints[0]


# --------------------------------------------------------------------------- pixels stay local


def refresh_precache() -> None:
    """What npm test's setup does: make the service worker's list match the files."""
    spec = importlib.util.spec_from_file_location("edge_infer_setup", ROOT / "tools" / "setup.py")
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)
    setup.write_precache()


@pytest.mark.browser
def test_no_request_leaves_the_origin_or_carries_a_body(context, page, app_url):
    refresh_precache()
    requests = []
    context.on("request", lambda r: requests.append(r))  # page, workers, service worker
    page.goto(app_url)
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    images = [photo("chelsea.png"), photo("coffee.png"), photo("motorcycle_left.png")]
    page.set_input_files("#file-input", [str(images[0]), str(images[1])])
    drop(page, [payload(images[2].read_bytes(), images[2].name, "image/png")])
    wait_cards(page, 3, "done")
    labels = [r["label"] for r in results(page)]
    assert labels[0] in CAT_LABELS and labels[1:] == ["espresso", "moped"]
    # Let the service worker's install run to its end too: its fetches obey the same rules.
    # (It may fail its hash check if a file was edited meanwhile; its requests still count.)
    installed = page.evaluate(
        """async () => {
            const sleep = () => new Promise((r) => setTimeout(r, 200));
            const deadline = Date.now() + 120000;
            let reg;
            const registration = () => navigator.serviceWorker.getRegistration();
            while (!(reg = await registration()) && Date.now() < deadline) await sleep();
            while (reg?.installing && Date.now() < deadline) await sleep();
            return reg ? (reg.active ? 'active' : 'failed') : 'not registered';
        }"""
    )
    assert installed in ("active", "failed")

    origin = origin_of(app_url)
    foreign = [r.url for r in requests if not r.url.startswith(("blob:", "data:"))]
    foreign = [u for u in foreign if origin_of(u) != origin]
    assert foreign == []
    assert {r.method for r in requests} == {"GET"}
    assert [r.url for r in requests if r.post_data_buffer] == []
    pixels = [p.read_bytes()[1000:1064] for p in images]  # a slice of each file's bytes
    for r in requests:
        assert not any(chunk in (r.post_data_buffer or b"") for chunk in pixels)
        assert not any(base64.b64encode(chunk)[:40].decode() in r.url for chunk in pixels)


# --------------------------------------------------------------------------- user strings are text


@pytest.mark.browser
def test_hostile_file_names_are_rendered_as_text(watched_shared):
    page, _ = watched_shared
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    png = photo("chelsea.png").read_bytes()
    drop(page, [payload(png, HOSTILE, "image/png")])
    wait_cards(page, 1, "done")
    drop(page, [payload(b"definitely not pixels\n" * 20, HOSTILE_ERROR, "image/png")])
    wait_cards(page, 1, "error")

    assert page.evaluate("window.__xss") is None
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], b').length") == 0
    names = page.eval_on_selector_all("#results .file-name", "els => els.map((e) => e.textContent)")
    assert names == [HOSTILE, HOSTILE_ERROR]
    assert page.eval_on_selector_all(".file-name", "els => els.every((e) => !e.children.length)")
    message = page.locator("#message")
    assert HOSTILE_ERROR in message.inner_text()
    assert message.evaluate("(e) => e.children.length") == 0
    status = page.locator("#results .result[data-state='error'] .status")
    assert status.evaluate("(e) => e.children.length") == 0


@pytest.mark.browser
def test_hostile_file_names_in_the_element_are_text(watched, app_url):
    page, _ = watched
    open_embed_page(page, app_url)
    element = page.locator("edge-classifier")
    file_input = element.locator("input[type=file]")
    png = photo("chelsea.png").read_bytes()
    file_input.set_input_files(files=[{"name": HOSTILE, "mimeType": "image/png", "buffer": png}])
    page.wait_for_function("() => document.querySelector('edge-classifier').state === 'ready'")
    page.wait_for_function(
        "(n) => document.querySelector('edge-classifier').shadowRoot.textContent.includes(n)",
        arg=HOSTILE,
    )
    bad = b"definitely not pixels\n" * 20
    file_input.set_input_files(
        files=[{"name": HOSTILE_ERROR, "mimeType": "image/png", "buffer": bad}]
    )
    page.wait_for_function(
        "(n) => document.querySelector('edge-classifier').shadowRoot.textContent.includes(n)",
        arg=HOSTILE_ERROR,
    )
    assert page.evaluate("window.__xss") is None
    injected = page.evaluate(
        """() => {
            const root = document.querySelector('edge-classifier').shadowRoot;
            const found = (r) => r.querySelectorAll('img[src="x"], b').length;
            return found(root) + found(document);
        }"""
    )
    assert injected == 0
