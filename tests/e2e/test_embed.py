"""End-to-end: edge-infer embedded in other pages (element, API, iframe, camera, dist/).

A "host" is a page on a second local origin (a plain static server on another port, with or
without COOP/COEP) that loads ``edge-infer.js`` from the app's origin (tools/serve.py), the way
a third-party site would. Everything runs in real Chromium on real files; inputs are real photos.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import chromium
import pytest
from conftest import READY_TIMEOUT_MS
from helpers import CAT_LABELS, ROOT, photo

pytestmark = pytest.mark.browser

FAKE_CAMERA_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def origin(url: str) -> str:
    return "{0.scheme}://{0.netloc}".format(urlsplit(url))


# ----------------------------------------------------------------------------- fixtures


class HostHandler(SimpleHTTPRequestHandler):
    """A plain static site: no CSP, COOP/COEP only when asked, CORS only when asked."""

    def end_headers(self) -> None:
        if self.server.isolation:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        if self.server.csp:
            self.send_header("Content-Security-Policy", self.server.csp)
        if self.server.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cross-Origin-Resource-Policy", "cross-origin")
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


def start_host(root: Path, isolation: bool = False, cors: bool = False, csp: str | None = None):
    """Serve ``root`` on a new loopback port (another origin than the app's); returns the server.

    Not tools/serve.py: that is the app's server, with the app's own strict CSP, whereas a host
    is somebody else's site with its own inline scripts and third-party modules.
    """
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(HostHandler, directory=str(root)))
    httpd.daemon_threads = True
    httpd.isolation, httpd.cors, httpd.csp = isolation, cors, csp
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    return httpd


@pytest.fixture
def serve():
    """Start host origins for one test: serve(root, isolation=False) -> base URL."""
    servers = []

    def _serve(root: Path, isolation: bool = False, csp: str | None = None) -> str:
        servers.append(start_host(root, isolation=isolation, csp=csp))
        return servers[-1].url

    yield _serve
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def photos_url():
    """A third origin serving scikit-image's photos with CORS."""
    httpd = start_host(photo("chelsea.png").parent, cors=True)
    yield httpd.url
    httpd.shutdown()
    httpd.server_close()


# Boots the shared runtime on the API host page with a classifier kept for the whole module,
# and remembers what a reset must put back.
API_HOST_BOOT_JS = """async (app) => {
    const { createClassifier } = await import(app + 'edge-infer.js');
    window.__keeper = createClassifier();
    await window.__keeper.ready;
    const post = Worker.prototype.postMessage;
    window.__restorePostMessage = () => { Worker.prototype.postMessage = post; };
    return Object.keys(window);
}"""
# Disposes the classifiers a test left on the window and deletes every global it added.
API_HOST_RESET_JS = """async ({ app, globals }) => {
    window.__restorePostMessage();
    const { Classifier } = await import(app + 'edge-infer.js');
    const known = new Set(globals);
    for (const key of Object.keys(window).filter((k) => !known.has(k))) {
        if (window[key] instanceof Classifier) window[key].dispose();
        delete window[key];
    }
    return (await window.__keeper.classify('chelsea.png')).label;
}"""


@pytest.fixture(scope="module")
def api_host_page(browser, app_url, tmp_path_factory):
    """A plain host page on another origin (not isolated) whose runtime is booted once.

    For the API tests that need a ready runtime on such a page but not a fresh one. A
    classifier kept on the page holds the runtime between tests (classifiers share it).
    """
    root = tmp_path_factory.mktemp("api-host")
    write_host(root, app_url, "", module=False)
    httpd = start_host(root)
    context = browser.new_context()
    page = context.new_page()
    page.goto(httpd.url)
    page.globals = page.evaluate(API_HOST_BOOT_JS, app_url)
    yield page
    context.close()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def api_host(api_host_page, app_url):
    """The shared API host page, reset after the test: its globals and classifiers removed,
    ``Worker.prototype.postMessage`` restored, and the kept runtime still answering."""
    closed = []

    def on_close(worker):
        closed.append(worker.url)

    workers = api_host_page.workers
    for worker in workers:
        worker.on("close", on_close)
    yield api_host_page
    for worker in workers:
        worker.remove_listener("close", on_close)
    label = api_host_page.evaluate(
        API_HOST_RESET_JS, {"app": app_url, "globals": api_host_page.globals}
    )
    assert closed == [], "a test ended the shared runtime of the API host page"
    assert label in CAT_LABELS


# Records every event of every <edge-classifier> on the host page (events bubble and compose).
RECORDER = """
<script>
  window.events = [];
  for (const type of ['ready', 'progress', 'result', 'error']) {
    document.addEventListener(type, (e) => {
      if (e.target.localName !== 'edge-classifier') return;
      window.events.push({ type, id: e.target.id, detail: type === 'progress' ? null : e.detail,
                           t: performance.now() });
    }, true);
  }
</script>
"""


def write_host(directory: Path, app_url: str, body: str, *, module: bool = True) -> None:
    """A host page that loads edge-infer.js from the app's origin, plus chelsea.png."""
    directory.mkdir(parents=True, exist_ok=True)
    script = f'<script type="module" src="{app_url}edge-infer.js"></script>' if module else ""
    (directory / "index.html").write_text(
        textwrap.dedent(f"""\
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>host</title>
        <link rel="icon" href="data:,">
        {RECORDER}
        {script}
        </head><body>
        {body}
        </body></html>
        """)
    )
    shutil.copy(photo("chelsea.png"), directory / "chelsea.png")


def wait_events(page, type_, count=1, element_id=None):
    page.wait_for_function(
        """([type, n, id]) => window.events.filter(
               (e) => e.type === type && (!id || e.id === id)).length >= n""",
        arg=[type_, count, element_id],
        timeout=READY_TIMEOUT_MS,
    )
    return [
        e
        for e in page.evaluate("window.events")
        if e["type"] == type_ and (element_id is None or e["id"] == element_id)
    ]


def file_payload(path: Path, mime: str = "image/png") -> dict:
    return {"b64": base64.b64encode(path.read_bytes()).decode(), "name": path.name, "type": mime}


def drop(frame, selector: str, path: Path, mime: str = "image/png") -> None:
    """Drop a real File on `selector`, with a DataTransfer built inside that frame."""
    dt = frame.evaluate_handle(
        """(f) => {
            const dt = new DataTransfer();
            const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
            dt.items.add(new File([bytes], f.name, { type: f.type }));
            return dt;
        }""",
        file_payload(path, mime),
    )
    for event in ("dragenter", "dragover", "drop"):
        frame.dispatch_event(selector, event, {"dataTransfer": dt})


class Watch:
    """Requests and workers seen by a browser context (no routing: it would disable caching)."""

    def __init__(self, context, page):
        self.requests: list[str] = []
        self.workers: list = []
        self.closed: list[str] = []
        self.page = page
        context.on("request", lambda r: self.requests.append(r.url))
        page.on("worker", self._on_worker)

    def _on_worker(self, worker):
        self.workers.append(worker)
        worker.on("close", lambda w: self.closed.append(w.url))

    def wait_closed(self, count: int, timeout_s: float = 10) -> None:
        """Wait until ``count`` workers have closed; fail if more or fewer did."""
        deadline = time.monotonic() + timeout_s
        while len(self.closed) < count and time.monotonic() < deadline:
            self.page.wait_for_timeout(100)
        assert len(self.closed) == count, self.closed

    def pyodide_boots(self) -> int:
        return sum(u.endswith("/pyodide.asm.wasm") for u in self.requests)


# ----------------------------------------------------------------------------- element


def test_cross_origin_element_drop_gives_a_cat_on_one_thread(
    page, context, app_url, serve, tmp_path
):
    write_host(tmp_path, app_url, '<edge-classifier id="a" top-k="3"></edge-classifier>')
    host = serve(tmp_path, isolation=False)
    assert origin(host) != origin(app_url)
    watch = Watch(context, page)
    page.goto(host)
    assert page.evaluate("crossOriginIsolated") is False
    [ready] = wait_events(page, "ready")
    runtime = ready["detail"]["runtime"]
    assert runtime["threads"] == 1
    assert runtime["cross_origin_isolated"] is False
    assert page.evaluate("window.events.some((e) => e.type === 'progress')")
    # The two workers (inference, onnxruntime-web's) were started from same-origin blob:
    # stubs (the page cannot start a worker from the app's origin directly); everything they
    # loaded came from the app's origin.
    assert [w.url.startswith(f"blob:{origin(host)}/") for w in watch.workers] == [True, True]
    assert any(u.startswith(app_url + "vendor/") for u in watch.requests)

    drop(page, "#a", photo("chelsea.png"))
    [result] = wait_events(page, "result")
    assert result["detail"]["label"] in CAT_LABELS
    assert result["detail"]["runtime"]["threads"] == 1
    assert len(result["detail"]["top_k"]) == 3
    # The shadow DOM shows the result with bars and timings.
    shown = page.locator("#a [part=results]")
    assert result["detail"]["label"] in shown.inner_text()
    assert page.locator("#a [part=top-k] li").count() == 3
    assert page.locator("#a [part=timings]").is_visible()
    assert page.locator("#a [part=results]").get_attribute("aria-live") == "polite"
    assert page.evaluate("document.querySelector('#a').state") == "ready"


def test_isolated_host_with_a_strict_csp_gets_two_threads(page, app_url, serve, tmp_path):
    write_host(tmp_path, app_url, '<edge-classifier id="a" src="chelsea.png"></edge-classifier>')
    app = origin(app_url)
    # The policy docs/embedding.md asks of hosts ('unsafe-inline' is for this page's own
    # inline recorder; edge-infer needs none, and styles get no exception at all).
    csp = (
        f"default-src 'self'; script-src 'self' 'unsafe-inline' {app} blob: 'wasm-unsafe-eval'; "
        f"worker-src 'self' blob: {app}; connect-src 'self' {app}; img-src 'self' blob: data:; "
        "style-src 'self'"
    )
    host = serve(tmp_path, isolation=True, csp=csp)
    violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    page.goto(host)
    assert page.evaluate("crossOriginIsolated") is True
    [ready] = wait_events(page, "ready")
    assert ready["detail"]["runtime"]["threads"] == 2
    assert ready["detail"]["runtime"]["cross_origin_isolated"] is True
    [result] = wait_events(page, "result")  # from the src attribute, no user action
    assert result["detail"]["label"] in CAT_LABELS
    assert result["detail"]["runtime"]["threads"] == 2
    # Styled (a constructed stylesheet passes style-src 'self'), and nothing was blocked.
    zone = "document.querySelector('#a').shadowRoot.querySelector('[part=drop-zone]')"
    assert page.evaluate(f"getComputedStyle({zone}).borderTopStyle") == "dashed"
    assert page.locator("#a [part=preview]").is_visible()
    assert violations == []


def test_two_elements_share_one_runtime_and_release_it_when_removed(
    page, context, app_url, serve, tmp_path
):
    write_host(
        tmp_path,
        app_url,
        '<edge-classifier id="a"></edge-classifier>'
        '<edge-classifier id="b" compact></edge-classifier>',
    )
    host = serve(tmp_path)
    watch = Watch(context, page)
    page.goto(host)
    wait_events(page, "ready", count=2)
    drop(page, "#a", photo("chelsea.png"))
    drop(page, "#b", photo("coffee.png"))
    [a] = wait_events(page, "result", element_id="a")
    [b] = wait_events(page, "result", element_id="b")
    assert a["detail"]["label"] in CAT_LABELS
    assert b["detail"]["label"] == "espresso"
    assert watch.pyodide_boots() == 1
    assert len(watch.workers) == 2  # the inference worker and onnxruntime-web's

    # Removing one element keeps the shared workers for the other.
    page.evaluate("document.querySelector('#a').remove()")
    page.wait_for_timeout(300)
    assert watch.closed == []
    drop(page, "#b", photo("chelsea.png"))
    second = wait_events(page, "result", count=2, element_id="b")
    assert second[1]["detail"]["label"] in CAT_LABELS
    # Removing the last one ends both workers.
    page.evaluate("document.querySelector('#b').remove()")
    watch.wait_closed(2)


def test_element_is_keyboard_operable_and_pastes(page, context, app_url, serve, tmp_path):
    write_host(tmp_path, app_url, '<edge-classifier id="a"></edge-classifier>')
    host = serve(tmp_path)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin(host))
    # Listen before anything happens: Playwright starts intercepting pickers asynchronously.
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    page.goto(host)
    wait_events(page, "ready")
    # Tab reaches the drop zone; Enter opens the file picker.
    page.keyboard.press("Tab")
    assert (
        page.evaluate("document.activeElement.shadowRoot.activeElement.part.value") == "drop-zone"
    )
    page.keyboard.press("Enter")
    deadline = time.monotonic() + 30
    while not choosers:
        assert time.monotonic() < deadline, "Enter did not open the file picker"
        page.wait_for_timeout(50)
    choosers[0].set_files(str(photo("chelsea.png")))
    [result] = wait_events(page, "result")
    assert result["detail"]["label"] in CAT_LABELS
    # Paste while focused.
    page.evaluate(
        """async (f) => {
            const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
            const blob = new Blob([bytes], { type: 'image/png' });
            await navigator.clipboard.write([new ClipboardItem({ 'image/png': blob })]);
        }""",
        file_payload(photo("coffee.png")),
    )
    page.keyboard.press("Control+V")
    results = wait_events(page, "result", count=2)
    assert results[1]["detail"]["label"] == "espresso"
    # The camera button is a real, focusable button.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.shadowRoot.activeElement.textContent") == (
        "Start camera"
    )


