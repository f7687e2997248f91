"""Offline and updates: the service worker (web/sw.js) and its asset list (tools/setup.py).

Real browser, real server, real files: the server is stopped for the offline test, and the
update test serves a copy of the site from a temporary tree, edits an app file there and
regenerates the list the way ``npm run setup`` does.
"""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest
from conftest import READY_TIMEOUT_MS, start_server
from helpers import CAT_LABELS, MODELS, ROOT, photo

pytestmark = pytest.mark.browser

WAIT_INSTALLED_JS = """async ({ version, timeoutMs }) => {
    const { offlineStatus } = await import('./lib/offline.js');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const s = await offlineStatus().catch(() => null);
        if (s?.complete && (!version || s.version === version)) return s;
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the service worker did not install (is vendor/precache.json stale?)');
}"""

STATUS_JS = "async () => (await import('./lib/offline.js')).offlineStatus()"
OUR_CACHES_JS = "async () => (await caches.keys()).filter((k) => k.startsWith('edge-infer-'))"

# Ask for an update check; answer what became of the new worker: 'waiting' (installed, waits
# for the old pages), 'failed' (its install failed: it is redundant) or 'unchanged'.
UPDATE_JS = """async (timeoutMs) => {
    const reg = await navigator.serviceWorker.getRegistration();
    await reg.update();
    const worker = reg.installing;
    if (!worker) return reg.waiting ? 'waiting' : 'unchanged';
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && worker.state === 'installing') {
        await new Promise((r) => setTimeout(r, 100));
    }
    return { installed: 'waiting', redundant: 'failed' }[worker.state] ?? worker.state;
}"""


def core_files() -> set[str]:
    """The files a page and its workers load, at the URLs they load them from (the runtime
    and the model at their content-addressed ones): all must come from the same cache."""
    vendor = json.loads((ROOT / "web" / "vendor" / "vendor.json").read_text())
    root = vendor["root"]
    manifest = json.loads((MODELS / "manifest.json").read_text())
    model = next(m for m in manifest["models"] if m["id"] == manifest["default_model"])
    return {
        "index.html",
        "app.js",
        "app.css",
        "lib/worker.js",
        "vendor/vendor.json",
        f"vendor/{root}pyodide/pyodide.asm.wasm",
        f"vendor/{root}{vendor['bytecode']['snapshot']['file']}",
        f"vendor/{root}ort/ort-wasm-simd-threaded.wasm",
        "models/manifest.json",
        f"models/{model['sha256']}/{model['file']}",
    }


CORE = core_files()


def load_setup():
    spec = importlib.util.spec_from_file_location("edge_infer_setup", ROOT / "tools" / "setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def setup_tool():
    return load_setup()


def copy_site(base, setup_tool):
    """A copy of web/ (with its vendored runtime) and models/, with a fresh asset list.

    A copy, so that files edited in the work tree while the tests run cannot make the list
    stale under the service worker.
    """
    web, models = base / "web", base / "models"
    shutil.copytree(ROOT / "web", web, ignore=shutil.ignore_patterns(".*"))
    shutil.copytree(MODELS, models, ignore=shutil.ignore_patterns(".*"))
    setup_tool.write_precache(web, models)
    return web, models


@pytest.fixture
def site(tmp_path, setup_tool):
    return copy_site(tmp_path, setup_tool)


def wait_ready(page):
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)


def classify_chelsea(page):
    page.set_input_files("#file-input", str(photo("chelsea.png")))
    page.wait_for_selector("#results .result[data-state='done']", timeout=READY_TIMEOUT_MS)
    return json.loads(page.get_attribute("#results .result[data-state='done']", "data-result"))


def assert_one_version(status, version):
    """Everything the page and its workers loaded came from the cache of `version`, or, for
    a content-addressed URL (its bytes fixed by its path), from the browser's HTTP cache."""
    assert status["version"] == version and status["complete"]
    urls = {s["url"] for s in status["served"]}
    assert urls >= CORE, CORE - urls
    listed = [s for s in status["served"] if s["url"] in CORE]
    addressed = {u for u in CORE if u.startswith(("vendor/", "models/")) and u.count("/") > 1}
    assert {s["cache"] for s in listed if s["url"] not in addressed} == {f"edge-infer-{version}"}
    assert {s["cache"] for s in listed if s["url"] in addressed} <= {
        f"edge-infer-{version}",
        "http-cache",
    }, listed


# --------------------------------------------------------------------------- the asset list


