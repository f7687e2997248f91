"""Steady state per image and the 32-image drop, for one browser pipeline configuration."""

from __future__ import annotations

from dataclasses import dataclass

from benchlib.browser import Harness, fresh_context, longest
from benchlib.loads import measure_load, retry_once


@dataclass(frozen=True)
class Plan:
    """How many classifications to run per configuration."""

    runs: int
    warmup: int
    drop: int


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
    ``plan.runs`` steady runs, the drop of ``plan.drop`` images at once, and the longest
    main-thread task while classifying. A page that never gets ready is retried once.
    """
    log(f"steady: {config.pipeline}, {config.threads} threads, {config.image}")
    errors: list[str] = []
    record = retry_once(lambda: _measure(browser, base_url, config, plan), errors, log)
    return {**record, "retried_errors": errors}


def _measure(browser, base_url: str, config: Config, plan: Plan) -> dict:
    image = config.image
    context = fresh_context(browser)
    try:
        harness = Harness.open(context, base_url, config.pipeline, config.threads)
        load = measure_load(harness)
        harness.load_inputs({image: config.url})
        start = harness.now()
        [first] = harness.run(image, 1)
        warmup = harness.run(image, plan.warmup)
        samples = harness.run(image, plan.runs)
        drop = harness.drop(image, plan.drop)
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
        "longest_task_ms": longest(tasks),
        "long_tasks": tasks,
    }