def test_element_reports_errors_with_a_code(page, app_url, serve, tmp_path):
    write_host(tmp_path, app_url, '<edge-classifier id="a"></edge-classifier>')
    (tmp_path / "notes.txt").write_text("not pixels\n" * 10)
    host = serve(tmp_path)
    page.goto(host)
    wait_events(page, "ready")
    drop(page, "#a", tmp_path / "notes.txt", "text/plain")
    [error] = wait_events(page, "error")
    assert error["detail"]["code"] == "E_DECODE"
    assert "notes.txt" in error["detail"]["message"]
    assert page.locator("#a [part=error]").get_attribute("role") == "alert"
    assert page.evaluate("document.querySelector('#a').state") == "error"


# ----------------------------------------------------------------------------- API

API_INPUTS_JS = """async ({ app, photos }) => {
    const { createClassifier } = await import(app + 'edge-infer.js');
    const classifier = createClassifier({ topK: 3 });
    await classifier.ready;
    const response = await fetch('chelsea.png');
    const blob = await response.blob();
    const file = new File([blob], 'chelsea.png', { type: 'image/png' });
    const img = new Image();
    img.src = 'chelsea.png';
    await img.decode();
    const bitmap = await createImageBitmap(blob);
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    canvas.getContext('2d').drawImage(bitmap, 0, 0);
    const offscreen = new OffscreenCanvas(bitmap.width, bitmap.height);
    offscreen.getContext('2d').drawImage(bitmap, 0, 0);
    const imageData = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    const corsImg = new Image();
    corsImg.crossOrigin = 'anonymous';
    corsImg.src = photos + 'chelsea.png';
    const inputs = {
        File: file, Blob: blob, ImageBitmap: bitmap, HTMLImageElement: img,
        HTMLCanvasElement: canvas, OffscreenCanvas: offscreen, ImageData: imageData,
        'same-origin URL': 'chelsea.png', 'CORS URL': photos + 'chelsea.png',
        'URL object': new URL(photos + 'chelsea.png'), 'CORS HTMLImageElement': corsImg,
    };
    const labels = {};
    for (const [name, input] of Object.entries(inputs)) {
        labels[name] = (await classifier.classify(input)).label;
    }
    // The caller keeps its bitmap (the client copies it before transferring).
    labels.bitmapStillOpen = bitmap.width > 0;
    const failures = {};
    const tainted = new Image();
    tainted.src = photos + 'chelsea.png';  // no crossorigin: pixels are unreadable
    const bad = { tainted, number: 42, 'missing URL': 'nope.png' };
    for (const [name, input] of Object.entries(bad)) {
        try {
            await classifier.classify(input);
            failures[name] = 'resolved';
        } catch (err) {
            failures[name] = [err instanceof Error, err.code];
        }
    }
    return { labels, failures, runtime: classifier.runtime };
}"""


