#!/usr/bin/env python3
"""Wall time against CPU time of the page's main-thread tasks while it loads.

    .venv/bin/python bench/trace_load.py [--loads 8]

Opens the product's harness page ``--loads`` times, each in a fresh context of one running
Chromium (as the steady-state pages do, after Chromium has gone quiet), records a Chromium
trace of each load until ``ready``, and prints the renderer main thread's tasks of 15 ms or
more: ``dur`` (wall time, what the Long Tasks API measures) and ``tdur`` (the thread's CPU
time), and the same for module evaluations. Where ``dur`` is far above ``tdur``, the thread
was waiting for a core. The first load of a run also carries tracing's start-up in a new
browser (its tasks had several times the CPU time of the later loads'), so read loads 2 on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import BENCH
from benchlib.browser import Harness, fresh_context, launch
from benchlib.idle import wait_for_chromium_idle
from benchlib.server import serve
from playwright.sync_api import sync_playwright

CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "toplevel"]
MIN_MS = 15.0


def main_thread_tasks(events: list[dict]) -> list[tuple[str, float, float]]:
    """``(name, wall ms, CPU ms)`` of the main thread's long tasks and module evaluations."""
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"
    }
    out = []
    for e in events:
        if e.get("ph") != "X" or (e["pid"], e["tid"]) not in main:
            continue
        if e["name"] in ("RunTask", "v8.evaluateModule") and e.get("dur", 0) >= MIN_MS * 1000:
            out.append((e["name"], e["dur"] / 1000, e.get("tdur", 0) / 1000))
    return out


def main() -> int:
    """Trace the loads and print one line per task."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loads", type=int, default=8)
    args = ap.parse_args()
    with (
        serve({"bench": BENCH}) as base,
        sync_playwright() as pw,
        tempfile.TemporaryDirectory() as tmp,
    ):
        browser = launch(pw)
        for i in range(args.loads):
            wait_for_chromium_idle()
            context = fresh_context(browser)
            page = context.new_page()
            path = Path(tmp) / f"load-{i}.json"
            browser.start_tracing(page=page, path=str(path), categories=CATEGORIES)
            harness = Harness(page, f"{base}bench/harness.html?pipeline=product&threads=2")
            page.goto(harness.url)
            harness.ready()
            browser.stop_tracing()
            context.close()
            trace = json.loads(path.read_text())
            events = trace["traceEvents"] if isinstance(trace, dict) else trace
            for name, wall, cpu in main_thread_tasks(events):
                print(f"load {i + 1}: {name:18s} wall {wall:6.1f} ms  CPU {cpu:5.1f} ms")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
