"""Headless Debian Chromium (Python Playwright, sync API) and the bench harness page."""

from __future__ import annotations

import sys
from collections import Counter
from urllib.parse import urlencode

from benchlib import BENCH, ROOT

sys.path.insert(0, str(ROOT / "tools"))
import chromium  # tools/chromium.py: the launch configuration the tests use too

# Aliases of the one definition, for callers that import them from here.
CHROMIUM, CHROMIUM_FLAGS = chromium.EXECUTABLE, chromium.FLAGS

READY_TIMEOUT_MS = 120_000
LONG_TASKS_SCRIPT = BENCH / "init-longtasks.js"


def launch(playwright, *extra_args: str):
    """Launch Debian's Chromium headless (Playwright cannot download browsers here).

    ``extra_args`` are added to ``chromium.FLAGS`` (the memory section's eager
    memory measurement, for one).
    """
    if not chromium.available():
        raise SystemExit(chromium.MISSING)
    return playwright.chromium.launch(**chromium.launch_kwargs(*extra_args))


def fresh_context(browser):
    """A new browser context: empty HTTP cache and storage, i.e. a first visit.

    Requests are only observed (``context.on``), never routed: routing turns the cache off.
    """
    context = browser.new_context()
    context.set_default_timeout(READY_TIMEOUT_MS)
    context.add_init_script(path=str(LONG_TASKS_SCRIPT))
    return context


# Resolves with window.bench.ready once harness.js has defined window.bench.
WAIT_READY = """(timeoutMs) => new Promise((resolve, reject) => {
  const until = performance.now() + timeoutMs;
  const poll = () => {
    if (window.bench) resolve(window.bench.ready);
    else if (performance.now() > until) reject(new Error('window.bench was never defined'));
    else setTimeout(poll, 20);
  };
  poll();
})"""


class Harness:
    """One ``bench/harness.html`` page: a pipeline loaded through its public client API.

    Args:
        page: a Playwright page (its context has the long-task init script).
        url: the harness URL with its query string.

    """

    def __init__(self, page, url: str):
        self.page, self.url = page, url
        self.errors: list[str] = []
        self.statuses: Counter = Counter()
        page.on("pageerror", lambda err: self.errors.append(str(err)))
        page.on("response", lambda r: self.statuses.update([r.status]))

    @classmethod
    def open(cls, context, base_url: str, pipeline: str, threads: int | None = None) -> Harness:
        """Open the harness for ``pipeline`` ('product' or 'plain-js') in a new page."""
        query = {"pipeline": pipeline, **({"threads": threads} if threads else {})}
        harness = cls(context.new_page(), f"{base_url}bench/harness.html?{urlencode(query)}")
        harness.page.goto(harness.url)
        return harness

    def reload(self) -> None:
        """Reload the page (a revisit: same context, warm HTTP cache)."""
        self.statuses.clear()
        self.page.reload()

    def ready(self) -> dict:
        """Wait for the classifier's ``ready``: ``{runtime, model, startup_ms, page_ready_ms}``."""
        try:
            # page.evaluate, not wait_for_function: that one installs Playwright's large
            # injected script in the page, compiled on its main thread while it loads (20+ ms
            # in a CPU profile), which would count as the page's own main-thread work.
            return self.page.evaluate(WAIT_READY, READY_TIMEOUT_MS)
        except Exception as exc:
            detail = f"{exc}; page errors: {self.errors}"
            raise RuntimeError(f"{self.url} never became ready: {detail}") from exc

    def load_inputs(self, urls: dict[str, str]) -> dict[str, int]:
        """Fetch benchmark images into Files inside the page (not timed)."""
        return self.page.evaluate("(urls) => window.bench.loadInputs(urls)", urls)

    def run(self, name: str, count: int, options: dict | None = None) -> list[dict]:
        """Classify ``name`` ``count`` times in a row; one summary per run.

        ``options`` go to ``classify`` (``{"preprocess": "exact"}``, for one).
        """
        if count <= 0:
            return []
        return self.page.evaluate(
            "([n, c, o]) => window.bench.run(n, c, o)", [name, count, options or {}]
        )

    def drop(self, name: str, count: int) -> dict:
        """Classify ``name`` ``count`` times at once: ``{wall_ms, results}``."""
        return self.page.evaluate("([n, c]) => window.bench.drop(n, c)", [name, count])

    def now(self) -> float:
        """The page's ``performance.now()``."""
        return self.page.evaluate("() => window.bench.now()")

    def long_tasks(self, since: float = 0.0, until: float | None = None) -> list[dict]:
        """Main-thread long tasks (start, duration, scripts) that started in ``[since, until)``."""
        return self.page.evaluate(
            "([s, u]) => window.bench.longTasks(s, u ?? Infinity)", [since, until]
        )


def longest(tasks: list[dict]) -> float:
    """Duration of the longest task (0.0 when the Long Tasks API reported none)."""
    return max((t["duration"] for t in tasks), default=0.0)