def test_api_classifies_every_accepted_input_type(api_host, app_url, photos_url):
    page = api_host
    out = page.evaluate(API_INPUTS_JS, {"app": app_url, "photos": photos_url})
    labels = out["labels"]
    assert labels.pop("bitmapStillOpen") is True
    assert len(labels) == 11
    assert {name: label in CAT_LABELS for name, label in labels.items()} == dict.fromkeys(
        labels, True
    ), labels
    assert out["failures"] == {
        "tainted": [True, "E_INPUT"],
        "number": [True, "E_INPUT"],
        "missing URL": [True, "E_INPUT"],
    }
    assert out["runtime"]["threads"] == 1


# Records what the page sends to its workers, to see queueing from the outside.
SENT_RECORDER = """
window.__sent = [];
const post = Worker.prototype.postMessage;
Worker.prototype.postMessage = function (msg, ...rest) {
    if (msg && msg.type) window.__sent.push(msg.type === 'classify' ? msg.payload.name : msg.type);
    return post.call(this, msg, ...rest);
};
"""

ABORT_JS = """async ({ app }) => {
    const { createClassifier } = await import(app + 'edge-infer.js');
    const blob = await (await fetch('chelsea.png')).blob();
    const file = (name) => new File([blob], name, { type: 'image/png' });
    const c = createClassifier();
    await c.ready;
    const settle = (p) => p.then((r) => r.label, (e) => e.code);
    const log = [];
    const track = (name, p) => settle(p).then((v) => { log.push(name); return v; });

    // A call that is already running (first of two in the worker) is cancelled: its slot is
    // free at once, so the queued c1 goes to the worker before r1 and r2 finish.
    const running = new AbortController();
    const r1 = track('r1', c.classify(file('r1'), { signal: running.signal }));
    const r2 = track('r2', c.classify(file('r2')));
    const c1 = track('c1', c.classify(file('c1')));
    while (!window.__sent.includes('r2')) await new Promise((r) => setTimeout(r, 1));
    const sentBeforeAbort = [...window.__sent];
    running.abort();
    const r1Code = await r1;
    const sentRightAfterAbort = [...window.__sent];

    // A queued call is cancelled: it leaves the queue and is never sent.
    const queued = new AbortController();
    const q1 = track('q1', c.classify(file('q1'), { signal: queued.signal }));
    queued.abort();
    const q1Code = await q1;
    const pre = await settle(c.classify(file('pre'), { signal: AbortSignal.abort() }));
    const rest = await Promise.all([r2, c1]);
    return { r1Code, q1Code, pre, rest, log, sentBeforeAbort, sentRightAfterAbort,
             sent: window.__sent };
}"""


