"""Fixtures for every test folder: the real dev server, Debian's Chromium, and the app page.

Browser tests get the app in one of two ways, as Pyodide's ``selenium`` and
``selenium_standalone`` fixtures do:

- ``ready_page``: the session's one app page, loaded and ready, shared by the tests that do not
  need a fresh runtime, and reset after each of them (see :class:`SharedApp`);
- ``page`` (pytest-playwright's): a new browser context and page, for boot, fault, offline and
  header tests, and anything that asserts on a fresh runtime.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading

import pytest
from helpers import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import chromium  # tools/chromium.py: the launch configuration bench/ uses too

READY_TIMEOUT_MS = 120_000
RUNTIME_WORKERS = ("/lib/worker.js", "/lib/ort-worker.js")

# Every CSP violation in the page (workers report theirs on the console: see worker.js).
RECORD_VIOLATIONS = """
window.__violations = [];
addEventListener('securitypolicyviolation', (e) => window.__violations.push(
    `${e.effectiveDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`));
"""


def start_server(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``tools/serve.py`` on a free loopback port; returns (process, base URL)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "serve.py"), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        match = re.search(r"edge-infer serving (http://\S+)", line)
        if match:
            # Keep draining so the server never blocks on a full pipe; keep the lines (with
            # --verbose they are the access log).
            proc.log = lines
            threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
            return proc, match.group(1)
    raise RuntimeError("serve.py exited before serving:\n" + "".join(lines))


@contextlib.contextmanager
def serving_models(folder):
    """The dev server with ``folder`` served in place of ``models/``; yields its base URL."""
    proc, url = start_server("--mount", f"models={folder}")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def app_url():
    """Base URL of the app served by the real dev server (COOP/COEP on)."""
    proc, url = start_server()
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def logged_server():
    """A dev server of its own that logs every request (``proc.log``), for cache tests."""
    proc, url = start_server("--verbose")
    yield proc, url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium; Playwright cannot download its own browsers here."""
    if not chromium.available():
        pytest.exit(chromium.MISSING, 2)
    return {**browser_type_launch_args, **chromium.launch_kwargs()}


@pytest.fixture(scope="session")
def artifacts_dir():
    """Where tests write screenshots (git-ignored)."""
    path = ROOT / "test-results"
    path.mkdir(exist_ok=True)
    return path


# ----------------------------------------------------------------------------- the shared page

# Marks the page the runtime booted in: a reload or navigation loses it (and the runtime).
MARK_JS = "(token) => { window.__sharedAppToken = token; return Object.keys(window); }"

# Puts the page back as a user would find it after the boot: in-flight work cancelled (the
# page's own "Cancel remaining" button), classifiers the test left on `window` disposed and
# every global it added deleted, results cleared (the "Clear" button), focus dropped.
# Returns what the reset found, for the checks in SharedApp.reset().
RESET_JS = """async ({ token, globals }) => {
    const $ = (s) => document.querySelector(s);
    if (window.__sharedAppToken !== token) return { navigated: true };
    if (!$('#cancel-pending').hidden) $('#cancel-pending').click();
    const deadline = Date.now() + 60000;
    const busy = () => document.querySelector('#results .result[data-state=pending]')
        || ['busy', 'loading'].includes(document.body.dataset.state);
    while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const { Classifier } = await import('./edge-infer.js');
    const known = new Set(globals);
    const added = Object.keys(window).filter((k) => !known.has(k));
    for (const key of added) {
        if (window[key] instanceof Classifier) window[key].dispose();
        delete window[key];
    }
    $('#clear-results').click();
    document.activeElement?.blur();
    return {
        navigated: false,
        busy: Boolean(busy()),
        state: document.body.dataset.state,
        cards: document.querySelectorAll('#results .result').length,
        messageShown: !$('#message').hidden,
        // A model the test registered at run time still picked ("Your models" in the picker).
        ownModel: Boolean($('#model-select').selectedOptions[0]?.closest('optgroup')),
        violations: window.__violations,
        added,
    };
}"""


