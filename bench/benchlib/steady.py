"""Steady state per image and the 32-image drop, for one browser pipeline configuration."""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchlib.browser import Harness, fresh_context, longest
from benchlib.idle import wait_for_chromium_idle
from benchlib.loads import measure_load, retry_once


@dataclass(frozen=True)
class Plan:
    """How many classifications to run per configuration, on how many pages.

    ``runs`` steady runs are split among ``pages`` pages (rounded up); each page warms up
    with ``warmup`` runs and drops ``drop`` images once. Then, on the product's pages only,
    ``exact`` runs in exact preprocessing mode (numpy's antialiased resize of the
    full-resolution pixels) are split among the pages the same way.
    """

    runs: int
    warmup: int
    drop: int
    pages: int = 1
    exact: int = 0

    @property
    def runs_per_page(self) -> int:
        """Steady runs on each page."""
        return math.ceil(self.runs / self.pages)

    @property
    def exact_per_page(self) -> int:
        """Exact-mode runs on each of the product's pages."""
        return math.ceil(self.exact / self.pages)


@dataclass(frozen=True)
class Config:
    """One browser configuration: which pipeline, how many threads, which image (and URL)."""

    pipeline: str
    threads: int
    image: str
    url: str


def browser_config(browser, base_url: str, config: Config, plan: Plan, log=print) -> dict:
    """Load ``config.pipeline`` in a fresh context and classify ``config.image`` repeatedly.

    Returns the raw record: the load, the first classification after ready, warm-up runs,
    ``plan.runs`` steady runs, the drop of ``plan.drop`` images at once, the exact-mode runs
    (product only), and the longest main-thread task while classifying. A page that never
    gets ready is retried once.
    """
    log(f"steady: {config.pipeline}, {config.threads} threads, {config.image}")
    errors: list[str] = []
    record = retry_once(lambda: _measure(browser, base_url, config, plan), errors, log)
    return {**record, "retried_errors": errors}


def _measure(browser, base_url: str, config: Config, plan: Plan) -> dict:
    image = config.image
    idle = wait_for_chromium_idle()  # the previous page's teardown must not share the load
    context = fresh_context(browser)
    try:
        harness = Harness.open(context, base_url, config.pipeline, config.threads)
        load = {**measure_load(harness), "browser_idle": idle}
        harness.load_inputs({image: config.url})
        start = harness.now()
        [first] = harness.run(image, 1)
        warmup = harness.run(image, plan.warmup)
        samples = harness.run(image, plan.runs_per_page)
        drop = harness.drop(image, plan.drop)
        exact = (
            harness.run(image, plan.exact_per_page, {"preprocess": "exact"})
            if config.pipeline == "product"
            else []
        )
        tasks = harness.long_tasks(start)
        if harness.errors:
            raise RuntimeError(f"page errors in {harness.url}: {harness.errors}")
    finally:
        context.close()
    return {
        "pipeline": config.pipeline,
        "threads": config.threads,
        "actual_threads": load["threads"],
        "image": image,
        "load": load,
        "first": first,
        "warmup": warmup,
        "samples": samples,
        "drop": {"images": plan.drop, **drop},
        "exact_samples": exact,
        "longest_task_ms": longest(tasks),
        "long_tasks": tasks,
    }


def merge_pages(records: list[dict]) -> dict:
    """One configuration's record from its pages (each from :func:`browser_config`).

    Samples and long tasks are pooled. The load and the first classification are the
    median page's (by time to ready, by first total); ``loads`` and ``firsts`` keep every
    page's. The drop's wall time is the median page's, its results are pooled.
    """
    first = records[0]
    loads = [r["load"] for r in records]
    firsts = [r["first"] for r in records]
    drops = [r["drop"] for r in records]
    middle = (len(records) - 1) // 2
    return {
        **{k: first[k] for k in ("pipeline", "threads", "actual_threads", "image")},
        "pages": len(records),
        "load": sorted(loads, key=lambda load: load["page_ready_ms"])[middle],
        "loads": loads,
        "first": sorted(firsts, key=lambda f: f["timings_ms"]["total"])[middle],
        "firsts": firsts,
        "warmup": [w for r in records for w in r["warmup"]],
        "samples": [x for r in records for x in r["samples"]],
        "drop": {
            "images": first["drop"]["images"],
            "wall_ms": sorted(d["wall_ms"] for d in drops)[middle],
            "walls_ms": [d["wall_ms"] for d in drops],
            "results": [x for d in drops for x in d["results"]],
        },
        "exact_samples": [x for r in records for x in r["exact_samples"]],
        "longest_task_ms": max(r["longest_task_ms"] for r in records),
        "long_tasks": [t for r in records for t in r["long_tasks"]],
        "retried_errors": [e for r in records for e in r["retried_errors"]],
    }