def test_abort_signal_cancels_running_and_queued_calls(api_host, app_url):
    page = api_host
    page.evaluate("() => {" + SENT_RECORDER + "}")
    out = page.evaluate(ABORT_JS, {"app": app_url})
    assert out["r1Code"] == "E_ABORTED"
    assert out["q1Code"] == "E_ABORTED"
    assert out["pre"] == "E_ABORTED"
    assert [label in CAT_LABELS for label in out["rest"]] == [True, True]
    # r1 rejected first, before anything finished; c1 was sent the moment r1's slot freed.
    assert out["log"][0] == "r1"
    assert "c1" not in out["sentBeforeAbort"]
    assert out["sentRightAfterAbort"][-2:] == ["cancel", "c1"]
    assert "q1" not in out["sent"] and "pre" not in out["sent"]


FAIRNESS_JS = """async ({ app }) => {
    const { createClassifier } = await import(app + 'edge-infer.js');
    const blob = await (await fetch('chelsea.png')).blob();
    const a = createClassifier();
    const b = createClassifier();
    await Promise.all([a.ready, b.ready]);
    const done = [];
    const run = (c, name) => c.classify(new File([blob], name, { type: 'image/png' }))
        .then(() => done.push(name));
    const calls = [];
    for (let i = 1; i <= 6; i++) calls.push(run(a, `a${i}`));
    for (let i = 1; i <= 2; i++) calls.push(run(b, `b${i}`));
    await Promise.all(calls);
    return done;
}"""