def test_precache_lists_shell_runtime_and_default_model(site, setup_tool):
    web, models = site
    data = json.loads((web / "vendor" / "precache.json").read_text())
    urls = {f["url"]: f for f in data["files"]}
    vendor = json.loads((web / "vendor" / "vendor.json").read_text())
    unused = setup_tool.unused_by_default_boot(vendor)
    assert unused and unused < set(vendor["files"])
    runtime = {f"vendor/{vendor['root']}{rel}" for rel in vendor["files"] if rel not in unused}
    assert runtime <= set(urls)
    assert not {f"vendor/{vendor['root']}{rel}" for rel in unused} & set(urls)  # never fetched
    shell = {"index.html", "app.js", "lib/worker.js", "lib/offline.js", "vendor/vendor.json"}
    assert shell <= set(urls)
    model = next(u for u in urls if u.endswith("/mobilenet_v2-fp32.onnx"))
    assert model == f"models/{urls[model]['sha256']}/mobilenet_v2-fp32.onnx"
    assert "models/manifest.json" in urls
    # Only content-addressed URLs may come from the HTTP cache unrevalidated (sw.js install).
    assert {u for u, f in urls.items() if f["immutable"]} == runtime | {model}
    assert not [u for u in urls if u.startswith(("examples/", "vendor/precache")) or u == "sw.js"]
    assert data["cache"] == f"edge-infer-{data['version']}"
    js = (web / "vendor" / "precache.js").read_text()
    assert json.loads(js.split("=", 1)[1].rstrip().rstrip(";")) == data
    # Unchanged inputs, unchanged output (and file); one changed byte, a new version.
    mtime = (web / "vendor" / "precache.js").stat().st_mtime_ns
    assert setup_tool.build_precache(web, models) == data
    assert setup_tool.write_precache(web, models) == data
    assert (web / "vendor" / "precache.js").stat().st_mtime_ns == mtime


def test_precache_version_follows_every_hash(tmp_path, setup_tool):
    web, models = tmp_path / "web", tmp_path / "models"
    shutil.copytree(ROOT / "web", web, ignore=shutil.ignore_patterns(".*", "vendor"))
    (web / "vendor").mkdir()
    shutil.copy(ROOT / "web" / "vendor" / "vendor.json", web / "vendor" / "vendor.json")
    for rel in json.loads((web / "vendor" / "vendor.json").read_text())["files"]:
        (web / "vendor" / rel).parent.mkdir(parents=True, exist_ok=True)
        (web / "vendor" / rel).symlink_to(ROOT / "web" / "vendor" / rel)
    models.mkdir()
    shutil.copy(MODELS / "manifest.json", models / "manifest.json")
    (models / "mobilenet_v2-fp32.onnx").symlink_to(MODELS / "mobilenet_v2-fp32.onnx")
    first = setup_tool.build_precache(web, models)["version"]
    (web / "app.css").write_text((web / "app.css").read_text() + "/* changed */\n")
    assert setup_tool.build_precache(web, models)["version"] != first
    (web / "examples" / "new.txt").write_text("examples are not precached\n")
    second = setup_tool.build_precache(web, models)["version"]
    (web / "examples" / "new.txt").write_text("still not\n")
    assert setup_tool.build_precache(web, models)["version"] == second


# --------------------------------------------------------------------------- offline


def test_revisit_offline_loads_isolated_and_classifies(context, page, site):
    web, models = site
    proc, url = start_server("--root", str(web), "--models", str(models))
    try:
        page.goto(url)
        wait_ready(page)
        installed = page.evaluate(WAIT_INSTALLED_JS, {"version": None, "timeoutMs": 120_000})
        assert installed["files"] >= len(CORE)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    context.set_offline(True)  # and the server is gone: nothing can come from the network
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.reload()
    wait_ready(page)
    assert page.evaluate("crossOriginIsolated") is True  # COOP/COEP kept by the cache
    result = classify_chelsea(page)
    assert result["label"] in CAT_LABELS
    assert result["runtime"]["threads"] == 2 and result["runtime"]["cross_origin_isolated"]
    assert_one_version(page.evaluate(STATUS_JS), installed["version"])
    assert failed == []


