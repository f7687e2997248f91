"""HTTP caching and compression as the browser sees them, against the real dev server.

The runtime and the models load from content-addressed URLs (``vendor/<root>/...``,
``models/<sha256>/<file>``) answered ``immutable`` and brotli-encoded; the page, entry modules
and manifests revalidate; a revisit asks the server for none of the content-addressed files;
and what the browser decodes has the sha256 that vendor.json and the manifest list.
"""

from __future__ import annotations

import json
import re

import chromium
import pytest
from conftest import READY_TIMEOUT_MS
from helpers import CAT_LABELS, MANIFEST, ROOT, photo

pytestmark = pytest.mark.browser

IMMUTABLE = "public, max-age=31536000, immutable"
VENDOR = json.loads((ROOT / "web" / "vendor" / "vendor.json").read_text())
MODEL = next(
    m
    for m in json.loads(MANIFEST.read_text())["models"]
    if m["id"] == json.loads(MANIFEST.read_text())["default_model"]
)
RUNTIME = f"/vendor/{VENDOR['root']}"
MODEL_PATH = f"/models/{MODEL['sha256']}/{MODEL['file']}"
WASM = {
    f"{RUNTIME}pyodide/pyodide.asm.wasm": VENDOR["files"]["pyodide/pyodide.asm.wasm"]["sha256"],
    f"{RUNTIME}ort/ort-wasm-simd-threaded.wasm": VENDOR["files"]["ort/ort-wasm-simd-threaded.wasm"][
        "sha256"
    ],
}

# The sha256 of what fetch() hands the page (the decoded body), and how it came.
DIGEST_JS = """async (url) => {
    const response = await fetch(url);
    const bytes = await response.arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return {
        sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
        bytes: bytes.byteLength,
    };
}"""


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3].split("?", 1)[0]


def test_app_boots_and_classifies_from_content_addressed_encoded_urls(page, app_url):
    responses = []
    page.context.on("response", lambda r: responses.append(r))
    page.goto(app_url + "?sw=off")
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    page.set_input_files("#file-input", str(photo("chelsea.png")))
    page.wait_for_selector("#results .result[data-state='done']", timeout=READY_TIMEOUT_MS)
    result = json.loads(page.get_attribute("#results .result", "data-result"))
    assert result["label"] in CAT_LABELS

    seen = {path_of(r.url): r for r in responses}
    for path in (*WASM, MODEL_PATH, f"{RUNTIME}pyodide/pyodide.mjs"):
        assert path in seen, (path, sorted(seen))
        headers = seen[path].all_headers()
        assert seen[path].status == 200, path
        assert headers["cache-control"] == IMMUTABLE, path
    for path in WASM:
        headers = seen[path].all_headers()
        assert headers["content-encoding"] == "br", path
        assert headers["vary"] == "Accept-Encoding"
        assert headers["content-type"] == "application/wasm"
    for path in ("/", "/lib/worker.js", "/vendor/vendor.json", "/models/manifest.json"):
        assert path in seen, path
        assert seen[path].all_headers()["cache-control"] == "no-cache", path
    # Nothing loads from the plain, revalidated runtime or model URLs.
    plain = [p for p in seen if re.match(r"/vendor/(pyodide|ort|bytecode)/", p)]
    assert not plain and f"/models/{MODEL['file']}" not in seen

    # The page's fetch decodes brotli: the bytes are the ones vendor.json and the manifest hash.
    for path, sha256 in [*WASM.items(), (MODEL_PATH, MODEL["sha256"])]:
        assert page.evaluate(DIGEST_JS, path)["sha256"] == sha256, path


def test_revisit_asks_for_no_content_addressed_file(playwright, logged_server, tmp_path):
    """The server's access log is the proof: a revisit in the same profile revalidates the
    entry points only (``?sw=off``: the HTTP cache alone, without the service worker)."""
    proc, url = logged_server
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), **chromium.launch_kwargs()
    )
    try:
        page = context.new_page()
        page.goto(url + "?sw=off")
        page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
        first = list(proc.log)
        page.reload()
        page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
        revisit = proc.log[len(first) :]
    finally:
        context.close()

    def requested(lines, prefix):
        return [ln for ln in lines if f'"GET {prefix}' in ln]

    assert requested(first, RUNTIME) and requested(first, MODEL_PATH)
    assert not requested(revisit, RUNTIME), requested(revisit, RUNTIME)
    assert not requested(revisit, f"/models/{MODEL['sha256']}/")
    # The entry points are asked again (304 while unchanged).
    assert any('" 304 ' in ln for ln in requested(revisit, "/vendor/vendor.json"))
    assert requested(revisit, "/lib/worker.js")