def test_calls_from_several_classifiers_take_turns(api_host, app_url):
    page = api_host
    done = page.evaluate(FAIRNESS_JS, {"app": app_url})
    # Per classifier: FIFO. Across classifiers: b's two calls do not wait behind all of a's.
    assert [n for n in done if n.startswith("a")] == [f"a{i}" for i in range(1, 7)]
    assert [n for n in done if n.startswith("b")] == ["b1", "b2"]
    assert done.index("b2") < done.index("a5"), done


DISPOSE_JS = """async ({ app }) => {
    const { createClassifier } = await import(app + 'edge-infer.js');
    const blob = await (await fetch('chelsea.png')).blob();
    const a = createClassifier();
    const b = createClassifier();
    await Promise.all([a.ready, b.ready]);
    const pending = a.classify(blob).then((r) => r.label, (e) => e.code);
    a.dispose();
    const afterDispose = await a.classify(blob).then((r) => r.label, (e) => e.code);
    const stillWorks = (await b.classify(blob)).label;
    window.__b = b;
    return { pending: await pending, afterDispose, stillWorks };
}"""


def test_dispose_ends_the_worker_only_with_its_last_user(page, context, app_url, serve, tmp_path):
    write_host(tmp_path, app_url, "", module=False)
    host = serve(tmp_path)
    watch = Watch(context, page)
    page.goto(host)
    out = page.evaluate(DISPOSE_JS, {"app": app_url})
    assert out["pending"] == "E_DISPOSED"
    assert out["afterDispose"] == "E_DISPOSED"
    assert out["stillWorks"] in CAT_LABELS
    assert len(watch.workers) == 2 and watch.closed == []  # inference and onnxruntime-web's
    page.evaluate("window.__b.dispose()")
    watch.wait_closed(2)


# ----------------------------------------------------------------------------- iframe

IFRAME_BODY = """
<iframe id="f" title="classifier" width="600" height="400" src="{src}"></iframe>
<script>
  window.messages = [];
  window.addEventListener('message', (e) => {{
    const frame = document.querySelector('#f');
    if (e.origin !== '{app_origin}' || e.source !== frame.contentWindow) return;
    window.messages.push(e.data);
  }});
</script>
"""


def wait_message(page, type_, count=1):
    page.wait_for_function(
        "([t, n]) => window.messages.filter((m) => m.type === t).length >= n",
        arg=[type_, count],
        timeout=READY_TIMEOUT_MS,
    )
    return [m for m in page.evaluate("window.messages") if m["type"] == type_]


def embed_frame(page, app_url):
    deadline = time.monotonic() + 30
    while True:
        frames = [f for f in page.frames if f.url.startswith(app_url + "embed.html")]
        if frames:
            break
        assert time.monotonic() < deadline, "the embed frame did not load"
        page.wait_for_timeout(100)
    frames[0].wait_for_selector("edge-classifier", state="attached")
    return frames[0]


def test_iframe_embed_posts_results_to_its_parent(page, app_url, serve, tmp_path):
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "index.html").write_text("placeholder")
    host = serve(host_dir)
    src = (
        f"{app_url}embed.html?model=mobilenet_v2-fp32&top-k=3&origin={quote(origin(host), safe='')}"
    )
    write_host(
        host_dir,
        app_url,
        IFRAME_BODY.format(src=src, app_origin=origin(app_url)),
        module=False,
    )
    page.goto(host)
    [ready] = wait_message(page, "edge-infer:ready")
    assert ready["version"] == 1
    assert ready["runtime"]["threads"] == 1
    assert ready["model"]["id"] == "mobilenet_v2-fp32"
    frame = embed_frame(page, app_url)
    drop(frame, "edge-classifier", photo("chelsea.png"))
    [message] = wait_message(page, "edge-infer:result")
    assert message["id"] is None
    assert message["result"]["label"] in CAT_LABELS
    assert len(message["result"]["top_k"]) == 3
    assert wait_message(page, "edge-infer:resize")[0]["height"] > 0
    # The parent may also ask: a Blob in, the result back under the request's id.
    page.evaluate(
        """async (appOrigin) => {
            const blob = await (await fetch('chelsea.png')).blob();
            document.querySelector('#f').contentWindow.postMessage(
                { type: 'edge-infer:classify', id: 7, image: blob }, appOrigin);
        }""",
        origin(app_url),
    )
    answers = wait_message(page, "edge-infer:result", count=2)
    assert answers[1]["id"] == 7
    assert answers[1]["result"]["label"] in CAT_LABELS
    # Errors are messages too, with their code.
    page.evaluate(
        """(appOrigin) => document.querySelector('#f').contentWindow.postMessage(
               { type: 'edge-infer:classify', id: 8, image: new Blob(['x']) }, appOrigin)""",
        origin(app_url),
    )
    [error] = wait_message(page, "edge-infer:error")
    assert (error["id"], error["code"]) == (8, "E_DECODE")