def test_a_model_with_hooks_and_a_wheel_works_offline_after_one_use(
    context, page, site, tmp_path, setup_tool
):
    """Its model, hooks file and wheel have content-addressed URLs (so does micropip, in the
    runtime's folder): the first visit leaves them in the browser's cache, and an offline
    revisit of the page (?model= keeps the choice) boots with that model and classifies."""
    import numpy as np
    from edge_infer.add_model import add_model
    from hook_examples import HOOKS_WITH_WHEEL, build_wheel
    from onnx_models import colour_model

    web, models = site
    (tmp_path / "rgb.txt").write_text("red\ngreen\nblue\n")
    (tmp_path / "wheeled.onnx").write_bytes(colour_model(np.eye(3) * 4.0))
    (tmp_path / "hooks.py").write_text(HOOKS_WITH_WHEEL)
    wheel = build_wheel(tmp_path)
    add_model(
        tmp_path / "wheeled.onnx",
        tmp_path / "rgb.txt",
        models / "manifest.json",
        hooks_path=tmp_path / "hooks.py",
        wheel_paths=[wheel],
    )
    setup_tool.write_precache(web, models)  # the new manifest, as `npm run setup` does
    proc, url = start_server("--root", str(web), "--models", str(models))
    try:
        page.goto(url + "?model=wheeled")
        wait_ready(page)
        online = classify_chelsea(page)
        page.evaluate(WAIT_INSTALLED_JS, {"version": None, "timeoutMs": 120_000})
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert online["model"]["id"] == "wheeled" and online["preprocess_mode"] == "hook"
    context.set_offline(True)
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.reload()
    wait_ready(page)
    offline = classify_chelsea(page)
    assert offline["model"]["id"] == "wheeled"
    assert [(t["label"], t["probability"]) for t in offline["top_k"]] == [
        (t["label"], t["probability"]) for t in online["top_k"]
    ]
    assert failed == []


# --------------------------------------------------------------------------- updates


def test_update_replaces_the_cache_and_no_page_sees_a_mix(context, page, site, setup_tool):
    web, models = site
    v1 = json.loads((web / "vendor" / "precache.json").read_text())["version"]
    proc, url = start_server("--root", str(web), "--models", str(models))
    try:
        page.goto(url)
        wait_ready(page)
        page.evaluate(WAIT_INSTALLED_JS, {"version": v1, "timeoutMs": 120_000})
        page.reload()  # now controlled by version 1
        wait_ready(page)
        assert_one_version(page.evaluate(STATUS_JS), v1)

        # A second page of version 1 stays open (a JSON document: no runtime to boot).
        other = context.new_page()
        other.goto(url + "models/manifest.json")
        assert other.evaluate("navigator.serviceWorker.controller !== null")

        # Deploy: an app file changes and the list is regenerated (npm run setup).
        css = web / "app.css"
        css.write_text(css.read_text() + "\n/* deploy 2 */\n")
        v2 = setup_tool.write_precache(web, models)["version"]
        assert v2 != v1
        assert page.evaluate(UPDATE_JS, 120_000) == "waiting"
        keys = page.evaluate(OUR_CACHES_JS)
        assert f"edge-infer-{v1}" in keys and f"edge-infer-{v2}" in keys
        # The old page keeps its version although the server has the new file.
        assert "deploy 2" not in page.evaluate("fetch('app.css').then((r) => r.text())")
        # A new tab next to old pages is served by the old version too (after at most one
        # blank refresh page): no loop, no take-over while old pages are open.
        third = context.new_page()
        third.goto(url + "models/manifest.json")
        third.wait_for_function("() => document.body?.innerText.includes('default_model')")
        assert third.evaluate("navigator.serviceWorker.controller !== null")
        third.close()
        assert page.evaluate("navigator.serviceWorker.getRegistration().then((r) => !!r.waiting)")

        # Reloading while another old page is open: still version 1, entirely.
        page.reload()
        wait_ready(page)
        assert_one_version(page.evaluate(STATUS_JS), v1)
        assert "deploy 2" not in page.evaluate("fetch('app.css').then((r) => r.text())")

        # The other page closes; a reload of the last one hands over to version 2.
        other.close()
        page.reload()
        wait_ready(page)
        assert page.evaluate("crossOriginIsolated") is True
        status = page.evaluate(STATUS_JS)
        assert_one_version(status, v2)
        assert "deploy 2" in page.evaluate("fetch('app.css').then((r) => r.text())")
        assert page.evaluate(OUR_CACHES_JS) == [f"edge-infer-{v2}"]  # the old one is gone
        assert classify_chelsea(page)["label"] in CAT_LABELS

        # A deploy caught half-way (a file no longer matches the new list) never installs:
        # its cache is dropped and version 2 stays in charge, complete.
        assert page.evaluate(UPDATE_JS, 120_000) == "unchanged"
        errors_js = web / "lib" / "errors.js"
        errors_js.write_text(errors_js.read_text() + "\n")
        assert setup_tool.write_precache(web, models)["version"] != v2
        errors_js.write_text(errors_js.read_text() + "// changed after the list was made\n")
        assert page.evaluate(UPDATE_JS, 120_000) == "failed"
        assert page.evaluate(OUR_CACHES_JS) == [f"edge-infer-{v2}"]
        assert page.evaluate(STATUS_JS)["complete"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
