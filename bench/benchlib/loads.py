"""Cold start: first visits (fresh profile) and revisits (reload, warm HTTP and code caches).

Each pair runs in its own new on-disk browser profile, like a real user's browser: an
in-memory (incognito) context keeps no cache entry as large as Pyodide's or onnxruntime's
.wasm (both were downloaded again on every reload), and gets no V8 code cache for them.
The product's pairs alternate with the plain-JS pipeline's, whose time to ready is the
baseline of the startup targets; every load records the bytes it transferred.
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
from benchlib.wire import WireLog

# The pipeline whose loads are the baseline of time to ready.
BASELINE = "plain-js"


def measure_load(harness: Harness, wire: WireLog | None = None) -> dict:
    """Wait for ready and collect the load's timings, long tasks, statuses (and ``wire``)."""
    info = harness.ready()
    tasks = harness.long_tasks(0.0, info["page_ready_ms"])
    return {
        **({"wire": wire.summary()} if wire else {}),
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


def visit_pair(browser, base_url: str, pipeline: str = "product") -> tuple[dict, dict]:
    """One first visit in a new on-disk profile (empty caches), then one reload (revisit).

    The reload waits for V8 to write its code caches (benchlib.idle.wait_for_code_cache).
    """
    with persistent_profile(browser) as (context, idle):
        wire = WireLog(context)
        harness = Harness.open(context, base_url, pipeline)
        first = {**measure_load(harness, wire), "browser_idle": idle}
        wait_for_code_cache()
        wire.clear()
        harness.reload()
        return first, measure_load(harness, wire)


def visit_pairs(browser, base_url: str, count: int, log=print) -> dict:
    """``count`` first visits, each followed by one revisit, for the product and the baseline.

    The pipelines alternate pair by pair. A pair whose page fails to load is retried once
    (files in ``web/`` can change under a long run); the failure is kept in ``errors``.
    Returns the product's ``first_visit`` and ``revisit`` loads, ``errors``, and the
    baseline's loads under ``baseline``.
    """
    out = {"first_visit": [], "revisit": [], "errors": []}
    base = {"pipeline": BASELINE, "first_visit": [], "revisit": []}
    for i in range(count):
        for pipeline, into in (("product", out), (BASELINE, base)):
            measure = lambda p=pipeline: visit_pair(browser, base_url, p)  # noqa: E731
            pair = retry_once(measure, out["errors"], log)
            into["first_visit"].append(pair[0])
            into["revisit"].append(pair[1])
            log(
                f"  load {i + 1}/{count} {pipeline}: first visit {pair[0]['page_ready_ms']:.0f} "
                f"ms, revisit {pair[1]['page_ready_ms']:.0f} ms"
            )
    return {**out, "baseline": base}


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
    """The ``time_to_ready`` section: page time to ready, median and p95, per visit kind.

    The product's figures are at the top level; the baseline's under ``baseline``, with the
    bytes each visit kind transferred (median over loads) for both.
    """
    out = {"loads": len(pairs["first_visit"])}
    baseline = pairs.get("baseline")
    if baseline:
        out["baseline"] = {"pipeline": baseline["pipeline"]}
    for kind in ("first_visit", "revisit"):
        out[kind] = _ready(pairs[kind])
        if baseline:
            out["baseline"][kind] = _ready(baseline[kind])
    return out


def _ready(loads: list[dict]) -> dict:
    values = [s["page_ready_ms"] for s in loads]
    wire = [s["wire"]["bytes"] for s in loads if "wire" in s]
    return {
        **summarize(values),
        "samples_ms": values,
        **({"wire_bytes": summarize(wire)} if wire else {}),
    }