def test_iframe_embed_refuses_an_origin_that_is_not_its_parent(page, app_url, serve, tmp_path):
    src = f"{app_url}embed.html?origin={quote('https://attacker.example', safe='')}"
    write_host(
        tmp_path, app_url, IFRAME_BODY.format(src=src, app_origin=origin(app_url)), module=False
    )
    host = serve(tmp_path)
    page.goto(host)
    frame = embed_frame(page, app_url)
    frame.wait_for_function(
        "() => document.querySelector('edge-classifier').state === 'ready'",
        timeout=READY_TIMEOUT_MS,
    )
    problem = frame.evaluate("document.querySelector('edge-classifier').dataset.embedProblem")
    assert "attacker.example" in problem and origin(host) in problem
    drop(frame, "edge-classifier", photo("chelsea.png"))
    frame.wait_for_function(
        "() => document.querySelector('edge-classifier').lastResult !== null",
        timeout=READY_TIMEOUT_MS,
    )
    # The frame works for its user but told the page nothing, and ignores its requests.
    page.evaluate(
        """(appOrigin) => document.querySelector('#f').contentWindow.postMessage(
               { type: 'edge-infer:classify', id: 1, image: 'chelsea.png' }, appOrigin)""",
        origin(app_url),
    )
    page.wait_for_timeout(1000)
    assert page.evaluate("window.messages") == []


# ----------------------------------------------------------------------------- example page


def test_example_host_page_works_from_another_origin(page, app_url, serve):
    host = serve(ROOT / "web" / "examples")
    page.goto(f"{host}?app={quote(app_url, safe='')}")
    page.wait_for_function(
        "() => document.querySelector('#api-output').textContent.startsWith('Ready')",
        timeout=READY_TIMEOUT_MS,
    )
    page.set_input_files("#api-file", str(photo("chelsea.png")))
    page.wait_for_selector("#api-output[data-label]", timeout=READY_TIMEOUT_MS)
    assert page.get_attribute("#api-output", "data-label") in CAT_LABELS
    drop(page, "#widget", photo("coffee.png"))
    page.wait_for_function(
        "() => document.querySelector('#element-log').value.startsWith('result')",
        timeout=READY_TIMEOUT_MS,
    )
    assert "espresso" in page.inner_text("#element-log")


# ----------------------------------------------------------------------------- camera


@pytest.fixture(scope="module")
def camera_browser(playwright):
    """Chromium with its fake camera (a synthetic moving pattern) and auto-accepted prompts."""
    browser = playwright.chromium.launch(**chromium.launch_kwargs(*FAKE_CAMERA_FLAGS))
    yield browser
    browser.close()


# Keeps every camera stream the page opens, to check that stopping really releases them.
STREAM_RECORDER = """
window.__streams = [];
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = async (c) => {
    const s = await gum(c);
    window.__streams.push(s);
    return s;
};
"""
# (Predicates are functions, not expressions: the app's CSP forbids eval, which Playwright
# would otherwise use for a bare expression.)
TRACKS_ENDED = """() => window.__streams.length > 0
    && window.__streams.every((s) => s.getTracks().every((t) => t.readyState === 'ended'))"""


def fps_of(text: str) -> float:
    match = re.search(r"([\d.]+) fps", text)
    return float(match.group(1)) if match else 0.0


def test_camera_button_on_the_page(camera_browser, app_url):
    context = camera_browser.new_context()
    page = context.new_page()
    page.add_init_script(STREAM_RECORDER)
    page.goto(app_url)
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    page.click("#camera-button")
    page.wait_for_function(
        "() => parseFloat(document.querySelector('#camera-readout').textContent.split(' · ')[2])",
        timeout=READY_TIMEOUT_MS,
    )
    page.wait_for_timeout(3000)
    readout = page.inner_text("#camera-readout")
    assert page.get_attribute("#camera-button", "aria-pressed") == "true"
    assert fps_of(readout) > 0.5, readout
    print(f"\npage camera: {readout}")
    page.click("#camera-button")
    page.wait_for_function(TRACKS_ENDED, timeout=10_000)
    assert page.get_attribute("#camera-button", "aria-pressed") == "false"
    assert page.evaluate("document.querySelector('#camera-video').srcObject") is None
    assert page.is_hidden("#camera-readout")
    context.close()


SLOW_CAMERA_JS = """async ({ app }) => {
    const { createClassifier, startCamera } = await import(app + 'edge-infer.js');
    const real = createClassifier({ topK: 1 });
    await real.ready;
    // A classifier that takes at least 300 ms: the loop must wait for it, never pile up.
    let inFlight = 0, maxInFlight = 0, calls = 0;
    const slow = {
        async classify(input, opts) {
            inFlight += 1; calls += 1;
            maxInFlight = Math.max(maxInFlight, inFlight);
            try {
                const [result] = await Promise.all([real.classify(input, opts),
                                                    new Promise((r) => setTimeout(r, 300))]);
                return result;
            } finally { inFlight -= 1; }
        },
    };
    const results = [];
    const onResult = (r, stats) => results.push([r.label, stats]);
    const session = await startCamera(slow, { onResult });
    await new Promise((r) => setTimeout(r, 3000));
    session.stop();
    await session.done;
    const tracks = window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState));
    return { calls, maxInFlight, frames: results.length, last: results.at(-1), tracks,
             video: session.video.srcObject === null };
}"""