class SharedApp:
    """The app loaded once in its own browser context, and reset between the tests using it.

    What a test may leave behind, and how the reset deals with it:

    - listeners it added with ``page.on``/``context.on`` (request logs, console and dialog
      collectors): removed;
    - permissions (clipboard) and offline mode: cleared;
    - in-flight work, result cards, the error message, focus: cancelled and cleared through the
      page's own buttons;
    - a model registered at run time left in use on the page: the context is closed (switch
      back with the model picker to avoid it);
    - classifiers and other globals it put on ``window``: disposed and deleted;
    - uncaught page errors and CSP violations: the test fails (they would be bugs);
    - anything the page cannot be put back from (routes, which also turn off Chromium's HTTP
      cache; init scripts; exposed functions; a navigation or reload; a lasting error state;
      a runtime worker that ended): the context is closed and the next test boots a new one.

    A reset that raises closes the context too, so no state leaks into the next test.
    """

    def __init__(self, browser, url: str):
        self.browser, self.url = browser, url
        self.context = self.page = None
        self.boots = 0
        self.tests = 0
        self.test = ""
        self.recycles: list[str] = []

    def ensure(self, test: str):
        """The ready page, booting it first when there is none (first use, or after a recycle)."""
        self.test = test
        if self.page is None:
            self._boot()
        self._start_test()
        return self.page

    def _boot(self) -> None:
        self.context = self.browser.new_context()
        self.context.add_init_script(RECORD_VIOLATIONS)
        self.page = self.context.new_page()
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
        self.boots += 1
        self.token = f"shared-{os.getpid()}-{self.boots}"
        self.globals = self.page.evaluate(MARK_JS, self.token)
        self.viewport = self.page.viewport_size
        # The runtime lives in the inference worker and onnxruntime-web's; if either ends (a
        # crash, a dispose), the next test must not inherit a rebooted runtime unknowingly.
        runtime = [w for w in self.page.workers if w.url.endswith(RUNTIME_WORKERS)]
        assert len(runtime) == 2, [w.url for w in self.page.workers]
        self.runtime_ended = False
        for worker in runtime:
            worker.on("close", lambda _: setattr(self, "runtime_ended", True))

    def _start_test(self) -> None:
        self.listeners: list[tuple[object, str, object]] = []
        self.page_errors: list[str] = []
        self.tainted: list[str] = []
        self._record(self.page, "pageerror", lambda e: self.page_errors.append(str(e)))
        for target in (self.page, self.context):
            for method in ("on", "once"):
                setattr(target, method, self._tracked(target, method))
            for method in ("route", "route_from_har", "add_init_script", "expose_function"):
                setattr(target, method, self._tainting(target, method))
        self.page.goto = self._tainting(self.page, "goto")
        self.page.reload = self._tainting(self.page, "reload")

    def _record(self, target, event, handler) -> None:
        type(target).on(target, event, handler)
        self.listeners.append((target, event, handler))

    def _tracked(self, target, method):
        original = getattr(type(target), method)

        def add(event, handler):
            self.listeners.append((target, event, handler))
            return original(target, event, handler)

        return add

    def _tainting(self, target, method):
        original = getattr(type(target), method)

        def call(*args, **kwargs):
            self.tainted.append(method)
            return original(target, *args, **kwargs)

        return call

    def reset(self) -> None:
        """Put the page back for the next test, or close it; fail if the test broke something."""
        page, context = self.page, self.context
        try:
            for target, event, handler in self.listeners:
                target.remove_listener(event, handler)
            for target in (page, context):
                for method in ("on", "once", "route", "route_from_har", "add_init_script"):
                    target.__dict__.pop(method, None)
                target.__dict__.pop("expose_function", None)
            page.__dict__.pop("goto", None)
            page.__dict__.pop("reload", None)
            if self.tainted:
                return self.recycle(f"the test called {', '.join(sorted(set(self.tainted)))}")
            context.clear_permissions()
            context.set_offline(False)
            page.set_viewport_size(self.viewport)
            found = page.evaluate(RESET_JS, {"token": self.token, "globals": self.globals})
            assert self.page_errors == [], f"uncaught errors in the shared page: {self.page_errors}"
            if found["navigated"]:
                return self.recycle("the page navigated or reloaded")
            assert found["violations"] == [], f"CSP violations: {found['violations']}"
            assert not found["busy"], "work was still running after Cancel"
            if self.runtime_ended:
                return self.recycle("a runtime worker ended")
            if found["ownModel"]:
                return self.recycle("the page was left using a model the test registered")
            if found["state"] != "ready":
                return self.recycle(f"the page stayed in state {found['state']!r}")
            assert found["cards"] == 0 and not found["messageShown"], found
        except BaseException:
            self.recycle("the reset failed")
            raise

    def recycle(self, why: str | None) -> None:
        """Close the shared context; the next test that asks for the page boots a new one."""
        if self.context is not None and why:
            self.recycles.append(f"{self.test}: {why}")
        context, self.context, self.page = self.context, None, None
        if context is not None:
            context.close()


@pytest.fixture(scope="session")
def shared_app(browser, app_url):
    """The session's :class:`SharedApp` (use ``ready_page`` in tests)."""
    shared = SharedApp(browser, app_url)
    yield shared
    shared.recycle(None)
    summary = f"shared ready page: {shared.tests} tests, {shared.boots} boots"
    SUMMARY[:] = [summary, *(f"  new boot after {r}" for r in shared.recycles)]


@pytest.fixture
def ready_page(shared_app, request):
    """The shared app page, ready (runtime booted), reset after the test.

    For tests that do not need a fresh runtime. Drive it as a user would (file input, drop,
    paste) or through the published API (``import('./edge-infer.js')``: classifiers share the
    page's runtime). Do not navigate, reload, route or add init scripts: that costs the next
    test a new boot (see :class:`SharedApp`).
    """
    shared_app.tests += 1
    page = shared_app.ensure(request.node.nodeid)
    yield page
    shared_app.reset()


SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter):
    """Say how often the shared page was booted, and why it had to be booted again."""
    for line in SUMMARY:
        terminalreporter.write_line(line)
