"""Cold start: first visits (fresh profile) and revisits (reload, warm HTTP and code caches).

Each pair runs in its own new on-disk browser profile, like a real user's browser: an
in-memory (incognito) context keeps no cache entry as large as Pyodide's or onnxruntime's
.wasm (both were downloaded again on every reload), and gets no V8 code cache for them.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager

from benchlib.browser import (
    LONG_TASKS_SCRIPT,
    READY_TIMEOUT_MS,
    Harness,
    chromium,
    longest,
)
from benchlib.idle import wait_for_chromium_idle, wait_for_code_cache
from benchlib.stats import summarize


def measure_load(harness: Harness) -> dict:
    """Wait for ready and collect the load's timings, long tasks and response statuses."""
    info = harness.ready()
    tasks = harness.long_tasks(0.0, info["page_ready_ms"])
    return {
        "page_ready_ms": info["page_ready_ms"],
        "startup_ms": info["startup_ms"],
        "threads": info["runtime"].get("threads"),
        "cross_origin_isolated": info["runtime"].get("cross_origin_isolated"),
        "runtime": info["runtime"],
        "longest_task_ms": longest(tasks),
        "long_tasks": tasks,
        "response_statuses": {str(k): v for k, v in sorted(harness.statuses.items())},
    }


@contextmanager
def persistent_profile(browser):
    """A browser in a new on-disk profile (empty caches), removed afterwards.

    Yields ``(context, idle)`` once the new browser has finished starting up (see
    benchlib.idle); ``idle`` says how long that took.
    """
    with tempfile.TemporaryDirectory(prefix="edge-infer-bench-profile-") as profile:
        context = browser.browser_type.launch_persistent_context(
            profile, **chromium.launch_kwargs()
        )
        try:
            context.set_default_timeout(READY_TIMEOUT_MS)
            context.add_init_script(path=str(LONG_TASKS_SCRIPT))
            yield context, wait_for_chromium_idle()
        finally:
            context.close()


def visit_pair(browser, base_url: str) -> tuple[dict, dict]:
    """One first visit in a new on-disk profile (empty caches), then one reload (revisit).

    The reload waits for V8 to write its code caches (benchlib.idle.wait_for_code_cache).
    """
    with persistent_profile(browser) as (context, idle):
        harness = Harness.open(context, base_url, "product")
        first = {**measure_load(harness), "browser_idle": idle}
        wait_for_code_cache()
        harness.reload()
        return first, measure_load(harness)


def visit_pairs(browser, base_url: str, count: int, log=print) -> dict:
    """``count`` first visits, each followed by one revisit (a reload in the same context).

    A pair whose page fails to load is retried once (files in ``web/`` can change under a
    long run); the failure is kept in ``errors``.
    """
    first, revisit, errors = [], [], []
    for i in range(count):
        pair = retry_once(lambda: visit_pair(browser, base_url), errors, log)
        first.append(pair[0])
        revisit.append(pair[1])
        log(
            f"  load {i + 1}/{count}: first visit {pair[0]['page_ready_ms']:.0f} ms, "
            f"revisit {pair[1]['page_ready_ms']:.0f} ms"
        )
    return {"first_visit": first, "revisit": revisit, "errors": errors}


def retry_once(measure, errors: list[str], log=print):
    """Call ``measure()``; after a RuntimeError (page never ready), log it and call it again."""
    try:
        return measure()
    except RuntimeError as exc:
        errors.append(str(exc))
        log(f"  retrying after: {str(exc)[:300]}")
        return measure()


def summarize_loads(samples: list[dict]) -> dict:
    """Per-stage ``startup_ms`` statistics, page time to ready and long tasks of some loads."""
    keys: list[str] = []
    for sample in samples:
        keys += [k for k in sample["startup_ms"] if k not in keys]
    return {
        "n": len(samples),
        "startup_ms": {k: summarize(s["startup_ms"].get(k) for s in samples) for k in keys},
        "page_ready_ms": summarize(s["page_ready_ms"] for s in samples),
        "longest_task_ms": summarize(s["longest_task_ms"] for s in samples),
        "samples": samples,
    }


def cold_start_section(pairs: dict) -> dict:
    """The ``cold_start`` section: stage medians for first visits and revisits."""
    return {
        "loads": len(pairs["first_visit"]),
        "first_visit": summarize_loads(pairs["first_visit"]),
        "revisit": summarize_loads(pairs["revisit"]),
        "retried_errors": pairs["errors"],
    }


def time_to_ready_section(pairs: dict) -> dict:
    """The ``time_to_ready`` section: page time to ready, median and p95, per visit kind."""
    out = {"loads": len(pairs["first_visit"])}
    for kind in ("first_visit", "revisit"):
        values = [s["page_ready_ms"] for s in pairs[kind]]
        out[kind] = {**summarize(values), "samples_ms": values}
    return out