def test_camera_loop_never_queues_frames(camera_browser, app_url, serve, tmp_path):
    write_host(tmp_path, app_url, "", module=False)
    host = serve(tmp_path)
    context = camera_browser.new_context()
    page = context.new_page()
    page.add_init_script(STREAM_RECORDER)
    page.goto(host)
    out = page.evaluate(SLOW_CAMERA_JS, {"app": app_url})
    assert out["maxInFlight"] == 1
    assert out["last"][1]["maxInFlight"] == 1
    assert 3 <= out["frames"] <= 11  # ~3 s at >= 300 ms per frame, never more
    assert out["calls"] - out["frames"] <= 1  # the one in flight at stop() was cancelled
    assert out["last"][1]["fps"] <= 1000 / 300 + 0.2
    assert out["tracks"] == ["ended"]
    assert out["video"] is True
    context.close()


def test_camera_in_the_element_from_another_origin(camera_browser, app_url, serve, tmp_path):
    write_host(tmp_path, app_url, '<edge-classifier id="a"></edge-classifier>')
    host = serve(tmp_path)
    context = camera_browser.new_context()
    page = context.new_page()
    page.add_init_script(STREAM_RECORDER)
    page.goto(host)
    wait_events(page, "ready")
    page.click("#a [part~=camera-button]")
    wait_events(page, "result", count=10)
    readout = page.inner_text("#a [part=camera-readout]")
    assert fps_of(readout) > 0.5, readout
    print(f"\nelement camera: {readout}")
    assert page.get_attribute("#a [part~=camera-button]", "aria-pressed") == "true"
    assert page.locator("#a [part=video]").is_visible()
    # While streaming, results do not flood the live region.
    assert page.get_attribute("#a [part=results]", "aria-live") == "off"
    page.click("#a [part~=camera-button]")
    page.wait_for_function(TRACKS_ENDED, timeout=10_000)
    assert page.get_attribute("#a [part=results]", "aria-live") == "polite"
    # Removing the element while the camera runs releases the camera as well.
    page.evaluate("document.querySelector('#a').startCamera()")
    page.wait_for_function("() => window.__streams.length === 2", timeout=10_000)
    page.evaluate("document.querySelector('#a').remove()")
    page.wait_for_function(TRACKS_ENDED, timeout=10_000)
    context.close()


# ----------------------------------------------------------------------------- dist/


def build_dist(out: Path) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "dist"
    build_dist(out)
    return out


def start_process(cmd: list[str], pattern: str) -> tuple[subprocess.Popen, re.Match]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        match = re.search(pattern, line)
        if match:
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, match
    raise RuntimeError(f"{cmd[0]} exited before serving")


def runtime(dist: Path, rel: str) -> str:
    """A runtime file's dist-relative path, in the content-addressed folder vendor.json names."""
    return f"vendor/{json.loads((dist / 'vendor' / 'vendor.json').read_text())['root']}{rel}"


def test_build_writes_a_self_contained_dist(dist, tmp_path):
    for rel in (
        "index.html",
        "app.js",
        "edge-infer.js",
        "embed.html",
        "lib/worker.js",
        "lib/element.js",
        "vendor/vendor.json",
        runtime(dist, "pyodide/pyodide.asm.wasm"),
        runtime(dist, "ort/ort-wasm-simd-threaded.wasm"),
        "models/manifest.json",
        "_headers",
        "nginx.conf.snippet",
    ):
        assert (dist / rel).is_file(), rel
    assert not (dist / "vendor" / "pyodide").exists()  # only at its content-addressed URL
    manifest = json.loads((dist / "models" / "manifest.json").read_text())
    for model in manifest["models"]:
        assert (dist / "models" / model["sha256"] / model["file"]).is_file()
        assert not (dist / "models" / model["file"]).exists()
    assert not (dist / "examples").exists()
    headers = (dist / "_headers").read_text()
    root = runtime(dist, "")
    for line in (
        "Cross-Origin-Opener-Policy: same-origin",
        "Cross-Origin-Embedder-Policy: require-corp",
        "Cross-Origin-Resource-Policy: cross-origin",
        "Access-Control-Allow-Origin: *",
        f"/{root}*\n  Cache-Control: public, max-age=31536000, immutable",
        "/\n  Cache-Control: no-cache",
        "/lib/*\n  Cache-Control: no-cache",
        "/sw.js\n  Cache-Control: no-cache",
        "/vendor/vendor.json\n  Cache-Control: no-cache",
        "/models/manifest.json\n  Cache-Control: no-cache",
        f"/{root}pyodide/pyodide.asm.wasm\n  Content-Type: application/wasm",
        f"/{root}ort/ort.wasm.min.mjs\n  Content-Type: text/javascript",
    ):
        assert line in headers, line
    for model in manifest["models"]:
        immutable = "Cache-Control: public, max-age=31536000, immutable"
        assert f"/models/{model['sha256']}/*\n  {immutable}" in headers
    # Exactly one Cache-Control rule matches each file (hosts join the values of several).
    rules = [block.split("\n") for block in headers.split("\n/")]
    cache_rules = ["/" + b[0].lstrip("/") for b in rules if any("Cache-Control" in ln for ln in b)]
    for rel in ("index.html", "lib/worker.js", root + "pyodide/pyodide.asm.wasm"):
        matching = [r for r in cache_rules if matches_rule(r, "/" + rel)]
        assert len(matching) == 1, (rel, matching)
    # Idempotent: a second build copies nothing.
    again = build_dist(dist)
    assert "(0 copied, 0 removed, 0 header files written)" in again, again


def matches_rule(rule: str, path: str) -> bool:
    """Whether a ``_headers`` path rule (``*`` matches anything) matches ``path``."""
    return re.fullmatch(re.escape(rule).replace(r"\*", ".*"), path) is not None


def test_dist_ships_verified_precompressed_copies(dist):
    """Each .br/.gz copy in dist/ is the one encoded.json lists, for the file it lies next to;
    gzip copies decode to that file's bytes (brotli ones are checked by tests/unit)."""
    listed = json.loads((ROOT / "web" / "vendor" / "encoded.json").read_text())["files"]
    wasm = runtime(dist, "pyodide/pyodide.asm.wasm")
    checked = set()
    for copy in sorted([*dist.rglob("*.br"), *dist.rglob("*.gz")]):
        source = copy.with_suffix("")
        if not source.is_file():
            continue  # a file that is itself .gz (the bench's Pyodide snapshot)
        rel = source.relative_to(dist).as_posix()
        key = next(k for k in listed if rel.endswith("/" + k.split("/", 1)[1]))
        coding = "br" if copy.suffix == ".br" else "gzip"
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == listed[key][coding]["sha256"]
        if coding == "gzip":
            decoded = gzip.decompress(copy.read_bytes())
            assert hashlib.sha256(decoded).hexdigest() == listed[key]["sha256"]
        checked.add(rel)
    assert wasm in checked


def classify_a_photo_on_the_page(browser, url: str, *, isolated: bool, threads: int) -> None:
    """Open the served app in a new context, classify a photo through the file input, and
    check the isolation and threads its server's headers give."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    assert page.evaluate("crossOriginIsolated") is isolated
    page.set_input_files("#file-input", str(photo("chelsea.png")))
    page.wait_for_selector("#results .result[data-state='done']", timeout=READY_TIMEOUT_MS)
    result = json.loads(page.get_attribute("#results .result", "data-result"))
    assert result["label"] in CAT_LABELS
    assert result["runtime"]["threads"] == threads
    context.close()


def test_dist_served_by_plain_http_server_classifies(dist, browser):
    proc, match = start_process(
        [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "0", "-d", str(dist)],
        r"port (\d+)",
    )
    url = f"http://127.0.0.1:{match.group(1)}/"
    try:
        # The types the browser checks strictly come right from Python's own table.
        for rel, wanted in (
            (runtime(dist, "pyodide/pyodide.mjs"), "javascript"),
            (runtime(dist, "ort/ort.wasm.min.mjs"), "javascript"),
            (runtime(dist, "ort/ort-wasm-simd-threaded.wasm"), "application/wasm"),
            (runtime(dist, "pyodide/pyodide.asm.wasm"), "application/wasm"),
        ):
            with urllib.request.urlopen(url + rel) as response:
                assert wanted in response.headers["Content-Type"], rel
                assert response.headers["Cross-Origin-Opener-Policy"] is None
        classify_a_photo_on_the_page(browser, url, isolated=False, threads=1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed")
def test_dist_served_by_nginx_with_the_snippet_gets_threads(dist, browser, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        textwrap.dedent(f"""\
        user root;  # pytest's tmp dirs are private to this user
        pid {tmp_path}/nginx.pid;
        error_log {tmp_path}/error.log;
        events {{}}
        http {{
            access_log off;
            client_body_temp_path {tmp_path}/body;
            proxy_temp_path {tmp_path}/proxy;
            fastcgi_temp_path {tmp_path}/fastcgi;
            uwsgi_temp_path {tmp_path}/uwsgi;
            scgi_temp_path {tmp_path}/scgi;
            server {{
                listen 127.0.0.1:{port};
                root {dist};
                include {dist}/nginx.conf.snippet;
            }}
        }}
        """)
    )
    check = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True)
    assert check.returncode == 0, check.stderr.decode()
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"])
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                mjs = url + runtime(dist, "ort/ort.wasm.min.mjs")
                with urllib.request.urlopen(mjs) as response:
                    headers = response.headers
                break
            except urllib.error.URLError as e:
                if isinstance(e, urllib.error.HTTPError):
                    raise
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
        assert headers["Content-Type"].startswith("text/javascript")
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url + "nginx.conf.snippet")
        for rel in ("", "lib/worker.js", "vendor/vendor.json", "models/manifest.json"):
            with urllib.request.urlopen(url + rel) as response:
                assert response.headers["Cache-Control"] == "no-cache", rel
                assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin", rel
        # gzip_static: the precompressed copy to a client that takes gzip, identity otherwise.
        wasm = runtime(dist, "pyodide/pyodide.asm.wasm")
        request = urllib.request.Request(url + wasm, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert response.headers["Content-Type"] == "application/wasm"
            assert "Accept-Encoding" in response.headers["Vary"]
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert gzip.decompress(response.read()) == (dist / wasm).read_bytes()
        with urllib.request.urlopen(url + wasm) as response:
            assert response.headers["Content-Encoding"] is None
            assert response.read() == (dist / wasm).read_bytes()
        classify_a_photo_on_the_page(browser, url, isolated=True, threads=2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
